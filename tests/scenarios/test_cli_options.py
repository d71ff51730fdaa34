"""run.py's options as a user meets them: every bad value one line and exit 2 with nothing left
behind, --force replacing an output folder only once the new one is complete, --help with the
defaults and the lists, progress with elapsed time and ETA, and sweeps over scenarios that keep
each run's time series."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from pathlib import Path

import pytest

import run

ROOT = Path(__file__).resolve().parents[2]
SMALL = ["--set", "days=0.3", "--set", "drain_days=0.1", "--set", "policies=5",
         "--set", "providers.stx_each=20000"]  # fmt: skip


def run_py(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, capture_output=True, text=True
    )


def one_line_exit_2(r: subprocess.CompletedProcess) -> str:
    assert r.returncode == 2, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error: "), r.stderr
    assert "Traceback" not in r.stderr
    return r.stderr


COMMANDS = {"sim": ["sim", "baseline"], "sweep": ["sweep", "baseline", "--grid", "days=0.1"]}


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("seed", "needle"),
    [("-1", "-1 is out of range"), ("1.5", "'1.5' is not valid"), ("one", "'one' is not valid")],
)
def test_a_bad_seed_is_one_line_exit_2_and_no_folder(tmp_path, command, seed, needle):
    out = tmp_path / "out"
    err = one_line_exit_2(run_py(*COMMANDS[command], "--seed", seed, "--out", str(out),
                                 cwd=tmp_path))  # fmt: skip
    assert f"--seed: {needle}; allowed: an integer from 0" in err
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", COMMANDS)
def test_an_unusable_out_is_one_line_exit_2_and_creates_nothing(tmp_path, command):
    afile = tmp_path / "afile"
    afile.write_text("mine")
    cases = [
        (afile, f"--out: {afile} is a file"),
        (afile / "a" / "b", f"--out: {afile} is a file"),
        (tmp_path / "new" / "deeper" / "run", None),  # creatable: the control case below
        (Path("/proc/no-such-process/run"), "--out: cannot create /proc/no-such-process"),
    ]
    for out, needle in cases:
        if needle is None:
            continue
        err = one_line_exit_2(run_py(*COMMANDS[command], "--out", str(out), cwd=tmp_path))
        assert needle in err and "allowed:" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile"]
    assert afile.read_text() == "mine"


def test_a_failed_run_removes_the_folders_it_created(tmp_path, monkeypatch):
    def broken(*_args, **_kwargs):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr("scenarios.runner.run", broken)
    out = tmp_path / "new" / "deeper" / "run"
    with pytest.raises(RuntimeError, match="disk on fire"):
        run.main(["sim", "baseline", "--out", str(out)])
    assert list(tmp_path.iterdir()) == []


def test_a_non_empty_folder_points_to_force_and_force_replaces_only_output_folders(tmp_path):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    err = one_line_exit_2(run_py("sim", "baseline", "--out", str(mine)))
    assert "exists and is not empty; --force replaces it" in err
    err = one_line_exit_2(run_py("sim", "baseline", "--out", str(mine), "--force"))
    assert "is not a run, sweep, solvency or calibrate folder" in err
    assert [p.name for p in mine.iterdir()] == ["notes.txt"]
    err = one_line_exit_2(run_py("sim", "baseline", "--out", str(tmp_path), "--force",
                                 cwd=mine))  # fmt: skip
    assert "holds the current folder" in err


def test_force_replaces_a_run_folder_and_a_failed_rerun_keeps_the_old_one(tmp_path, monkeypatch):
    out = tmp_path / "run"
    r = run_py("sim", "baseline", "--seed", "3", *SMALL, "--out", str(out))
    assert r.returncode == 0, r.stderr
    first = (out / "report.json").read_bytes()
    (out / "stale.png").write_bytes(b"old figure")
    r = run_py("sim", "baseline", "--seed", "4", *SMALL, "--out", str(out), "--force")
    assert r.returncode == 0, r.stderr
    assert (out / "report.json").read_bytes() != first and '"seed": 4' in (
        out / "report.json"
    ).read_text()
    assert not (out / "stale.png").exists()  # replaced, not merged
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # no staging folder left
    assert oct(out.stat().st_mode & 0o777) != oct(0o700)  # not mkdtemp's private mode

    second = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*_args, **_kwargs):
        raise RuntimeError("crash mid-run")

    monkeypatch.setattr("scenarios.runner.run", broken)
    with pytest.raises(RuntimeError):
        run.main(["sim", "baseline", "--seed", "5", *SMALL, "--out", str(out), "--force"])
    assert {p.name: p.read_bytes() for p in out.iterdir()} == second
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]


def test_an_unknown_option_or_a_non_integer_is_one_line():
    assert "unrecognized arguments: --sedd" in one_line_exit_2(run_py("sim", "baseline", "--sedd"))
    err = one_line_exit_2(run_py("sweep", "baseline", "--grid", "days=1", "--runs", "two",
                                 "--out", "x"))  # fmt: skip
    assert "--runs: 'two' is not valid; allowed: an integer" in err


def test_help_shows_defaults_and_lists_scenarios_executors_and_models():
    sim = run_py("sim", "--help")
    assert sim.returncode == 0
    assert "(default: 1)" in sim.stdout and "(default: python)" in sim.stdout
    assert "flash-crash" in sim.stdout and "bank-run" in sim.stdout
    assert "executors: python, clarity" in sim.stdout
    solv = run_py("solvency", "--help").stdout
    assert "price models: gbm, jump, garch" in solv and "(default: 10000)" in solv
    assert "backends: local, ray" in solv and "(default: None)" not in solv
    sweep = run_py("sweep", "--help").stdout
    assert "--timeseries" in sweep and "scenario=a,b" in sweep and "--ray-token-file" in sweep


def test_progress_shows_elapsed_time_and_an_eta(capsys, monkeypatch):
    now = [100.0]
    monkeypatch.setattr(time, "monotonic", lambda: now[0])
    ticker = run._Ticker("sim")
    now[0] = 110.0
    ticker("day 1.00/4.00  blocks=10")
    assert "elapsed 0:10, ETA 0:30" in capsys.readouterr().err
    now[0] = 100.0
    bar = run._Bar("sweep", live=False)
    now[0] = 100.0 + 3710
    bar(1, 2, 0)
    assert "1/2 runs  elapsed 1:01:50, ETA 1:01:50" in capsys.readouterr().err
    bar(2, 2, 0)
    line = capsys.readouterr().err
    assert "elapsed 1:01:50" in line and "ETA" not in line  # nothing left to estimate


def test_a_sweep_over_scenarios_keeps_each_runs_time_series(tmp_path):
    out = tmp_path / "sw"
    grid = ["--grid", "scenario=baseline,flash-crash", "--runs", "2", "--seed", "7"]
    r = run_py("sweep", *grid, *SMALL, "--timeseries", "--workers", "2", "--progress",
               "--out", str(out))  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "elapsed" in r.stderr and "ETA" in r.stderr
    with (out / "sweep.csv").open() as f:
        table = list(csv.DictReader(f))
    expected = [("baseline", "7"), ("baseline", "8"), ("flash-crash", "7"), ("flash-crash", "8")]
    assert [(t["scenario"], t["seed"]) for t in table] == expected
    with (out / "timeseries.csv").open() as f:
        reader = csv.reader(f)
        head = next(reader)
        series = list(reader)
    assert head[:3] == ["run", "scenario", "seed"]
    assert {tuple(s[:3]) for s in series} == {(t["run"], t["scenario"], t["seed"]) for t in table}
    # one run's rows are its own run folder's metrics.csv, byte for byte
    single = tmp_path / "single"
    r = run_py("sim", "flash-crash", "--seed", "8", *SMALL, "--out", str(single))
    assert r.returncode == 0, r.stderr
    with (single / "metrics.csv").open() as f:
        metrics = list(csv.reader(f))
    assert head[3:] == metrics[0]
    assert [s[3:] for s in series if s[0] == "3"] == metrics[1:]


TOKEN_CASES = r"""
import json, os, sys
from scenarios.config import ConfigError
from scenarios.parallel import use_token

