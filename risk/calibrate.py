"""Risk-constrained calibration: the pricing and tier parameters that earn the most premium
while the probability of ruin stays at most 0.5%.

A grid search, not an optimiser: the grid is small (a few values of each knob), every point is
a full Monte Carlo run on the same price paths (same seed, so the comparison between points is
not noise), and the whole table is worth reporting, not just its best point. A point is feasible
when the upper end of the 95% Wilson interval of its ruin probability is at most the limit, so
"feasible" is a claim the paths support rather than a lucky zero count. Demand answers price: a
buyer buys only if the quote is within its budget (scenarios/study.py `draw_demand`), so loading the
vol more loses buyers and the search has a real trade-off.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from risk import montecarlo as mc
from risk.book import Demand, admit
from risk.pricing import PricingParams
from settings import ConfigError, check_range

RUIN_LIMIT = 0.005
# knob -> (default grid, allowed range, what it scales)
KNOBS: dict[str, tuple[tuple[float, ...], float, float]] = {
    "vol_multiplier": ((1.0, 1.25, 1.5, 2.0), 0.1, 10.0),  # pricing loading on realised vol
    "cap_scale": ((0.5, 0.75, 1.0, 1.1), 0.05, 1.17),  # x every tier's utilisation cap
    "collateral_scale": ((0.4, 0.6, 0.8, 1.0), 0.1, 5.0),  # x every tier's collateral ratio
}
COLUMNS = (
    "vol_multiplier",
    "cap_scale",
    "collateral_scale",
    "policies",
    "premiums_usd",
    "expected_payouts_usd",
    "ruin_probability",
    "ruin_ci95_low",
    "ruin_ci95_high",
    "feasible",
    "frontier",
)


def parse_grid(items: list[str]) -> dict[str, tuple[float, ...]]:
    """`key=v1,v2,...` items over the defaults; a bad key or value is a ConfigError."""
    grid = {k: v[0] for k, v in KNOBS.items()}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if key not in KNOBS:
            raise ConfigError(f"--grid: unknown key {key!r}; allowed: {', '.join(KNOBS)}")
        _, lo, hi = KNOBS[key]
        try:
            values = tuple(float(x) for x in raw.split(",") if x.strip())
        except ValueError:
            values = ()
        if not sep or not values:
            raise ConfigError(f"--grid {item!r}: expected {key}=v1,v2,... (numbers)")
        for v in values:
            check_range(f"--grid {key}", v, lo, hi)
        grid[key] = values
    return grid


def _scaled(values: tuple[int, ...], scale: float, hi: int) -> tuple[int, ...]:
    return tuple(min(hi, max(1, round(v * scale))) for v in values)


def evaluate_grid(
    spec: mc.Spec,
    demand: Demand,
    pricing: PricingParams,
    grid: dict[str, tuple[float, ...]],
    n_paths: int,
    seed: int,
    map_fn: Callable[..., Iterable[dict[str, Any]]] = map,
    progress: Callable[[str], None] | None = None,
) -> list[dict[str, Any]]:
    """One row per grid point, in grid order, with feasibility and the Pareto frontier."""
    rows = []
    points = list(itertools.product(*(grid[k] for k in KNOBS)))
    for i, (vm, cap, coll) in enumerate(points):
        if progress is not None:
            progress(f"calibrate {i + 1}/{len(points)}")
        pool = replace(
            spec.pool,
            max_utilisation_bps=_scaled(spec.pool.max_utilisation_bps, cap, 10_000),
            collateral_bps=_scaled(spec.pool.collateral_bps, coll, 50_000),
        )
        p = replace(pricing, vol_multiplier=vm)
        book = admit(demand, pool, spec.model, p, start_height=spec.book.start_height,
                     use_budget=True)  # fmt: skip
        s = replace(spec, book=book, pool=pool)
        res = mc.run(s, n_paths, seed, map_fn)
        k = int(res["ruin"].sum())
        lo, hi = mc.wilson(k, n_paths)
        done = s.grid.step_of(book.expiration) <= s.grid.steps
        rows.append({
            "vol_multiplier": vm, "cap_scale": cap, "collateral_scale": coll,
            "policies": len(book),
            "premiums_usd": float(mc.premium_usd_at_start(book, s.model)[done].sum()),
            "expected_payouts_usd": float(res["payouts_usd"].mean()),
            "ruin_probability": k / n_paths, "ruin_ci95_low": lo, "ruin_ci95_high": hi,
            "feasible": hi <= RUIN_LIMIT,
        })  # fmt: skip
    seen: set[tuple[float, float]] = set()
    for r in rows:  # Pareto: no other point earns at least as much with no more ruin, one better
        outcome = (r["premiums_usd"], r["ruin_probability"])
        r["frontier"] = outcome not in seen and not any(
            o["premiums_usd"] >= r["premiums_usd"]
            and o["ruin_probability"] <= r["ruin_probability"]
            and outcome != (o["premiums_usd"], o["ruin_probability"])
            for o in rows
        )
        seen.add(outcome)  # a tie (a cap that does not bind) is listed once, first in grid order
    return rows


def best(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The feasible point with the most premium income (ties: lower ruin, then grid order)."""
    feasible = [r for r in rows if r["feasible"]]
    if not feasible:
        return None
    return max(feasible, key=lambda r: (r["premiums_usd"], -r["ruin_probability"]))


