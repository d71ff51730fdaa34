"""The notebook API: the README's example runs as written, and its functions give what the
command line gives for the same inputs."""

from __future__ import annotations

import csv
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from scenarios import api

ROOT = Path(__file__).resolve().parents[2]
SMALL = {"days": 0.3, "drain_days": 0.1, "policies": 5, "providers.stx_each": 20000}


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    m = re.search(r"<!-- api-example -->\s*```python\n(.*?)```", text, re.S)
    assert m, "README.md has no api-example block"
    return m[1]


def test_the_readme_example_runs_as_written(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-c", readme_example()], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stderr[-3000:]
    lines = r.stdout.splitlines()
    assert len(lines) == 3 and "'estimate'" in lines[1]
    report = json.loads((tmp_path / "runs" / "fc-api" / "report.json").read_text())
    assert lines[0].startswith(f"{report['policies_purchased']} ['")


def test_load_run_gives_the_folder_as_columns_with_integer_units(tmp_path):
    out = tmp_path / "run"
    report = api.run_scenario("baseline", seed=2, out=out, sets=SMALL)
    run = api.load_run(out)
    assert run["report"] == report == json.loads((out / "report.json").read_text())
    with (out / "metrics.csv").open() as f:
        rows = list(csv.DictReader(f))
    metrics = run["metrics"]
    assert list(metrics) == list(rows[0]) and all(len(c) == len(rows) for c in metrics.values())
    integer_columns = [k for k, v in metrics.items() if all(isinstance(x, int) for x in v)]
    assert integer_columns  # the integer money units stay exact
    for key in integer_columns:
        assert [str(x) for x in metrics[key]] == [r[key] for r in rows]
    assert [e["seq"] for e in run["events"]] == list(range(1, len(run["events"]) + 1))
    with pytest.raises(api.ConfigError, match="exists and is not empty"):
        api.run_scenario("baseline", out=out, sets=SMALL)
    with pytest.raises(api.ConfigError, match="not a run folder"):
        api.load_run(tmp_path)


def test_api_sweep_matches_the_command_line_table(tmp_path):
    import run

    cli = tmp_path / "cli"
    sets = [x for k, v in SMALL.items() for x in ("--set", f"{k}={v}")]
    assert run.main(["sweep", "baseline", "--grid", "crash.change=-0.5,-0.9", *sets,
                     "--workers", "2", "--out", str(cli)]) == 0  # fmt: skip
    tables = api.sweep("baseline", {"crash.change": [-0.5, -0.9]}, sets=SMALL, workers=2,
                       out=tmp_path / "api")  # fmt: skip
    assert (tmp_path / "api" / "sweep.csv").read_bytes() == (cli / "sweep.csv").read_bytes()
    assert tables["sweep"] == api.read_table(cli / "sweep.csv")
    assert tables["sweep"]["crash.change"] == [-0.5, -0.9]


def test_stress_gives_the_table_and_the_verdict_the_command_gives(tmp_path):
    limits = tmp_path / "limits.toml"
    limits.write_text("[limits]\npolicies_purchased = { max = 0 }\n")  # every run buys some
    out = api.stress(["baseline", "flash-crash"], limits=limits, sets=SMALL, workers=1,
                     out=tmp_path / "st")  # fmt: skip
    assert out["stress"]["scenario"] == ["baseline", "flash-crash"]
    assert not out["summary"]["passed"]
    assert [b["field"] for b in out["summary"]["breaches"]] == ["policies_purchased"] * 2
    assert (tmp_path / "st" / "stress.json").is_file()
