"""Same seed, same numbers, on either backend: `run.py solvency` on a process pool and on Ray."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def solvency(out: Path, *extra: str) -> None:
    got = subprocess.run(
        [sys.executable, "run.py", "solvency", "--paths", "1500", "--stress-paths", "100",
         "--chunk-size", "500", "--seed", "3", "--out", str(out), *extra],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert got.returncode == 0, got.stderr


def test_solvency_is_byte_identical_on_a_process_pool_one_worker_and_ray(tmp_path):
    solvency(tmp_path / "pool", "--workers", "2")
    solvency(tmp_path / "one", "--workers", "1")
    solvency(tmp_path / "ray", "--backend", "ray", "--workers", "2")
    for name in ("solvency.csv", "summary.json", "book.csv"):
        pool = (tmp_path / "pool" / name).read_bytes()
        assert pool == (tmp_path / "one" / name).read_bytes(), name
        assert pool == (tmp_path / "ray" / name).read_bytes(), name


def test_a_bad_backend_is_one_line(tmp_path):
    cmd = [sys.executable, "run.py", "solvency", "--backend", "spark", "--out", str(tmp_path / "x")]
    got = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    assert got.returncode == 2
    assert got.stderr.strip() == "error: --backend: 'spark' is not available; allowed: local, ray"
    assert not (tmp_path / "x").exists()
