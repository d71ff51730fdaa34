"""A provider's history survives a restart of the engine, whole and not doubled.

The Pool actor records each deposit and two-step withdrawal in the store as it sees the pool's
prints; a restarted engine replays the contracts' events, so each is seen again and must be
recorded once (`(txid, event index)` names it). Real uvicorn on loopback, in front of the
Clarity devnet, on a SQLite file (the PostgreSQL path: tests/store).
"""

from __future__ import annotations

import pytest

from chain import payloads
from chain.clarity import UInt, principal
from chain.contracts import STX
from tests.live.service_fixtures import loopback_world, start_engine

pytestmark = [pytest.mark.live, pytest.mark.clarity]


def test_a_restart_neither_loses_nor_doubles_a_flow(tmp_path):
    with loopback_world(users=3) as (node, exchanges):
        run_through_a_restart(tmp_path, node, exchanges)


def run_through_a_restart(tmp_path, node, exchanges):
    run = start_engine(tmp_path, node, exchanges)
    try:
        key = node.deployment.accounts.users[2]
        who = key.principal()
        contracts = run.engine.config.contracts
        nonce = run.users.nonce(who)
        for i, amount in enumerate((700_000_000, 300_000_000)):
            deposit = payloads.deposit(contracts, who, STX, 1, amount)
            run.node.broadcast(deposit.sign(key, nonce=nonce + i, fee=1000).serialize())
        run.turn()
        args = [UInt(STX), UInt(1), principal(who.address)]
        held = run.users.read_only(contracts.pool, "get-shares", args).value
        request = payloads.request_withdraw(contracts, who, STX, 1, held // 3)
        run.node.broadcast(request.sign(key, nonce=nonce + 2, fee=1000).serialize())
        run.turn()
        before = run.http.get(f"/v1/providers/{who.address}").json()
        assert [f["kind"] for f in before["flows"]] == ["deposit", "deposit", "withdraw-requested"]
        assert len(before["pending_withdrawals"]) == 1

        run.engine.stop()  # and a new engine on the same store and chain
        run.http.close()
        run = start_engine(tmp_path, node, exchanges)
        run.turn()
        after = run.http.get(f"/v1/providers/{who.address}").json()
        assert after["flows"] == before["flows"]
        assert after["pending_withdrawals"] == before["pending_withdrawals"]

        complete = payloads.complete_withdraw(run.users, contracts, who, STX, 1)
        run.node.broadcast(complete.sign(key, nonce=nonce + 3, fee=1000).serialize())
        run.turn()
        done = run.http.get(f"/v1/providers/{who.address}").json()
        assert done["flows"][:3] == before["flows"]
        assert [f["kind"] for f in done["flows"][3:]] == ["withdraw"]
        assert done["pending_withdrawals"] == []
        paid = int(done["flows"][3]["amount"])
        assert paid == int(before["pending_withdrawals"][0]["value_now"])
    finally:
        run.close()
