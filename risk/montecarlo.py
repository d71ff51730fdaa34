"""Monte Carlo pool accounting over many price paths: the contracts' money rules, vectorised.

Settlement follows PROTOCOL.md (Version 2) and the contract models to the integer unit: per
policy `payout_usd = max(0, strike - price) * amount / 1e8`, `claim = payout_usd * token_unit /
token_price` (both truncating), `payout = min(claim, collateral)` (the capped payoff), paid
`min(payout, tranche total_assets)` in settlement order, the rest a shortfall (which v2's locks
make impossible on chain; kept so that a book the chain would refuse still shows its loss).
Assets are deposits plus the premiums bought so far minus what was paid.
The sequential "min with what is left" is computed for all paths at once with a closed form of
the recursion C_k = min(C_{k-1} + owed_k, B_k) (C cumulative paid, B deposits + premiums):
C_k = S_k + min(0, min_{m<=k}(B_m - S_m)), S the cumulative owed.

The work is split into chunks of a fixed size, each a pure function of the spec, its own child
SeedSequence and its path count; merging concatenates in chunk order. So the numbers depend on
the seed, the path count and the chunk size only, never on which `map_fn` ran the chunks.
"""

from __future__ import annotations

import ctypes
import functools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import Enum
from typing import Any

import numpy as np

from chain.protocol import BLOCKS_PER_DAY, PRICE_SCALE, TOKEN_UNIT
from risk.book import N_TRANCHES, Book, PoolTerms
from risk.paths import Grid, PriceModel, fixings, simulate

_U = np.array([TOKEN_UNIT[0], TOKEN_UNIT[1]], dtype=np.int64)
LEVELS = (0.95, 0.99, 0.995)
FAN = (5, 25, 50, 75, 95)


# --- exact integer arithmetic on int64 arrays --------------------------------------------------


def _floor_div_exact(a: np.ndarray, b: np.ndarray | int, c: np.ndarray | int) -> np.ndarray:
    """`a * b // c` for non-negative int64 arrays whose product may pass 2^63 (the quotient not).

    A float estimate of the quotient is off by about `a * b * 2^-52 / c` units, so the remainder
    `a * b - q * c` is below `a * b * 2^-51` in size: about 1e10 for the products here (under
    1e25), far inside int64. Arithmetic that wraps modulo 2^64 therefore still yields it exactly,
    and one floor division corrects the estimate. Exact (tested against Python integers), and
    several times faster than long division.
    """
    q = a.astype(np.float64)
    q *= np.float64(b)
    q /= c
    np.floor(q, out=q)
    top = float(q.max()) if q.size else 0.0
    if top > 4e18:
        raise OverflowError("quotient beyond int64")
    q = q.astype(np.int64)
    with np.errstate(over="ignore"):
        r = a * b - q * c  # wraps; the true value is small
    if top < 2e15:
        # the float quotient is within 1/2 of the true one (relative error < 2.3e-16), so its
        # floor is off by at most one unit: two comparisons instead of an integer division
        q -= r < 0
        q += r >= c
        return q
    return q + r // c


def payout_usd(strike: np.ndarray, price: np.ndarray, amount: np.ndarray) -> np.ndarray:
    """`max(0, strike - price) * amount // 1e8`, exact in int64 (the product alone overflows)."""
    return _floor_div_exact(np.maximum(strike - price, 0), amount, PRICE_SCALE)


def usd_to_tokens(usd: np.ndarray, unit: np.ndarray, price: np.ndarray) -> np.ndarray:
    """`usd * unit // price` exactly (unit 1e6 or 1e8, price in price units)."""
    return _floor_div_exact(usd, unit, price)


# --- the settlement of one book on given prices ------------------------------------------------


