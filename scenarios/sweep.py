"""Parameter sweeps: a scenario run over a grid of knob values times seeds, as one tidy table.

Every grid point runs the same seeds (common random numbers), so differences between points come
from the parameters and not from luck of the draw. Each run is a pure function of its task, and
the table is assembled in task order, so its bytes do not depend on the backend or worker count.

`scenario` is a grid key like the knobs (`--grid scenario=flash-crash,bank-run`), so one sweep
can compare scenarios under the same knob values and seeds. With `timeseries`, each run's
metrics.csv comes back too, stacked into one long table keyed by the run's row of sweep.csv.
"""

from __future__ import annotations

import csv
import itertools
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from scenarios import config, outputs
from scenarios.cells import csv_cell
from scenarios.parallel import Outcome, map_tasks
from settings import check_range

MAX_RUNS = 1_000_000
BASE_COLUMNS = ("run", "seed")  # grid parameters go between these two
TAIL_COLUMNS = ("status", "error")
SCENARIO = "scenario"  # the grid key that sweeps over scenarios rather than a knob


@dataclass(frozen=True)
class Task:
    run: int
    scenario: str
    overrides: tuple[str, ...]  # the --set items, then this point's grid values
    params: tuple[tuple[str, Any], ...]
    seed: int
    timeseries: bool = False  # also return the run's metrics over time


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
        if key == SCENARIO:
            values = [_scenario_name(v.strip()) for v in raw.split(",")]
        else:
            knob = config._check_key(key)
            values = [knob.parse(key, v.strip()) for v in raw.split(",")]
        if len(set(values)) != len(values):
            raise config.ConfigError(f"--grid {key}: a value is repeated")
        grid[key] = values
    return grid


def _scenario_name(name: str) -> str:
    names = config.available()
    if name not in names:
        raise config.ConfigError(
            f"--grid {SCENARIO}: {name!r} is not a scenario; allowed: {', '.join(names)}"
        )
    return name


def scenarios_of(name: str | None, grid: dict[str, list[Any]]) -> list[str]:
    """The scenarios swept: NAME, or the values of `--grid scenario=...` (one, not both)."""
    if SCENARIO in grid:
        if name is not None:
            raise config.ConfigError(
                f"--grid {SCENARIO}: sweeps scenarios in place of NAME ({name!r}); give one"
            )
        return list(grid[SCENARIO])
    if name is None:
        raise config.ConfigError(
            f"NAME: missing; allowed: a scenario name, or --grid {SCENARIO}=a,b,..."
        )
    return [name]


def plan(
    name: str | None,
    grid: dict[str, list[Any]],
    runs: int,
    seed: int,
    sets: Sequence[str] = (),
    timeseries: bool = False,
) -> list[Task]:
    """The sweep's tasks, every one validated (so a bad combination stops it before any runs)."""
    check_range("--runs", runs, 1, MAX_RUNS)
    check_range("--seed", seed, 0, None, kind=int)
    for scenario in scenarios_of(name, grid):
        config.load(scenario, list(sets))  # the scenario and the fixed overrides alone
    tasks = []
    keys = list(grid)
    for point in itertools.product(*(grid[k] for k in keys)):
        params = tuple(zip(keys, point, strict=True))
        scenario = dict(params).get(SCENARIO, name)
        overrides = (*sets, *(f"{k}={v}" for k, v in params if k != SCENARIO))
        try:
            config.load(scenario, list(overrides))
        except config.ConfigError as exc:
            where = ", ".join(f"{k}={v}" for k, v in params)
            raise config.ConfigError(f"--grid point {where}: {exc}") from None
        for r in range(runs):
            tasks.append(Task(len(tasks), scenario, overrides, params, seed + r, timeseries))
    return tasks


def run_one(task: Task) -> dict[str, Any]:
    """One simulation to its report (and, asked for, its metrics.csv as `series`: columns and
    rows as written, so the sweep's copy has the run folder's exact text); a broken invariant is
    a failed run, not a crash."""
    from scenarios.runner import InvariantBroken, run

    scenario = config.load(task.scenario, list(task.overrides))
    try:
        if not task.timeseries:
            return {"status": "ok", "report": run(scenario, task.seed, None)}
        with tempfile.TemporaryDirectory(prefix="bithedge-sweep-") as folder:
            report = run(scenario, task.seed, Path(folder))
            with (Path(folder) / "metrics.csv").open(newline="", encoding="utf-8") as f:
                columns, *lines = list(csv.reader(f))
        return {"status": "ok", "report": report, "series": {"columns": columns, "rows": lines}}
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
            w.writerow({k: csv_cell(row.get(k)) for k in columns})


def write_timeseries(
    path: Path, grid_keys: Sequence[str], tasks: Sequence[Task], outcomes: Sequence[Outcome]
) -> int:
    """timeseries.csv: run, grid parameters, seed, then each run's metrics.csv columns (their
    union, first-seen order), one row per sample; failed runs have none. Returns the rows."""
    head = [BASE_COLUMNS[0], *grid_keys, BASE_COLUMNS[1]]
    columns: dict[str, None] = {}
    for outcome in outcomes:
        series = (outcome.value or {}).get("series") if outcome.ok else None
        for key in series["columns"] if series else ():
            columns.setdefault(key)
    count = 0
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*head, *columns])
        for task, outcome in zip(tasks, outcomes, strict=True):
            series = (outcome.value or {}).get("series") if outcome.ok else None
            if not series:
                continue
            key = [task.run, *(csv_cell(v) for _, v in task.params), task.seed]
            index = {c: i for i, c in enumerate(series["columns"])}
            for line in series["rows"]:
                w.writerow([*key, *(line[index[c]] if c in index else "" for c in columns)])
                count += 1
    return count


def versions(backend: str) -> dict[str, str]:
    from scenarios.report import versions as _versions

    out = _versions()
    if backend == "ray":
        try:
            out["ray"] = metadata.version("ray")
        except metadata.PackageNotFoundError:
            out["ray"] = "not installed"
    return out


def sweep(
    name: str | None,
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
    timeseries: bool = False,
) -> list[dict[str, Any]]:
    """Runs the sweep and writes out/sweep.csv and out/sweep.json (and out/timeseries.csv with
    `timeseries`); returns the table's rows. `name` is None when the grid sweeps `scenario`.

    `fn` (default run_one, looked up when called) runs one task; tests swap in a failing one.
    """
    tasks = plan(name, grid, runs, seed, sets, timeseries)
    outcomes = map_tasks(
        fn or run_one, tasks, backend=backend, workers=workers, address=address, progress=progress
    )
    table = rows(tasks, outcomes)
    out.mkdir(parents=True, exist_ok=True)
    write_table(out / "sweep.csv", list(grid), table)
    failed = sum(row["status"] != "ok" for row in table)
    files = {"sweep.csv": "one row per run: run, grid parameters, seed, report fields, status"}
    if timeseries:
        write_timeseries(out / "timeseries.csv", list(grid), tasks, outcomes)
        files["timeseries.csv"] = "one row per run and sample: run, grid parameters, seed, metrics"
    outputs.write_json(
        out / "sweep.json",
        {
            "name": name,
            "scenarios": scenarios_of(name, grid),
            "grid": [[key, values] for key, values in grid.items()],  # in the table's order
            "sets": list(sets),
            "runs": runs,
            "seeds": [seed + r for r in range(runs)],
            "rows": len(table),
            "failed": failed,
            "backend": backend,
            "versions": versions(backend),
            "files": files,
        },
    )
    return table
