"""run.py sweep and run.py plot as a user runs them: a tiny sweep whose table is the same bytes on
every backend, failed runs that keep their rows, bad arguments refused in one line, figures."""

from __future__ import annotations

import csv
import json
import sys
import types

import pytest

import run
from risk.montecarlo import wilson
from scenarios import sweep as sweep_module
from scenarios.config import ConfigError
from scenarios.plots import plot_folder, ruin_counts
from scenarios.runner import InvariantBroken
from scenarios.sweep import Task, parse_grid, run_one
from tests.scenarios.test_cli import run_py

# each run a few seconds: a 30-policy burst bought at minute 10 and a crash at hour 20, thin
# sBTC/STX pools. The burst asks 1.15 days; v2 rounds its expiry up to the daily grid, burn block
# 288 (~48 h: burn blocks arrive at random, ~2.8 h spread), so the run lasts 2 + 0.4 days to
# settle it, and the crash lands well before the fixing window (the 6 blocks before expiry)
SMALL = ["--set", "days=2", "--set", "drain_days=0.4", "--set", "policies=30",
         "--set", "crash.start_hours=20", "--set", "burst.days=1.15",
         "--set", "providers.stx_each=20000"]  # fmt: skip
GRID = ["--grid", "crash.change=-0.1,-0.9", "--grid", "providers.sbtc_each=0.5,5"]


def sweep_args(out, *extra: str) -> list[str]:
    return ["sweep", "flash-crash", *GRID, "--runs", "2", "--seed", "4", *SMALL,
            "--out", str(out), *extra]  # fmt: skip


def read(path) -> list[dict]:
    with path.open() as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def local_sweep(tmp_path_factory):
    out = tmp_path_factory.mktemp("sweeps") / "local"
    assert run.main(sweep_args(out, "--workers", "2")) == 0
    return out


def test_the_table_has_a_row_per_run_with_parameters_seed_and_metrics(local_sweep):
    rows = read(local_sweep / "sweep.csv")
    header = list(rows[0])
    assert header[:4] == ["run", "crash.change", "providers.sbtc_each", "seed"]
    assert header[-2:] == ["status", "error"]
    assert {"policies_settled", "shortfall_usd", "settlement_delay_blocks.p95",
            "transactions.success", "events_sha256"} <= set(header)  # fmt: skip
    assert [r["run"] for r in rows] == [str(i) for i in range(8)]
    assert [r["seed"] for r in rows] == ["4", "5"] * 4  # every point runs the same seeds
    assert [(r["crash.change"], r["providers.sbtc_each"]) for r in rows[::2]] == [
        ("-0.1", "0.5"), ("-0.1", "5.0"), ("-0.9", "0.5"), ("-0.9", "5.0"),
    ]  # fmt: skip
    assert all(r["status"] == "ok" and r["error"] == "" for r in rows)
    # the runs are real: a 90% crash leaves claims above their caps, a 10% one does not (v1
    # compared 50% and 90% by shortfall; a 50% crash of BTC and STX already meets v2's caps); v2's
    # caps leave no shortfall either way
    assert all(float(r["capped_claims_usd"]) > 0 for r in rows if r["crash.change"] == "-0.9")
    assert all(float(r["capped_claims_usd"]) == 0 for r in rows if r["crash.change"] == "-0.1")
    assert all(float(r["shortfall_usd"]) == 0 for r in rows)
    assert len({r["events_sha256"] for r in rows}) == 8
    meta = json.loads((local_sweep / "sweep.json").read_text())
    assert meta["grid"] == [["crash.change", [-0.1, -0.9]], ["providers.sbtc_each", [0.5, 5.0]]]
    assert meta["seeds"] == [4, 5] and meta["runs"] == 2 and meta["backend"] == "local"
    assert meta["failed"] == 0 and "numpy" in meta["versions"]


def test_same_table_bytes_on_one_worker_and_on_ray(local_sweep, tmp_path, local_ray):
    one, on_ray = tmp_path / "one", tmp_path / "ray"
    assert run.main(sweep_args(one, "--workers", "1")) == 0
    assert run.main(sweep_args(on_ray, "--backend", "ray", "--workers", "2")) == 0
    expected = (local_sweep / "sweep.csv").read_bytes()
    assert (one / "sweep.csv").read_bytes() == expected
    assert (on_ray / "sweep.csv").read_bytes() == expected
    assert json.loads((on_ray / "sweep.json").read_text())["backend"] == "ray"


def flaky(task: Task) -> dict:
    """A run that fails for one seed at one point (module-level: workers import it)."""
    if task.seed == 5 and dict(task.params)["crash.change"] == -0.9:
        raise RuntimeError("injected failure")
    return run_one(task)


def test_a_failed_run_keeps_its_row_and_the_sweep_goes_on(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sweep_module, "run_one", flaky)
    out = tmp_path / "sw"
    args = ["sweep", "flash-crash", "--grid", "crash.change=-0.1,-0.9", "--runs", "2",
            "--seed", "4", *SMALL, "--out", str(out), "--workers", "2"]  # fmt: skip
    assert run.main(args) == 1
    assert "error: 1 of 4 runs failed" in capsys.readouterr().err
    rows = read(out / "sweep.csv")
    assert [r["status"] for r in rows] == ["ok", "ok", "ok", "failed"]
    failed = rows[3]
    assert (failed["crash.change"], failed["seed"]) == ("-0.9", "5")
    assert failed["error"] == "RuntimeError: injected failure"
    assert failed["shortfall_usd"] == "" and rows[2]["shortfall_usd"] != ""
    assert json.loads((out / "sweep.json").read_text())["failed"] == 1
    counts = ruin_counts(rows, ["crash.change"])
    assert counts == {(-0.1,): (0, 2, 0), (-0.9,): (1, 1, 1)}  # failed runs counted apart
    assert [p.name for p in plot_folder(out)] == ["ruin.png"]


