"""A solvency study of one book, end to end: where the book comes from, the main Monte Carlo
run, the stress curves, and the files they leave (solvency.csv, summary.json, book.csv).

`--book` names a scenario (its buyers' book against its providers' deposits), a run folder
(the policies that run sold) or a CSV of policies (priced against the scenario given with
--set, baseline by default). Seeds: one root SeedSequence per study, split into the book draw,
the buyers' budgets and the paths, so each is reproducible on its own.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from chain.protocol import BLOCKS_PER_DAY
from risk import calibrate as cal
from risk import montecarlo as mc
from risk import stress
from risk.book import (
    Book,
    Demand,
    PoolTerms,
    demand_of,
    draw_demand,
    from_run,
    from_scenario,
    model_of,
    provider_deposits,
    read_csv,
    write_csv,
)
from risk.paths import MODELS, Grid, PriceModel
from risk.pricing import PricingParams
from scenarios import config
from scenarios.config import ConfigError
from scenarios.outputs import write_json

MAX_DAYS = 3650
MAX_PATHS = 10_000_000
MapFn = Callable[..., Iterable[dict[str, Any]]]


@dataclass(frozen=True)
class Study:
    source: str
    book: Book
    pool: PoolTerms
    model: PriceModel
    pricing: PricingParams
    demand: Demand  # what caps and loadings re-admit
    overrides: tuple[str, ...] = ()  # the --set items, recorded with the results


def _pricing(v: dict) -> PricingParams:
    return PricingParams(
        vol_multiplier=v["pricing.vol_multiplier"],
        skew_kink=v["pricing.skew_kink"],
        skew_slope=v["pricing.skew_slope"],
        min_premium_usd=v["pricing.min_premium_usd"],
    )


def check_range(name: str, value: float, lo: float, hi: float) -> None:
    if not lo <= value <= hi:
        raise ConfigError(f"{name}: {value!r} is out of range; allowed: {lo:g} to {hi:g}")


def load_study(src: str, overrides: list[str], seed: int, model: str | None) -> Study:
    """The book, pool, price model, pricing and demand named by `--book` (see module doc)."""
    if model is not None and model not in MODELS:
        raise ConfigError(f"--model: {model!r} is not valid; allowed: one of {', '.join(MODELS)}")
    s_book, s_budget = mc.children(np.random.SeedSequence(seed), 2)
    path = Path(src)
    if path.is_dir():
        if overrides:
            raise ConfigError("--set: applies to scenario and CSV books, not to a run folder")
        book, pool, pm = from_run(path)
        v = json.loads((path / "config.json").read_text())["values"]
        pm = replace(pm, model=model or pm.model)
        demand = demand_of(book, pm, np.random.default_rng(s_budget))
        return Study(f"run:{path}", book, pool, pm, _pricing(v), demand)
    if src.endswith(".csv"):
        if not path.is_file():
            raise ConfigError(f"--book: {src} does not exist")
        scenario = config.load("baseline", overrides)
        v = scenario.values
        book = read_csv(path)
        pm = model_of(v, model)
        demand = demand_of(book, pm, np.random.default_rng(s_budget))
        pool = PoolTerms(deposits=provider_deposits(v))
        return Study(f"csv:{path}", book, pool, pm, _pricing(v), demand, tuple(overrides))
    scenario = config.load(src, overrides)
    book, pool, pm = from_scenario(scenario, s_book, model)
    v = scenario.values
    demand = draw_demand(v, pm.btc_start, np.random.default_rng(s_book))
    if len(book) == 0:
        raise ConfigError(f"--book: scenario {src!r} sells no policies (check buyers.* knobs)")
    return Study(f"scenario:{src}", book, pool, pm, _pricing(v), demand, tuple(overrides))


def horizon_days(book: Book, days: int | None) -> int:
    """--days, or just long enough for every policy of the book to settle."""
    if days is not None:
        check_range("--days", days, 1, MAX_DAYS)
        return days
    last = int(book.expiration.max()) - book.start_height if len(book) else 1
    return min(MAX_DAYS, max(1, math.ceil(last / BLOCKS_PER_DAY)))


def run_solvency(
    study: Study,
    out: Path,
    *,
    paths: int,
    days: int | None,
    seed: int,
    stress_paths: int,
    chunk_size: int = 2000,
    map_fn: MapFn = map,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Runs the study and writes solvency.csv, summary.json and book.csv into `out`."""
    check_range("--paths", paths, 100, MAX_PATHS)
    check_range("--stress-paths", stress_paths, 100, MAX_PATHS)
    check_range("--chunk-size", chunk_size, 100, 1_000_000)
    n_days = horizon_days(study.book, days)
    grid = Grid(n_days, start_height=study.book.start_height)
    spec = mc.Spec(study.book, study.pool, study.model, grid, chunk_size)
    s_paths = mc.children(np.random.SeedSequence(seed), 3)[2]
    if progress is not None:
        progress(f"main run: {paths} paths x {n_days} days x {len(study.book)} policies")
    res = mc.run(spec, paths, s_paths, map_fn)
    summary = mc.summarise(res, spec)
    rows = stress.fan_rows(res, spec)
    rows += stress.curves(spec, study.demand, study.pricing, stress_paths, s_paths, map_fn,
                          progress)  # fmt: skip
    _write_table(out / "solvency.csv", stress.COLUMNS, rows)
    write_csv(out / "book.csv", study.book)
    doc = {
        "seed": seed,
        "inputs": {
            "book": study.source,
            "overrides": list(study.overrides),
            "policies": len(study.book),
            "paths": paths,
            "stress_paths": stress_paths,
            "days": n_days,
            "chunk_size": chunk_size,
            "model": asdict(study.model),
            "pool": asdict(study.pool),
            "pricing": asdict(study.pricing),
        },
        "metrics": summary,
        "files": {
            "solvency.csv": "one row per (curve, x, tier); columns in risk/stress.py COLUMNS",
            "book.csv": "the policies analysed (integer terms, as the registry stores them)",
        },
    }
    write_json(out / "summary.json", doc)
    return doc