@dataclass(frozen=True)
class Settlement:
    """Per path and settlement column (policies in book order, or the fast mode's segments):
    owed (the capped payout) in USD units and tokens; per tranche the cumulative paid and owed
    in settle order; per path the intrinsic value above the caps (USD price units). Paid tokens
    and (exact mode) the uncapped claim are derived on demand: the run-off never needs them
    dense.

    The arrays are paths x columns views of column-major work (`.T` of a C-ordered columns x
    paths array): a column's paths are contiguous, as the per-tranche running sums want them."""

    owed_usd: np.ndarray
    owed: np.ndarray
    cum_paid: list[np.ndarray]  # per tranche: cumulative paid in that tranche's settle order
    cum_owed: list[np.ndarray]  # per tranche: cumulative owed, same order
    orders: list[np.ndarray]  # per tranche: columns in settle order
    capped_usd: np.ndarray
    claim_cells: tuple[np.ndarray, np.ndarray] | None = None  # exact: (flat cells, claims)

    @property
    def paid(self) -> np.ndarray:
        """Tokens paid, per path and column: the steps of each tranche's cumulative paid."""
        return self._steps(self.cum_paid)

    def short(self, paths: np.ndarray) -> np.ndarray:
        """Owed but not paid, columns x the given paths."""
        gap = [(o.T[:, paths] - p.T[:, paths]).T  # gathered along the contiguous rows
               for o, p in zip(self.cum_owed, self.cum_paid, strict=True)]  # fmt: skip
        return self._steps(gap).T

    def _steps(self, cum: list[np.ndarray]) -> np.ndarray:
        """Per-tranche cumulative sums (paths x rows) back to per-column steps (paths x
        columns)."""
        out = np.zeros((self.owed.shape[1], cum[0].shape[0]), dtype=np.int64)
        for order, c in zip(self.orders, cum, strict=True):
            if len(order):
                out[order] = np.diff(c.T, axis=0, prepend=0)
        return out.T

    @property
    def claim(self) -> np.ndarray | None:
        """The uncapped claim in tokens (exact mode), per path and column."""
        if self.claim_cells is None:
            return None
        dense = np.zeros(self.owed.T.shape, dtype=np.int64)
        dense.reshape(-1)[self.claim_cells[0]] = self.claim_cells[1]
        return dense.T


def pay_in_order(
    owed: np.ndarray, available: np.ndarray, rows: np.ndarray | slice
) -> tuple[np.ndarray, np.ndarray]:
    """One tranche's settlements (`rows` of the columns x paths `owed`, in settle order) paid
    from what it holds before each (`available`); returns the cumulative paid and owed (rows x
    paths). C_k = S_k + min(0, min_{m<=k}(B_m - S_m)) (module docstring)."""
    s = np.cumsum(owed[rows], axis=0)
    c = np.subtract(np.asarray(available)[:, None], s)
    np.minimum(c, 0, out=c)
    np.minimum.accumulate(c, axis=0, out=c)
    c += s
    return c, s


def settle(
    book: Book,
    deposits: tuple[int, ...],
    btc_price: np.ndarray,
    token_price: np.ndarray,
    settle_key: np.ndarray,
    premium_key: np.ndarray,
    tiebreak: np.ndarray | None = None,
) -> Settlement:
    """Pays every policy of `book` on the given settlement prices, per tranche, in order.

    `btc_price` and `token_price` (paths x policies, price units) are the oracle prices the
    settlement reads; `settle_key` orders settlements (then `tiebreak`, then id); a premium is
    in the tranche's assets for every settlement whose key is >= its `premium_key`.
    Only cells in the money (strike above the price) are worked; the rest owe 0. Transposed
    views of policies x paths prices (what `evaluate` passes) are read without a copy.
    """
    bt, tt = btc_price.T, token_price.T  # policies x paths
    n_pol, n_paths = bt.shape
    cells = np.flatnonzero(bt < book.strike[:, None])  # in the money
    pol = cells // n_paths
    path = cells - pol * n_paths
    price = bt.reshape(-1)[cells]
    c_usd = payout_usd(book.strike[pol], price, book.amount[pol])
    c_tok = usd_to_tokens(c_usd, _U[book.token][pol], tt.reshape(-1)[cells])
    o_tok = np.minimum(c_tok, book.collateral[pol])
    # the capped payout's USD value (analytics): the claim's, in proportion where the cap binds
    cut = np.flatnonzero(c_tok > o_tok)
    o_usd = c_usd.copy()
    o_usd[cut] = (c_usd[cut] * (o_tok[cut] / c_tok[cut])).astype(np.int64)
    capped_usd = np.zeros(n_paths, dtype=np.int64)  # intrinsic value above the caps
    np.add.at(capped_usd, path[cut], c_usd[cut] - o_usd[cut])
    owed, owed_usd = (np.zeros((n_pol, n_paths), dtype=np.int64) for _ in range(2))
    owed.reshape(-1)[cells] = o_tok
    owed_usd.reshape(-1)[cells] = o_usd
    tranche = book.tranche
    tb = book.ids if tiebreak is None else tiebreak
    cum_paid, cum_owed, orders = [], [], []
    for k in range(N_TRANCHES):
        cols = np.flatnonzero(tranche == k)
        cols = cols[np.lexsort((book.ids[cols], tb[cols], settle_key[cols]))]
        orders.append(cols)
        rows = _rows(cols)  # a view when the book comes in settle order (evaluate's)
        if not len(cols):
            cum_paid.append(np.zeros((n_paths, 0), dtype=np.int64))
            cum_owed.append(cum_paid[-1])
            continue
        pk = premium_key[cols]
        by_time = np.argsort(pk, kind="stable")
        cum_prem = np.cumsum(book.premium[cols][by_time])
        # premiums in before each settlement: those with premium_key <= its settle key
        n_in = np.searchsorted(pk[by_time], settle_key[cols], side="right")
        available = deposits[k] + np.where(n_in > 0, cum_prem[np.maximum(n_in - 1, 0)], 0)
        c, s = pay_in_order(owed, available, rows)
        cum_paid.append(c.T)
        cum_owed.append(s.T)
    return Settlement(owed_usd.T, owed.T, cum_paid, cum_owed, orders, capped_usd, (cells, c_tok))


