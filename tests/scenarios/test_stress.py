"""`run.py stress`: scenarios x seeds as one table, checked against a limits file.

The risk gate (marker risk_gate) is what CI runs on every change: every scenario at reduced
size against the repository's default limits, through the command line as a user would.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

import run
from scenarios import config
from scenarios.stress import DEFAULT_LIMITS, read_limits, reduce

ROOT = Path(__file__).resolve().parents[2]
CI_SIZE = ["--days", "1.5", "--policies", "300"]


def _limits(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "limits.toml"
    path.write_text(text)
    return path


@pytest.mark.risk_gate
def test_risk_gate_every_scenario_at_ci_size_passes_the_default_limits(tmp_path):
    out = tmp_path / "stress"
    r = subprocess.run([sys.executable, str(ROOT / "run.py"), "stress", *CI_SIZE, "--workers", "2",
                        "--out", str(out)], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)  # fmt: skip
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert "PASS" in r.stdout
    with (out / "stress.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert sorted(row["scenario"] for row in rows) == sorted(config.available())
    assert all(row["status"] == "ok" for row in rows)
    doc = json.loads((out / "stress.json").read_text())
    assert doc["passed"] and doc["breaches"] == []
    assert set(doc["limits"]) == {b.field for b in read_limits(DEFAULT_LIMITS)}


def test_a_limit_a_scenario_must_break_exits_1_naming_scenario_field_value_bound(tmp_path, capsys):
    # bank-run's providers panic on the crash and ask to leave while their collateral is locked
    # (that is its story; v2's two-step withdrawals make them wait for the policies to settle, so
    # coverage no longer falls below 1 at all); flash-crash's providers stay
    limits = _limits(tmp_path, "[limits]\nmin_coverage_ratio = { min = 1.0 }\n"
                               "withdrawals_refused_locked = { max = 0 }\n"
                               "shortfall_usd = { max = 0 }\n")  # fmt: skip
    out = tmp_path / "out"
    code = run.main(["stress", "--scenarios", "bank-run,flash-crash", *CI_SIZE, "--workers", "2",
                     "--limits", str(limits), "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    failed = [line for line in err.splitlines() if line.startswith("limit failed")]
    assert len(failed) == 1, err
    assert "scenario bank-run, seed 1: withdrawals_refused_locked = " in failed[0]
    assert failed[0].endswith("(max 0)")
    doc = json.loads((out / "stress.json").read_text())  # the evidence is kept
    assert [b["scenario"] for b in doc["breaches"]] == ["bank-run"]
    assert doc["worst"]["flash-crash"]["withdrawals_refused_locked"] == 0
    assert all(w["min_coverage_ratio"] >= 1 for w in doc["worst"].values())


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("[limits\n", "not valid TOML"),
        ("shortfall_usd = 3\n", "expected one [limits] table"),
        ("[limits]\n[other]\n", "not other"),
        ("[limits]\nshortfall_usd = 0\n", "shortfall_usd: expected { min = N }"),
        ("[limits]\nshortfall_usd = { max = 'zero' }\n", "shortfall_usd.max: expected"),
        ("[limits]\nshortfall_usd = { min = 3, max = 1 }\n", "min 3 is above max 1"),
        ("[limits]\nshortfall_usd = { below = 1 }\n", "shortfall_usd.below: expected"),
        ("[limits]\nshortfal_usd = { max = 0 }\n", "shortfal_usd: not a report field"),
        ("[limits]\nsettlement_delay_blocks.p99 = { max = 0 }\n", "p99: not a report field"),
    ],
)
def test_a_malformed_limits_file_or_unknown_field_is_one_line_exit_2(tmp_path, capsys, text, says):
    out = tmp_path / "out"
    code = run.main(["stress", "--scenarios", "baseline", "--limits", str(_limits(tmp_path, text)),
                     "--out", str(out)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert says in err and "--limits" in err
    assert not out.exists()


def test_nested_fields_bound_by_dotted_name(tmp_path):
    text = (
        '[limits]\nsettlement_delay_blocks.max = { max = 4 }\n"tranches.stx-0.pnl_usd" = {min = -5}'
    )
    bounds = read_limits(_limits(tmp_path, text))
    assert [(b.field, b.min, b.max) for b in bounds] == [
        ("settlement_delay_blocks.max", None, 4),
        ("tranches.stx-0.pnl_usd", -5, None),
    ]


def test_reduced_size_compresses_a_scenarios_timing_alike_and_caps_the_burst():
    full = config.load("oracle-outage-crash").values
    sets = dict(item.split("=") for item in reduce("oracle-outage-crash", 1.5, 100))
    factor = 1.5 / full["days"]
    assert float(sets["days"]) == 1.5
    assert float(sets["crash.start_hours"]) == pytest.approx(full["crash.start_hours"] * factor)
    assert float(sets["faults.oracle_fail_from_hours"]) == pytest.approx(
        full["faults.oracle_fail_from_hours"] * factor
    )
    assert float(sets["burst.days"]) == config.KNOBS["burst.days"].lo  # held at its minimum
    assert sets["policies"] == "100"
    config.load("oracle-outage-crash", [f"{k}={v}" for k, v in sets.items()])  # all valid
    assert reduce("flash-crash", 30, None) == []  # already that small
