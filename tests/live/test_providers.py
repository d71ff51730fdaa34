"""ProviderFlows on scripted pool prints: what it keeps, how often it asks, how it recovers
from a reorganisation, and P&L's arithmetic (the endpoint itself: tests/live/test_api.py)."""

from __future__ import annotations

from chain.clarity import StringAscii, Tuple, UInt, principal
from chain.node import ContractEvent, CursorNotFound
from live.providers import Flow, FlowKind, ProviderFlows, pnl

POOL = "ST1PQHQKV0RJXZFY1DGX8MNSNYVE3VGZJSRTPGZGM.liquidity-pool"
ALICE = "ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG"
BOB = "ST2JHG361ZXG51QTKY2NQCVBPPRRE2KZB1HR05NNC"


def printed(index: int, event: str, **fields) -> ContractEvent:
    values = {"event": StringAscii(event)}
    for name, v in fields.items():
        values[name] = principal(v) if isinstance(v, str) else UInt(v)
    body = Tuple(values).serialize()
    return ContractEvent(index, f"{index:064x}", POOL, "print", body)


class Node:
    """contract_events_since over a scripted history; counts the calls."""

    def __init__(self, history: list[ContractEvent]):
        self.history, self.calls = history, 0
        self.forget = False  # answer CursorNotFound once, as after a reorganisation

    def contract_events_since(self, contract, last_seen):
        assert contract == POOL
        self.calls += 1
        if last_seen is None:
            return list(self.history)
        if self.forget:
            self.forget = False
            raise CursorNotFound("gone")
        keys = [(e.tx_id, e.event_index) for e in self.history]
        return self.history[keys.index(last_seen) + 1 :]


def deposit(i, who, amount, shares, token=0, tier=0):
    return printed(i, "deposit", token=token, tier=tier, provider=who, amount=amount, shares=shares)


def test_flows_are_kept_per_provider_and_other_prints_ignored():
    node = Node([
        deposit(0, ALICE, 1000, 1000),
        printed(1, "locked", token=0, tier=0, premium=5, collateral=50),
        deposit(2, BOB, 500, 490, tier=2),
        printed(3, "withdraw", token=0, tier=0, provider=ALICE, amount=600, shares=500),
    ])  # fmt: skip
    flows = ProviderFlows(node, POOL, clock=lambda: 0.0)
    flows.update()
    assert flows.of(ALICE) == [
        Flow(FlowKind.DEPOSIT, ALICE, 0, 0, 1000, 1000, f"{0:064x}"),
        Flow(FlowKind.WITHDRAW, ALICE, 0, 0, 600, 500, f"{3:064x}"),
    ]
    assert [f.amount for f in flows.of(BOB)] == [500] and flows.of(BOB)[0].tier == 2
    assert flows.of("ST000000000000000000002AMW42H") == []


def test_the_chain_is_asked_at_most_once_per_interval_and_only_for_new_prints():
    node = Node([deposit(0, ALICE, 1000, 1000)])
    now = [100.0]
    flows = ProviderFlows(node, POOL, clock=lambda: now[0], min_interval=2.0)
    flows.update()
    node.history.append(deposit(1, ALICE, 10, 10))
    now[0] += 1.0
    flows.update()  # too soon: not asked
    assert node.calls == 1 and len(flows.of(ALICE)) == 1
    now[0] += 1.5
    flows.update()
    assert node.calls == 2 and [f.amount for f in flows.of(ALICE)] == [1000, 10]


def test_a_reorganised_history_is_read_again_from_the_start():
    node = Node([deposit(0, ALICE, 1000, 1000), deposit(1, ALICE, 7, 7)])
    now = [0.0]
    flows = ProviderFlows(node, POOL, clock=lambda: now[0], min_interval=0.0)
    flows.update()
    node.history = [deposit(0, ALICE, 1000, 1000), deposit(5, ALICE, 9, 9)]  # 1 is gone
    node.forget = True
    now[0] += 1
    flows.update()
    assert [f.amount for f in flows.of(ALICE)] == [1000, 9]


def test_pnl_is_value_plus_withdrawn_minus_deposited_per_tranche():
    flows = [
        Flow(FlowKind.DEPOSIT, ALICE, 0, 0, 1000, 1000, "a"),
        Flow(FlowKind.WITHDRAW, ALICE, 0, 0, 600, 500, "b"),
        Flow(FlowKind.DEPOSIT, ALICE, 1, 2, 300, 300, "c"),
    ]
    got = {(p.token, p.tier): p for p in pnl(flows, {(0, 0): 520, (1, 2): 250, (0, 1): 4})}
    assert (got[(0, 0)].deposited, got[(0, 0)].withdrawn, got[(0, 0)].pnl) == (1000, 600, 120)
    assert got[(1, 2)].pnl == -50  # a loss stays negative
    assert got[(0, 1)].pnl == 4  # shares with no flow seen (e.g. received): all value
    assert sorted(got) == [(0, 0), (0, 1), (1, 2)]


def test_a_two_step_withdrawal_is_a_request_that_moves_nothing_then_the_payment():
    node = Node([
        deposit(0, ALICE, 1000, 1000),
        printed(1, "withdraw-requested", token=0, tier=0, provider=ALICE, shares=400,
                **{"pending-shares": 400, "ready-at": 288, "epoch": 0}),
        printed(2, "withdraw", token=0, tier=0, provider=ALICE, amount=380, shares=400, epoch=0),
    ])  # fmt: skip
    flows = ProviderFlows(node, POOL, clock=lambda: 0.0)
    flows.update()
    got = flows.of(ALICE)
    assert got[1:] == [
        Flow(FlowKind.REQUEST, ALICE, 0, 0, 0, 400, f"{1:064x}", 288),
        Flow(FlowKind.WITHDRAW, ALICE, 0, 0, 380, 400, f"{2:064x}"),
    ]
    (row,) = pnl(got, {(0, 0): 570})
    assert (row.deposited, row.withdrawn, row.pnl) == (1000, 380, -50)
    (asked,) = pnl(got[:2], {(0, 0): 570})  # requested, not yet paid: nothing withdrawn
    assert asked.withdrawn == 0
