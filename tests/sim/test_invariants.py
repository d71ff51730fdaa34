"""The invariant checker is itself tested: each kind of corruption is reported."""

from __future__ import annotations

from tests.sim.harness import STX, Harness


def corrupt(h: Harness, key, value) -> None:
    h.chain.executor.pool.tranches[key] = value


def test_detects_vault_mismatch_and_over_locking():
    h = Harness()
    h.deposit(h.users[0], 0, 1, 100 * STX)
    assert h.checker.violations == []
    corrupt(h, (0, 1), (100 * STX + 1, 100 * STX, 200 * STX))
    found = h.checker.check_block(99, ())
    assert {v.invariant for v in found} == {1, 2}


def test_detects_shares_that_do_not_add_up():
    h = Harness()
    h.deposit(h.users[0], 0, 1, 100 * STX)
    corrupt(h, (0, 1), (100 * STX, 100 * STX + 5, 0))
    found = h.checker.check_block(99, ())
    assert [v.invariant for v in found] == [4]
    assert "shares" in str(found[0])


def test_detects_provider_shares_that_do_not_add_up():
    h = Harness()
    r = h.deposit(h.users[0], 0, 1, 100 * STX)
    block_events = tuple(e for e in h.chain.events_since(0, 10**6) if e.txid == r.txid)
    h.chain.executor.pool.shares[(0, 1, h.users[0].address)] += 1
    found = h.checker.check_block(99, block_events)
    assert [v.invariant for v in found] == [4]
