"""Adversarial edges of the contracts, in the Clarity VM and the Python models at once.

What test_vm_errors.py and test_conformance.py already cover is not repeated (paused purchase
u301, one unknown id u312, replay by the same buyer u305, dust deposits and zero-share u407).
Here: u128 limits on every amount a caller controls, dust payouts that truncate to nothing,
a quote id replayed by another user, ids no policy has (or had, in the same batch), and what a
pause does not stop. Every call runs through `Twin`, so both executors must agree on results,
events and balances; `None` from `Twin.call` means both aborted with a runtime error.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from chain.clarity import FALSE, NONE, TRUE, U128_MAX, Buffer, Err, List, Ok, StringAscii, UInt
from chain.protocol import expiry_on_grid
from chain.quotes import Quote, sign_quote
from tests.contracts.twin import QUOTE_KEY, Twin, trusting_twin

pytestmark = pytest.mark.clarity

USD = 100_000_000
STX = 1_000_000
BTC = 100_000_000
SPOT = 65_000 * USD
STX_PRICE = 50_000_000  # 0.50 USD


def err(code: int) -> Err:
    return Err(UInt(code))


@pytest.fixture
def t(bridge) -> Twin:
    twin = trusting_twin(bridge)
    assert set_price(twin, "BTC-USD", SPOT) == Ok(TRUE)
    assert set_price(twin, "STX-USD", STX_PRICE) == Ok(TRUE)
    return twin


def set_price(t: Twin, asset: str, price: int):
    return t.call("deployer", "oracle", "set-price", StringAscii(asset), UInt(price))


def deposit(t: Twin, who: str, token: int, tier: int, amount: int):
    sbtc = t.contracts.sbtc
    return t.call(who, "liquidity-pool", "deposit", sbtc, UInt(token), UInt(tier), UInt(amount))


def request(t: Twin, who: str, token: int, tier: int, shares: int):
    return t.call(who, "liquidity-pool", "request-withdraw", UInt(token), UInt(tier), UInt(shares))


def complete(t: Twin, who: str, token: int, tier: int):
    sbtc = t.contracts.sbtc
    return t.call(who, "liquidity-pool", "complete-withdraw", sbtc, UInt(token), UInt(tier))


def quote(t: Twin, buyer: str, quote_id: int, **terms: int) -> Quote:
    base = dict(
        buyer=t.accounts[buyer],
        amount=BTC // 10,
        strike=60_000 * USD,
        expiration=expiry_on_grid(t.burn, 144, 12960),
        premium=50 * STX,
        collateral=1_000 * STX,
        token=0,
        tier=1,
        quote_expiry=t.burn + 3,
        quote_id=quote_id,
        **t.quote_pins(),
    )
    return Quote(**{**base, **terms})  # type: ignore[arg-type]


def buy(t: Twin, sender: str, q: Quote, signature: bytes | None = None):
    sig = sign_quote(q, QUOTE_KEY) if signature is None else signature
    return t.call(
        sender, "policy-registry", "purchase-policy", q.to_clarity(), Buffer(sig), t.contracts.sbtc
    )


def settle(t: Twin, *ids: int, who: str = "deployer"):
    """Proves the fixings the expired policies need (as anyone settling would), then settles."""
    t.fix_policies(*ids, who=who)
    batch = List(tuple(UInt(i) for i in ids))
    return t.call(who, "policy-registry", "settle-policies", batch, t.contracts.sbtc)


def counts(settled: int = 0, expired: int = 0, deferred: int = 0, skipped: int = 0) -> Ok:
    from chain.clarity import Tuple

    return Ok(
        Tuple(
            {
                "settled": UInt(settled),
                "expired": UInt(expired),
                "deferred": UInt(deferred),
                "skipped": UInt(skipped),
            }
        )
    )


def policy(t: Twin, pid: int) -> dict[str, object]:
    found = t.read("policy-registry", "get-policy", UInt(pid))
    return {k: getattr(v, "value", v) for k, v in found.value.data.items()}


def tranche(t: Twin, token: int, tier: int) -> tuple[int, int, int]:
    v = t.read("liquidity-pool", "get-tranche", UInt(token), UInt(tier)).data
    return v["total-assets"].value, v["total-shares"].value, v["locked"].value


# --- u128 bounds ---------------------------------------------------------------------------------


def test_u128_max_in_every_caller_controlled_amount(t):
    # the oracle: a u128-max price overflows the cap's product, in the next block as after a
    # long silence (v2 never lifts the cap), and the feed carries on
    assert set_price(t, "BTC-USD", U128_MAX) == err(106)  # same block: refused before the cap
    t.mine_burn(1)
    assert set_price(t, "BTC-USD", U128_MAX) is None
    t.mine_burn(500)
    assert set_price(t, "BTC-USD", U128_MAX) is None
    assert t.read("oracle", "get-price", StringAscii("BTC-USD")).value["price"] == UInt(SPOT)
    assert set_price(t, "BTC-USD", SPOT) == Ok(TRUE)
    assert set_price(t, "STX-USD", STX_PRICE) == Ok(TRUE)  # fresh again for the purchases

    # the pool
    assert deposit(t, "wallet_1", 0, 1, U128_MAX) == err(1)  # more than anyone holds
    assert deposit(t, "wallet_1", 0, 1, 100_000 * STX) == Ok(UInt(100_000 * STX))
    assert deposit(t, "wallet_2", 0, 1, U128_MAX) is None  # amount * total-shares overflows
    assert request(t, "wallet_1", 0, 1, U128_MAX) == err(408)
    assert deposit(t, "wallet_1", U128_MAX, 1, 1) == err(402)
    assert deposit(t, "wallet_1", 0, U128_MAX, 1) == err(402)

    # the registry: a u128-max term is refused or aborts, never wraps
    assert buy(t, "wallet_3", quote(t, "wallet_3", 1, strike=U128_MAX)) is None
    assert buy(t, "wallet_3", quote(t, "wallet_3", 2, amount=U128_MAX)) == err(308)
    assert buy(t, "wallet_3", quote(t, "wallet_3", 3, expiration=U128_MAX)) == err(307)
    assert buy(t, "wallet_3", quote(t, "wallet_3", 4, premium=U128_MAX)) == err(1)
    # the chain locks max(quoted, computed) collateral: its capital charge overflows
    assert buy(t, "wallet_3", quote(t, "wallet_3", 5, collateral=U128_MAX)) is None
    assert buy(t, "wallet_3", quote(t, "wallet_3", 6, token=U128_MAX)) == err(306)
    assert buy(t, "wallet_3", quote(t, "wallet_3", 7, tier=U128_MAX)) == err(306)
    assert t.read("policy-registry", "get-policy-count") == UInt(0)
    for qid in range(1, 8):  # a refused or aborted purchase does not use its quote id
        assert t.read("policy-registry", "is-quote-used", UInt(qid)) == FALSE

    # the largest quote id and quote expiry are ordinary values
    q = quote(t, "wallet_3", U128_MAX, quote_expiry=U128_MAX)
    assert buy(t, "wallet_3", q) == Ok(UInt(1))
    assert t.read("policy-registry", "is-quote-used", UInt(U128_MAX)) == TRUE
    assert buy(t, "wallet_3", q) == err(305)

    # the token
    who = t.accounts["wallet_4"]
    assert t.call("deployer", "sbtc-token", "mint", UInt(U128_MAX), who) == Ok(TRUE)
    assert t.call("deployer", "sbtc-token", "mint", UInt(1), who) is None  # supply overflow
    to = t.accounts["wallet_5"]
    assert t.call("wallet_5", "sbtc-token", "transfer", UInt(U128_MAX), to, who, NONE) == err(1)
    t.assert_same_state(policies=1)


def test_an_oversized_policy_cannot_be_bought(t):
    """An admin who raises max-amount far enough once let a payout product overflow at
    settlement (v1: the whole batch aborted). v2 bounds what the admin may queue (max-amount
    at most 1e11 sats, u203), and computes `strike * amount` for the collateral at purchase, a
    bound on `(strike - price) * amount`, so such a policy never exists."""
    big = 2**100
    key = StringAscii("max-amount")
    assert t.call("deployer", "parameters", "queue-parameter", key, UInt(U128_MAX)) == err(203)
    assert deposit(t, "wallet_1", 0, 1, 100_000 * STX) == Ok(UInt(100_000 * STX))
    assert buy(t, "wallet_3", quote(t, "wallet_3", 1)) == Ok(UInt(1))
    assert buy(t, "wallet_3", quote(t, "wallet_3", 2, amount=big)) == err(308)
    expiry = policy(t, 1)["expiration"]
    t.mine_to(expiry - 10)  # the prices of the fixing's window
    assert set_price(t, "BTC-USD", 55_000 * USD) == Ok(TRUE)
    assert set_price(t, "STX-USD", STX_PRICE) == Ok(TRUE)
    t.mine_to(expiry)
    assert settle(t, 1, 2) == counts(settled=1, skipped=1)
    t.assert_same_state(policies=1)


# --- dust ----------------------------------------------------------------------------------------


def test_in_the_money_by_dust_expires_with_nothing_owed(t):
    assert deposit(t, "wallet_1", 0, 1, 500_000 * STX) == Ok(UInt(500_000 * STX))
    low = 55_000 * USD
    # 1 price unit below the strike on the smallest amount: (1 * 100000) / 1e8 = 0 USD units
    assert buy(t, "wallet_3", quote(t, "wallet_3", 1, strike=low + 1, amount=100_000)) == Ok(
        UInt(1)
    )
    # 1,000 price units on 1 BTC: 1,000 USD units, worth 1000 * 1e6 / 5e7 = 20 uSTX
    assert buy(t, "wallet_3", quote(t, "wallet_3", 2, strike=low + 1_000, amount=BTC)) == Ok(
        UInt(2)
    )
    # 49 price units on 1 BTC: 49 USD units, 49 * 1e6 / 5e7 = 0 uSTX
    assert buy(t, "wallet_3", quote(t, "wallet_3", 3, strike=low + 49, amount=BTC)) == Ok(UInt(3))
    # a dust premium is refused (v1 sold it): below the token's minimum premium
    dust = quote(t, "wallet_3", 4, premium=1, collateral=1)
    assert buy(t, "wallet_3", dust) == err(319)
    expiry = policy(t, 1)["expiration"]
    t.mine_to(expiry - 10)  # the prices of the fixing's window
    assert set_price(t, "BTC-USD", low) == Ok(TRUE)
    assert set_price(t, "STX-USD", STX_PRICE) == Ok(TRUE)
    t.mine_to(expiry)
    before = t.py.stx_balance(t.accounts["wallet_3"])
    assert settle(t, 1, 2, 3) == counts(settled=1, expired=2)
    assert [policy(t, i)["status"] for i in (1, 2, 3)] == [2, 1, 2]
    assert (policy(t, 1)["payout"], policy(t, 3)["payout"]) == (0, 0)
    assert policy(t, 2)["paid"] == 20
    assert t.py.stx_balance(t.accounts["wallet_3"]) == before + 20
    assert tranche(t, 0, 1)[2] == 0  # every collateral lock released
    t.assert_same_state(policies=3)


# --- quote replay across users -------------------------------------------------------------------


def test_a_quote_id_is_spent_for_every_user(t):
    assert deposit(t, "wallet_1", 0, 1, 100_000 * STX) == Ok(UInt(100_000 * STX))
    mine = quote(t, "wallet_3", 7)
    sig = sign_quote(mine, QUOTE_KEY)
    assert buy(t, "wallet_3", mine, sig) == Ok(UInt(1))
    # the same signed quote, sent by someone else
    assert buy(t, "wallet_5", mine, sig) == err(302)
    # the same terms re-addressed to another buyer under the first buyer's signature
    assert buy(t, "wallet_5", replace(mine, buyer=t.accounts["wallet_5"]), sig) == err(303)
    # a genuine quote for another buyer that reuses the id: the id is global, not per buyer
    theirs = quote(t, "wallet_5", 7, strike=61_000 * USD)
    assert buy(t, "wallet_5", theirs) == err(305)
    # and it stays spent after the policy is gone
    expiry = policy(t, 1)["expiration"]
    t.mine_to(expiry - 10)  # the prices of the fixing's window
    assert set_price(t, "BTC-USD", SPOT) == Ok(TRUE)
    assert set_price(t, "STX-USD", STX_PRICE) == Ok(TRUE)
    t.mine_to(expiry)
    assert settle(t, 1) == counts(expired=1)
    assert set_price(t, "BTC-USD", SPOT) == Ok(TRUE)  # fresh again for the next purchase
    assert set_price(t, "STX-USD", STX_PRICE) == Ok(TRUE)
    fresh = quote(t, "wallet_5", 7, quote_expiry=t.burn + 3)
    assert buy(t, "wallet_5", fresh) == err(305)
    assert buy(t, "wallet_5", replace(fresh, quote_id=8)) == Ok(UInt(2))
    t.assert_same_state(policies=2)


# --- ids without a policy ------------------------------------------------------------------------


def test_settlement_of_ids_that_are_not_policies(t):
    assert settle(t) == counts()  # an empty batch from the backend
    assert settle(t, 0, 1, U128_MAX) == counts(skipped=3)  # before any policy exists
    assert settle(t, *range(50)) == counts(skipped=50)
    assert deposit(t, "wallet_1", 0, 1, 100_000 * STX) == Ok(UInt(100_000 * STX))
    assert buy(t, "wallet_3", quote(t, "wallet_3", 1)) == Ok(UInt(1))
    expiry = policy(t, 1)["expiration"]
    t.mine_to(expiry - 10)  # the prices of the fixing's window
    assert set_price(t, "BTC-USD", 55_000 * USD) == Ok(TRUE)
    assert set_price(t, "STX-USD", STX_PRICE) == Ok(TRUE)
    t.mine_to(expiry)
    before = t.py.stx_balance(t.accounts["wallet_3"])
    # the same id twice in one batch pays once: the second sees it settled (u313)
    assert settle(t, 1, 1, 2, 0) == counts(settled=1, skipped=3)
    # (60,000 - 55,000) USD on 0.1 BTC = 500 USD = 1,000 STX at 0.50
    assert policy(t, 1)["paid"] == 1_000 * STX
    assert t.py.stx_balance(t.accounts["wallet_3"]) == before + 1_000 * STX
    assert settle(t, 1) == counts(skipped=1)
    assert settle(t, 1, who="wallet_3") == counts(skipped=1)  # anyone may settle; it is done
    t.assert_same_state(policies=1)


# --- what a pause stops --------------------------------------------------------------------------


def test_a_pause_stops_purchases_only_and_spends_no_quote(t):
    assert deposit(t, "wallet_1", 0, 1, 100_000 * STX) == Ok(UInt(100_000 * STX))
    assert buy(t, "wallet_3", quote(t, "wallet_3", 1)) == Ok(UInt(1))
    assert t.call("deployer", "policy-registry", "set-paused", TRUE) == Ok(TRUE)
    waiting = quote(t, "wallet_3", 2)
    assert buy(t, "wallet_3", waiting) == err(301)
    assert buy(t, "wallet_4", waiting) == err(301)  # the pause is checked before anything else
    assert t.read("policy-registry", "is-quote-used", UInt(2)) == FALSE
    # providers, the oracle and settlement carry on
    shares = 10 * STX * (100_000 * STX) // (100_050 * STX)  # the premium raised the share price
    assert deposit(t, "wallet_2", 0, 1, 10 * STX) == Ok(UInt(shares))
    assert isinstance(request(t, "wallet_2", 0, 1, shares), Ok)  # ready once policy 1 is settled
    expiry = policy(t, 1)["expiration"]
    t.mine_to(expiry - 10)  # the prices of the fixing's window
    assert set_price(t, "BTC-USD", 55_000 * USD) == Ok(TRUE)
    assert set_price(t, "STX-USD", STX_PRICE) == Ok(TRUE)
    t.mine_to(expiry)
    assert settle(t, 1) == counts(settled=1)
    got = t.read("liquidity-pool", "get-tranche", UInt(0), UInt(1)).data
    assets, total = got["total-assets"].value, got["total-shares"].value
    assert complete(t, "wallet_2", 0, 1) == Ok(UInt(shares * assets // total))  # its payout share
    # unpaused, the quote that waited is still good if it has not expired
    assert t.call("deployer", "policy-registry", "set-paused", FALSE) == Ok(TRUE)
    assert buy(t, "wallet_3", waiting) == err(304)  # 150 blocks later it has
    assert set_price(t, "BTC-USD", 55_000 * USD) == Ok(TRUE)  # fresh again for the purchase
    assert set_price(t, "STX-USD", STX_PRICE) == Ok(TRUE)
    fresh = quote(t, "wallet_3", 2, strike=50_000 * USD)  # out of the money at 55,000
    assert buy(t, "wallet_3", fresh) == Ok(UInt(2))
    t.assert_same_state(policies=2)


# --- the bounds SECURITY.md relies on ------------------------------------------------------------


def test_the_cap_bounds_each_block_not_each_push(t):
    """A submitter (the backend key) gets one observation per asset per burn block, each within
    `max-deviation-bps` per elapsed block of the last: walking the price down by half takes ten
    blocks of 5%-ish steps, not fourteen transactions in one block (v1, row F7)."""
    assert set_price(t, "BTC-USD", SPOT * 95 // 100) == err(106)
    price, blocks = SPOT, 0
    while price > SPOT // 2:
        t.mine_burn(1)
        blocks += 1
        step = -(-price * 95 // 100)  # 5% down, rounded up so as not to exceed the cap
        assert set_price(t, "BTC-USD", step - 1) == err(103)  # one unit beyond the cap
        assert set_price(t, "BTC-USD", step) == Ok(TRUE)
        assert set_price(t, "BTC-USD", step) == err(106)  # even an unchanged price
        price = step
    assert blocks == 14  # 0.95^14 = 0.49
    got = t.read("oracle", "get-price", StringAscii("BTC-USD")).value
    assert got["price"] == UInt(price) and got["height"] == UInt(t.burn)


def test_a_signed_quote_is_worth_at_most_its_collateral(t):
    """What a signed quote is worth. v1: collateral was only the lock, not a cap, so a quote
    the quote key should never have signed (in the money, dust premium and collateral) was paid
    65,000 STX out of the providers' assets. v2 refuses a premium below the intrinsic value, and
    a quote that clears it is paid what it cost, capped at the collateral the chain computed."""
    assert deposit(t, "wallet_1", 0, 1, 100_000 * STX) == Ok(UInt(100_000 * STX))
    q = quote(t, "wallet_3", 1, strike=SPOT * 3 // 2, amount=BTC, premium=1, collateral=1)
    assert buy(t, "wallet_3", q) == err(318)
    # 0.1 BTC at 97,500: 3,250 USD = 6,500 STX of intrinsic value; collateral 19,500 STX
    q = quote(t, "wallet_3", 2, strike=SPOT * 3 // 2, premium=6_500 * STX, collateral=1)
    assert buy(t, "wallet_3", q) == Ok(UInt(1))
    assert policy(t, 1)["collateral"] == 19_500 * STX
    expiry = policy(t, 1)["expiration"]
    t.mine_to(expiry - 10)  # the prices of the fixing's window
    assert set_price(t, "BTC-USD", SPOT) == Ok(TRUE)  # the price never moved
    assert set_price(t, "STX-USD", STX_PRICE) == Ok(TRUE)
    t.mine_to(expiry)
    assert settle(t, 1) == counts(settled=1)
    assert policy(t, 1)["paid"] == 6_500 * STX  # the premium back: the providers lost nothing
    assert tranche(t, 0, 1) == (100_000 * STX, 100_000 * STX, 0)
    t.assert_same_state(policies=1)