def run_calibrate(
    study: Study,
    out: Path,
    *,
    grid_items: list[str],
    paths: int,
    days: int | None,
    seed: int,
    chunk_size: int = 2000,
    map_fn: MapFn = map,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Grid search (risk/calibrate.py); writes calibrate.csv and calibrate.json into `out`."""
    check_range("--paths", paths, 100, MAX_PATHS)
    grid = cal.parse_grid(grid_items)
    longest = int(study.demand.blocks.max()) if len(study.demand.blocks) else BLOCKS_PER_DAY
    n_days = (
        days if days is not None else min(MAX_DAYS, max(1, math.ceil(longest / BLOCKS_PER_DAY)))
    )
    check_range("--days", n_days, 1, MAX_DAYS)
    spec = mc.Spec(study.book, study.pool, study.model,
                   Grid(n_days, start_height=study.book.start_height), chunk_size)  # fmt: skip
    s_paths = mc.children(np.random.SeedSequence(seed), 3)[2]
    rows = cal.evaluate_grid(spec, study.demand, study.pricing, grid, paths, s_paths, map_fn,
                             progress)  # fmt: skip
    _write_table(out / "calibrate.csv", cal.COLUMNS, rows)
    doc = {
        "seed": seed,
        "ruin_limit": cal.RUIN_LIMIT,
        "rule": "feasible when the 95% Wilson upper bound of the ruin probability <= limit",
        "inputs": {
            "book": study.source,
            "overrides": list(study.overrides),
            "demand": len(study.demand.amount),
            "paths": paths,
            "days": n_days,
            "grid": {k: list(v) for k, v in grid.items()},
            "model": asdict(study.model),
            "pool": asdict(study.pool),
            "pricing": asdict(study.pricing),
        },
        "best": cal.best(rows),
        "frontier": sorted((r for r in rows if r["frontier"]), key=lambda r: -r["premiums_usd"]),
        "notes": [n.as_dict() for n in cal.diagnose(rows, grid, paths)],
    }
    write_json(out / "calibrate.json", doc)
    return doc


def _write_table(path: Path, columns: tuple[str, ...], rows: list[dict[str, Any]]) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for r in rows:
            w.writerow({k: _cell(r.get(k)) for k in columns})


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, bool):
        return int(v)
    if isinstance(v, float):
        return "inf" if math.isinf(v) else repr(round(v, 9))
    return v
