"""The stress matrix: scenarios times seeds as one tidy table, checked against risk limits.

What a risk team reviews before a parameter change: every scenario (all of them by default),
each on the same seeds, the reports side by side in stress.csv, and each report field a limits
file bounds checked on every run. A limits file is TOML:

    [limits]
    shortfall_usd = { max = 0 }
    min_coverage_ratio = { min = 0.2 }
    settlement_delay_blocks.max = { max = 40 }     # nested report fields by dotted name

A field must be one every report has (checked against a minimal run before anything starts);
a run whose field is empty (null: e.g. no coverage was ever required) passes its bound.

For CI, `reduce` shrinks each scenario while keeping its story: time is compressed so the
active part lasts at most `days` (every `*_hours` timing and every duration in days scaled by
the same factor, durations held at their knobs' minimum), and the burst capped at `policies`.
Runs go through sweep.py's tasks and parallel.py's backends, so the table's bytes do not depend
on where they ran.
"""

from __future__ import annotations

import math
import tomllib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from scenarios import config, outputs, sweep
from scenarios.config import ConfigError
from scenarios.parallel import map_tasks

DEFAULT_LIMITS = Path(__file__).parent / "limits" / "default.toml"
BOUNDS = ("min", "max")


@dataclass(frozen=True)
class Bound:
    """One limit: a report field (dotted for nested fields) and its allowed range."""

    field: str
    min: float | None = None
    max: float | None = None

    def text(self) -> str:
        parts = [f"min {self.min:g}" if self.min is not None else "",
                 f"max {self.max:g}" if self.max is not None else ""]  # fmt: skip
        return ", ".join(p for p in parts if p)

    def holds(self, value: Any) -> bool:
        if value is None or value == "":
            return True  # nothing to bound (e.g. no coverage was ever required)
        v = float(value)
        if math.isnan(v):
            return True
        return (self.min is None or v >= self.min) and (self.max is None or v <= self.max)


@dataclass(frozen=True)
class Breach:
    """A limit a run broke (or a run that failed: field `status`)."""

    scenario: str
    seed: int
    field: str
    value: Any
    bound: str

    def line(self) -> str:
        return (f"limit failed: scenario {self.scenario}, seed {self.seed}: {self.field} = "
                f"{self.value} ({self.bound})")  # fmt: skip


def read_limits(path: Path) -> tuple[Bound, ...]:
    """The bounds of a limits file; a malformed file is one ConfigError line naming where."""
    where = f"--limits {path}"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(
            f"{where}: cannot read it ({exc.strerror}); allowed: a TOML file"
        ) from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: not valid TOML ({' '.join(str(exc).split())})") from None
    extra = sorted(set(data) - {"limits"})
    if extra or not isinstance(data.get("limits"), dict):
        raise ConfigError(f"{where}: expected one [limits] table"
                          + (f", not {', '.join(extra)}" if extra else ""))  # fmt: skip
    bounds: list[Bound] = []
    _collect(data["limits"], "", where, bounds)
    return tuple(bounds)


def _is_bound(value: Any) -> bool:
    return (
        isinstance(value, dict)
        and bool(value)
        and set(value) <= set(BOUNDS)
        and all(isinstance(v, int | float) and not isinstance(v, bool) for v in value.values())
    )


def _collect(table: dict[str, Any], prefix: str, where: str, out: list[Bound]) -> None:
    for key, value in table.items():
        name = f"{prefix}{key}"
        if _is_bound(value):
            lo, hi = value.get("min"), value.get("max")
            if any(isinstance(v, float) and not math.isfinite(v) for v in (lo, hi)):
                raise ConfigError(f"{where}: {name}: bounds must be finite numbers")
            if lo is not None and hi is not None and lo > hi:
                raise ConfigError(f"{where}: {name}: min {lo:g} is above max {hi:g}")
            out.append(Bound(name, lo, hi))
        elif isinstance(value, dict) and value:
            _collect(value, f"{name}.", where, out)  # a nested report field
        else:
            raise ConfigError(
                f"{where}: {name}: expected {{ min = N }}, {{ max = N }} or both, got {value!r}"
            )


def known_fields() -> set[str]:
    """The (flattened) fields every report has: those of a minimal run."""
    from scenarios.runner import run

    tiny = config.load("baseline", ["days=0.01", "drain_days=0"])
    return set(sweep.flatten(run(tiny, 0, None)))


def check_fields(bounds: Sequence[Bound], known: set[str], path: Path) -> None:
    for b in bounds:
        if b.field not in known:
            near = sorted(k for k in known if k.rsplit(".", 1)[-1] == b.field.rsplit(".", 1)[-1])
            hint = f" (did you mean {near[0]}?)" if near else " (README: report fields)"
            raise ConfigError(f"--limits {path}: {b.field}: not a report field{hint}")