# --- the Monte Carlo spec and its chunks --------------------------------------------------------


class PayoutMode(Enum):
    """How settlement is computed: per policy in exact integers (what the chain pays, to the
    unit), or per (expiry, tranche) from sorted prefix sums (risk/fastpayout.py: cost
    independent of the book's size, within a stated bound of the exact mode); AUTO picks."""

    AUTO = "auto"
    EXACT = "exact"
    FAST = "fast"


@dataclass(frozen=True)
class Spec:
    """Everything a chunk needs: frozen, picklable, shared by all chunks of a run."""

    book: Book
    pool: PoolTerms
    model: PriceModel
    grid: Grid
    chunk_size: int = 2000
    payout: PayoutMode = PayoutMode.AUTO


def chunk_sizes(n_paths: int, chunk_size: int) -> list[int]:
    full, rest = divmod(n_paths, chunk_size)
    return [chunk_size] * full + ([rest] if rest else [])


def simulate_chunk(spec: Spec, seed: np.random.SeedSequence, n_paths: int) -> dict[str, Any]:
    """One chunk's per-path results; a pure function of its arguments."""
    rng = np.random.default_rng(seed)
    btc, stx = simulate(spec.model, spec.grid, n_paths, rng)
    return evaluate(spec, btc, stx)


def evaluate(spec: Spec, btc: np.ndarray, stx: np.ndarray) -> dict[str, Any]:
    """Per-path results of the book's run-off on given price paths (paths x steps+1).

    The work runs step-major (steps x paths, a step's paths contiguous): settlement columns
    and time steps are rows, so the per-tranche running sums and the coverage over time read
    contiguous rows; the results are per path as before."""
    book, grid, pool = spec.book, spec.grid, spec.pool
    n_paths, n_cols = btc.shape
    last = n_cols - 1
    s_step = grid.step_of(book.expiration)
    done = s_step <= last
    from risk import fastpayout  # imports this module: resolved at call time

    # settlement is at the fixings (the window's average before each expiry), not the spot
    btc_t, stx_t = np.ascontiguousarray(btc.T), np.ascontiguousarray(stx.T)
    fix_btc, fix_stx = fixings(btc_t.T, grid).T, fixings(stx_t.T, grid).T  # step-major
    if fastpayout.choose(spec) is PayoutMode.FAST:  # columns are (tranche, expiry) groups
        ix = fastpayout.build_index(book, grid, pool.deposits)
        st, cols_step = fastpayout.settle_step_major(ix, fix_btc, fix_stx), ix.seg_step
    else:  # columns are policies, in settle order within each tranche (no gathers there)
        keep = np.flatnonzero(done)
        sb = book.subset(keep[np.lexsort((book.ids[keep], s_step[keep], book.tranche[keep]))])
        cols_step = grid.step_of(sb.expiration)
        bp = fix_btc[cols_step]
        n_stx = int((sb.token == 0).sum())  # tranches 0-2, the first rows: valued at STX-USD
        tp = np.concatenate([fix_stx[cols_step[:n_stx]], bp[n_stx:]])  # sBTC at BTC-USD
        st = settle(sb, pool.deposits, bp.T, tp.T, cols_step,
                    np.minimum(grid.step_of(sb.purchased), last))  # fmt: skip
    step_days = grid.step_blocks / BLOCKS_PER_DAY
    never = np.iinfo(np.int64).max
    first = np.full(n_paths, never, dtype=np.int64)
    for k in range(N_TRANCHES):  # first settlement with a shortfall, from cumulative sums
        order = st.orders[k]
        if not len(order):
            continue
        # a shortfall never heals (the slack C - S is a running minimum): count the leading
        # settlements paid in full
        co, cp = st.cum_owed[k].T, st.cum_paid[k].T  # rows x paths
        hit = co[-1] > cp[-1]
        short = np.flatnonzero(hit)
        n_whole = np.full(n_paths, len(order))
        n_whole[short] = (co[:, short] <= cp[:, short]).sum(axis=0)
        at = cols_step[order][np.minimum(n_whole, len(order) - 1)]
        first = np.where(hit, np.minimum(first, at), first)
    ruin = first != never
    ruin_day = np.where(ruin, first * step_days, np.nan)
    # USD values (analytics: floats): owed at settlement prices, shortfall in proportion
    owed, owed_usd = st.owed.T, st.owed_usd.T  # columns x paths
    payouts_usd = owed_usd.sum(axis=0) / PRICE_SCALE
    shortfall_usd = np.zeros(n_paths)
    ruined = np.flatnonzero(ruin)  # only ruined paths were short anywhere
    if len(ruined):
        o = owed[:, ruined]
        short = st.short(ruined)
        part = np.zeros(short.shape)
        cut = short > 0
        part[cut] = owed_usd[:, ruined][cut] / PRICE_SCALE * (short[cut] / o[cut])
        shortfall_usd[ruined] = part.sum(axis=0)
    # intrinsic value above the caps (what buyers were not covered for), USD at settlement prices
    capped_usd = st.capped_usd / PRICE_SCALE
    prem_usd = premium_usd_at_start(book, spec.model)
    loss_usd = payouts_usd - prem_usd[done].sum()

    # tranche assets and required collateral over time (steps x paths)
    n_steps = np.arange(n_cols)
    cover = np.full((n_cols, n_paths), np.nan)
    tier_min = np.full((n_paths, 3), np.nan)
    share_end = np.full((n_paths, N_TRANCHES), np.nan)
    per_unit = {}  # token price / token unit: required = need_usd / per_unit
    for k, (base, need_t) in enumerate(_schedules(book, pool, grid, n_cols)):
        dep = pool.deposits[k]
        order = st.orders[k]
        n_done = np.searchsorted(cols_step[order], n_steps, side="right")
        active = need_t > 0.5  # need is a sum of integers: below 1/2 is float noise of 0
        # assets only where they are read: active steps and the last (share price)
        rows = _rows(np.flatnonzero(active | (n_steps == last)))
        base_rows = base[rows, None]
        if len(order):
            nd = n_done[rows]
            paid = st.cum_paid[k].T[np.maximum(nd - 1, 0)]  # cumulative paid by each step
            paid[nd == 0] = 0
            assets = np.subtract(base_rows, paid, out=paid)
        else:
            assets = np.broadcast_to(base_rows, (len(base_rows), n_paths))
        if dep:
            share_end[:, k] = assets[-1] / dep
        if not active.any():
            continue
        token = k // 3
        if token not in per_unit:
            per_unit[token] = (stx_t if token == 0 else btc_t) / TOKEN_UNIT[token]
        at = _rows(np.flatnonzero(active))
        cov = assets[: len(base_rows) - (not active[last])]  # the active rows of `rows`
        cov = cov * per_unit[token][at]
        cov *= (1.0 / need_t[at])[:, None]
        tier_min[:, k % 3] = np.fmin(tier_min[:, k % 3], cov.min(axis=0))
        if isinstance(at, slice):
            np.fmin(cover[at], cov, out=cover[at])
        else:
            cover[at] = np.fmin(cover[at], cov)
    return {
        "ruin": ruin,
        "ruin_day": ruin_day,
        "payouts_usd": payouts_usd,
        "shortfall_usd": shortfall_usd,
        "capped_usd": capped_usd,
        "loss_usd": loss_usd,
        "coverage": cover.T.astype(np.float32, order="C"),
        "tier_min_coverage": tier_min,
        "share_price_end": share_end,
    }


