"""A solvency study of one book, end to end: where the book comes from, the main Monte Carlo
run, the stress curves, and the files they leave (solvency.csv, summary.json, book.csv).

`--book` names a scenario (its buyers' book against its providers' deposits), a run folder
(the policies that run sold) or a CSV of policies (priced against the scenario given with
--set, baseline by default). Seeds: one root SeedSequence per study, split into the book draw,
the buyers' budgets and the paths, so each is reproducible on its own.

Here, not in `risk/`, because this is where scenario files are loaded and knob names read:
`risk/` computes on books, pools and price models and imports only protocol facts
(pyproject.toml's import contracts).
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path
from typing import Any

import numpy as np

from chain.protocol import BLOCKS_PER_DAY, PRICE_SCALE, SATS, SBTC, STX, TOKEN_UNIT
from risk import calibrate as cal
from risk import montecarlo as mc
from risk import stress
from risk.book import (
    N_TRANCHES,
    Book,
    Demand,
    PoolTerms,
    admit,
    budgets_usd,
    demand_of,
    read_csv,
    write_csv,
)
from risk.paths import MODELS, Grid, PriceModel, PriceSpec
from risk.pricing import PricingParams
from scenarios import config
from scenarios.cells import csv_cell
from scenarios.config import Scenario
from scenarios.outputs import write_json
from settings import ConfigError, check_range
from sim.agents import split_deposit

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


def provider_deposits(v: dict) -> tuple[int, ...]:
    """Tranche deposits of a scenario's providers, split as the simulated providers split them
    (sim/agents.py split_deposit)."""
    out = [0] * N_TRANCHES
    for token, each, unit in ((STX, v["providers.stx_each"], TOKEN_UNIT[STX]),
                              (SBTC, v["providers.sbtc_each"], TOKEN_UNIT[SBTC])):  # fmt: skip
        for tier, part in enumerate(split_deposit(int(each * unit))):
            out[token * 3 + tier] += part * int(v["providers.count"])
    return tuple(out)


def model_of(v: dict, model: str | None = None) -> PriceModel:
    """The Monte Carlo price model matching a scenario's `price.*` knobs (PriceSpec's fields)."""
    spec = {f.name: v[f"price.{f.name}"] for f in fields(PriceSpec)}
    return PriceModel(**{**spec, "model": model or spec["model"]})


def from_run(folder: Path) -> tuple[Book, PoolTerms, PriceModel]:
    """The book a run bought (`policies.csv`), its providers' deposits and its price model."""
    config, policies = folder / "config.json", folder / "policies.csv"
    if not config.is_file() or not policies.is_file():
        raise ConfigError(f"--book: {folder} is not a run folder with policies.csv")
    v = json.loads(config.read_text())["values"]
    if v.get("providers.panic_drop", 0):
        raise ConfigError(f"--book: {folder}: runs with provider withdrawals are not modelled")
    book = read_csv(policies)
    book = replace(book, start_height=0)  # the run's genesis: deposits happen before any policy
    return book, PoolTerms(deposits=provider_deposits(v)), model_of(v)


def draw_demand(v: dict, spot_usd: float, rng: np.random.Generator) -> Demand:
    """The requests a scenario's buyers would make over `days`, as if all made now.

    Same distributions as sim/agents.py (Poisson count, log-uniform amount, uniform strike
    fraction and duration, token by `stx_share`) plus the scenario's burst. Each buyer also
    gets a budget, the fair Black-Scholes premium at the model vol times U(1, 2): used only by
    `calibrate`, where a dearer quote must lose some buyers for the trade-off to exist.
    """
    n = int(rng.poisson(v["buyers.rate_per_hour"] * 24 * v["days"]))
    lo, hi = np.log(v["buyers.amount_btc_min"]), np.log(v["buyers.amount_btc_max"])
    amount_btc = np.exp(rng.uniform(lo, hi, n))
    frac = rng.uniform(v["buyers.strike_min"], v["buyers.strike_max"], n)
    days = rng.uniform(v["buyers.days_min"], v["buyers.days_max"], n)
    token = np.where(rng.random(n) < v["buyers.stx_share"], STX, SBTC)
    burst = int(v["policies"])
    if burst:
        amount_btc = np.concatenate([amount_btc, np.full(burst, v["burst.amount_btc"])])
        frac = np.concatenate([frac, np.full(burst, v["burst.strike"])])
        days = np.concatenate([days, np.full(burst, v["burst.days"])])
        i = np.arange(burst)
        token = np.concatenate([token, np.where(i % 100 < v["burst.stx_share"] * 100, STX, SBTC)])
    amount = np.rint(amount_btc * SATS).astype(np.int64)
    strike = np.floor(spot_usd * frac).astype(np.int64) * PRICE_SCALE
    blocks = np.rint(days * BLOCKS_PER_DAY).astype(np.int64)
    budget = budgets_usd(spot_usd, strike, blocks, amount, v["price.btc_vol"], rng)
    return Demand(amount, strike, blocks, token.astype(np.int64), budget)


def from_scenario(
    scenario: Scenario, seed: np.random.SeedSequence, model: str | None = None
) -> tuple[Book, PoolTerms, PriceModel]:
    """The book a scenario's buyers would buy now, against its providers' deposits."""
    v = scenario.values
    pm = model_of(v, model)
    pool = PoolTerms(deposits=provider_deposits(v))
    demand = draw_demand(v, pm.btc_start, np.random.default_rng(seed))
    pricing = scenario.build(PricingParams, "pricing")
    book = admit(demand, pool, pm, pricing)
    return replace(book, source=f"scenario:{scenario.name}"), pool, pm


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
            w.writerow({k: csv_cell(r.get(k), 9) for k in columns})
