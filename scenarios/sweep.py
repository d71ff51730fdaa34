"""Parameter sweeps: a scenario run over a grid of knob values times seeds, as one tidy table.

Every grid point runs the same seeds (common random numbers), so differences between points come
from the parameters and not from luck of the draw. Each run is a pure function of its task, and
the table is assembled in task order, so its bytes do not depend on the backend or worker count.
"""

from __future__ import annotations

import csv
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from scenarios import config, outputs
from scenarios.parallel import Outcome, map_tasks

MAX_RUNS = 1_000_000
BASE_COLUMNS = ("run", "seed")  # grid parameters go between these two
TAIL_COLUMNS = ("status", "error")


@dataclass(frozen=True)
class Task:
    run: int
    scenario: str
    overrides: tuple[str, ...]  # the --set items, then this point's grid values
    params: tuple[tuple[str, Any], ...]
    seed: int


def parse_grid(items: Sequence[str]) -> dict[str, list[Any]]:
    """`key=v1,v2,...` items -> key -> validated values, in the order given."""
    grid: dict[str, list[Any]] = {}
    for item in items:
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep or not raw.strip():
            raise config.ConfigError(f"--grid {item!r}: expected key=v1,v2,...")
        if key in grid:
            raise config.ConfigError(f"--grid {key}: given twice; list all its values in one")
        knob = config._check_key(key)
        values = [knob.parse(key, v.strip()) for v in raw.split(",")]
        if len(set(values)) != len(values):
            raise config.ConfigError(f"--grid {key}: a value is repeated")
        grid[key] = values
    return grid


def plan(
    name: str, grid: dict[str, list[Any]], runs: int, seed: int, sets: Sequence[str] = ()
) -> list[Task]:
    """The sweep's tasks, every one validated (so a bad combination stops it before any runs)."""
    if not 1 <= runs <= MAX_RUNS:
        raise config.ConfigError(f"--runs: {runs} is out of range; allowed: 1 to {MAX_RUNS}")
    if seed < 0:
        raise config.ConfigError(f"--seed: {seed} is out of range; allowed: an integer from 0")
    config.load(name, list(sets))  # the scenario and the fixed overrides alone
    tasks = []
    keys = list(grid)
    for point in itertools.product(*(grid[k] for k in keys)):
        overrides = (*sets, *(f"{k}={v}" for k, v in zip(keys, point, strict=True)))
        try:
            config.load(name, list(overrides))
        except config.ConfigError as exc:
            where = ", ".join(f"{k}={v}" for k, v in zip(keys, point, strict=True))
            raise config.ConfigError(f"--grid point {where}: {exc}") from None
        for r in range(runs):
            params = tuple(zip(keys, point, strict=True))
            tasks.append(Task(len(tasks), name, overrides, params, seed + r))
    return tasks


def run_one(task: Task) -> dict[str, Any]:
    """One simulation to its report; a broken invariant is a failed run, not a crash."""
    from scenarios.runner import InvariantBroken, run

    scenario = config.load(task.scenario, list(task.overrides))
    try:
        return {"status": "ok", "report": run(scenario, task.seed, None)}
    except InvariantBroken as exc:
        return {"status": "failed", "error": f"InvariantBroken: {' '.join(str(exc).split())}"}


def flatten(report: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in report.items():
        if isinstance(value, dict):
            out.update(flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def rows(tasks: Sequence[Task], outcomes: Sequence[Outcome]) -> list[dict[str, Any]]:
    out = []
    for task, outcome in zip(tasks, outcomes, strict=True):
        row: dict[str, Any] = {"run": task.run, **dict(task.params), "seed": task.seed}
        result = outcome.value if outcome.ok else {"status": "failed", "error": outcome.error}
        for key, value in flatten(result.get("report") or {}).items():
            row.setdefault(key, value)  # the report repeats the seed; the task's stands
        row["status"] = result["status"]
        row["error"] = result.get("error", "")
        out.append(row)
    return out


def write_table(path: Path, grid_keys: Sequence[str], table: list[dict[str, Any]]) -> None:
    """sweep.csv: run, grid parameters, seed, report metrics (first-seen order), status, error."""
    head = [BASE_COLUMNS[0], *grid_keys, BASE_COLUMNS[1]]
    metrics: dict[str, None] = {}
    for row in table:
        for key in row:
            if key not in head and key not in TAIL_COLUMNS:
                metrics.setdefault(key)
    columns = [*head, *metrics, *TAIL_COLUMNS]
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=columns, lineterminator="\n")
        w.writeheader()
        for row in table:
            w.writerow({k: _cell(row.get(k)) for k in columns})


def _cell(v: Any) -> Any:
    if v is None:
        return ""
    if isinstance(v, float):
        return repr(v) if math.isfinite(v) else str(v)
    return v


def versions(backend: str) -> dict[str, str]:
    from scenarios.runner import _versions

    out = _versions()
    if backend == "ray":
        try:
            out["ray"] = metadata.version("ray")
        except metadata.PackageNotFoundError:
            out["ray"] = "not installed"
    return out


def sweep(
    name: str,
    grid: dict[str, list[Any]],
    runs: int,
    seed: int,
    out: Path,
    *,
    sets: Sequence[str] = (),
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: Callable[[int, int, int], None] | None = None,
    fn: Callable[[Task], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """Runs the sweep and writes out/sweep.csv and out/sweep.json; returns the table's rows.

    `fn` (default run_one, looked up when called) runs one task; tests swap in a failing one.
    """
    tasks = plan(name, grid, runs, seed, sets)
    outcomes = map_tasks(
        fn or run_one, tasks, backend=backend, workers=workers, address=address, progress=progress
    )
    table = rows(tasks, outcomes)
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "sweep.csv", list(grid), table)
    failed = sum(row["status"] != "ok" for row in table)
    outputs.write_json(
        out / "sweep.json",
        {
            "name": name,
            "grid": [[key, values] for key, values in grid.items()],  # in the table's order
            "sets": list(sets),
            "runs": runs,
            "seeds": [seed + r for r in range(runs)],
            "rows": len(table),
            "failed": failed,
            "backend": backend,
            "versions": versions(backend),
        },
    )
    return table