def test_a_broken_invariant_is_a_failed_run_not_a_crash(monkeypatch):
    def broken(*_args, **_kwargs):
        raise InvariantBroken("invariant 4: locked exceeds\nassets")

    monkeypatch.setattr("scenarios.runner.run", broken)
    task = Task(0, "baseline", ("days=0.1",), (("days", 0.1),), 1)
    assert run_one(task) == {
        "status": "failed", "error": "InvariantBroken: invariant 4: locked exceeds assets",
    }  # fmt: skip


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--grid", "nope=1,2"], "unknown key 'nope'"),
        (["--grid", "days=1,soon"], "days: 'soon' is not valid; allowed: a number from"),
        (["--grid", "days=1,400"], "days: '400' is out of range; allowed: a number from 0.001"),
        (["--grid", "days"], "--grid 'days': expected key=v1,v2,..."),
        (["--grid", "days=1,1"], "--grid days: a value is repeated"),
        (["--grid", "days=1", "--grid", "days=2"], "--grid days: given twice"),
        (["--grid", "buyers.strike_min=0.9,1.2"],
         "--grid point buyers.strike_min=1.2: buyers.strike_min (1.2) must not exceed"),
        (["--grid", "days=1", "--runs", "0"], "--runs: 0 is out of range"),
        (["--grid", "days=1", "--seed", "-1"], "--seed: -1 is out of range"),
        (["--grid", "days=1", "--backend", "dask"], "--backend: 'dask' is not available"),
        (["--grid", "days=1", "--workers", "0"], "--workers: 0 is out of range"),
        (["--grid", "days=1", "--address", "auto"], "--address: only with --backend ray"),
        (["--grid", "days=1", "--set", "days=x"], "days: 'x' is not valid"),
        (["--grid", "days=1", "--backend", "ray", "--address", "127.0.0.1:1"],
         "--address: no Ray cluster reached at '127.0.0.1:1'"),
    ],
)  # fmt: skip
def test_bad_arguments_are_one_line_exit_2_and_no_folder(tmp_path, args, needle):
    out = tmp_path / "sw"
    result = run_py("sweep", "baseline", *args, "--out", str(out), cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and needle in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_a_non_empty_out_folder_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = run_py("sweep", "baseline", "--grid", "days=1", "--out", str(tmp_path))
    assert result.returncode == 2 and "exists and is not empty" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_parse_grid_keeps_order_and_types():
    grid = parse_grid(["price.model=jump,gbm", "policies=1_000,20"])
    assert grid == {"price.model": ["jump", "gbm"], "policies": [1000, 20]}
    with pytest.raises(ConfigError, match=r"did you mean price\.btc_vol"):
        parse_grid(["btc_vol=0.1"])


def test_plot_on_a_sweep_folder_writes_the_annotated_heatmap(local_sweep, capsys):
    assert run.main(["plot", str(local_sweep)]) == 0
    png = local_sweep / "ruin_heatmap.png"
    assert f"wrote {png}" in capsys.readouterr().out
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    counts = ruin_counts(read(local_sweep / "sweep.csv"), ["crash.change", "providers.sbtc_each"])
    assert counts == {(-0.1, 0.5): (0, 2, 0), (-0.1, 5.0): (0, 2, 0),
                      (-0.9, 0.5): (2, 2, 0), (-0.9, 5.0): (2, 2, 0)}  # fmt: skip


def test_plot_on_a_run_folder_draws_the_run_figures(tmp_path):
    out = tmp_path / "run"
    result = run_py("sim", "flash-crash", "--out", str(out), *SMALL[:10])
    assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in plot_folder(out)) == [
        "coverage.png", "flows.png", "pool.png", "price.png", "utilisation.png", "withdrawals.png",
    ]  # fmt: skip


def test_a_solvency_folder_is_handed_to_risk_plots(tmp_path, monkeypatch):
    (tmp_path / "summary.json").write_text("{}")
    (tmp_path / "solvency.csv").write_text("")
    drawn = [tmp_path / "fan.png"]
    fake = types.SimpleNamespace(plot_solvency=lambda folder: drawn if folder == tmp_path else [])
    monkeypatch.setitem(sys.modules, "risk.plots", fake)
    assert plot_folder(tmp_path) == drawn


def test_plot_on_an_unknown_folder_is_one_line_exit_2(tmp_path):
    result = run_py("plot", str(tmp_path))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert "is not a run (config.json + metrics.csv), sweep" in result.stderr
    missing = run_py("plot", str(tmp_path / "nope"))
    assert missing.returncode == 2 and "is not a folder" in missing.stderr


def test_wilson_interval_matches_the_closed_form():
    lo, hi = wilson(0, 10)
    assert lo == 0 and hi == pytest.approx(1.959964**2 / (10 + 1.959964**2))
    lo, hi = wilson(5, 10)
    assert (lo, hi) == (pytest.approx(0.2366, abs=1e-4), pytest.approx(0.7634, abs=1e-4))
    assert wilson(0, 0) == (0.0, 1.0)