def _per_book(spec: Spec) -> None:
    """What every chunk reads and is computed once per book (cached): done before the chunks
    start, so that threads running them share it instead of each building it at once.
    Processes build their own copy on first use."""
    from risk import fastpayout

    if fastpayout.choose(spec) is PayoutMode.FAST:
        fastpayout.build_index(spec.book, spec.grid, spec.pool.deposits)
    _schedules(spec.book, spec.pool, spec.grid, spec.grid.steps + 1)


def _rows(index: np.ndarray) -> np.ndarray | slice:
    """Row indices as a slice when they are consecutive and ascending (a view, not a copy)."""
    if len(index) and (np.diff(index) == 1).all():
        return slice(int(index[0]), int(index[-1]) + 1)
    return index


@functools.lru_cache(maxsize=4)
def _schedules(
    book: Book, pool: PoolTerms, grid: Grid, n_cols: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per tranche and step: deposits plus premiums in by then (token units), and the collateral
    need of the policies active then (purchased <= t < settled, USD price units). The same for
    every chunk of a run, so computed once per book (`book.need_usd` is a loop in Python)."""
    need = book.need_usd(pool).astype(np.float64)
    p_step = np.minimum(grid.step_of(book.purchased), n_cols - 1)
    s_step = np.minimum(grid.step_of(book.expiration), n_cols)
    out = []
    for k in range(N_TRANCHES):
        mine = book.tranche == k
        prem_t = np.zeros(n_cols, dtype=np.int64)
        np.add.at(prem_t, p_step[mine], book.premium[mine])
        need_t = np.zeros(n_cols + 1)
        np.add.at(need_t, p_step[mine], need[mine])
        np.add.at(need_t, s_step[mine], -need[mine])
        out.append((pool.deposits[k] + np.cumsum(prem_t), np.cumsum(need_t)[:n_cols]))
    return out


def premium_usd_at_start(book: Book, model: PriceModel) -> np.ndarray:
    """Each premium's USD value at the start prices (what the buyer paid, in USD)."""
    price = np.where(book.token == 0, model.stx_start, model.btc_start)
    return book.premium / _U[book.token] * price


def keep_freed_memory(limit_bytes: int = 1 << 30) -> bool:
    """Asks glibc's allocator to keep freed memory for reuse rather than hand it back to the
    kernel; True if it took the settings.

    Why: a chunk's temporaries (columns x paths arrays of several MB) are freed and allocated
    again by the next chunk, and by default glibc unmaps or trims them, so each new one costs
    page faults and the kernel's zeroing: measured, a third of the 1,000-policy exact run's
    time (sys 0.8 s against user 1.8 s over 20 runs of 1,000 paths), almost nothing after.
    Process-wide, hence opt-in, for processes whose main work is the Monte Carlo (the
    benchmarks call it): such a process then keeps up to `limit_bytes` of freed heap, and
    allocations up to 32 MB (glibc's ceiling for the setting) come from the heap."""
    try:
        mallopt = ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):  # not glibc
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    trimmed = mallopt(m_trim_threshold, min(limit_bytes, 2**31 - 1))
    return bool(trimmed and mallopt(m_mmap_threshold, 32 << 20))


