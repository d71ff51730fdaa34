"""Providers' arithmetic: P&L from the recorded flows, when a pending withdrawal began, and what
it pays now under protocol v2 (the endpoints themselves: tests/live/test_api.py; the Pool actor
recording the flows: tests/live/test_api.py and tests/store)."""

from __future__ import annotations

from live.providers import first_requests, pending_views, pnl
from store.repositories import Flow, Pending
from store.schema import FlowKind

ALICE = "ST2CY5V39NHDPWSXMW9QDT3HC3GD6Q6XX4CFRK9AG"
BOB = "ST2JHG361ZXG51QTKY2NQCVBPPRRE2KZB1HR05NNC"


def made(kind, amount, shares, txid, token=0, tier=0, who=ALICE, ready_at=None, block=1):
    return Flow(kind, who, token, tier, amount, shares, 0, txid, 0, block, 10 * block, ready_at)


def test_pnl_is_value_plus_withdrawn_minus_deposited_per_tranche():
    flows = [
        made(FlowKind.DEPOSIT, 1000, 1000, "a"),
        made(FlowKind.WITHDRAW, 600, 500, "b"),
        made(FlowKind.DEPOSIT, 300, 300, "c", token=1, tier=2),
    ]
    got = {(p.token, p.tier): p for p in pnl(flows, {(0, 0): 520, (1, 2): 250, (0, 1): 4})}
    assert (got[(0, 0)].deposited, got[(0, 0)].withdrawn, got[(0, 0)].pnl) == (1000, 600, 120)
    assert got[(1, 2)].pnl == -50  # a loss stays negative
    assert got[(0, 1)].pnl == 4  # shares with no flow seen (e.g. received): all value
    assert sorted(got) == [(0, 0), (0, 1), (1, 2)]


def test_a_request_moves_nothing_in_pnl():
    flows = [
        made(FlowKind.DEPOSIT, 1000, 1000, "a"),
        made(FlowKind.REQUEST, 0, 400, "b", ready_at=288),
        made(FlowKind.WITHDRAW, 380, 400, "c"),
    ]
    (row,) = pnl(flows, {(0, 0): 570})
    assert (row.deposited, row.withdrawn, row.pnl) == (1000, 380, -50)
    (asked,) = pnl(flows[:2], {(0, 0): 570})  # requested, not yet paid: nothing withdrawn
    assert asked.withdrawn == 0


def test_a_pending_balance_begins_at_the_first_request_since_the_last_completion():
    flows = [
        made(FlowKind.REQUEST, 0, 5, "r1", block=2),
        made(FlowKind.WITHDRAW, 5, 5, "w1", block=3),
        made(FlowKind.REQUEST, 0, 4, "r2", block=4),
        made(FlowKind.REQUEST, 0, 3, "r3", block=5),  # adds to r2's pending balance
        made(FlowKind.REQUEST, 0, 9, "r4", tier=1, block=6),
        made(FlowKind.REQUEST, 0, 1, "b1", who=BOB, block=7),
        made(FlowKind.WITHDRAW, 1, 1, "b2", who=BOB, block=8),
    ]
    got = first_requests(flows)
    assert {k: f.txid for k, f in got.items()} == {(ALICE, 0, 0): "r2", (ALICE, 0, 1): "r4"}


def test_a_completion_pays_the_lesser_of_the_value_now_and_at_the_request():
    flows = [made(FlowKind.REQUEST, 0, 100, "r", block=4)]
    risen = Pending(0, 0, ALICE, 100, 1_000, 288, 0)  # premiums since: no share of them
    fallen = Pending(0, 1, ALICE, 100, 1_000, 288, 0)  # a payout since: it bears it
    closed = Pending(1, 0, ALICE, 100, 1_000, 0, 2)  # an older epoch than the tranche's
    tranches = {(0, 0): (1_234_567, 100_000), (0, 1): (9_999, 1_000), (1, 0): (5, 5)}
    views = pending_views([risen, fallen, closed], flows, tranches, {(1, 0): 3}, 288)
    assert [v.payable for v in views] == [1_000, 999, None]  # 100 * 9_999 // 1_000 = 999
    assert [v.ready for v in views] == [True, True, True]
    assert views[0].requested is not None and views[0].requested.txid == "r"
    assert views[1].requested is None  # no request recorded in that tranche
    (early,) = pending_views([risen], flows, tranches, {}, 287)
    assert not early.ready
    (empty,) = pending_views([risen], flows, {(0, 0): (0, 0)}, {}, 300)
    assert empty.payable == 0  # a tranche with no shares left pays nothing
