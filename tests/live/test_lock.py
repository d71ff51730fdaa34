"""One engine, one writer: the lock, and `run.py live` refusing or standing by.

The failover test runs real engine processes (`python run.py live`) against the devnet: a
second engine is refused with one line and exit 2; a standby takes over after the active one
is SIGKILLed (no chance to clean up: the kernel drops the lock), and its API answers.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from live.lock import LockHeld, WriterLock
from tests.live.conftest import live_toml

ROOT = Path(__file__).resolve().parents[2]
API = '\n[api]\nhost = "127.0.0.1"\nport = 0\n'


def test_file_lock_is_exclusive_and_released(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    a, b = WriterLock(url), WriterLock(url)
    assert a.try_acquire()
    assert not b.try_acquire()
    with pytest.raises(LockHeld, match=r"^store\.url: another engine holds the writer lock"):
        b.acquire(wait=False)
    a.release()
    assert b.try_acquire()
    b.release()


def test_a_standby_waits_until_the_holder_lets_go(tmp_path):
    url = f"sqlite:///{tmp_path / 'live.db'}"
    a, b = WriterLock(url), WriterLock(url)
    a.acquire(wait=False)
    got: list[bool] = []
    t = threading.Thread(target=lambda: got.append(b.acquire(wait=True, poll_seconds=0.05)))
    t.start()
    time.sleep(0.3)
    assert got == []
    a.release()
    t.join(5)
    assert got == [True] and b.held
    b.release()


def test_postgres_advisory_lock_is_exclusive_and_dies_with_its_session(postgres_url):
    a, b = WriterLock(postgres_url), WriterLock(postgres_url)
    assert a.try_acquire()
    assert not b.try_acquire()
    a._conn.close()  # what the server sees when the holder's process dies
    a._conn = None
    assert b.try_acquire()
    b.release()


def test_in_memory_store_needs_no_lock():
    assert WriterLock("sqlite://").try_acquire()


def _engine(config: Path, *flags: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "run.py", "live", "--config", str(config), *flags],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def _wait_line(proc: subprocess.Popen, pattern: str, timeout: float = 90) -> tuple[str, float]:
    """The first stderr line matching `pattern`, and when it was read."""
    found: list[tuple[str, float]] = []

    def read() -> None:
        for line in proc.stderr:
            if re.search(pattern, line):
                found.append((line, time.monotonic()))
                return

    t = threading.Thread(target=read, daemon=True)
    t.start()
    t.join(timeout)
    assert found, f"no line matching {pattern!r} within {timeout} s"
    return found[0]


@pytest.mark.live
@pytest.mark.clarity
def test_second_engine_refused_and_standby_takes_over_after_sigkill(
    tmp_path, devnet, exchanges, capsys
):
    config = live_toml(tmp_path, devnet, exchanges, api=API)
    active = _engine(config)
    standby = None
    try:
        _wait_line(active, r"^live on devnet")
        second = subprocess.run(
            [sys.executable, "run.py", "live", "--config", str(config)],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert second.returncode == 2
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1 and "another engine holds the writer lock" in lines[0], lines
        standby = _engine(config, "--standby")
        _wait_line(standby, r"^standby: waiting for the writer lock")
        killed = time.monotonic()
        active.send_signal(signal.SIGKILL)
        line, at = _wait_line(standby, r"^live on devnet")
        takeover = at - killed
        url = re.search(r"API on (\S+);", line).group(1)
        assert httpx.get(f"{url}/healthz", timeout=10).json() == {"status": "ok"}
        status = httpx.get(f"{url}/v1/status", timeout=30).json()
        assert status["network"] == "devnet"
        with capsys.disabled():
            print(f"\ntakeover_seconds={takeover:.2f}")
        assert takeover < 30
        standby.send_signal(signal.SIGTERM)
        assert standby.wait(60) == 0
    finally:
        for p in (active, standby):
            if p is not None and p.poll() is None:
                p.kill()
                p.wait(10)