def merge(parts: Iterable[dict[str, Any]]) -> dict[str, Any]:
    parts = list(parts)
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def children(seed: int | np.random.SeedSequence, n: int) -> list[np.random.SeedSequence]:
    """The first `n` children of `seed`, without `spawn`'s side effect on the parent, so the
    same seed object gives the same chunks every time (stress points reuse one seed)."""
    seq = seed if isinstance(seed, np.random.SeedSequence) else np.random.SeedSequence(seed)
    return [
        np.random.SeedSequence(seq.entropy, spawn_key=(*seq.spawn_key, i), pool_size=seq.pool_size)
        for i in range(n)
    ]


def run(
    spec: Spec,
    n_paths: int,
    seed: int | np.random.SeedSequence,
    map_fn: Callable[..., Iterable[dict[str, Any]]] = map,
) -> dict[str, Any]:
    """All chunks through `map_fn(func, specs, seeds, sizes)`, merged in chunk order.

    `map_fn` may be the builtin map, a process pool's or a cluster's: chunking depends only on
    `n_paths` and `spec.chunk_size`, so the merged result is the same whichever runs it.
    """
    sizes = chunk_sizes(n_paths, spec.chunk_size)
    _per_book(spec)
    return merge(map_fn(simulate_chunk, [spec] * len(sizes), children(seed, len(sizes)), sizes))


