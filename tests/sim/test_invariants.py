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
    assert {v.invariant for v in found} == {1, 2, 6}


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


def test_a_donation_to_the_pool_fires_no_monitoring():
    """Invariant 9: custody is compared with `>=`; v1's `==` reported a violation on every block
    after anyone sent the pool 1 uSTX."""
    h = Harness()
    h.deposit(h.users[0], 0, 1, 100 * STX)
    txid = h.users[1].transfer(h.pool, 1)
    h.chain.mine()
    assert h.chain.status(txid).status == "success"
    h.chain.mine()
    assert h.chain.balances(h.pool).stx == 100 * STX + 1
    assert h.checker.violations == []
    corrupt(h, (0, 1), (100 * STX + 2, 100 * STX, 0))  # but custody short of the books still is
    assert [v.invariant for v in h.checker.check_block(99, ())] == [1]


def test_detects_a_lock_without_unsettled_policies():
    """Invariant 6: `locked` is the exact sum of the unsettled policies' collateral."""
    h = Harness()
    h.deposit(h.users[0], 0, 1, 100 * STX)
    corrupt(h, (0, 1), (100 * STX, 100 * STX, 7))
    assert [v.invariant for v in h.checker.check_block(99, ())] == [6]
