"""`run.py devnet`: the node stand-in as a user starts it."""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from live.config import load

pytestmark = [pytest.mark.live, pytest.mark.clarity]
ROOT = Path(__file__).resolve().parents[2]


def test_the_devnet_serves_the_node_api_mines_on_a_timer_and_writes_a_live_config(tmp_path):
    folder = tmp_path / "devnet"
    cmd = [sys.executable, "run.py", "devnet", "--port", "0", "--dir", str(folder),
           "--block-seconds", "0.5", "--burn-seconds", "1.5", "--users", "2"]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        line = proc.stdout.readline()
        assert line.startswith("devnet listening on http://127.0.0.1:"), line
        url = line.split()[-1]
        first = httpx.get(f"{url}/v2/info").json()
        time.sleep(3.5)
        later = httpx.get(f"{url}/v2/info").json()
        assert later["stacks_tip_height"] >= first["stacks_tip_height"] + 4
        assert later["burn_block_height"] >= first["burn_block_height"] + 1
        config = load(folder / "live.toml")
        assert config.node_url == url and config.network == "devnet"
        for key in (folder / "keys").iterdir():
            assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert config.backend_key.load().principal().address == config.contracts.deployer.address
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0


def test_a_non_empty_folder_is_refused_before_anything_starts(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    got = subprocess.run([sys.executable, "run.py", "devnet", "--dir", str(tmp_path)], cwd=ROOT,
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert got.returncode == 2
    assert (
        got.stderr.strip()
        == f"error: --dir: {tmp_path} exists and is not empty; choose another folder"
    )
    assert [p.name for p in tmp_path.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize("strict", [False, True])
def test_strict_answers_as_hiro_past_the_v1_sunset(tmp_path, strict):
    """`--strict`: /extended/v1 is gone (410) and the 51st request of a minute gets a 429 with
    Retry-After; without it v1 still answers (with Hiro's deprecation warning) and nothing is
    rate-limited."""
    cmd = [sys.executable, "run.py", "devnet", "--port", "0", "--dir", str(tmp_path / "d"),
           "--users", "1", *(["--strict"] if strict else [])]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip
    try:
        url = proc.stdout.readline().split()[-1]
        v1 = httpx.get(f"{url}/extended/v1/tx/0x" + "00" * 32)
        assert v1.status_code == (410 if strict else 404)
        codes = [httpx.get(f"{url}/v2/info").status_code for _ in range(55)]
        if strict:
            assert 429 in codes and codes.index(429) <= 50
            limited = httpx.get(f"{url}/v2/info")
            assert limited.status_code == 429 and int(limited.headers["retry-after"]) > 0
        else:
            assert set(codes) == {200}
        proc.send_signal(signal.SIGTERM)
        proc.communicate(timeout=30)
    finally:
        proc.kill()