# --- metrics ------------------------------------------------------------------------------------


def wilson(k: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval for a binomial proportion (95% by default)."""
    if n == 0:
        return (0.0, 1.0)
    p = k / n
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / denom
    lo = 0.0 if k == 0 else max(0.0, centre - half)  # exact ends: float noise is not a bound
    hi = 1.0 if k == n else min(1.0, centre + half)
    return (lo, hi)


def var_es(loss: np.ndarray, level: float, z: float = 1.959963984540054) -> dict[str, float]:
    """Value at risk (the level-quantile of loss), expected shortfall (mean loss at or beyond
    it), and a distribution-free 95% interval for the VaR: the order statistics whose ranks
    bound the binomial count of paths below the quantile."""
    s = np.sort(loss)
    n = len(s)
    var = float(np.quantile(s, level, method="higher"))
    half = z * math.sqrt(n * level * (1 - level))
    lo = min(n - 1, max(0, math.floor(n * level - half) - 1))
    hi = min(n - 1, max(0, math.ceil(n * level + half) - 1))
    return {"var": var, "es": float(s[s >= var].mean()), "var_ci95_low": float(s[lo]),
            "var_ci95_high": float(s[hi])}  # fmt: skip


def _se(x: np.ndarray) -> float:
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else 0.0


def _path_min(cov: np.ndarray) -> np.ndarray:
    """Each path's lowest coverage over the horizon (NaN where nothing was ever at risk)."""
    with np.errstate(all="ignore"):
        out = np.fmin.reduce(cov.astype(np.float64), axis=1)
    return out


def _quantiles(x: np.ndarray) -> dict[str, float | None]:
    x = x[np.isfinite(x)]
    if not len(x):
        return {f"p{q}": None for q in FAN}
    return {f"p{q}": float(v) for q, v in zip(FAN, np.quantile(x, [q / 100 for q in FAN]),
                                               strict=True)}  # fmt: skip


def summarise(res: dict[str, Any], spec: Spec) -> dict[str, Any]:
    """The headline metrics, with intervals, from merged per-path results."""
    n = len(res["ruin"])
    k = int(res["ruin"].sum())
    lo, hi = wilson(k, n)
    book = spec.book
    done = spec.grid.step_of(book.expiration) <= spec.grid.steps
    prem = float(premium_usd_at_start(book, spec.model)[done].sum())
    pay = res["payouts_usd"]
    mean_pay, se_pay = float(pay.mean()), _se(pay)
    days = res["ruin_day"][res["ruin"]]
    out: dict[str, Any] = {
        "paths": n,
        "policies": len(book),
        "policies_settled_in_horizon": int(done.sum()),
        "probability_of_ruin": {
            "estimate": k / n,
            "ci95_low": lo,
            "ci95_high": hi,
            "method": "Wilson score",
        },
        "loss_usd": {f"{lv:g}": var_es(res["loss_usd"], lv) for lv in LEVELS},
        "shortfall_usd": {
            "mean": float(res["shortfall_usd"].mean()),
            "mean_se": _se(res["shortfall_usd"]),
            "p99": float(np.quantile(res["shortfall_usd"], 0.99)),
        },
        "capped_claims_usd": {
            "mean": float(res["capped_usd"].mean()),
            "mean_se": _se(res["capped_usd"]),
            "p99": float(np.quantile(res["capped_usd"], 0.99)),
        },
        "coverage_min_over_horizon": _quantiles(_path_min(res["coverage"])),
        "premium_adequacy": {
            "premiums_usd": prem,
            "expected_payouts_usd": mean_pay,
            "expected_payouts_se": se_pay,
            "ratio": prem / mean_pay if mean_pay > 0 else None,
        },
        "time_to_ruin_days": {
            "ruined_paths": len(days),
            "median": float(np.median(days)) if len(days) else None,
            "mean": float(days.mean()) if len(days) else None,
        },
        "share_price_end": {},
    }
    from risk.book import TIER_NAMES, TOKEN_NAMES

    for t in range(N_TRANCHES):
        col = res["share_price_end"][:, t]
        if not np.isnan(col).all():
            name = f"{TOKEN_NAMES[t // 3]}-{TIER_NAMES[t % 3]}"
            out["share_price_end"][name] = _quantiles(col)
    return out
