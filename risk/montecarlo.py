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
    q = np.floor(a.astype(np.float64) * np.float64(b) / c)
    if q.size and float(q.max()) > 4e18:
        raise OverflowError("quotient beyond int64")
    q = q.astype(np.int64)
    with np.errstate(over="ignore"):
        r = a * b - q * c  # wraps; the true value is small
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
    """Per path and policy (columns in book order): owed (the capped payout) in USD units and
    tokens, the uncapped claim in tokens, paid tokens."""

    owed_usd: np.ndarray
    owed: np.ndarray
    claim: np.ndarray
    paid: np.ndarray
    cum_paid: list[np.ndarray]  # per tranche: cumulative paid in that tranche's settle order
    cum_owed: list[np.ndarray]  # per tranche: cumulative owed, same order
    orders: list[np.ndarray]  # per tranche: policy columns in settle order


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
    """
    claim_usd = payout_usd(book.strike, btc_price, book.amount)
    claim = usd_to_tokens(claim_usd, _U[book.token], token_price)
    owed = np.minimum(claim, book.collateral[None, :])
    # the capped payout's USD value (analytics): the claim's, in proportion where the cap binds
    scale = np.where(claim > owed, owed / np.maximum(claim, 1), 1.0)
    owed_usd = np.where(claim > owed, (claim_usd * scale).astype(np.int64), claim_usd)
    paid = np.zeros_like(owed)
    tranche = book.tranche
    tb = book.ids if tiebreak is None else tiebreak
    cum_paid, cum_owed, orders = [], [], []
    for k in range(N_TRANCHES):
        cols = np.flatnonzero(tranche == k)
        cols = cols[np.lexsort((book.ids[cols], tb[cols], settle_key[cols]))]
        orders.append(cols)
        if not len(cols):
            cum_paid.append(np.zeros((owed.shape[0], 0), dtype=np.int64))
            cum_owed.append(cum_paid[-1])
            continue
        pk = premium_key[cols]
        prem = book.premium[cols]
        by_time = np.argsort(pk, kind="stable")
        cum_prem = np.cumsum(prem[by_time])
        # premiums in before each settlement: those with premium_key <= its settle key
        n_in = np.searchsorted(pk[by_time], settle_key[cols], side="right")
        available = deposits[k] + np.where(n_in > 0, cum_prem[np.maximum(n_in - 1, 0)], 0)
        s = np.cumsum(owed[:, cols], axis=1)
        slack = np.minimum.accumulate(np.minimum(available - s, 0), axis=1)
        c = s + slack
        paid[:, cols] = np.diff(c, axis=1, prepend=0)
        cum_paid.append(c)
        cum_owed.append(s)
    return Settlement(owed_usd, owed, claim, paid, cum_paid, cum_owed, orders)


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
    """Per-path results of the book's run-off on given price paths (paths x steps+1)."""
    book, grid, pool = spec.book, spec.grid, spec.pool
    n_paths, n_cols = btc.shape
    last = n_cols - 1
    s_step = grid.step_of(book.expiration)
    p_step = np.minimum(grid.step_of(book.purchased), last)
    done = s_step <= last
    from risk import fastpayout  # imports this module: resolved at call time

    # settlement is at the fixings (the window's average before each expiry), not the spot
    fix_btc, fix_stx = fixings(btc, grid), fixings(stx, grid)
    if fastpayout.choose(spec) is PayoutMode.FAST:  # columns are (tranche, expiry) groups
        ix = fastpayout.build_index(book, grid, pool.deposits)
        grouped = fastpayout.settle_grouped(ix, fix_btc, fix_stx)
        st, cols_step, claim_usd = grouped.settlement, grouped.steps, grouped.claim_usd
    else:  # columns are policies
        sb = book.subset(done)
        cols_step = s_step[done]
        bp = fix_btc[:, cols_step]
        tp = np.where(sb.token == 0, fix_stx[:, cols_step], bp)
        st = settle(sb, pool.deposits, bp, tp, cols_step, p_step[done])
        claim_usd = payout_usd(sb.strike, bp, sb.amount)
    short = st.owed - st.paid
    step_days = grid.step_blocks / BLOCKS_PER_DAY
    never = np.iinfo(np.int64).max
    first = np.full(n_paths, never, dtype=np.int64)
    for k in range(N_TRANCHES):  # first settlement with a shortfall, from cumulative sums
        order = st.orders[k]
        if not len(order):
            continue
        gap = st.cum_owed[k] > st.cum_paid[k]
        hit = gap.any(axis=1)
        at = cols_step[order][np.argmax(gap, axis=1)]
        first = np.where(hit, np.minimum(first, at), first)
    ruin = first != never
    ruin_day = np.where(ruin, first * step_days, np.nan)
    # USD values (analytics: floats): owed at settlement prices, shortfall in proportion
    payouts_usd = st.owed_usd.sum(axis=1) / PRICE_SCALE
    shortfall_usd = np.zeros(n_paths)
    rows, cols = np.nonzero(short)
    if len(rows):
        part = st.owed_usd[rows, cols] / PRICE_SCALE * (short[rows, cols] / st.owed[rows, cols])
        np.add.at(shortfall_usd, rows, part)
    # intrinsic value above the caps (what buyers were not covered for), USD at settlement prices
    capped_usd = (claim_usd - st.owed_usd).sum(axis=1) / PRICE_SCALE
    prem_usd = premium_usd_at_start(book, spec.model)
    loss_usd = payouts_usd - prem_usd[done].sum()

    # tranche assets and required collateral over time
    need = book.need_usd(pool).astype(np.float64)
    n_steps = np.arange(n_cols)
    cover = np.full((n_paths, n_cols), np.nan)
    tier_min = np.full((n_paths, 3), np.nan)
    share_end = np.full((n_paths, N_TRANCHES), np.nan)
    tranche = book.tranche
    per_unit = {}  # token price / token unit: required = need_usd / per_unit
    for k in range(N_TRANCHES):
        mine = tranche == k
        dep = pool.deposits[k]
        prem_t = np.zeros(n_cols, dtype=np.int64)
        np.add.at(prem_t, p_step[mine], book.premium[mine])
        base = dep + np.cumsum(prem_t)
        order = st.orders[k]
        n_done = np.searchsorted(cols_step[order], n_steps, side="right")
        if len(order):
            c = np.concatenate([np.zeros((n_paths, 1), dtype=np.int64), st.cum_paid[k]], axis=1)
            assets = base[None, :] - c[:, n_done]
        else:
            assets = np.broadcast_to(base, (n_paths, n_cols))
        if dep:
            share_end[:, k] = assets[:, -1] / dep
        need_t = np.zeros(n_cols + 1)  # active: purchased <= t < settled
        np.add.at(need_t, p_step[mine], need[mine])
        np.add.at(need_t, np.minimum(s_step[mine], n_cols), -need[mine])
        need_t = np.cumsum(need_t)[:n_cols]
        active = need_t > 0.5  # need is a sum of integers: below 1/2 is float noise of 0
        if not active.any():
            continue
        token = k // 3
        if token not in per_unit:
            per_unit[token] = (stx if token == 0 else btc) / TOKEN_UNIT[token]
        inv_need = np.where(active, 1.0 / np.where(active, need_t, 1.0), np.nan)
        cov = assets * per_unit[token] * inv_need[None, :]
        np.fmin(cover, cov, out=cover)
        tier_min[:, k % 3] = np.fmin(tier_min[:, k % 3], np.nanmin(cov[:, active], axis=1))
    return {
        "ruin": ruin,
        "ruin_day": ruin_day,
        "payouts_usd": payouts_usd,
        "shortfall_usd": shortfall_usd,
        "capped_usd": capped_usd,
        "loss_usd": loss_usd,
        "coverage": cover.astype(np.float32),
        "tier_min_coverage": tier_min,
        "share_price_end": share_end,
    }


def premium_usd_at_start(book: Book, model: PriceModel) -> np.ndarray:
    """Each premium's USD value at the start prices (what the buyer paid, in USD)."""
    price = np.where(book.token == 0, model.stx_start, model.btc_start)
    return book.premium / _U[book.token] * price


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
