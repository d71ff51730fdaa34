"""The Clarity contracts in the real Clarity VM, step by step against the Python models."""

from __future__ import annotations

import pytest

from chain import sip018
from chain.clarity import FALSE, NONE, TRUE, Buffer, Err, List, Ok, StringAscii, UInt
from chain.keys import PrivateKey
from chain.protocol import expiry_on_grid
from chain.quotes import DEVNET_DOMAIN, Quote, sign_quote
from tests.contracts.twin import QUOTE_KEY, Twin, trusting_twin

pytestmark = pytest.mark.clarity

USD = 100_000_000
STX = 1_000_000
BTC = 100_000_000


def err(code: int) -> Err:
    return Err(UInt(code))


@pytest.fixture
def twin(bridge) -> Twin:
    return trusting_twin(bridge)


def prices(t: Twin, btc: int, stx: int) -> None:
    assert t.call("deployer", "oracle", "set-price", StringAscii("BTC-USD"), UInt(btc)) == Ok(TRUE)
    assert t.call("deployer", "oracle", "set-price", StringAscii("STX-USD"), UInt(stx)) == Ok(TRUE)


def quote(t: Twin, buyer: str, **terms) -> Quote:
    base = dict(
        buyer=t.accounts[buyer],
        amount=BTC // 10,
        strike=60_000 * USD,
        expiration=expiry_on_grid(t.burn, 144, 12960),
        premium=50 * STX,
        collateral=12_000 * STX,
        token=0,
        tier=1,
        quote_expiry=t.burn + 3,
        quote_id=1,
        **t.quote_pins(),
    )
    base.update(terms)
    return Quote(**base)


def buy(t: Twin, buyer: str, q: Quote, signature: bytes | None = None):
    sig = sign_quote(q, QUOTE_KEY) if signature is None else signature
    sbtc = t.contracts.sbtc
    return t.call(buyer, "policy-registry", "purchase-policy", q.to_clarity(), Buffer(sig), sbtc)


def deposit(t: Twin, who: str, token: int, tier: int, amount: int):
    return t.call(who, "liquidity-pool", "deposit", t.contracts.sbtc, UInt(token), UInt(tier),
                  UInt(amount))  # fmt: skip


def test_quote_hash_and_signature_agree_with_python(twin):
    q = quote(twin, "wallet_3")
    assert twin.read("policy-registry", "get-quote-hash", q.to_clarity()) == Buffer(
        sip018.message_hash(DEVNET_DOMAIN, q.to_clarity())
    )


