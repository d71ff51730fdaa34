"""Conformance: generated operation sequences run on the Python models and in the Clarity VM.

Each example starts a fresh `Twin` (the simnet is reset), sets the quote key, mints sBTC to the
wallets, runs a short generated setup (prices, deposits) and then exactly `STEPS` generated
operations (see `tests/contracts/operations.py`): deposits and withdrawals of every size,
purchases with valid and faulty quotes, oracle pushes, burn blocks, settlements, the backend's
and the admin's functions, and unauthorised calls. Every call runs in both executors and must
return the same result and the same events; the whole state (tranches, policies, every balance)
is compared every `CHECK_EVERY` steps, and at the end also shares, prices, parameters and roles.

CI runs 200 sequences of 30 steps (the `ci` Hypothesis profile; `dev` runs 20, `long` 2,000:
tests/conftest.py), derandomized so every run tests the same sequences;
`BITHEDGE_CONFORMANCE_EXAMPLES` sets the count outright:

    python -m pytest -q -m conformance

The long run (10,000 sequences; measured 0.6-0.75 s per sequence on two cores, so about two
hours; `BITHEDGE_CONFORMANCE_CHECK_EVERY=5` compares the whole state every fifth step instead
of every step and halves that, 0.3 s per sequence):

    BITHEDGE_CONFORMANCE_EXAMPLES=10000 python -m pytest -q -m conformance

Add `--hypothesis-show-statistics` to see how often the interesting states are reached.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, event, given, note, settings
from hypothesis import strategies as st

from chain.clarity import TRUE, Buffer, ClarityValue, Err, List, Ok, Some, StringAscii, Tuple, UInt
from chain.protocol import expiry_on_grid
from chain.quotes import Quote, sign_quote
from sim.models.world import ExecResult
from tests.conftest import examples
from tests.contracts.operations import BTC, QUOTE_KEY, STX, USD, Runner, operations, setups
from tests.contracts.twin import Twin

pytestmark = pytest.mark.conformance

EXAMPLES = int(os.environ.get("BITHEDGE_CONFORMANCE_EXAMPLES", examples(200)))
STEPS = 30
# the whole state after every step (call results and events are compared on every call anyway)
CHECK_EVERY = int(os.environ.get("BITHEDGE_CONFORMANCE_CHECK_EVERY", "1"))


def record_notable(kind: str, what: str) -> None:
    """Reached states worth counting per example (`--hypothesis-show-statistics`)."""
    base = kind.split("[")[0]
    if (
        base == "policy"
        or (base in ("buy", "withdraw") and what == "ok")
        or (base == "deposit" and what in ("err u406", "err u407"))
        or (base == "settle" and what == "ok")
        or base == "set-price"
    ):
        event(f"{base}: {what}")
    elif base == "fix":  # which expiry, which hints, a first proof or a stored record
        event(f"{kind}: {what}")


@settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=False,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.filter_too_much,
    ],
)
@given(setup=setups, steps=st.lists(operations, min_size=STEPS, max_size=STEPS))
def test_generated_sequences_agree(bridge, setup, steps):
    runner = Runner(Twin(bridge), record_notable)
    try:
        runner.run_sequence(setup, steps, CHECK_EVERY)
    finally:
        note("calls:\n  " + "\n  ".join(runner.trace))


# --- explicit regression sequences --------------------------------------------------------------


def err(code: int) -> Err:
    return Err(UInt(code))


@pytest.fixture
def t(bridge) -> Twin:
    twin = Twin(bridge)
    assert twin.call(
        "deployer", "policy-registry", "set-quote-pubkey", Buffer(QUOTE_KEY.public_key)
    ) == Ok(TRUE)
    # the model's last execution, whose events Twin has just found equal to the VM's
    execute = twin.py.execute
    last: list[ExecResult] = []

    def recording(*args, **kwargs):
        result = execute(*args, **kwargs)
        last[:] = [result]
        return result

    twin.py.execute = recording  # type: ignore[method-assign]
    twin.last = last  # type: ignore[attr-defined]
    return twin


def printed(t: Twin) -> list[dict]:
    """The printed tuples of the last call, as {name: python value}."""
    out = []
    for e in t.last[0].events:  # type: ignore[attr-defined]
        if e.kind == "print" and isinstance(e.value, Tuple):
            out.append({k: getattr(v, "value", v) for k, v in e.value.data.items()})
    return out


def transfers(t: Twin) -> list[tuple[str, int]]:
    return [(e.kind, e.amount) for e in t.last[0].events if e.kind != "print"]  # type: ignore


def set_price(t: Twin, asset: str, price: int):
    return t.call("deployer", "oracle", "set-price", StringAscii(asset), UInt(price))


def deposit(t: Twin, who: str, token: int, tier: int, amount: int):
    return t.call(
        who, "liquidity-pool", "deposit", t.contracts.sbtc, UInt(token), UInt(tier), UInt(amount)
    )


def request(t: Twin, who: str, token: int, tier: int, shares: int):
    return t.call(who, "liquidity-pool", "request-withdraw", UInt(token), UInt(tier), UInt(shares))


def complete(t: Twin, who: str, token: int, tier: int):
    sbtc = t.contracts.sbtc
    return t.call(who, "liquidity-pool", "complete-withdraw", sbtc, UInt(token), UInt(tier))


def withdraw(t: Twin, who: str, token: int, tier: int, shares: int):
    """Both steps; the request's refusal, or the completion's result."""
    asked = request(t, who, token, tier, shares)
    return asked if isinstance(asked, Err) else complete(t, who, token, tier)


def buy(t: Twin, buyer: str, quote_id: int, **terms):
    base = dict(
        buyer=t.accounts[buyer],
        amount=BTC,
        strike=65_000 * USD,
        expiration=expiry_on_grid(t.burn, 144, 12960),
        premium=STX,
        collateral=10 * STX,
        token=0,
        tier=1,
        quote_expiry=t.burn,
        quote_id=quote_id,
        **t.quote_pins(),
    )
    q = Quote(**{**base, **terms})
    return t.call(
        buyer,
        "policy-registry",
        "purchase-policy",
        q.to_clarity(),
        Buffer(sign_quote(q, QUOTE_KEY)),
        t.contracts.sbtc,
    )


def settle(t: Twin, *ids: int, prove: bool = True):
    """Settles as anyone does: proves the fixings the expired ones need first (unless not
    `prove`)."""
    if prove:
        t.fix_policies(*ids)
    return t.call(
        "deployer",
        "policy-registry",
        "settle-policies",
        List(tuple(UInt(i) for i in ids)),
        t.contracts.sbtc,
    )


def counts(result) -> dict[str, int]:
    assert isinstance(result, Ok), result
    return {k: v.value for k, v in result.value.data.items()}


def tranche(t: Twin, token: int, tier: int) -> tuple[int, int, int]:
    v = t.read("liquidity-pool", "get-tranche", UInt(token), UInt(tier)).data
    return v["total-assets"].value, v["total-shares"].value, v["locked"].value


def policy(t: Twin, pid: int) -> dict[str, int]:
    return {
        k: getattr(v, "value", v)
        for k, v in t.read("policy-registry", "get-policy", UInt(pid)).value.data.items()
    }


def test_dust_deposits_and_zero_share_refusal(t):
    assert deposit(t, "wallet_1", 0, 1, 0) == err(404)
    assert deposit(t, "wallet_1", 0, 1, 1) == err(405)  # dust into an empty tranche
    assert deposit(t, "wallet_1", 0, 1, 10 * STX - 1) == err(405)
    assert deposit(t, "wallet_1", 0, 1, 10 * STX) == Ok(UInt(10 * STX))  # exactly the minimum
    assert deposit(t, "wallet_2", 0, 1, 1) == Ok(UInt(1))  # 1:1, a dust deposit mints 1 share
    assert deposit(t, "wallet_1", 0, 1, 990 * STX) == Ok(UInt(990 * STX))
    assert set_price(t, "BTC-USD", 65_000 * USD) == Ok(TRUE)
    assert set_price(t, "STX-USD", USD // 2) == Ok(TRUE)
    # a premium of 500 STX lifts the share price to 1.5 uSTX; the chain locks 0.001 BTC x
    # 65,000 = 65 USD = 130 STX
    assert buy(t, "wallet_3", 1, amount=BTC // 1000, premium=500 * STX) == Ok(UInt(1))
    assert tranche(t, 0, 1) == (1_500 * STX + 1, 1_000 * STX + 1, 130 * STX)
    assert deposit(t, "wallet_2", 0, 1, 1) == err(407)  # 1 * shares / assets == 0
    assert deposit(t, "wallet_2", 0, 1, 2) == Ok(UInt(1))  # pays 2 for a share worth 1.5
    assert isinstance(request(t, "wallet_2", 0, 1, 2), Ok)
    assert request(t, "wallet_2", 0, 1, 1) == err(408)
    assert complete(t, "wallet_2", 0, 1) == err(416)  # policy 1 is open
    expiry = policy(t, 1)["expiration"]
    t.mine_to(expiry - 6)
    assert set_price(t, "BTC-USD", 65_000 * USD) == Ok(TRUE)  # over the fixing's window
    assert set_price(t, "STX-USD", USD // 2) == Ok(TRUE)
    t.mine_to(expiry)
    assert counts(settle(t, 1))["expired"] == 1
    assert complete(t, "wallet_2", 0, 1) == Ok(UInt(3))  # 2 * 1500000003 / 1000000002
    t.assert_same_state(policies=1)


def test_pending_withdrawals_share_a_payout_of_the_whole_collateral(t):
    """v1 let providers take everything free before the settlement and leave the tranche wiped
    out (0 assets, 1,700 STX of shares). v2: their requests are ready only at the expiry and
    the pending shares share the payout, so the tranche keeps its 600 STX and each pending
    150 STX of shares completes at the price after the payout."""
    assert set_price(t, "BTC-USD", 65_000 * USD) == Ok(TRUE)
    assert set_price(t, "STX-USD", USD // 2) == Ok(TRUE)
    assert deposit(t, "wallet_1", 0, 2, 1_000 * STX) == Ok(UInt(1_000 * STX))
    assert deposit(t, "wallet_2", 0, 2, 1_000 * STX) == Ok(UInt(1_000 * STX))
    terms = dict(tier=2, amount=BTC // 100, strike=61_750 * USD, premium=2_000 * STX)
    assert buy(t, "wallet_3", 1, collateral=3_400 * STX, **terms) == Ok(UInt(1))  # 85% cap
    for who in ("wallet_1", "wallet_2"):
        assert isinstance(request(t, who, 0, 2, 150 * STX), Ok)
        assert complete(t, who, 0, 2) == err(416)
    expiry = policy(t, 1)["expiration"]
    t.mine_to(expiry - 26)
    # STX 0.50 -> 0.0625 in three pushes of -50% (the v2 oracle's max-jump), ten blocks apart,
    # the last at the start of the fixing's window
    for stx_price in (USD // 4, USD // 8, USD // 16):
        assert set_price(t, "BTC-USD", 40_000 * USD) == Ok(TRUE)
        assert set_price(t, "STX-USD", stx_price) == Ok(TRUE)
        if stx_price != USD // 16:
            t.mine_burn(10)
    t.mine_to(expiry)
    assert counts(settle(t, 1)) == {"settled": 1, "expired": 0, "deferred": 0, "skipped": 0}
    # owed 217.5 USD = 3,480 STX at 0.0625; capped at the 3,400 STX locked for it
    assert [p["event"] for p in printed(t)] == ["payout", "released", "policy-settled"]
    assert policy(t, 1)["payout"] == policy(t, 1)["paid"] == 3_400 * STX
    assert tranche(t, 0, 2) == (600 * STX, 2_000 * STX, 0)
    for who in ("wallet_1", "wallet_2"):
        assert complete(t, who, 0, 2) == Ok(UInt(45 * STX))  # 150 x 600 / 2,000
    assert tranche(t, 0, 2) == (510 * STX, 1_700 * STX, 0)
    assert deposit(t, "wallet_4", 0, 2, 30 * STX) == Ok(UInt(100 * STX))
    t.assert_same_state(policies=1)


def test_each_payout_stops_at_its_own_collateral(t):
    """v1 paid the first of two policies from the whole tranche and the second nothing (a
    shortfall). v2 pays each `min(claim, collateral)` in full, in any order."""
    assert set_price(t, "BTC-USD", 65_000 * USD) == Ok(TRUE)
    assert t.call("deployer", "sbtc-token", "mint", UInt(BTC), t.accounts["wallet_2"]) == Ok(TRUE)
    assert t.call("deployer", "sbtc-token", "mint", UInt(BTC), t.accounts["wallet_5"]) == Ok(TRUE)
    assert deposit(t, "wallet_2", 1, 1, BTC) == Ok(UInt(BTC))
    sbtc = dict(token=1, amount=BTC // 10, premium=10_000, collateral=1)
    assert buy(t, "wallet_5", 1, **sbtc) == Ok(UInt(1))
    assert buy(t, "wallet_5", 2, **sbtc) == Ok(UInt(2))
    # 0.1 BTC x 65,000 = 6,500 USD = 0.1 sBTC locked for each
    assert tranche(t, 1, 1) == (BTC + 20_000, BTC, 20_000_000)
    expiry = policy(t, 1)["expiration"]
    t.mine_to(expiry - 7)
    # two pushes: -50% (the most one push may move after silence), then -5% a block later, at
    # the start of the fixing's window
    assert set_price(t, "BTC-USD", 32_500 * USD) == Ok(TRUE)
    t.mine_burn(1)
    assert set_price(t, "BTC-USD", 30_875 * USD) == Ok(TRUE)
    t.mine_to(expiry)
    assert counts(settle(t, 2, 1)) == {"settled": 2, "expired": 0, "deferred": 0, "skipped": 0}
    claim = 34_125 * USD // 10 * BTC // (30_875 * USD)  # 3,412.5 USD at 30,875, above the cap
    for pid in (1, 2):
        p = policy(t, pid)
        assert (p["status"], p["payout"], p["paid"]) == (1, 10_000_000, 10_000_000)
    events = printed(t)
    assert [e["event"] for e in events] == ["payout", "released", "policy-settled"] * 2
    assert events[2]["claim"] == claim
    assert transfers(t) == [("ft_transfer", 10_000_000)] * 2
    assert tranche(t, 1, 1) == (BTC + 20_000 - 20_000_000, BTC, 0)
    t.assert_same_state(policies=2)


def test_settlement_waits_for_the_fixings_and_ignores_later_prices(t):
    assert set_price(t, "BTC-USD", 65_000 * USD) == Ok(TRUE)
    assert set_price(t, "STX-USD", USD // 2) == Ok(TRUE)
    assert deposit(t, "wallet_1", 0, 0, 10_000 * STX) == Ok(UInt(10_000 * STX))
    terms = dict(tier=0, amount=BTC // 100, collateral=500 * STX, strike=60_000 * USD)
    assert buy(t, "wallet_3", 1, **terms) == Ok(UInt(1))
    expiration = policy(t, 1)["expiration"]
    t.mine_to(expiration - 6)  # in force over the whole fixing window
    assert set_price(t, "BTC-USD", 55_000 * USD) == Ok(TRUE)
    assert set_price(t, "STX-USD", USD // 2) == Ok(TRUE)
    t.mine_to(expiration - 1)
    assert counts(settle(t, 1))["skipped"] == 1  # not expired yet
    assert printed(t) == [{"event": "settlement-skipped", "id": 1, "reason": 314}]
    t.mine_burn(1)  # expiration now: no fixing stored yet
    assert counts(settle(t, 1, 1, prove=False))["deferred"] == 2
    assert [e["reason"] for e in printed(t)] == [322, 322]
    assert isinstance(t.fix("BTC-USD", expiration, "wallet_7"), Ok)
    assert counts(settle(t, 1, prove=False))["deferred"] == 1
    assert printed(t) == [{"event": "settlement-deferred", "id": 1, "reason": 323}]
    t.mine_burn(20)
    assert set_price(t, "BTC-USD", 65_000 * USD) == Ok(TRUE)  # after E: changes nothing
    assert set_price(t, "STX-USD", USD // 4) == Ok(TRUE)
    assert counts(settle(t, 1, 1, 7)) == {"settled": 1, "expired": 0, "deferred": 0, "skipped": 2}
    # 5,000 USD x 0.01 BTC at the fixings: 50 USD = 100 STX at 0.50 USD per STX
    assert policy(t, 1)["payout"] == policy(t, 1)["paid"] == 100 * STX
    t.assert_same_state(policies=1)


def test_signature_forms(t):
    """`secp256k1-verify` takes r || s with an optional 65th byte 0..3 that it ignores."""
    assert set_price(t, "BTC-USD", 65_000 * USD) == Ok(TRUE)
    assert set_price(t, "STX-USD", USD // 2) == Ok(TRUE)
    assert deposit(t, "wallet_1", 0, 1, 1_000 * STX) == Ok(UInt(1_000 * STX))

    def purchase(quote_id: int, mangle) -> ClarityValue:
        q = Quote(
            buyer=t.accounts["wallet_3"],
            amount=BTC // 1000,
            strike=65_000 * USD,
            expiration=expiry_on_grid(t.burn, 144, 12960),
            premium=STX,
            collateral=10 * STX,
            token=0,
            tier=1,
            quote_expiry=t.burn,
            quote_id=quote_id,
            **t.quote_pins(),
        )
        signature = mangle(sign_quote(q, QUOTE_KEY))
        return t.call(
            "wallet_3",
            "policy-registry",
            "purchase-policy",
            q.to_clarity(),
            Buffer(signature),
            t.contracts.sbtc,
        )

    for bad in (4, 0x1B, 0xFF):  # a 65th byte above 3 is refused
        assert purchase(1, lambda s, bad=bad: s[:64] + bytes([bad])) == err(303)
    assert purchase(1, lambda s: bytes(65)) == err(303)
    assert purchase(1, lambda s: s[:63]) == err(303)  # (buff 65) takes it; too short to verify
    assert purchase(1, lambda s: s[:64]) == Ok(UInt(1))  # r || s alone verifies
    assert purchase(2, lambda s: s[:64] + bytes([s[64] ^ 1])) == Ok(UInt(2))  # any of 0..3
    assert purchase(2, lambda s: s) == err(305)
    assert t.call("deployer", "policy-registry", "zero-quote-pubkey") == Ok(TRUE)
    assert purchase(3, lambda s: s) == err(303)  # no signature verifies against zero bytes
    key32 = Buffer(QUOTE_KEY.public_key[:32])
    assert t.call("deployer", "policy-registry", "queue-quote-pubkey", key32) == err(306)
    t.assert_same_state(policies=2)


def test_a_donation_to_the_pool_changes_no_share_price(t):
    for who, amount in (("wallet_1", BTC), ("wallet_2", 5 * BTC), ("wallet_3", 1_000)):
        assert t.call("deployer", "sbtc-token", "mint", UInt(amount), t.accounts[who]) == Ok(TRUE)
    assert deposit(t, "wallet_1", 1, 0, 1_000_000) == Ok(UInt(1_000_000))
    memo = Some(Buffer(b"a gift"))
    assert t.call(
        "wallet_2",
        "sbtc-token",
        "transfer",
        UInt(5 * BTC),
        t.accounts["wallet_2"],
        t.contracts.pool,
        memo,
    ) == Ok(TRUE)
    assert [e.kind for e in t.last[0].events] == ["ft_transfer", "print"]  # the memo
    assert tranche(t, 1, 0) == (1_000_000, 1_000_000, 0)  # internal accounting only
    assert deposit(t, "wallet_3", 1, 0, 1_000) == Ok(UInt(1_000))  # still one share per sat
    assert withdraw(t, "wallet_1", 1, 0, 1_000_000) == Ok(UInt(1_000_000))
    assert t.py.sbtc_balance(t.contracts.pool) == 5 * BTC + 1_000
    t.assert_same_state()
