"""Stress curves: how coverage, shortfall and ruin bend as one input is pushed.

Each point is a Monte Carlo run of the same book with one thing changed: an instantaneous
crash of 0-95%, the same crash spread over more days, the market's volatility, the tiers'
utilisation cap, or the pricing vol multiplier (the last two re-admit the demand, since they
change which policies are sold and at what premium). Every point uses the same seed, so the
curves compare like with like (common random numbers) instead of showing sampling noise.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import Any

import numpy as np

from chain.protocol import BLOCKS_PER_DAY
from risk import montecarlo as mc
from risk.book import TIER_NAMES, Demand, admit
from risk.pricing import PricingParams

CRASH_DEPTHS = tuple(round(0.05 * i, 2) for i in range(20))  # 0 to 95%
CRASH_SPEEDS_DAYS = (0.0, 1.0, 2.0, 5.0, 10.0, 20.0)
VOL_MULTIPLIERS = (0.5, 0.75, 1.0, 1.5, 2.0, 3.0)  # market vol, times the model's
CAPS = (0.3, 0.45, 0.6, 0.75, 0.85, 0.95)  # utilisation cap applied to every tier
PRICING_MULTIPLIERS = (0.8, 1.0, 1.25, 1.5, 2.0)
FAN_COLUMNS = tuple(f"coverage_p{q}" for q in mc.FAN)

# solvency.csv, one tidy table: one row per (curve, x, tier)
COLUMNS = (
    "curve",  # coverage_over_time | crash_depth | crash_speed | volatility | utilisation_cap
    #           | vol_multiplier
    "x",  # the curve's input: day, crash fraction, crash days, vol multiple, cap, multiplier
    "x_unit",
    "tier",  # all | conservative | balanced | aggressive
    "paths",
    *FAN_COLUMNS,  # coverage quantiles over paths (over time: that day's; else the path minimum)
    "ruin_probability",
    "ruin_ci95_low",
    "ruin_ci95_high",
    "shortfall_mean_usd",
    "capped_mean_usd",  # intrinsic value above the collateral caps (v2), mean over paths
    "premiums_usd",
    "policies",
)

MapFn = Callable[..., Iterable[dict[str, Any]]]


def _q(values: np.ndarray) -> dict[str, float | None]:
    finite = values[np.isfinite(values)]
    if not len(finite):
        return dict.fromkeys(FAN_COLUMNS)
    qs = np.quantile(finite, [q / 100 for q in mc.FAN])
    return {c: float(v) for c, v in zip(FAN_COLUMNS, qs, strict=True)}


def point_rows(
    curve: str, x: float, unit: str, spec: mc.Spec, n_paths: int, seed: int, map_fn: MapFn
) -> list[dict[str, Any]]:
    """One curve point: a pool row (ruin, shortfall, coverage) and one coverage row per tier."""
    res = mc.run(spec, n_paths, seed, map_fn)
    k = int(res["ruin"].sum())
    lo, hi = mc.wilson(k, n_paths)
    done = spec.grid.step_of(spec.book.expiration) <= spec.grid.steps
    prem = float(mc.premium_usd_at_start(spec.book, spec.model)[done].sum())
    base = {"curve": curve, "x": x, "x_unit": unit, "paths": n_paths}
    with np.errstate(all="ignore"):
        pool_min = np.nanmin(np.where(np.isnan(res["coverage"]), np.inf, res["coverage"]), axis=1)
    rows = [
        {
            **base,
            "tier": "all",
            **_q(pool_min),
            "ruin_probability": k / n_paths,
            "ruin_ci95_low": lo,
            "ruin_ci95_high": hi,
            "shortfall_mean_usd": float(res["shortfall_usd"].mean()),
            "capped_mean_usd": float(res["capped_usd"].mean()),
            "premiums_usd": prem,
            "policies": len(spec.book),
        }
    ]
    for t, name in enumerate(TIER_NAMES):
        rows.append({**base, "tier": name, **_q(res["tier_min_coverage"][:, t])})
    return rows


def fan_rows(res: dict[str, Any], spec: mc.Spec) -> list[dict[str, Any]]:
    """Coverage quantiles per day (the fan chart), from a main run's per-path coverage."""
    cov = res["coverage"]
    rows = []
    step_days = spec.grid.step_blocks / BLOCKS_PER_DAY
    for t in range(cov.shape[1]):
        col = cov[:, t].astype(np.float64)
        q = _q(col)
        if q[FAN_COLUMNS[0]] is None:
            continue
        rows.append({"curve": "coverage_over_time", "x": t * step_days, "x_unit": "day",
                     "tier": "all", "paths": int(np.isfinite(col).sum()), **q})  # fmt: skip
    return rows


def curves(
    spec: mc.Spec,
    demand: Demand,
    pricing: PricingParams,
    n_paths: int,
    seed: int,
    map_fn: MapFn = map,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """Every stress curve's rows. `demand` and `pricing` are what caps and loadings re-admit."""
    rows: list[dict[str, Any]] = []
    jobs: list[tuple[str, float, str, mc.Spec]] = []
    for d in CRASH_DEPTHS:
        jobs.append(("crash_depth", d, "fraction", _crashed(spec, d, 0.0)))
    for days in CRASH_SPEEDS_DAYS:
        jobs.append(("crash_speed", days, "days for a 50% fall", _crashed(spec, 0.5, days)))
    for m in VOL_MULTIPLIERS:
        model = replace(spec.model, vol_multiplier=m)
        jobs.append(("volatility", m, "x model vol", replace(spec, model=model)))
    for cap in CAPS:
        bps = (round(cap * 10_000),) * 3
        pool = replace(spec.pool, max_utilisation_bps=bps)
        jobs.append(("utilisation_cap", cap, "fraction", _readmit(spec, demand, pool, pricing)))
    for m in PRICING_MULTIPLIERS:
        p = replace(pricing, vol_multiplier=m)
        jobs.append(("vol_multiplier", m, "pricing loading", _readmit(spec, demand, None, p)))
    for i, (curve, x, unit, s) in enumerate(jobs):
        if progress is not None:
            progress(f"stress {i + 1}/{len(jobs)}: {curve} {x:g}")
        rows.extend(point_rows(curve, x, unit, s, n_paths, seed, map_fn))
    return rows


def _crashed(spec: mc.Spec, depth: float, days: float) -> mc.Spec:
    """The crash starts at once: after every purchase, before the first settlement."""
    model = replace(spec.model, crash_depth=depth, crash_day=0.0, crash_days=days)
    return replace(spec, model=model)


def _readmit(spec: mc.Spec, demand: Demand, pool, pricing: PricingParams) -> mc.Spec:
    pool = pool or spec.pool
    book = admit(demand, pool, spec.model, pricing, start_height=spec.book.start_height)
    return replace(spec, book=book, pool=pool)