def test_full_lifecycle_in_both_executors(twin):
    t = twin
    prices(t, 65_000 * USD, 50_000_000)
    assert t.call("deployer", "sbtc-token", "mint", UInt(5 * BTC), t.accounts["wallet_2"]) == Ok(
        TRUE
    )
    assert t.call("deployer", "sbtc-token", "mint", UInt(BTC), t.accounts["wallet_5"]) == Ok(TRUE)
    assert deposit(t, "wallet_1", 0, 1, 100_000 * STX) == Ok(UInt(100_000 * STX))
    assert deposit(t, "wallet_2", 1, 2, 2 * BTC) == Ok(UInt(2 * BTC))
    assert deposit(t, "wallet_4", 0, 0, 9 * STX) == err(405)

    q = quote(t, "wallet_3")
    sig = sign_quote(q, QUOTE_KEY)
    assert buy(t, "wallet_4", q, sig) == err(302)  # not the buyer
    tampered = quote(t, "wallet_3", amount=q.amount * 2)
    assert buy(t, "wallet_3", tampered, sig) == err(303)
    forged = sign_quote(q, PrivateKey.from_seed(b"someone else"))
    assert buy(t, "wallet_3", q, forged) == err(303)
    assert buy(t, "wallet_3", q) == Ok(UInt(1))
    assert buy(t, "wallet_3", q) == err(305)  # quote id used
    late = quote(t, "wallet_3", quote_id=2, quote_expiry=t.burn - 1)
    assert buy(t, "wallet_3", late) == err(304)
    sq = quote(t, "wallet_5", quote_id=3, token=1, tier=2, amount=BTC // 2, premium=200_000,
               collateral=BTC // 2)  # fmt: skip
    assert buy(t, "wallet_5", sq) == Ok(UInt(2))

    # the provider's exit waits for the policies its shares back
    asked = t.call("wallet_1", "liquidity-pool", "request-withdraw", UInt(0), UInt(1),
                   UInt(100_000 * STX))  # fmt: skip
    assert isinstance(asked, Ok)
    done = t.call("wallet_1", "liquidity-pool", "complete-withdraw", t.contracts.sbtc, UInt(0),
                  UInt(1))  # fmt: skip
    assert done == err(416)
    t.assert_same_state(policies=2)

    t.mine_to(q.expiration - 10)
    prices(t, 5_123_456_789_012, 43_210_000)  # the prices of the fixing's window
    t.mine_to(q.expiration)
    settle = List((UInt(1), UInt(2), UInt(99)))
    deferred = t.call("deployer", "policy-registry", "settle-policies", settle, t.contracts.sbtc)
    assert deferred.value["deferred"] == UInt(2)  # no fixing stored yet
    assert isinstance(t.fix("BTC-USD", q.expiration, "wallet_8"), Ok)
    assert isinstance(t.fix("STX-USD", q.expiration, "wallet_8"), Ok)
    done = t.call("deployer", "policy-registry", "settle-policies", settle, t.contracts.sbtc)
    assert done == Ok(
        __import__("chain.clarity", fromlist=["Tuple"]).Tuple(
            {"settled": UInt(2), "expired": UInt(0), "deferred": UInt(0), "skipped": UInt(1)}
        )
    )
    policy = t.read("policy-registry", "get-policy", UInt(1)).value
    assert policy["paid"] == UInt(2_028_565_635)  # the same exact payout as the model test
    again = t.call("deployer", "policy-registry", "settle-policies", List((UInt(1),)),
                   t.contracts.sbtc)  # fmt: skip
    assert again.value["skipped"] == UInt(1)
    t.assert_same_state(policies=2)


def test_settle_fifty_policies_in_one_call(twin):
    t = twin
    prices(t, 65_000 * USD, 50_000_000)
    assert deposit(t, "wallet_1", 0, 2, 1_000_000 * STX) == Ok(UInt(1_000_000 * STX))
    expiration = expiry_on_grid(t.burn, 144, 12960)
    for i in range(50):
        q = quote(t, "wallet_3", quote_id=100 + i, tier=2, expiration=expiration,
                  collateral=1_000 * STX, premium=10 * STX)  # fmt: skip
        assert buy(t, "wallet_3", q) == Ok(UInt(i + 1))
    t.mine_to(expiration - 10)
    prices(t, 55_000 * USD, 45_000_000)
    t.mine_to(expiration)
    assert all(isinstance(t.fix(a, expiration), Ok) for a in ("BTC-USD", "STX-USD"))
    ids = List(tuple(UInt(i) for i in range(1, 51)))
    result = t.call("deployer", "policy-registry", "settle-policies", ids, t.contracts.sbtc)
    assert result.value["settled"] == UInt(50)
    t.assert_same_state(policies=50)


def test_oracle_cap_scales_with_elapsed_blocks_in_both(twin):
    t = twin

    def push(price: int):
        return t.call("deployer", "oracle", "set-price", StringAscii("BTC-USD"), UInt(price))

    assert push(65_000 * USD) == Ok(TRUE)
    assert push(65_000 * USD) == err(106)  # one observation per burn block
    t.mine_burn(1)
    assert push(70_000 * USD) == err(103)  # 7.7% > 5% x 1 block
    assert push(65_000 * USD * 105 // 100) == Ok(TRUE)
    t.mine_burn(6)
    assert push(68_250 * USD * 7 // 10 - 1) == err(103)  # 5% x 6 blocks is the cap
    assert push(68_250 * USD * 7 // 10) == Ok(TRUE)  # exactly -30%
    t.mine_burn(500)
    assert push(47_775 * USD // 2 - 1) == err(103)  # silence lifts nothing: max-jump (50%)
    assert push(47_775 * USD // 2) == Ok(TRUE)
    assert t.call("wallet_1", "oracle", "set-price", StringAscii("BTC-USD"), UInt(1)) == err(101)
    assert t.read("oracle", "get-price", StringAscii("ETH-USD")) == err(104)
    t.read("oracle", "get-latest", StringAscii("BTC-USD"))
    t.read("oracle", "get-config")


def test_every_restricted_function_refuses_the_wrong_principal(twin):
    t = twin
    someone = t.accounts["wallet_6"]
    sbtc = t.contracts.sbtc
    calls = [
        ("oracle", "set-price", [StringAscii("BTC-USD"), UInt(1)], 101),
        ("oracle", "queue-submitter", [someone], 100),
        ("oracle", "cancel-submitter", [], 111),
        ("oracle", "remove-submitter", [someone], 111),
        ("oracle", "queue-setting", [StringAscii("max-age"), UInt(1)], 100),
        ("oracle", "cancel-setting", [StringAscii("max-age")], 111),
        ("parameters", "queue-parameter", [StringAscii("min-duration"), UInt(144)], 200),
        ("parameters", "cancel-parameter", [StringAscii("min-duration")], 202),
        ("parameters", "queue-role", [StringAscii("admin"), someone], 200),
        ("parameters", "cancel-role", [StringAscii("admin")], 202),
        ("parameters", "init-guardian", [someone], 200),
        ("parameters", "shutdown", [], 202),
        (
            "liquidity-pool",
            "lock-for-policy",
            [sbtc, UInt(0), UInt(1), UInt(1), UInt(1), UInt(1)],
            401,
        ),
        ("liquidity-pool", "release-for-policy", [UInt(0), UInt(1), UInt(1), UInt(1)], 401),
        ("liquidity-pool", "pay-out", [sbtc, UInt(0), UInt(1), UInt(1), UInt(1), someone], 401),
        ("policy-registry", "queue-backend", [someone], 300),
        ("policy-registry", "cancel-backend", [], 340),
        ("policy-registry", "set-quote-pubkey", [Buffer(bytes(33))], 300),
        ("policy-registry", "queue-quote-pubkey", [Buffer(bytes(33))], 300),
        ("policy-registry", "cancel-quote-pubkey", [], 340),
        ("policy-registry", "zero-quote-pubkey", [], 340),
        ("policy-registry", "set-paused", [TRUE], 340),
        ("policy-registry", "set-paused", [FALSE], 300),
        ("sbtc-token", "mint", [UInt(1), someone], 4),
        ("sbtc-token", "transfer", [UInt(1), t.deployer, someone, NONE], 4),
    ]
    for contract, function, args, code in calls:
        for who in ("wallet_7", "wallet_8"):
            assert t.call(who, contract, function, *args) == err(code), (function, who)
    registry_only = ("lock-for-policy", "release-for-policy", "pay-out")
    for contract, function, args, code in calls:  # registry-only, even for the admin
        if function not in registry_only:
            continue
        assert t.call("deployer", contract, function, *args) == err(code)


def test_bridge_reads_data_vars_and_maps(twin, bridge):
    from chain.clarity import Some, deserialize

    t = twin
    count = bridge.request("var", contract="policy-registry", name="policy-count")
    assert deserialize(bytes.fromhex(count)) == UInt(0)
    key = QUOTE_KEY.public_key
    pubkey = bridge.request("var", contract="policy-registry", name="quote-pubkey")
    assert deserialize(bytes.fromhex(pubkey)) == Buffer(key)
    prices(t, 65_000 * USD, 50_000_000)
    feed = bridge.request("map", contract="oracle", name="feeds",
                          key=StringAscii("BTC-USD").serialize().hex())  # fmt: skip
    found = deserialize(bytes.fromhex(feed))
    assert isinstance(found, Some) and found.value["latest"] == UInt(t.burn)
    missing = bridge.request("map", contract="oracle", name="feeds",
                             key=StringAscii("ETH-USD").serialize().hex())  # fmt: skip
    assert missing is None or deserialize(bytes.fromhex(missing)) == NONE