def reduce(name: str, days: float | None, policies: int | None) -> list[str]:
    """`--set` items shrinking scenario `name` to at most `days` active days and `policies`
    burst policies, its timings scaled alike (see the module docstring)."""
    values = config.load(name).values
    out = []
    if days is not None and values["days"] > days:
        factor = days / values["days"]
        for key, knob in config.KNOBS.items():
            last = key.rsplit(".", 1)[-1]
            timing = (
                last.endswith("_hours")
                or last == "days"
                or last.startswith(("days_", "drain_days"))
            )
            if timing and isinstance(values[key], int | float) and values[key]:
                scaled = max(values[key] * factor, knob.lo or 0.0)
                text = round(scaled) if knob.kind is int else round(scaled, 6)
                out.append(f"{key}={text!r}")
    if policies is not None and values["policies"] > policies:
        out.append(f"policies={policies}")
    return out


def plan(
    names: Sequence[str],
    seeds: int,
    seed: int,
    sets: Sequence[str] = (),
    days: float | None = None,
    policies: int | None = None,
) -> list[sweep.Task]:
    """One task per scenario and seed, every one validated before any runs."""
    available = config.available()
    for name in names:
        if name not in available:
            raise ConfigError(f"--scenarios: {name!r} is not a scenario; "
                              f"allowed: {', '.join(available)}")  # fmt: skip
    if not 1 <= seeds <= sweep.MAX_RUNS:
        raise ConfigError(f"--seeds: {seeds} is out of range; allowed: 1 to {sweep.MAX_RUNS}")
    if len(set(names)) != len(names):
        raise ConfigError("--scenarios: a scenario is repeated")
    if days is not None and not 1.2 <= days <= 365:
        raise ConfigError(f"--days: {days:g} is out of range; allowed: a number from 1.2 to 365")
    if policies is not None and policies < 0:
        raise ConfigError(f"--policies: {policies} is out of range; allowed: an integer from 0")
    tasks: list[sweep.Task] = []
    for name in names:
        sets_here = [*reduce(name, days, policies), *sets]  # the user's --set has the last word
        for task in sweep.plan(name, {}, seeds, seed, sets_here):
            tasks.append(replace(task, run=len(tasks), params=((sweep.SCENARIO, name),)))
    return tasks


def breaches(table: Sequence[dict[str, Any]], bounds: Sequence[Bound]) -> list[Breach]:
    out = []
    for row in table:
        scenario, seed = row[sweep.SCENARIO], row["seed"]
        if row["status"] != "ok":
            out.append(Breach(scenario, seed, "status", row["status"], row["error"]))
            continue
        for b in bounds:
            if not b.holds(row.get(b.field)):
                out.append(Breach(scenario, seed, b.field, row.get(b.field), b.text()))
    return out


def worst(table: Sequence[dict[str, Any]], bounds: Sequence[Bound]) -> dict[str, dict]:
    """Per scenario, each bounded field's value nearest its bound (over the seeds)."""
    out: dict[str, dict[str, Any]] = {}
    for row in table:
        if row["status"] != "ok":
            continue
        cell = out.setdefault(row[sweep.SCENARIO], {})
        for b in bounds:
            v = row.get(b.field)
            if v is None:
                continue
            old = cell.get(b.field)
            pick = min if b.min is not None and b.max is None else max
            cell[b.field] = v if old is None else pick(old, v)
    return out


def stress(
    names: Sequence[str],
    seeds: int,
    seed: int,
    limits: Path,
    out: Path,
    *,
    sets: Sequence[str] = (),
    days: float | None = None,
    policies: int | None = None,
    backend: str = "local",
    workers: int | None = None,
    address: str | None = None,
    progress: Callable[[int, int, int], None] | None = None,
) -> dict[str, Any]:
    """Runs the matrix; writes out/stress.csv (one row per scenario and seed) and
    out/stress.json (inputs, limits, breaches, worst values); returns stress.json's content."""
    bounds = read_limits(limits)
    tasks = plan(names, seeds, seed, sets, days, policies)
    check_fields(bounds, known_fields(), limits)
    outcomes = map_tasks(sweep.run_one, tasks, backend=backend, workers=workers,
                         address=address, progress=progress)  # fmt: skip
    table = sweep.rows(tasks, outcomes)
    out.mkdir(parents=True, exist_ok=True)
    sweep.write_table(out / "stress.csv", [sweep.SCENARIO], table)
    found = breaches(table, bounds)
    limits_doc = {
        b.field: {k: getattr(b, k) for k in BOUNDS if getattr(b, k) is not None} for b in bounds
    }
    summary = {
        "scenarios": list(names),
        "seeds": [seed + r for r in range(seeds)],
        "sets": list(sets),
        "reduced": {"days": days, "policies": policies},
        "overrides": {n: reduce(n, days, policies) for n in names},
        "limits_file": "scenarios/limits/default.toml" if limits == DEFAULT_LIMITS else str(limits),
        "limits": limits_doc,
        "rows": len(table),
        "failed_runs": sum(row["status"] != "ok" for row in table),
        "breaches": [vars(b) for b in found],
        "passed": not found,
        "worst": worst(table, bounds),
        "backend": backend,
        "versions": sweep.versions(backend),
        "files": {
            "stress.csv": "one row per scenario and seed: run, scenario, seed, report "
            "fields, status, error"
        },
    }
    outputs.write_json(out / "stress.json", summary)
    return summary