KEYS = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH")

def case(token_file, address, env):
    for k in KEYS:
        os.environ.pop(k, None)
    os.environ.update(env)
    try:
        use_token(token_file, address)
    except ConfigError as exc:
        return "error: " + str(exc)
    return {k: os.environ.get(k) for k in KEYS}

good, empty = sys.argv[1], sys.argv[2]
print(json.dumps([
    case(good, None, {}),
    case(empty, "127.0.0.1:1", {}),
    case(good, "127.0.0.1:1", {"RAY_AUTH_TOKEN": "from-env"}),
    case(None, "127.0.0.1:1", {}),
    case(None, "127.0.0.1:1", {"RAY_AUTH_TOKEN_PATH": good}),
    case(good, "127.0.0.1:1", {"RAY_AUTH_MODE": "disabled"}),
    "ray" in sys.modules,
]))
"""


def test_the_token_is_handed_to_ray_as_documented(tmp_path):
    import json
    import os

    good, empty = tmp_path / "token", tmp_path / "empty"
    good.write_text("s3cret-token\n")
    empty.write_text("\n")
    env = {**os.environ, "HOME": str(tmp_path), "PYTHONPATH": str(ROOT)}  # no ~/.ray/auth_token
    r = subprocess.run([sys.executable, "-c", TOKEN_CASES, str(good), str(empty)], env=env,
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 0, r.stderr
    no_address, is_empty, flag, none, env_path, disabled, ray_imported = json.loads(r.stdout)
    assert no_address == "error: --ray-token-file: only with --address (a cluster to join)"
    assert is_empty.startswith("error: --ray-token-file:") and "is empty" in is_empty
    # the file asked for wins over a token in the environment, and token mode is switched on
    assert flag == {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": None,
                    "RAY_AUTH_TOKEN_PATH": str(good)}  # fmt: skip
    assert none == {"RAY_AUTH_MODE": None, "RAY_AUTH_TOKEN": None, "RAY_AUTH_TOKEN_PATH": None}
    assert env_path["RAY_AUTH_MODE"] == "token"
    assert disabled["RAY_AUTH_MODE"] == "disabled"  # an explicit mode is Ray's to keep
    assert ray_imported is False and "s3cret" not in r.stdout + r.stderr
