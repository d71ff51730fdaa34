"""calibrate says when its answer is weaker than it looks: too few paths to resolve the limit,
a best point on the grid's edge, a limit that never binds; and solvency/calibrate refuse bad
seeds and output folders with one line."""

from __future__ import annotations

import json

import pytest

from risk import calibrate as cal
from risk.montecarlo import wilson
from tests.risk.test_solvency_cli import run_py

SMALL = ["--set", "days=1", "--set", "buyers.days_max=5", "--grid", "vol_multiplier=1,3",
         "--grid", "cap_scale=0.5,1", "--grid", "collateral_scale=1"]  # fmt: skip


def test_paths_to_resolve_is_the_first_count_whose_zero_ruin_bound_meets_the_limit():
    for limit in (cal.RUIN_LIMIT, 0.01, 0.001):
        n = cal.paths_to_resolve(limit)
        assert wilson(0, n)[1] <= limit < wilson(0, n - 1)[1]
    assert cal.paths_to_resolve() == 765  # 500 paths (the run) leave 0.76%


def row(vm: float, cap: float, premiums: float, ruin: float, feasible: bool) -> dict:
    return {"vol_multiplier": vm, "cap_scale": cap, "collateral_scale": 1.0,
            "premiums_usd": premiums, "ruin_probability": ruin, "feasible": feasible}  # fmt: skip


GRID = {"vol_multiplier": (1.0, 1.5, 2.0), "cap_scale": (0.5, 1.0), "collateral_scale": (1.0,)}


def findings(rows, n_paths=10_000):
    return [n.finding for n in cal.diagnose(rows, GRID, n_paths)]


def test_a_binding_limit_with_an_interior_best_point_has_no_findings():
    grid = {"vol_multiplier": (1.0, 1.5, 2.0), "cap_scale": (0.5, 0.75, 1.0),
            "collateral_scale": (1.0,)}  # fmt: skip
    rows = []
    for vm in grid["vol_multiplier"]:
        for cap in grid["cap_scale"]:
            risky = vm == 1.0 or cap == 1.0  # the cheapest loading or the loosest cap ruins
            rows.append(row(vm, cap, 1000 * cap / vm, 0.01 if risky else 0.0, not risky))
    assert cal.best(rows)["vol_multiplier"] == 1.5 and cal.best(rows)["cap_scale"] == 0.75
    assert cal.diagnose(rows, grid, 10_000) == []


def test_too_few_paths_is_said_with_the_count_that_would_do():
    rows = [row(vm, cap, 100, 0.0, False) for vm in GRID["vol_multiplier"] for cap in (0.5, 1.0)]
    notes = cal.diagnose(rows, GRID, 500)
    assert [n.finding for n in notes] == [cal.Finding.UNRESOLVED]
    assert "0.76%" in notes[0].text and "--paths 765" in notes[0].text


def test_a_best_point_on_the_edge_is_flagged_unless_the_knob_changes_nothing_there():
    cases = [(1.0, 0.5, 900, 0.001, True), (1.5, 0.5, 800, 0.0, True), (2.0, 0.5, 500, 0.0, True),
             (1.0, 1.0, 950, 0.03, False), (1.5, 1.0, 850, 0.01, False),
             (2.0, 1.0, 600, 0.0, True)]  # fmt: skip
    rows = [row(*case) for case in cases]
    notes = cal.diagnose(rows, GRID, 10_000)
    assert [n.finding for n in notes] == [cal.Finding.GRID_EDGE]
    assert "vol_multiplier=1 is the smallest value tried" in notes[0].text
    assert "cap_scale=0.5 is the smallest value tried" in notes[0].text
    # the same best point, but a larger cap sells nothing more: only vol_multiplier is an edge
    rows[3] = row(1.0, 1.0, 900, 0.001, True)
    text = cal.diagnose(rows, GRID, 10_000)[0].text
    assert "vol_multiplier=1" in text and "cap_scale" not in text


def test_a_limit_that_never_binds_is_said():
    rows = [row(vm, cap, 1000 / vm, 0.0, True) for vm in GRID["vol_multiplier"] for cap in (0.5, 1)]
    assert findings(rows) == [cal.Finding.GRID_EDGE, cal.Finding.NOT_BINDING]


def test_calibrate_prints_the_findings_and_keeps_them_in_its_json(tmp_path):
    few, enough = tmp_path / "few", tmp_path / "enough"
    r = run_py("calibrate", *SMALL, "--paths", "300", "--out", str(few))
    assert r.returncode == 0, r.stderr
    assert "use at least 765 paths (--paths 765)" in r.stderr
    assert "widen" not in r.stdout  # the old advice: a wider grid cannot help here
    doc = json.loads((few / "calibrate.json").read_text())
    assert [n["finding"] for n in doc["notes"]] == ["unresolved"] and doc["best"] is None
    r = run_py("calibrate", *SMALL, "--paths", "800", "--out", str(enough))
    assert r.returncode == 0, r.stderr
    doc = json.loads((enough / "calibrate.json").read_text())
    # with this small book every point is feasible: the cheapest loading wins, at the edge
    assert doc["best"]["vol_multiplier"] == 1.0
    assert [n["finding"] for n in doc["notes"]] == ["grid_edge", "not_binding"]
    assert "the ruin limit never binds" in r.stderr and "vol_multiplier=1 is" in r.stderr


@pytest.mark.parametrize("command", ["solvency", "calibrate"])
@pytest.mark.parametrize(
    ("seed", "needle"),
    [("-1", "-1 is out of range"), ("2.5", "'2.5' is not valid"), ("x", "'x' is not valid")],
)
def test_a_bad_seed_is_one_line_exit_2_and_no_folder(tmp_path, command, seed, needle):
    out = tmp_path / "out"
    r = run_py(command, "--seed", seed, "--out", str(out), cwd=tmp_path)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr
    assert f"--seed: {needle}; allowed: an integer from 0" in r.stderr
    assert not out.exists()


@pytest.mark.parametrize("command", ["solvency", "calibrate"])
def test_out_at_a_file_or_under_one_is_one_line_exit_2(tmp_path, command):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    for out, needle in ((afile, "is a file"), (afile / "sub" / "x", "is a file")):
        r = run_py(command, "--out", str(out), cwd=tmp_path)
        assert r.returncode == 2 and r.stderr.count("\n") == 1, r.stderr
        assert f"--out: {afile} {needle}" in r.stderr
    assert afile.read_text() == "mine" and sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