class Finding(Enum):
    """What can make a calibration's answer weaker than it looks."""

    UNRESOLVED = "unresolved"  # too few paths: even zero ruins cannot show ruin <= the limit
    GRID_EDGE = "grid_edge"  # the best point sits at the end of a knob's grid
    NOT_BINDING = "not_binding"  # no point is ruled out by the limit: demand alone chose


@dataclass(frozen=True)
class Note:
    finding: Finding
    text: str

    def as_dict(self) -> dict[str, str]:
        return {"finding": self.finding.value, "text": self.text}


def _outcome(row: dict[str, Any]) -> tuple[float, float]:
    return (row["premiums_usd"], row["ruin_probability"])


def _inward(
    rows: list[dict[str, Any]], top: dict[str, Any], key: str, values: tuple[float, ...]
) -> tuple[float, float] | None:
    """The outcome one grid step inward from `top` along `key`, the other knobs held."""
    ordered = sorted(values)
    step = ordered[1] if top[key] == ordered[0] else ordered[-2]
    for r in rows:
        if r[key] == step and all(r[k] == top[k] for k in KNOBS if k != key):
            return _outcome(r)
    return None


def paths_to_resolve(limit: float = RUIN_LIMIT) -> int:
    """The fewest paths at which zero ruins gives a 95% Wilson upper bound at most `limit`.

    For k = 0 the bound is z^2 / (n + z^2), so n >= z^2 (1 - limit) / limit; the search around
    that value uses `wilson` itself, so the answer agrees with the feasibility test to the path.
    """
    z2 = 1.959963984540054**2
    n = max(1, math.ceil(z2 * (1 - limit) / limit) - 2)
    while mc.wilson(0, n)[1] > limit:
        n += 1
    return n


def diagnose(
    rows: list[dict[str, Any]], grid: dict[str, tuple[float, ...]], n_paths: int
) -> list[Note]:
    """The findings of a finished grid, in the order a reader needs them."""
    notes = []
    need = paths_to_resolve()
    floor = mc.wilson(0, n_paths)[1]
    if floor > RUIN_LIMIT:
        text = (
            f"{n_paths} paths cannot resolve a {RUIN_LIMIT:.1%} ruin limit: even zero ruins has "
            f"a 95% upper bound of {floor:.2%}, so no point can be shown feasible; "
            f"use at least {need} paths (--paths {need})"
        )
        notes.append(Note(Finding.UNRESOLVED, text))
    top = best(rows)
    if top is None:
        return notes
    edges = []
    for key, values in grid.items():
        if len(values) < 2 or top[key] not in (min(values), max(values)):
            continue
        if _inward(rows, top, key, values) == _outcome(top):
            continue  # the knob changes nothing here (a cap that does not bind): no edge to move
        side = "largest" if top[key] == max(values) else "smallest"
        _, lo, hi = KNOBS[key]
        limit_note = " (the end of its allowed range)" if top[key] in (lo, hi) else ""
        edges.append(f"{key}={top[key]:g} is the {side} value tried{limit_note}")
    if edges:
        text = (
            f"the best point sits on the grid's edge: {'; '.join(edges)}; "
            "extend the grid past it to see whether a better point lies beyond"
        )
        notes.append(Note(Finding.GRID_EDGE, text))
    richer = [r for r in rows if not r["feasible"] and r["premiums_usd"] > top["premiums_usd"]]
    if not richer:
        text = (
            "the ruin limit never binds: no point earning more than the best was ruled out by "
            f"it, so the assumed demand, not the {RUIN_LIMIT:.1%} limit, chose the best point; "
            "try riskier values (lower collateral_scale or vol_multiplier, higher cap_scale)"
        )
        notes.append(Note(Finding.NOT_BINDING, text))
    return notes
