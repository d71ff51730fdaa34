"""`run.py status` and `run.py quote` as thin clients of a running engine's API: what the
engine sees, a refusal with its allowed range in one line, and one line when no engine runs."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from chain.node import NodeClient
from chain.stacks import StacksChain
from tests.live.service_fixtures import start_engine

pytestmark = [pytest.mark.live, pytest.mark.clarity]
ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_py(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "run.py", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})  # fmt: skip


def test_status_and_quote_ask_the_running_engine(tmp_path, devnet, exchanges):
    port = free_port()
    r = start_engine(tmp_path, devnet, exchanges, f'\n[api]\nhost = "127.0.0.1"\nport = {port}\n')
    config = str(tmp_path / "live.toml")
    buyer = devnet.deployment.accounts.users[2].principal().address
    try:
        r.fund()
        r.turn()
        got = run_py("status", "--config", config)
        assert got.returncode == 0, got.stderr
        lines = got.stdout.splitlines()
        assert lines[0].startswith("network devnet  burn height ")
        assert "BTC-USD: aggregated 65,000.00 USD, on chain 65,000.00 USD" in got.stdout
        assert "ready" in lines and any(line.startswith("  ok   quorum") for line in lines)

        got = run_py("quote", "purchase", "--config", config, "--sender", buyer, "--btc", "0.05",
                     "--strike", "62000", "--days", "200")  # fmt: skip
        assert got.returncode == 2
        (line,) = got.stderr.strip().splitlines()
        assert re.fullmatch(
            r"error: quote refused: duration; allowed: --days 1\.02 to "
            r"\d+\.\d\d \(expiration \d+ to \d+\)",
            line,
        ), line
        got = run_py("quote", "purchase", "--config", config, "--sender", buyer, "--btc", "0.05",
                     "--strike", "62000", "--days", "2")  # fmt: skip
        assert got.returncode == 0, got.stderr
        assert '"functionName": "purchase-policy"' in got.stdout
        assert got.stderr.startswith("quote ")

        # the node goes away under the API: a withdrawal's completion (which reads the pool)
        # is one line
        dead = free_port()
        service = r.engine.api.service
        service.chain = StacksChain(NodeClient(f"http://127.0.0.1:{dead}", timeout=2),
                                    r.engine.config.contracts)  # fmt: skip
        got = run_py("quote", "withdraw-complete", "--config", config, "--sender", buyer,
                     "--tier", "0")  # fmt: skip
        assert got.returncode == 3
        (line,) = got.stderr.strip().splitlines()
        assert line.startswith("error: node unreachable: ")
    finally:
        r.close()
    # no engine running: one line, exit 3
    for args in (("status",), ("quote", "deposit", "--sender", buyer, "--tier", "0",
                               "--amount", "10")):  # fmt: skip
        got = run_py(*args[:1], *args[1:], "--config", config)
        assert got.returncode == 3
        (line,) = got.stderr.strip().splitlines()
        assert line.startswith("error: engine API unreachable: http://127.0.0.1:")
