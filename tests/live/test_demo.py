"""The README's offline walkthrough, as a user runs it: `run.py devnet` with its exchange feed
and a scripted crash, `run.py live` on the config it wrote, `run.py demo` (deposits and
purchases through the API, signed by the test wallets), then the settlement's payout in `/v1`.
Everything on loopback; the devnet's blocks are short so a one-day policy expires in 80 s."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pytest

from sim.feed import CRASH_SECONDS, Crash, devnet_path
from tests.live.conftest import free_port

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}


def test_the_feed_path_is_fixed_by_its_seed_and_the_crash_falls_by_its_percent():
    a, b, other = devnet_path(3), devnet_path(3), devnet_path(4)
    assert np.array_equal(a.btc, b.btc) and np.array_equal(a.stx, b.stx)
    assert not np.array_equal(a.btc, other.btc)
    crashed = devnet_path(3, Crash.parse("40@2"))
    start, end = 120.0, 120.0 + CRASH_SECONDS
    assert crashed.btc_at(start - 1) == a.btc_at(start - 1)  # the same path until the crash
    ratio = (crashed.btc_at(end) / crashed.btc_at(start - 1)) / (
        a.btc_at(end) / a.btc_at(start - 1)
    )
    assert ratio == pytest.approx(0.60, rel=1e-9)


@pytest.mark.parametrize("text", ["0", "96", "x", "40@-1", "40@1441", "40@y", "nan"])
def test_a_bad_crash_is_refused_naming_the_flag(text):
    with pytest.raises(ValueError, match="--crash"):
        Crash.parse(text)


def _start(log: Path, *args: str) -> subprocess.Popen:
    """A long-running command, its console into a file (a full pipe would stall it)."""
    with log.open("w") as out:
        return subprocess.Popen([sys.executable, "run.py", *args], cwd=ROOT, env=ENV,
                                stdout=out, stderr=subprocess.STDOUT)  # fmt: skip


def _stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.mark.live
@pytest.mark.clarity
def test_offline_walkthrough_devnet_live_demo_crash_settlement_payout(tmp_path):
    folder = tmp_path / "devnet"
    devnet = _start(tmp_path / "devnet.log", "devnet", "--port", "0", "--dir", str(folder),
                    "--block-seconds", "0.2",
                    "--burn-seconds", "0.5", "--seed", "3", "--crash", "40@1.2")  # fmt: skip
    live = None
    try:
        config = folder / "live.toml"
        deadline = time.monotonic() + 120
        while "try: python run.py live" not in (tmp_path / "devnet.log").read_text():
            assert devnet.poll() is None and time.monotonic() < deadline, "devnet did not start"
            time.sleep(0.2)
        assert "[oracle.base_urls]" in config.read_text()  # the feed, not the internet
        port = free_port()  # the README's one edit when 8080 is taken
        config.write_text(config.read_text() + f'\n[api]\nhost = "127.0.0.1"\nport = {port}\n')
        api = f"http://127.0.0.1:{port}"
        live = _start(tmp_path / "live.log", "live", "--config", str(config))
        demo = subprocess.run([sys.executable, "run.py", "demo", "--config", str(config)],
                              cwd=ROOT, env=ENV, capture_output=True, text=True,
                              timeout=300)  # fmt: skip
        assert demo.returncode == 0, demo.stderr
        assert demo.stderr.count("confirmed: ") == 8, demo.stderr  # 6 deposits, 2 purchases
        ids = [int(line.split()[1]) for line in demo.stdout.splitlines()]
        assert len(ids) == 2, demo.stdout

        # a quote through the API, as the README shows it; `no-price` while the oracle's push
        # for this burn block is on its way (v2 quotes need a BTC-USD observation from this or
        # the previous burn block, and the devnet's burn blocks come every 0.5 s)
        buyer = demo.stdout.splitlines()[0].split()[3]
        deadline = time.monotonic() + 60
        while True:
            status = httpx.get(f"{api}/v1/status").json()
            strike = int(status["prices"]["BTC-USD"]["aggregated"]) * 95 // 100 // 10**8 * 10**8
            quote = httpx.post(f"{api}/v1/quotes", json={
                "buyer": buyer, "amount_sats": 1_000_000, "strike": strike,
                "expiration": status["burn_height"] + 160, "token": "stx"})  # fmt: skip
            if quote.status_code != 422 or quote.json()["reason"] != "no-price":
                break
            assert time.monotonic() < deadline, quote.text
            time.sleep(1)
        assert quote.status_code == 200, quote.text
        assert quote.json()["payload"]["functionName"] == "purchase-policy"

        deadline = time.monotonic() + 180
        while True:
            policies = [httpx.get(f"{api}/v1/policies/{i}").json() for i in ids]
            if all(p["status"] == "settled" for p in policies) or time.monotonic() > deadline:
                break
            time.sleep(1)
        for p in policies:
            assert p["status"] == "settled", p
            strike, price = int(p["strike"]), int(p["settlement_price"])
            # the scripted fall reached the chain (in 5% steps: the oracle contract's cap)
            assert price < strike
            assert int(p["payout"]) > 0 and int(p["paid"]) == int(p["payout"])
        owner = policies[0]["owner"]
        settled = httpx.get(f"{api}/v1/policies", params={"owner": owner, "status": "settled"})
        assert [p["id"] for p in settled.json()["policies"]] == [policies[0]["id"]]
    finally:
        if live is not None:
            _stop(live)
        _stop(devnet)
