"""`run.py live` as a user runs it: a subprocess against the devnet and loopback exchanges."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from actors.tags import decode
from store import open_store
from tests.live.conftest import live_toml

pytestmark = [pytest.mark.live, pytest.mark.clarity]
ROOT = Path(__file__).resolve().parents[2]


def run_py(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=timeout)  # fmt: skip


def records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def wait_for(predicate, timeout: float = 30.0) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(0.1)
    return False


def test_a_bad_config_is_one_line_and_exit_2(tmp_path, devnet, exchanges):
    path = live_toml(tmp_path, devnet, exchanges)
    path.write_text(path.read_text().replace("poll_seconds = 60", "poll_seconds = 0"))
    got = run_py("live", "--config", str(path))
    assert got.returncode == 2
    assert got.stderr.strip().splitlines() == [
        "error: oracle.poll_seconds: 0 is out of range; allowed: a number from 1 to 3600"
    ]


def test_an_unreachable_node_is_one_line_and_a_non_zero_exit(tmp_path, devnet, exchanges):
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    path = live_toml(tmp_path, devnet, exchanges)
    path.write_text(path.read_text().replace(devnet.server_url, f"http://127.0.0.1:{port}"))
    got = run_py("live", "--config", str(path))
    assert got.returncode == 3
    lines = got.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: node unreachable: GET /v2/info")


def test_a_dry_run_signs_and_prints_but_sends_nothing(tmp_path, devnet, exchanges):
    path = live_toml(tmp_path, devnet, exchanges)
    got = run_py("live", "--config", str(path), "--dry-run")
    assert got.returncode == 0, got.stderr
    sent = [json.loads(line.removeprefix("would send ")) for line in got.stdout.splitlines()
            if line.startswith("would send ")]  # fmt: skip
    assert {(s["function"], s["args"][0]) for s in sent} == {
        ("set-price", "BTC-USD"),
        ("set-price", "STX-USD"),
    }
    assert devnet.chain.pending == 0
    deployer = devnet.deployment.accounts.deployer.principal()
    assert devnet.chain.nonce(deployer) == 0
    assert not (tmp_path / "live.db").exists()  # a dry run keeps no outbox


def test_sigterm_stops_cleanly_and_a_restart_picks_up_what_was_in_flight(
    tmp_path, devnet, exchanges
):
    path = live_toml(tmp_path, devnet, exchanges)
    log = tmp_path / "live-events.jsonl"
    cmd = [sys.executable, "run.py", "live", "--config", str(path)]
    first = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)  # fmt: skip
    try:
        # the oracle pushes both prices at once; the devnet mines only when told to
        assert wait_for(lambda: sum(r["kind"] == "tx-sent" for r in records(log)) == 2)
        first.send_signal(signal.SIGTERM)
        _out, err = first.communicate(timeout=60)
    finally:
        first.kill()
    assert first.returncode == 0, err
    assert records(log)[-1]["kind"] == "live-stop"
    with open_store(f"sqlite:///{tmp_path / 'live.db'}") as store:
        pending = store.outbox.pending()
    assert sorted(decode(r["tag"]).asset for r in pending) == ["BTC-USD", "STX-USD"]

    devnet.mine()  # they confirm while the engine is stopped

    second = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)  # fmt: skip
    try:
        assert wait_for(lambda: sum(r["kind"] == "live-start" for r in records(log)) == 2)
        time.sleep(2.0)  # a few polls: the prices on chain are the exchanges', nothing to push
        second.send_signal(signal.SIGINT)
        second.communicate(timeout=60)
    finally:
        second.kill()
    assert second.returncode == 0
    with open_store(f"sqlite:///{tmp_path / 'live.db'}") as store:
        assert store.outbox.pending() == []
        assert {store.outbox.get(r["txid"])["status"] for r in pending} == {"success"}
    deployer = devnet.deployment.accounts.deployer.principal()
    assert devnet.chain.nonce(deployer) == 2  # nothing re-sent, nothing lost
    assert devnet.chain.pending == 0


def test_a_database_that_cannot_be_opened_is_one_line_without_its_password(
    tmp_path, devnet, exchanges
):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://engine:hunter2-secret@127.0.0.1:{port}/live"
    path = live_toml(tmp_path, devnet, exchanges, store=url)
    got = run_py("live", "--config", str(path))
    assert got.returncode == 2
    lines = got.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: store.url: cannot open postgresql")
    assert "hunter2-secret" not in got.stderr + got.stdout
