"""A live store at a PostgreSQL URL without the `postgres` extra: one line naming the extra."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.live.conftest import live_toml

pytestmark = [pytest.mark.live, pytest.mark.clarity]
ROOT = Path(__file__).resolve().parents[2]
# run.py's `main` with psycopg unimportable, as in an install without the extra
WITHOUT_PSYCOPG = "import sys, run; sys.modules['psycopg'] = None; sys.exit(run.main(sys.argv[1:]))"


def test_a_postgres_store_without_the_extra_names_it(tmp_path, devnet, exchanges):
    url = "postgresql://engine:hunter2-secret@127.0.0.1:5432/live"
    path = live_toml(tmp_path, devnet, exchanges, store=url)
    argv = [sys.executable, "-c", WITHOUT_PSYCOPG, "live", "--config", str(path)]
    got = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert got.returncode == 2, got.stderr
    assert got.stderr.splitlines() == [
        "error: this needs the psycopg package: pip install 'bithedge[postgres]'"
    ]
    assert "hunter2-secret" not in got.stdout + got.stderr
