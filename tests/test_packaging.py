"""The project as a user installs it: a plain wheel, not the editable checkout.

The wheel is built from a copy of the tree (a build writes `build/` and `*.egg-info` where it
runs) without build isolation, so the test needs no network; it is installed with `--no-deps`
into a fresh venv that sees this environment's packages, and the `bithedge` script it brings
runs a short simulation from a folder outside the repository, with nothing of the checkout on
the path. The extras' packages (ray, psycopg) are imported only by the commands that use them;
without one, the command says which extra to install, in one line, with exit status 2.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import run

ROOT = Path(__file__).resolve().parents[1]
# what a checkout may hold that is not the project
JUNK = [".git", "node_modules", "__pycache__", "*.egg-info", "build", "dist", "runs", "devnet"]
JUNK += [".hypothesis", ".pytest_cache", ".ruff_cache", ".mypy_cache", ".venv", "*.db"]
# what an installed engine reads at run time besides Python modules
DATA = [
    "scenarios/baseline.toml",
    "scenarios/flash-crash.toml",
    "contracts/Clarinet.toml",
    "contracts/settings/Devnet.toml",
    "contracts/bridge.mjs",
    "contracts/package.json",
    "contracts/package-lock.json",
    "contracts/contracts/oracle.clar",
    "contracts/contracts/policy-registry.clar",
    "store/migrations/alembic.ini",
    "live/recorded/exchanges/kraken.json",  # the devnet's feed serves the recorded bodies
    "live/recorded/exchanges/coingecko.json",
]


def _run(*cmd: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    got = subprocess.run(
        [str(c) for c in cmd], cwd=cwd, env=env, capture_output=True, text=True, timeout=300
    )
    assert got.returncode == 0, f"{cmd}: exit {got.returncode}\n{got.stdout}\n{got.stderr}"
    return got.stdout


def test_a_plain_wheel_install_runs_a_simulation_outside_the_repo(tmp_path: Path) -> None:
    src, dist, venv, elsewhere = (tmp_path / d for d in ("src", "dist", "venv", "elsewhere"))
    shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(*JUNK))
    pip = (sys.executable, "-m", "pip")
    _run(*pip, "wheel", "--no-deps", "--no-build-isolation", "-q", "-w", dist, src, cwd=tmp_path)
    (wheel,) = dist.glob("bithedge-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert [name for name in DATA if name not in names] == []
    assert not [n for n in names if n.startswith("tests/") or "node_modules" in n]
    entry = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt")))
    assert "bithedge = run:main" in entry.decode()

    _run(
        sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", venv, cwd=tmp_path
    )
    python = venv / "bin" / "python"
    _run(python, "-m", "pip", "install", "-q", "--no-deps", wheel, cwd=tmp_path)
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    show = (
        "import run, scenarios, contracts; print(run.__file__, scenarios.__file__, contracts.DIR)"
    )
    where = _run(python, "-c", show, cwd=elsewhere, env=env)
    assert all(Path(p).is_relative_to(venv) for p in where.split()), where

    # the devnet's loopback exchanges answer from package data, not from the test tree
    body = "from sim.feed import render; print(render('kraken', '1.25').decode())"
    assert '"c": ["1.25"' in _run(python, "-c", body, cwd=elsewhere, env=env)

    bithedge = venv / "bin" / "bithedge"
    listed = _run(bithedge, "scenarios", cwd=elsewhere, env=env)
    assert {line.split()[0] for line in listed.splitlines()} >= {"baseline", "flash-crash"}
    short = ("--set", "days=0.02", "--set", "drain_days=0")
    out = _run(bithedge, "sim", "baseline", *short, "--out", "r", cwd=elsewhere, env=env)
    # the run's story in sentences, a blank line, then the report's table: one key and value a line
    story, table = out.split("\n\n", 1)
    assert "policies bought" in story
    report = dict(line.split(None, 1) for line in table.splitlines())
    assert report["invariant_violations"] == "0"
    assert (elsewhere / "r" / "events.jsonl").stat().st_size > 0


@pytest.mark.parametrize(
    "argv",
    [
        ["sweep", "baseline", "--grid", "days=0.02", "--set", "drain_days=0", "--backend", "ray"],
        ["solvency", "--paths", "100", "--backend", "ray"],
    ],
)
def test_a_missing_ray_extra_is_one_line_naming_it(
    argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` now fails as if not installed
    out = tmp_path / "out"
    assert run.main([*argv, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.splitlines() == ["error: this needs the ray package: pip install 'bithedge[ray]'"]
    assert not out.exists()  # no partial folder
