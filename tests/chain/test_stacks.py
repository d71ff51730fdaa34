"""StacksChain following a node whose chain reorganises: a cursor lost to a reorganisation is
found again, and every transaction (with its events) reaches the engine exactly once."""

from __future__ import annotations

from collections import Counter

from chain.clarity import principal
from chain.contracts import Contracts
from chain.node import CursorNotFound
from chain.port import Block
from chain.stacks import StacksChain
from tests.doubles import ForkingNode

DEPLOYER = principal("ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM")
CONTRACTS = Contracts.of(DEPLOYER)
REGISTRY = CONTRACTS.registry.address
POOL = CONTRACTS.pool.address


def _txid(i: int) -> str:
    return f"{i:064x}"


def _delivered(blocks: list[Block]) -> Counter:
    return Counter(r.txid for b in blocks for r in b.receipts)


def _printed(blocks: list[Block]) -> Counter:
    return Counter(e.txid for b in blocks for e in b.events)


def test_a_cursor_lost_to_a_reorganisation_is_found_again_and_nothing_is_delivered_twice():
    node = ForkingNode(page=2)
    chain = StacksChain(node, CONTRACTS, clock=lambda: 0.0)  # type: ignore[arg-type]
    got: list[Block] = []
    for i in range(3):
        node.mine(_txid(i), REGISTRY, i)
    node.mine(_txid(3), POOL, 3)
    got += chain.poll()  # the catch-up: the whole history in one block at the tip
    node.mine(_txid(4), REGISTRY, 4)
    node.mine(_txid(5), REGISTRY, 5)
    got += chain.poll()
    assert [b.height for b in got[-2:]] == [5, 6]

    # The fork drops the last two blocks: 4 and 5 leave the chain, and the registry's last
    # event seen (5's) with them; the new fork mines 6 first, then 5 again, then 4.
    dropped = node.reorganise(2)
    assert [m.txid for m in dropped] == [_txid(4), _txid(5)]
    node.mine(_txid(6), REGISTRY, 6)
    try:
        node.contract_events_since(REGISTRY, (_txid(5), 0))
        raise AssertionError("the double should have lost the cursor")
    except CursorNotFound:
        pass
    got += chain.poll()  # would raise CursorNotFound if StacksChain did not handle it
    node.mine(_txid(5), REGISTRY, 5)  # the replaced block: 5 again, at another height
    node.mine(_txid(4), REGISTRY, 4)
    got += chain.poll()
    node.mine(_txid(7), REGISTRY, 7)
    got += chain.poll()

    every = Counter({_txid(i): 1 for i in range(8)})
    assert _delivered(got) == every  # each transaction once, none lost
    assert _printed(got) == every  # and each of its events once
    cursors = [e.cursor for b in got for e in b.events]
    assert cursors == list(range(8))  # the engine's event numbering has no gap, no repeat
    # heights follow the fork: the new fork's block 5 after the old fork's 6; the block
    # re-mining 5 and 4 (height 7) brings nothing new, only the tip's heights
    assert [b.height for b in got] == [4, 5, 6, 5, 7, 8]
    assert got[-2].receipts == ()
    assert got[-1].receipts[0].txid == _txid(7)  # and it carries on after the fork


def test_a_reorganisation_that_keeps_the_last_event_reads_no_history_again():
    node = ForkingNode(page=2)
    chain = StacksChain(node, CONTRACTS, clock=lambda: 0.0)  # type: ignore[arg-type]
    node.mine(_txid(0), REGISTRY, 0)
    chain.poll()
    node.mine(_txid(1), POOL, 1)  # a pool block the fork will drop: the registry is untouched
    chain.poll()
    node.reorganise(1)
    node.mine(_txid(2), REGISTRY, 2)
    node.reads.clear()
    got = chain.poll()
    assert _delivered(got) == Counter({_txid(2): 1})
    # the registry pages only down to its last event seen; the pool lost its cursor and reads
    # its (now empty) history again from the newest page
    assert [r for r in node.reads if r.startswith(REGISTRY)] == [f"{REGISTRY}@None"]
    assert f"{POOL}@None" in node.reads
