"""Must hold (issue 13): 50 clients asking for quotes, reading the pool and signing in for a
minute while the engine pushes prices and settles on the devnet: no answer other than the
expected ones (200, a quote refusal, 429), no duplicate nonce, and the store equal to the chain.

The engine is `run.py live` in its own process (the API in front of it, as deployed); the
devnet mines on the wall clock. The book is 40 policies already expired, bought straight on
chain, with 50,000 USD in force at their expiration (strike 60,000): every policy pays. The
exchanges quote a further crash: during the load the oracle walks the price down, and the
Registry proves the fixings of the expiration and settles every policy at them (a policy
settles at the price in force at its expiration, not at a later one; benchmarks/
crash_restart.py's book and check).
"""

from __future__ import annotations

import asyncio
import time

import httpx
import pytest

from benchmarks.api import Harness, load
from benchmarks.crash_restart import _book, _check, settle_down
from chain.keys import PrivateKey
from chain.protocol import PRICE_SCALE as USD

pytestmark = [pytest.mark.live, pytest.mark.clarity]
CLIENTS, SECONDS, POLICIES = 50, 60.0, 40


def test_fifty_clients_for_a_minute_while_the_engine_pushes_and_settles(tmp_path, capsys):
    h = Harness(tmp_path, block_seconds=0.5, burn_seconds=2.0, per_principal=10,
                per_address=3000, oracle_poll=1)  # fmt: skip
    try:
        h.exchanges.set_price("BTC-USD", "45000.00")  # below the chain's: the oracle pushes
        ids = _book(h.devnet, POLICIES, btc=50_000 * USD)  # the fixing: every policy pays
        deployer = h.devnet.deployment.accounts.deployer.principal()
        base_nonce = h.devnet.chain.nonce(deployer)
        h.devnet.start()
        h.start_engine()
        users = list(h.devnet.deployment.accounts.users)
        wallets = users + [PrivateKey.from_seed(f"load/{i}".encode()) for i in range(44)]
        stats = asyncio.run(load(h.url, clients=CLIENTS, seconds=SECONDS, wallets=wallets,
                                 mix={"quote": 0.5, "pool": 0.3, "signin": 0.2}))  # fmt: skip
        settled_during_load = httpx.get(f"{h.url}/v1/policies", params={"status": "settled",
                                        "limit": 500}, timeout=30).json()["policies"]  # fmt: skip
        deadline = time.monotonic() + 120  # whatever the load left unsettled, settles now
        while time.monotonic() < deadline:
            active = httpx.get(f"{h.url}/v1/policies", params={"status": "active"},
                               timeout=30).json()["policies"]  # fmt: skip
            if not active:
                break
            time.sleep(1)
        settle_down(h.devnet, time.monotonic() + 60)  # the last pushes and receipts
        assert h.stop_engine() == 0, "".join(h.stderr[-5:])
        checked = _check(h.devnet, f"sqlite:///{tmp_path / 'live.db'}", ids, base_nonce)
        from store import open_store

        with open_store(f"sqlite:///{tmp_path / 'live.db'}") as store:
            nonces = store.outbox.confirmed_nonces(deployer.address)
    finally:
        h.close()
    with capsys.disabled():
        counts = {f"{k}:{s}": n for (k, s), n in sorted(stats.statuses.items())}
        print(f"\nconcurrency: {counts} errors={len(stats.errors)} "
              f"settled_during_load={len(settled_during_load)}/{POLICIES}")  # fmt: skip
    assert stats.errors == [], stats.errors[:5]
    assert {s for (_k, s) in stats.statuses} <= {200, 422, 429}
    assert stats.statuses[("quote", 200)] > 0 and stats.statuses[("pool", 200)] > 0
    assert stats.statuses[("signin", 200)] > 0
    assert stats.statuses[("quote", 429)] > 0  # the per-principal limit did act
    assert len(nonces) == len(set(nonces))
    assert (checked.double_settlements, checked.lost, checked.mismatches) == (0, 0, 0)
    assert settled_during_load, "the engine settled while the API was under load"
