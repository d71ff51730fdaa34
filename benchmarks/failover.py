"""Failover under load: an active engine and a hot standby, the active one SIGKILLed at random
points of a mass settlement while clients keep calling the API.

    python benchmarks/failover.py [--trials 3] [--policies 60] [--kills 3] [--clients 20]

Per trial: the crash-restart book (benchmarks/crash_restart.py: policies expired with a stale
price, a crashed exchange price, so every policy pays), `run.py live` plus `run.py live
--standby` on the same SQLite store and API port, and `--clients` HTTP clients asking for quotes,
reading the pool and signing in throughout. Each kill: the standby takes over (the kernel drops
the dead engine's lock), a new standby is started, and the takeover time is measured from the
SIGKILL to the first `/healthz` answer of the new active engine. At the end every policy must be
settled once and paid, and the store must equal the chain: the same zeros as crash-restart.
Prints per trial, then `kills= takeover_mean_s= takeover_max_s= double_settlements= lost=
mismatches=` last. Client errors while no engine listens are expected and counted apart.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import signal
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from benchmarks.api import Engine, Harness, Stats, load  # noqa: E402
from benchmarks.crash_restart import _book, _check  # noqa: E402
from chain.clarity import UInt  # noqa: E402
from chain.contracts import Contracts  # noqa: E402
from chain.keys import PrivateKey  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serving(url: str, timeout: float = 120) -> float:
    """Waits until `url`/healthz answers; returns when it did (monotonic)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return time.monotonic()
        except httpx.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError("no engine took over")


def _outbox_drained(url: str, timeout: float = 60) -> None:
    """Waits (bounded) until the active engine reports no pending transaction."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/v1/status", timeout=10).json()["outbox"]["pending"] == 0:
                time.sleep(0.5)  # the receipts' last writes
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)


def _all_settled(h: Harness, ids: list[int]) -> bool:
    contracts = Contracts.of(h.devnet.deployment.accounts.deployer.principal())
    with h.devnet.lock:
        return all(
            h.devnet.chain.read_only(contracts.registry, "get-policy", [UInt(i)])
            .value["status"].value != 0
            for i in ids
        )  # fmt: skip


def trial(seed: int, policies: int, kills: int, clients: int, work: Path) -> dict:
    rng = random.Random(seed)
    port = _free_port()  # one address for every engine: a standby binds it when it takes over
    h = Harness(work, block_seconds=0.25, burn_seconds=2.0, per_principal=60, per_address=6000,
                port=port, oracle_poll=1)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    engines: list[Engine] = []
    stop_load = threading.Event()
    try:
        h.exchanges.set_price("BTC-USD", "50000.00")
        ids = _book(h.devnet, policies)
        base_nonce = h.devnet.chain.nonce(h.devnet.deployment.accounts.deployer.principal())
        h.devnet.start()
        active = h.spawn()
        engines.append(active)
        _serving(url)
        standby = h.spawn("--standby")
        engines.append(standby)
        standby.wait_for(r"^standby: waiting")
        wallets = [PrivateKey.from_seed(f"failover/{i}".encode()) for i in range(clients)]
        stats_box: list = []

        def run_load() -> None:
            stats_box.append(asyncio.run(_load_until(url, clients, wallets, stop_load)))

        loader = threading.Thread(target=run_load, daemon=True)
        loader.start()
        takeovers = []
        for _ in range(kills):
            time.sleep(rng.uniform(1.0, 4.0))
            killed = time.monotonic()
            active.proc.send_signal(signal.SIGKILL)
            active.proc.wait()
            takeovers.append(_serving(url) - killed)
            active, standby = standby, h.spawn("--standby")
            engines.append(standby)
            standby.wait_for(r"^standby: waiting")
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not _all_settled(h, ids):
            time.sleep(0.5)
        _outbox_drained(url)  # a push still pending now is in flight, not lost: let it land
        stop_load.set()
        loader.join(120)
        for e in (standby, active):
            e.proc.send_signal(signal.SIGTERM)
            e.proc.wait(60)
        checked = _check(h.devnet, f"sqlite:///{work / 'live.db'}", ids, base_nonce)
        stats = stats_box[0] if stats_box else None
        return {"takeovers": takeovers, "checked": checked, "stats": stats}
    finally:
        stop_load.set()
        for e in engines:
            if e.proc.poll() is None:
                e.proc.kill()
                e.proc.wait(10)
        h.proc = None
        h.close()


async def _load_until(url: str, clients: int, wallets: list, stop: threading.Event):
    """Load in rounds of a few seconds until `stop` (a round outlives a failover: its clients
    count connection errors and go on)."""
    total = Stats()
    while not stop.is_set():
        try:
            got = await load(url, clients=clients, seconds=3.0, wallets=wallets,
                             mix={"quote": 0.5, "pool": 0.3, "signin": 0.2})  # fmt: skip
        except httpx.HTTPError as exc:  # the round's first status read met no engine
            total.errors.append(f"round {type(exc).__name__}")
            await asyncio.sleep(0.2)
            continue
        total.statuses.update(got.statuses)
        total.errors += got.errors
    return total


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--trials", type=int, default=3)
    p.add_argument("--policies", type=int, default=60)
    p.add_argument("--kills", type=int, default=3)
    p.add_argument("--clients", type=int, default=20)
    p.add_argument("--seed", type=int, default=1)
    a = p.parse_args()
    takeovers, zeros = [], [0, 0, 0]
    for i in range(a.trials):
        with tempfile.TemporaryDirectory() as tmp:
            got = trial(a.seed * 1000 + i, a.policies, a.kills, a.clients, Path(tmp))
        c, st = got["checked"], got["stats"]
        takeovers += got["takeovers"]
        zeros = [zeros[0] + c.double_settlements, zeros[1] + c.lost, zeros[2] + c.mismatches]
        answers = {f"{k}:{s}": n for (k, s), n in sorted(st.statuses.items())} if st else {}
        bad = [s for (_k, s) in (st.statuses if st else {}) if s not in (200, 422, 429)]
        print(f"trial {i}: takeovers_s={[round(t, 2) for t in got['takeovers']]} "
              f"double_settlements={c.double_settlements} lost={c.lost} "
              f"mismatches={c.mismatches} answers={answers} unexpected_status={bad} "
              f"client_errors={len(st.errors) if st else 'n/a'}",
              file=sys.stderr, flush=True)  # fmt: skip
    print(f"kills={len(takeovers)} takeover_mean_s={sum(takeovers) / len(takeovers):.2f} "
          f"takeover_max_s={max(takeovers):.2f} double_settlements={zeros[0]} lost={zeros[1]} "
          f"mismatches={zeros[2]}")  # fmt: skip


if __name__ == "__main__":
    main()
