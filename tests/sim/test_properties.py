"""Random operation sequences through signed transactions keep every PROTOCOL.md invariant."""

from __future__ import annotations

from collections import Counter

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.clarity import NONE, StringAscii, UInt
from chain.protocol import expiry_on_grid
from tests.sim.harness import BTC, STX, USD, Harness

USERS = 4
TRANCHE = st.tuples(st.integers(0, 1), st.integers(0, 2))

ops = st.one_of(
    st.tuples(st.just("deposit"), st.integers(0, USERS - 1), TRANCHE, st.integers(1, 10**6)),
    st.tuples(st.just("withdraw"), st.integers(0, USERS - 1), TRANCHE, st.integers(1, 10_000)),
    st.tuples(st.just("price"), st.integers(-600, 600), st.integers(-600, 600)),
    st.tuples(
        st.just("buy"),
        st.integers(0, USERS - 1),
        TRANCHE,
        st.integers(100_000, BTC),  # amount
        st.integers(5_000, 11_000),  # strike, bps of spot
        st.integers(100, 2_000),  # duration, burn blocks
        st.integers(1, 5_000),  # premium, bps of max payout
        st.integers(0, 15_000),  # quoted collateral, bps of max payout (the chain may raise it)
    ),
    st.tuples(st.just("burn"), st.integers(1, 300)),
    st.tuples(st.just("settle")),
)


def token_units(usd_units: int, token: int, btc: int, stx: int) -> int:
    unit, price = (STX, stx) if token == 0 else (BTC, btc)
    return usd_units * unit // price


def apply(h: Harness, op: tuple, prices: list[int], outcomes: Counter) -> None:
    kind = op[0]
    if kind == "deposit":
        _, user, (token, tier), size = op
        amount = size * (STX if token == 0 else 1_000)
        r = h.deposit(h.users[user], token, tier, amount)
    elif kind == "withdraw":
        _, user, (token, tier), bps = op
        holdings = {
            (tk, tr): h.chain.read_only(
                h.pool, "get-shares", [UInt(tk), UInt(tr), h.users[user].address]
            ).value
            for tk in (0, 1)
            for tr in (0, 1, 2)
        }
        who = h.users[user].address
        pending = {
            k: h.chain.read_only(h.pool, "get-pending", [UInt(k[0]), UInt(k[1]), who])
            for k in holdings
        }
        mine = {k: holdings[k] or pending[k] != NONE for k in holdings}
        if not mine[(token, tier)]:  # prefer a tranche the provider is in
            token, tier = max(holdings, key=lambda k: (mine[k], k == (token, tier)))
        held = holdings[(token, tier)]
        if not held and pending[(token, tier)] != NONE:  # all asked for: complete it
            r = h.complete_withdraw(h.users[user], token, tier)
        else:
            r = h.withdraw(h.users[user], token, tier, max(1, held * bps // 10_000))
    elif kind == "price":
        _, dbtc, dstx = op
        prices[0] = max(USD, prices[0] * (10_000 + dbtc) // 10_000)
        prices[1] = max(1_000, prices[1] * (10_000 + dstx) // 10_000)
        for asset, price in (("BTC-USD", prices[0]), ("STX-USD", prices[1])):
            r = h.send(h.admin, h.oracle, "set-price", StringAscii(asset), UInt(price))
    elif kind == "buy":
        _, user, (token, tier), amount, strike_bps, duration, prem_bps, coll_bps = op
        strike = prices[0] * strike_bps // 10_000
        max_payout = strike * amount // 100_000_000
        q = h.quote(
            h.users[user],
            token=token,
            tier=tier,
            amount=amount,
            strike=strike,
            expiration=expiry_on_grid(h.chain.tip().burn_height, duration, 12_960),
            premium=max(1, token_units(max_payout * prem_bps // 10_000, token, *prices)),
            collateral=max(1, token_units(max_payout * coll_bps // 10_000, token, *prices)),
        )
        r = h.purchase(h.users[user], q)
    elif kind == "burn":
        h.chain.mine_burn(op[1])
        return
    else:
        count = h.chain.read_only(h.registry, "get-policy-count", []).value
        ids = range(max(1, count - 49), count + 1)
        h.fix_policies(*ids)  # as anyone settling does first
        r = h.settle(*ids)
    outcomes[(kind, str(r.status))] += 1


@settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(st.lists(ops, min_size=5, max_size=50))
def test_random_sequences_keep_invariants(sequence):
    h = Harness(users=USERS)
    prices = [65_000 * USD, 50_000_000]
    h.set_price(*prices)
    outcomes: Counter = Counter()
    for op in sequence:
        apply(h, op, prices, outcomes)
    assert h.checker.violations == [], h.checker.violations


def test_a_full_cycle_exercises_every_path():
    """One fixed sequence that reaches purchases, payouts and refusals, so the property above is
    known to run through the interesting states, not only through errors."""
    h = Harness(users=USERS)
    prices = [65_000 * USD, 50_000_000]
    h.set_price(*prices)
    outcomes: Counter = Counter()
    script = [
        ("deposit", 0, (0, 1), 50_000),
        ("deposit", 1, (1, 2), 100_000),
        ("deposit", 2, (0, 2), 10_000),
        ("buy", 3, (0, 1), BTC // 4, 9_000, 200, 300, 10_000),
        ("buy", 3, (1, 2), BTC // 2, 9_800, 200, 300, 9_000),
        ("buy", 2, (0, 2), BTC // 100, 9_800, 200, 300, 50),
        ("withdraw", 0, (0, 1), 10_000),
        ("burn", 320),  # to 11 blocks before the expiry (burn 432, the grid point past 301)
        ("price", -2_000, -1_000),  # in force over the fixing's window
        ("burn", 11),
        ("settle",),
        ("withdraw", 0, (0, 1), 10_000),
        ("withdraw", 1, (1, 2), 10_000),
    ]
    for op in script:
        apply(h, op, prices, outcomes)
    assert outcomes[("buy", "success")] == 3
    assert outcomes[("withdraw", "abort_by_response")] == 1  # waits until its policies settle
    assert outcomes[("withdraw", "success")] == 2  # and free again once its policy is
    assert outcomes[("settle", "success")] == 1
    settled = [
        e.event.value for e in h.chain.events_since(0, 10**6) if e.event.kind == "print"
        and e.event.value["event"].value == "policy-settled"
    ]  # fmt: skip
    assert len(settled) == 3 and all(v["paid"] == v["payout"] for v in settled)
    assert all(h.tranche(token, tier)[2] == 0 for token in (0, 1) for tier in (0, 1, 2))
    assert h.checker.violations == []
