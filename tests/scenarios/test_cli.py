"""run.py as a user runs it: listings, and bad input refused with one line and nothing left."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def run_py(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *args], cwd=cwd, capture_output=True, text=True
    )


def test_scenarios_lists_each_with_a_description():
    out = run_py("scenarios")
    assert out.returncode == 0
    lines = out.stdout.strip().splitlines()
    assert len(lines) == len(list((ROOT / "scenarios").glob("*.toml")))  # one line each
    assert any(line.startswith("jit-liquidity") for line in lines)
    assert any(line.startswith("flash-crash") and "50%" in line for line in lines)


def test_knobs_lists_every_key():
    out = run_py("knobs")
    assert out.returncode == 0 and "buyers.rate_per_hour" in out.stdout


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["sim", "moon"], "unknown scenario 'moon'"),
        (["sim", "baseline", "--set", "nope=1"], "unknown key 'nope'"),
        (["sim", "baseline", "--set", "days=soon"], "days: 'soon' is not valid"),
        (["sim", "baseline", "--set", "days=-1"], "days: '-1' is out of range"),
        (["sim", "baseline", "--executor", "quantum"], "--executor: 'quantum' is not available"),
    ],
)
def test_bad_input_is_one_line_exit_2_and_no_run_folder(tmp_path, args, needle):
    out_dir = tmp_path / "run"
    result = run_py(*args, "--out", str(out_dir), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and needle in result.stderr
    assert "Traceback" not in result.stderr
    assert not out_dir.exists()
    assert not (tmp_path / "runs").exists()


def test_a_non_empty_out_folder_is_refused(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    result = run_py("sim", "baseline", "--out", str(tmp_path))
    assert result.returncode == 2 and "exists and is not empty" in result.stderr
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


def test_sim_writes_the_run_folder(tmp_path):
    out_dir = tmp_path / "fc"
    result = run_py(
        "sim", "flash-crash", "--seed", "3", "--out", str(out_dir),
        "--set", "days=1.2", "--set", "drain_days=0.3", "--set", "policies=20",
        "--set", "crash.start_hours=20",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert {p.name for p in out_dir.iterdir()} == {
        "config.json", "events.jsonl", "metrics.csv", "policies.csv", "report.json",
    }  # fmt: skip
    assert "policies_settled" in result.stdout


def test_every_command_has_working_help():
    import run

    p = run.parser()
    commands = p._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert {"sim", "live", "devnet", "quote", "solvency", "calibrate"} <= set(commands)
    for name, sub in commands.items():
        assert sub.format_help().startswith("usage: "), name
    assert "calibrate" in p.format_help()
