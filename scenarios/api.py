"""The functions a notebook calls: run a scenario, read a run folder as columns, a Monte Carlo
solvency study, a sweep, a stress matrix. Thin wrappers over what run.py calls, so a notebook
and the command line give the same bytes for the same inputs; nothing here has rules of its own.

Tables come back as columns (`{name: [values...]}`, numbers parsed), which is what
`pandas.DataFrame(columns)` takes, without making pandas a dependency. Bad input raises
`scenarios.config.ConfigError` with the same one-line message the command line prints.
"""

from __future__ import annotations

import csv
import json
import tempfile
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from scenarios import config
from scenarios.config import ConfigError

__all__ = ["ConfigError", "load_run", "read_table", "run_scenario", "scenarios", "solvency",
           "stress", "sweep"]  # fmt: skip

Sets = Mapping[str, Any] | Sequence[str]


def _sets(sets: Sets) -> list[str]:
    """Knob overrides as a mapping ({"days": 2}) or as run.py's `key=value` strings."""
    if isinstance(sets, Mapping):
        return [f"{k}={v}" for k, v in sets.items()]
    return list(sets)


def _new(out: str | Path | None) -> Path | None:
    """`out` as a Path, refused if it holds anything: the API never overwrites a folder."""
    if out is None:
        return None
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise ConfigError(f"out: {out} exists and is not empty; choose another folder")
    return out


def scenarios() -> dict[str, str]:
    """Scenario name -> one-line description."""
    return config.available()


def run_scenario(
    name: str, seed: int = 1, out: str | Path | None = None, sets: Sets = ()
) -> dict[str, Any]:
    """Runs one scenario and returns its report (the dict in report.json); with `out`, writes
    the run folder there too (a new folder: this never replaces one)."""
    from scenarios.runner import run

    scenario = config.load(name, _sets(sets))
    return run(scenario, seed, _new(out))


def _value(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def read_table(path: str | Path) -> dict[str, list[Any]]:
    """A CSV this project wrote, as columns; integers stay integers (the money units), other
    numbers become floats, the rest stays text (an empty cell is "")."""
    with Path(path).open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        head = next(reader, [])
        columns: dict[str, list[Any]] = {name: [] for name in head}
        for line in reader:
            for name, cell in zip(head, line, strict=True):
                columns[name].append(_value(cell))
    return columns


def load_run(folder: str | Path) -> dict[str, Any]:
    """A run folder: `config` and `report` (dicts), `metrics` and `policies` (columns), and
    `events` (the event log's records, in order)."""
    folder = Path(folder)
    if not (folder / "report.json").is_file():
        raise ConfigError(f"folder: {folder} is not a run folder (no report.json)")
    with (folder / "events.jsonl").open(encoding="utf-8") as f:
        events = [json.loads(line) for line in f]
    return {
        "config": json.loads((folder / "config.json").read_text()),
        "report": json.loads((folder / "report.json").read_text()),
        "metrics": read_table(folder / "metrics.csv"),
        "policies": read_table(folder / "policies.csv"),
        "events": events,
    }


def solvency(
    book: str = "baseline",
    *,
    paths: int = 10_000,
    days: int | None = None,
    model: str | None = None,
    seed: int = 1,
    sets: Sets = (),
    stress_paths: int = 1000,
    out: str | Path | None = None,
    workers: int | None = None,
) -> dict[str, Any]:
    """A Monte Carlo solvency study (run.py solvency): returns summary.json's dict; with `out`,
    keeps its folder (solvency.csv, summary.json, book.csv). `workers` > 1 uses a process pool."""
    from scenarios.parallel import mapper
    from scenarios.study import load_study, run_solvency

    study = load_study(book, _sets(sets), seed, model)
    with tempfile.TemporaryDirectory(prefix="bithedge-solvency-") as scratch:
        folder = _new(out) or Path(scratch)
        folder.mkdir(parents=True, exist_ok=True)
        kwargs = {"paths": paths, "days": days, "seed": seed, "stress_paths": stress_paths}
        if workers is None or workers == 1:
            return run_solvency(study, folder, **kwargs)
        with mapper("local", workers) as map_fn:
            return run_solvency(study, folder, map_fn=map_fn, **kwargs)


def sweep(
    name: str | None,
    grid: Mapping[str, Sequence[Any]],
    *,
    runs: int = 1,
    seed: int = 1,
    sets: Sets = (),
    out: str | Path | None = None,
    backend: str = "local",
    workers: int | None = None,
    timeseries: bool = False,
) -> dict[str, dict[str, list[Any]]]:
    """A sweep (run.py sweep) over `grid` ({"crash.change": [-0.5, -0.9]}; a `scenario` key with
    `name` None sweeps scenarios). Returns {"sweep": columns, "timeseries": columns (with
    `timeseries`)}; with `out`, keeps its folder."""
    from scenarios import sweep as sw

    items = [f"{k}={','.join(str(v) for v in values)}" for k, values in grid.items()]
    parsed = sw.parse_grid(items)
    with tempfile.TemporaryDirectory(prefix="bithedge-sweep-") as scratch:
        folder = _new(out) or Path(scratch)
        sw.sweep(name, parsed, runs, seed, folder, sets=_sets(sets), backend=backend,
                 workers=workers, timeseries=timeseries)  # fmt: skip
        tables = {"sweep": read_table(folder / "sweep.csv")}
        if timeseries:
            tables["timeseries"] = read_table(folder / "timeseries.csv")
        return tables


def stress(
    names: Sequence[str] | None = None,
    *,
    seeds: int = 1,
    seed: int = 1,
    limits: str | Path | None = None,
    days: float | None = None,
    policies: int | None = None,
    sets: Sets = (),
    out: str | Path | None = None,
    backend: str = "local",
    workers: int | None = None,
) -> dict[str, Any]:
    """A stress matrix (run.py stress): `names` (default all scenarios) x seeds, checked against
    `limits` (default scenarios/limits/default.toml). Returns {"stress": columns, "summary":
    stress.json's dict, whose `passed` and `breaches` give the verdict}; with `out`, keeps its
    folder."""
    from scenarios import stress as st

    chosen = list(names) if names is not None else list(config.available())
    with tempfile.TemporaryDirectory(prefix="bithedge-stress-") as scratch:
        folder = _new(out) or Path(scratch)
        summary = st.stress(chosen, seeds, seed, Path(limits) if limits else st.DEFAULT_LIMITS,
                            folder, sets=_sets(sets), days=days, policies=policies,
                            backend=backend, workers=workers)  # fmt: skip
        return {"stress": read_table(folder / "stress.csv"), "summary": summary}
