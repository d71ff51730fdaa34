"""run.py solvency and calibrate as a user runs them: files, determinism, bad input refused."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from risk.stress import COLUMNS

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "days=1", "--set", "buyers.days_max=5", "--paths", "400",
         "--stress-paths", "100", "--chunk-size", "150"]  # fmt: skip


def run_py(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, capture_output=True, text=True
    )


def test_solvency_writes_its_folder_and_the_same_seed_gives_the_same_bytes(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for out in (a, b):
        r = run_py("solvency", *SMALL, "--model", "jump", "--seed", "4", "--out", str(out))
        assert r.returncode == 0, r.stderr
    names = {p.name for p in a.iterdir()}
    assert names == {"solvency.csv", "summary.json", "book.csv", "solvency_curve.png",
                     "coverage_fan.png", "ruin_stress.png"}  # fmt: skip
    for name in ("solvency.csv", "summary.json", "book.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes(), name
    summary = json.loads((a / "summary.json").read_text())
    assert summary["seed"] == 4 and summary["inputs"]["model"]["model"] == "jump"
    ruin = summary["metrics"]["probability_of_ruin"]
    assert ruin["ci95_low"] <= ruin["estimate"] <= ruin["ci95_high"]
    with (a / "solvency.csv").open() as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames) == COLUMNS
        rows = list(reader)
    curves = {r["curve"] for r in rows}
    assert curves == {"coverage_over_time", "crash_depth", "crash_speed", "volatility",
                      "utilisation_cap", "vol_multiplier"}  # fmt: skip
    depth = [r for r in rows if r["curve"] == "crash_depth" and r["tier"] == "all"]
    assert [float(r["x"]) for r in depth] == pytest.approx([0.05 * i for i in range(20)])
    # v2: the collateral caps keep every payout whole (no shortfall at any depth); deeper
    # crashes leave more intrinsic value above the caps (same paths at every depth)
    assert {float(r["shortfall_mean_usd"]) for r in depth} == {0.0}
    capped = [float(r["capped_mean_usd"]) for r in depth]
    assert capped == sorted(capped) and capped[-1] > 0


def test_a_run_folder_is_a_book(tmp_path):
    run_dir = tmp_path / "run"
    r = run_py(
        "sim",
        "flash-crash",
        "--seed",
        "2",
        "--out",
        str(run_dir),
        "--set",
        "days=1.2",
        "--set",
        "drain_days=0.3",
        "--set",
        "policies=20",
        "--set",
        "crash.start_hours=20",
    )
    assert r.returncode == 0, r.stderr
    out = tmp_path / "solv"
    r = run_py("solvency", "--book", str(run_dir), "--paths", "200", "--stress-paths", "100",
               "--out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    summary = json.loads((out / "summary.json").read_text())
    report = json.loads((run_dir / "report.json").read_text())
    assert summary["inputs"]["policies"] == report["policies_purchased"]


def test_calibrate_reports_a_frontier(tmp_path):
    out = tmp_path / "cal"
    r = run_py("calibrate", "--set", "days=1", "--set", "buyers.days_max=5", "--paths", "300",
               "--grid", "vol_multiplier=1,3", "--grid", "cap_scale=0.5,1",
               "--grid", "collateral_scale=1", "--out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    doc = json.loads((out / "calibrate.json").read_text())
    with (out / "calibrate.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 4 and doc["frontier"]
    assert "frontier" in r.stdout
    # a dearer loading loses budget-limited buyers: fewer policies at vol_multiplier 3
    by = {(float(x["vol_multiplier"]), float(x["cap_scale"])): int(x["policies"]) for x in rows}
    assert by[(3.0, 1.0)] < by[(1.0, 1.0)]
    if doc["best"] is not None:
        assert doc["best"]["ruin_ci95_high"] <= 0.005


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["solvency", "--book", "moon"], "unknown scenario 'moon'"),
        (["solvency", "--paths", "0"], "--paths: 0 is out of range"),
        (["solvency", "--days", "99999"], "--days: 99999 is out of range"),
        (["solvency", "--model", "heston"], "--model: 'heston' is not valid"),
        (["solvency", "--book", "nope.csv"], "--book: nope.csv does not exist"),
        (["calibrate", "--grid", "speed=1"], "--grid: unknown key 'speed'"),
        (["calibrate", "--grid", "cap_scale=2"], "--grid cap_scale: 2 is out of range"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_folder(tmp_path, args, needle):
    out = tmp_path / "out"
    r = run_py(*args, "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and needle in r.stderr, r.stderr
    assert "Traceback" not in r.stderr
    assert not out.exists()


def test_a_bad_csv_book_names_the_line(tmp_path):
    book = tmp_path / "b.csv"
    book.write_text("id,amount,strike,expiration,token,tier,premium,collateral\n1,5,x,3,0,0,1,1\n")
    r = run_py("solvency", "--book", str(book), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "line 2" in r.stderr and r.stderr.count("\n") == 1


def test_a_non_empty_out_folder_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    r = run_py("solvency", "--out", str(tmp_path))
    assert r.returncode == 2 and "exists and is not empty" in r.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]
