"""Book-size-independent settlement for the Monte Carlo: each (expiry, tranche) paid in O(log n).

Protocol v2 pays a policy `min(claim, collateral)` in tokens, `claim = (K - S) * a / 1e8 * unit
/ P` truncated twice (K strike, S the BTC price, a the amount in sats, P the token's price, C the
collateral). What the exact mode computes per policy and path, this module computes per
(expiry, tranche) and path from prefix sums over policies sorted once per book:

* **sBTC** (P = S, unit = 1e8): the cap binds exactly when `S <= T`, T the largest integer price
  with `floor(floor((K - S) * a / 1e8) * 1e8 / S) >= C`. Over the reals that is `S <= K * a / (a
  + C)`; the integer threshold lies in `[floor((K * a - 1e8) / (a + C)), floor(K * a / (a + C))]`
  (the payout's truncations only make the cap bind later) and is found per policy by bisection
  with the exact mode's own integer functions. So a policy pays C when `S <= T`, its put when
  `T < S < K`, and 0 from K on: the tranche's payout at S is `sum(C | T >= S) + floor(sum(a * (K
  - S) | T < S < K) / S)`, two `searchsorted`s into the book sorted by T and by K.
* **STX** (unit = 1e6): the cap binds when `(K - S) * a / (100 * P) >= C`, i.e. `K * (1 - P * g)
  >= S` with `g = 100 * C / (a * K)` the policy's collateral per unit of notional. The threshold
  depends on P and on g, so no single order fits every path; but g is the tier's ratio divided by
  the STX price at purchase, alike for policies bought at similar prices. Policies of an (expiry,
  tranche) are grouped in buckets of g whose largest is at most `1 + STX_BUCKET_EPS` times the
  smallest, g_b; within a bucket the cap is taken to bind when `K >= S / (1 - P * g_b)`, again a
  search among strikes. Exact when a bucket's g are equal; otherwise a policy whose cap is taken
  to bind although its put is below C by less than `C * (1 - g_b / g)` is paid C: the error is
  one-sided (the fast mode never pays less than the exact one) and below `STX_BUCKET_EPS * C` for
  each policy so misjudged.

The aggregate put is truncated once instead of per policy, so it exceeds the exact sum by less
than `1 + unit / P` token units per policy in the put region (each policy's two truncations lose
less than one token and one USD price unit, worth `unit / P` tokens); a policy paid C where the
exact mode pays its claim (an STX bucket's misjudgement) is overpaid by less than that plus
`STX_BUCKET_EPS * C`. Hence, per path, expiry and tranche, with n_itm its policies with K > S:

    0 <= fast - exact < n_itm * (1 + unit / P) + STX_BUCKET_EPS * sum(C of STX policies)

(the second term only for STX tranches whose buckets are not uniform; the STX boundary
`S / (1 - P * g_b)` is computed in floats, whose rounding adds of the order of 1e-15 C).
`tests/risk/test_fastpayout.py` checks this bound, and both modes against the put-spread value
of the capped sBTC put.

Settlement within one (expiry, tranche) draws on the same assets (the same premiums are in), so
the exact mode's "pay in order until the tranche is empty" recursion gives the same cumulative
payment at the end of each group from group totals alone: ruin, its day, the tranche assets over
time are those of the exact mode on the fast mode's owed amounts. Only the split of a group's
shortfall among its policies is unknown; its USD value is taken in proportion, which is exact
since all of a group's payouts convert at the same token price (owed USD = owed tokens x P /
unit; the exact mode truncates per policy, a difference of the same order as above).

Amounts use exact int64 arithmetic (`a * K` is kept as `floor(a * K / 1e8)` and its remainder so
that prefix sums fit); USD values are analytics and are floats.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from chain.protocol import PRICE_SCALE, TOKEN_UNIT
from risk import montecarlo as mc
from risk.book import N_TRANCHES, Book
from risk.paths import Grid

STX_BUCKET_EPS = 1e-4  # relative width of an STX policy bucket in collateral per notional
_KEY_BITS = 50  # prices and strikes are below 2^50 (paths.MAX_BTC_PRICE_UNITS = 9e14)
_KEY_MAX = (1 << _KEY_BITS) - 1
_SEGS_PER_BLOCK = 1 << (63 - _KEY_BITS - 1)  # segment index * 2^50 + value stays in int64
_BLOCK_CELLS = 1 << 18  # paths x segments evaluated at once (bounds memory)
FAST_MIN_POLICIES_PER_GROUP = 4  # see choose(): below this the exact mode is as fast


@dataclass(frozen=True, eq=False)
class Prefix:
    """Prefix sums (a leading 0) over policies in one order: exact integers for the payout,
    floats for the USD analytics. `a * K = 1e8 * notional_q + notional_r` (price units x
    sats), so each fits int64."""

    amount: np.ndarray
    notional_q: np.ndarray
    notional_r: np.ndarray
    collateral: np.ndarray
    notional_usd: np.ndarray  # a * K / 1e8, price units, float
    amount_btc: np.ndarray  # a / 1e8, float

    @staticmethod
    def of(a: np.ndarray, q: np.ndarray, r: np.ndarray, c: np.ndarray) -> Prefix:
        def cum(x: np.ndarray) -> np.ndarray:
            return np.r_[np.zeros(1, dtype=x.dtype), np.cumsum(x)]

        usd = q + r / PRICE_SCALE
        return Prefix(cum(a), cum(q), cum(r), cum(c), cum(usd), cum(a / PRICE_SCALE))


@dataclass(frozen=True, eq=False)
class Index:
    """A book's settled policies sorted for prefix-sum look-ups, built once per (book, grid).

    A segment is (tranche, expiry step, STX bucket), a column of the grouped settlement; the
    segments of a tranche are in step order. Each segment's policies sit at `lo[s]:hi[s]` of two
    orders: by strike (`k_keys`) and by cap threshold (`c_keys`; strikes again for STX). A key
    is `local segment * 2^50 + value`, so one `searchsorted` serves a block of segments.
    `k_sums` and `c_sums` hold prefix sums in the same orders; a segment's totals are the same
    in both, so the put region's sums are `c_sums[i_c] - k_sums[i_k]`.
    """

    seg_step: np.ndarray
    seg_token: np.ndarray
    seg_tranche: np.ndarray
    seg_g: np.ndarray  # STX bucket's smallest collateral per notional (0 for sBTC)
    lo: np.ndarray
    hi: np.ndarray
    k_keys: np.ndarray
    c_keys: np.ndarray
    k_sums: Prefix
    c_sums: Prefix
    available: np.ndarray  # per segment: deposits + premiums of settled policies in by then
    n_policies: int


def _divmod_exact(a: np.ndarray, b: np.ndarray | int, c: np.ndarray | int):
    """`divmod(a * b, c)` for non-negative int64 arrays whose product may pass 2^63."""
    q = mc._floor_div_exact(a, b, c)
    with np.errstate(over="ignore"):
        return q, a * b - q * c  # the remainder is below c: wrapping arithmetic finds it


def sbtc_thresholds(strike: np.ndarray, amount: np.ndarray, collateral: np.ndarray) -> np.ndarray:
    """Per sBTC policy, the largest BTC price (price units) at which the cap binds, exactly:
    `usd_to_tokens(payout_usd(K, T, a), 1e8, T) >= C`, or 0 if none. Always below the strike."""
    unit = TOKEN_UNIT[1]
    # the real threshold floored, and floor((K * a - 1e8) / (a + C)) at which the cap surely binds
    hi, r = _divmod_exact(strike, amount, amount + collateral)
    lo = np.maximum(hi + (r - unit) // (amount + collateral), 0)

    def binds(s: np.ndarray) -> np.ndarray:
        safe = np.maximum(s, 1)
        owed = mc.usd_to_tokens(mc.payout_usd(strike, safe, amount), unit, safe)
        return (s == 0) | (owed >= collateral)

    # invariant: binds(lo); the answer is the largest s in [lo, hi] with binds(s)
    ok = binds(hi)
    lo = np.where(ok, hi, lo)
    hi = np.where(ok, hi, hi - 1)
    while (lo < hi).any():
        mid = lo + (hi - lo + 1) // 2
        b = binds(mid)
        lo = np.where(b & (lo < hi), mid, lo)
        hi = np.where(~b & (lo < hi), mid - 1, hi)
    return np.minimum(lo, strike - 1)


@functools.lru_cache(maxsize=4)
def build_index(book: Book, grid: Grid, deposits: tuple[int, ...]) -> Index:
    """Sorts the policies settling within the grid; raises OverflowError if the book's sums
    cannot be held exactly in int64 (then only the exact mode applies)."""
    step = grid.step_of(book.expiration)
    done = step <= grid.steps
    b = book.subset(done)
    step, p_step = step[done], np.minimum(grid.step_of(book.purchased)[done], grid.steps)
    k, a, c, tok, tr = b.strike, b.amount, b.collateral, b.token, b.tranche
    if (k > _KEY_MAX).any():
        raise OverflowError("strike beyond 2^50 price units")
    qk, rk = _divmod_exact(k, a, PRICE_SCALE)  # a * K = 1e8 * qk + rk
    if sum(int(x) for x in (qk.sum(dtype=np.float64), c.sum(dtype=np.float64))) > 2**61:
        raise OverflowError("the book's notional does not fit int64 prefix sums")
    thr = np.zeros_like(k)
    sb = tok == 1
    thr[sb] = sbtc_thresholds(k[sb], a[sb], c[sb])
    g = np.where(sb, 0.0, 100.0 * c / (a.astype(np.float64) * k))
    # buckets of g within each (tranche, step): a new bucket where g passes (1 + eps) x its first
    order = np.lexsort((g, step, tr))
    g_o, st_o, tr_o = g[order], step[order], tr[order]
    new_group = np.ones(len(order), dtype=bool)
    new_group[1:] = (st_o[1:] != st_o[:-1]) | (tr_o[1:] != tr_o[:-1])
    bucket = np.zeros(len(order), dtype=np.int64)
    first_g = 0.0
    seg = -1
    for i in range(len(order)):  # one pass over the book, at index time only
        if new_group[i] or (tok[order[i]] == 0 and g_o[i] > first_g * (1 + STX_BUCKET_EPS)):
            seg += 1
            first_g = g_o[i]
        bucket[i] = seg
    n_seg = seg + 1
    seg_of = np.empty(len(order), dtype=np.int64)
    seg_of[order] = bucket
    starts = np.flatnonzero(np.r_[len(order) > 0, bucket[1:] != bucket[:-1]])
    seg_step, seg_tr = st_o[starts], tr_o[starts]
    seg_g = g_o[starts]
    lo = starts
    hi = np.r_[starts[1:], len(order)]
    local = seg_of % _SEGS_PER_BLOCK
    by_k = np.lexsort((k, seg_of))
    c_val = np.where(sb, thr, k)
    by_c = np.lexsort((c_val, seg_of))
    k_keys = (local[by_k] << _KEY_BITS) + k[by_k]
    c_keys = (local[by_c] << _KEY_BITS) + c_val[by_c]
    k_sums = Prefix.of(a[by_k], qk[by_k], rk[by_k], c[by_k])
    c_sums = Prefix.of(a[by_c], qk[by_c], rk[by_c], c[by_c])
    available = np.zeros(n_seg, dtype=np.int64)
    for t in range(N_TRANCHES):  # premiums in by each settlement: purchase step <= its step
        mine, segs = tr == t, np.flatnonzero(seg_tr == t)
        if not len(segs):
            continue
        pk = p_step[mine]
        by_time = np.argsort(pk, kind="stable")
        cum = np.r_[0, np.cumsum(b.premium[mine][by_time])]
        available[segs] = deposits[t] + cum[np.searchsorted(pk[by_time], seg_step[segs], "right")]
    return Index(seg_step, seg_tr // 3, seg_tr, seg_g, lo, hi, k_keys, c_keys, k_sums, c_sums,
                 available, len(order))  # fmt: skip


def floor_affine(q: np.ndarray, r: np.ndarray, a: np.ndarray, s: np.ndarray, d: np.ndarray):
    """`floor((1e8 * q + r - s * a) / d)` exactly, for int64 terms whose products may pass 2^63
    while the result does not: a float estimate is off by far less than 2^62 / d, so the
    remainder computed in wrapping int64 arithmetic is the true one, and corrects it."""
    est = (q * float(PRICE_SCALE) + r - s.astype(np.float64) * a) / d
    est = np.floor(est)
    if est.size and float(np.abs(est).max()) > 4e18:
        raise OverflowError("payout beyond int64")
    est = est.astype(np.int64)
    with np.errstate(over="ignore"):
        rem = q * PRICE_SCALE + r - s * a - est * d
    return est + rem // d


def _segment_totals(
    ix: Index, btc: np.ndarray, stx: np.ndarray, segs: slice, out: list, capped: np.ndarray
) -> None:
    """Per segment of the block (one token) and path, into `out`'s rows: owed in tokens and
    in USD price units; into `capped` (per path) the intrinsic value the caps cut off, USD.
    Only cells with a strike above the price are worked (the others stay 0). Prices are
    step-major (steps + 1 x paths) and so are the outputs (segments x paths)."""
    step = ix.seg_step[segs]
    n_paths = btc.shape[1]
    local = (np.arange(segs.start, segs.stop) % _SEGS_PER_BLOCK) << _KEY_BITS
    base, end = ix.lo[segs.start], ix.hi[segs.stop - 1]  # the block's policies, keys sorted
    price = btc[step]
    top = ix.k_keys[ix.hi[segs] - 1] & _KEY_MAX  # each segment's highest strike
    live = np.flatnonzero(price < top[:, None])  # some policy has its strike above S
    col = live // n_paths
    s = price.reshape(-1)[live]
    key = s + local[col]
    i_k = np.searchsorted(ix.k_keys[base:end], key, side="right") + base
    if ix.seg_token[segs.start] == 1:  # sBTC: the cap binds while T >= S
        p, unit, d = s, TOKEN_UNIT[1], s
    else:  # STX: while K >= S / (1 - P * g_b), never if P * g_b >= 1
        p, unit = stx[step[col], live % n_paths], TOKEN_UNIT[0]
        d = 100 * p
        room = 1.0 - p * ix.seg_g[segs][col]
        kstar = np.ceil(s / np.maximum(room, s / _KEY_MAX))  # at most _KEY_MAX
        kstar = np.where(room > 0, kstar, _KEY_MAX).astype(np.int64)
        key = np.maximum(kstar, s + 1) + local[col]
    i_c = np.searchsorted(ix.c_keys[base:end], key, side="left") + base
    ks, cs = ix.k_sums, ix.c_sums
    hi = ix.hi[segs][col]
    cap = cs.collateral[hi] - cs.collateral[i_c]
    owed = cap + floor_affine(
        cs.notional_q[i_c] - ks.notional_q[i_k],
        cs.notional_r[i_c] - ks.notional_r[i_k],
        cs.amount[i_c] - ks.amount[i_k],
        s,
        d,
    )  # the cap region's collateral plus the put region's aggregate claim
    token_usd = p / unit
    # what the caps cut off = the cap region's intrinsic value less its collateral's value,
    # from the cap region alone so that uncapped policies add exactly 0, as in the exact mode
    cut = cs.notional_usd[hi] - cs.notional_usd[i_c] - s * (cs.amount_btc[hi] - cs.amount_btc[i_c])
    cut -= cap * token_usd
    capped += np.bincount(live % n_paths, weights=cut, minlength=n_paths)
    out[0][segs].reshape(-1)[live] = owed  # rows of a C-ordered array: a view
    out[1][segs].reshape(-1)[live] = owed * token_usd


def settle_grouped(ix: Index, btc: np.ndarray, stx: np.ndarray) -> mc.Settlement:
    """The grouped settlement of one chunk of paths (see the module's docstring); prices are
    paths x (steps + 1), columns of the result are segments, settled at `ix.seg_step`."""
    return settle_step_major(ix, np.ascontiguousarray(btc.T), np.ascontiguousarray(stx.T))


def settle_step_major(ix: Index, btc: np.ndarray, stx: np.ndarray) -> mc.Settlement:
    """`settle_grouped` on step-major prices ((steps + 1) x paths, what `mc.evaluate` holds).

    The work runs segment-major (a segment's paths contiguous, as the per-tranche running sums
    want them); the Settlement's arrays are paths x segments views of it. Each tranche's
    segments are paid in step order from what it holds (`mc.pay_in_order`): within one step
    every policy sees the same assets, so segment totals give the exact mode's cumulative
    payment at each step's end."""
    n_paths, n_seg = btc.shape[1], len(ix.seg_step)
    per_block = max(1, min(_SEGS_PER_BLOCK, _BLOCK_CELLS // max(n_paths, 1)))
    owed = np.zeros((n_seg, n_paths), dtype=np.int64)
    owed_usd = np.zeros((n_seg, n_paths))
    capped = np.zeros(n_paths)
    start = 0
    while start < n_seg:
        # a block never straddles a multiple of _SEGS_PER_BLOCK (its keys' local index wraps)
        stop = min(n_seg, start + per_block, (start // _SEGS_PER_BLOCK + 1) * _SEGS_PER_BLOCK)
        other = np.flatnonzero(ix.seg_token[start:stop] != ix.seg_token[start])
        stop = start + int(other[0]) if len(other) else stop  # and holds one token's segments
        _segment_totals(ix, btc, stx, slice(start, stop), [owed, owed_usd], capped)
        start = stop
    cum_paid, cum_owed, orders = [], [], []
    bounds = np.searchsorted(ix.seg_tranche, np.arange(N_TRANCHES + 1))  # consecutive rows
    for k in range(N_TRANCHES):
        rows = slice(bounds[k], bounds[k + 1])
        orders.append(np.arange(rows.start, rows.stop))
        c, s = mc.pay_in_order(owed, ix.available[rows], rows)
        cum_paid.append(c.T)
        cum_owed.append(s.T)
    return mc.Settlement(owed_usd.T, owed.T, cum_paid, cum_owed, orders, capped)


def choose(spec: mc.Spec) -> mc.PayoutMode:
    """AUTO's choice: FAST when the book averages at least FAST_MIN_POLICIES_PER_GROUP policies
    per (expiry, tranche) segment. The exact mode's cost is paths x policies, the fast mode's
    paths x segments x log(policies) with a larger constant: at 1.3 policies per segment the
    solvency benchmark's medians were 2.5 s exact and 1.5 s fast, at 5 the fast one was 8 times
    faster (README); where the saving is small in absolute terms the exact mode's answer, the
    chain's to the unit, is preferred.
    EXACT also when the book's sums do not fit the fast mode's int64 prefix sums."""
    if spec.payout is not mc.PayoutMode.AUTO:
        return spec.payout
    if not (spec.grid.step_of(spec.book.expiration) <= spec.grid.steps).any():
        return mc.PayoutMode.EXACT  # nothing settles: nothing to sort
    try:
        ix = build_index(spec.book, spec.grid, spec.pool.deposits)
    except OverflowError:
        return mc.PayoutMode.EXACT
    if ix.n_policies >= FAST_MIN_POLICIES_PER_GROUP * max(len(ix.seg_step), 1):
        return mc.PayoutMode.FAST
    return mc.PayoutMode.EXACT
