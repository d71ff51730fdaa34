"""Issue 11's attack rows as tests, in the Clarity VM and the Python models at once.

Every call runs through `Twin`, so both executors give the same results, events and balances;
each test asserts the victim's loss is 0 under protocol v2 and says in its docstring what the
same moves got on the v1 contracts (measured by replaying the moves, with v1's set-locked where
the row needs it, on the v1 contracts and models of commit 1d99fb1 through v1's own Twin).

One section per row (or group of rows), each in its own class: the oracle's F7 and role checks,
then the pool's and the registry's F1, F4, F5, F15 and the part of F8 the allowances bound.
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from chain.clarity import FALSE, NONE, TRUE, Buffer, Err, List, Ok, StringAscii, UInt
from chain.keys import PrivateKey
from chain.protocol import expiry_on_grid
from chain.quotes import DEVNET_DOMAIN, Quote, sign_quote
from sim.clarity_vm import BridgeError, call_request
from sim.models.registry import Registry
from tests.contracts.relay import (
    DRAIN_SBTC,
    DRAIN_STX,
    DrainSbtc,
    DrainStx,
    deploy_relay,
    hostile_token_source,
)
from tests.contracts.twin import QUOTE_KEY, Twin, trusting_twin

pytestmark = pytest.mark.clarity

USD = 100_000_000  # price units per USD
STX = 1_000_000  # uSTX per STX
BTC = 100_000_000  # sats per BTC
BTC_USD = StringAscii("BTC-USD")
CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def err(code: int) -> Err:
    return Err(UInt(code))


@pytest.fixture
def t(bridge) -> Twin:
    twin = trusting_twin(bridge)
    assert prices(twin, 65_000 * USD, 50_000_000)
    return twin


def prices(t: Twin, btc: int, stx: int) -> bool:
    return all(
        t.call("deployer", "oracle", "set-price", StringAscii(asset), UInt(p)) == Ok(TRUE)
        for asset, p in (("BTC-USD", btc), ("STX-USD", stx))
    )


def crash(t: Twin, btc: int, stx: int) -> None:
    """Both prices down to their targets as fast as the v2 oracle lets any submitter move them:
    at most -50% a push (max-jump), pushes ten burn blocks apart (where the time-scaled cap
    reaches max-jump), both assets in each push so that both are fresh at the end."""
    latest = (t.read("oracle", "get-price", StringAscii(a)).value["price"].value for a in
              ("BTC-USD", "STX-USD"))  # fmt: skip
    b, s = latest
    assert btc <= b and stx <= s
    while True:
        b, s = max(btc, -(-b // 2)), max(stx, -(-s // 2))
        assert prices(t, b, s)
        if (b, s) == (btc, stx):
            return
        t.mine_burn(10)


def deposit(t: Twin, who: str, amount: int, tier: int = 1):
    return t.call(
        who, "liquidity-pool", "deposit", t.contracts.sbtc, UInt(0), UInt(tier), UInt(amount)
    )


def request(t: Twin, who: str, shares: int, tier: int = 1):
    """Step 1 of a withdrawal: `(ok ready-at)`."""
    return t.call(who, "liquidity-pool", "request-withdraw", UInt(0), UInt(tier), UInt(shares))


def complete(t: Twin, who: str, tier: int = 1):
    """Step 2: the whole pending balance at this moment's share price."""
    return t.call(who, "liquidity-pool", "complete-withdraw", t.contracts.sbtc, UInt(0), UInt(tier))


def withdraw(t: Twin, who: str, shares: int, tier: int = 1):
    """Both steps at once: the request's refusal, or the completion's result (a completion
    that is not ready yet answers u416 and leaves the shares pending)."""
    asked = request(t, who, shares, tier)
    return asked if isinstance(asked, Err) else complete(t, who, tier)


def buy(t: Twin, buyer: str, quote_id: int, **terms: int):
    q, sig = signed(t, buyer, quote_id, **terms)
    return submit(t, buyer, q, sig)


def signed(t: Twin, buyer: str, quote_id: int, **terms) -> tuple[Quote, Buffer]:
    """A quote for `buyer` on these terms (v2: pinned to the registry, spot and the minute),
    signed by the quote key under the simnet's SIP-018 domain."""
    base = dict(
        buyer=t.accounts[buyer],
        amount=BTC // 10,
        strike=60_000 * USD,
        expiration=grid(t, 144),
        premium=100 * STX,
        collateral=1,
        token=0,
        tier=1,
        quote_expiry=t.burn + 3,
        quote_id=quote_id,
        **t.quote_pins(),
    )
    q = Quote(**{**base, **terms})  # type: ignore[arg-type]
    return q, Buffer(sign_quote(q, QUOTE_KEY))


def submit(t: Twin, buyer: str, q: Quote, sig: Buffer, registry: str = "policy-registry"):
    return t.call(buyer, registry, "purchase-policy", q.to_clarity(), sig, t.contracts.sbtc)


def mine_to(t: Twin, height: int) -> None:
    t.mine_to(height)


def grid(t: Twin, blocks: int) -> int:
    """The first expiry-grid point at least `blocks` ahead: the only expirations one can buy."""
    return expiry_on_grid(t.burn, blocks, 12960)


def fix(t: Twin, asset: str, expiry: int, who: str = "deployer"):
    return t.fix(asset, expiry, who)


def settle_only(t: Twin, *ids: int, who: str = "deployer"):
    batch = List(tuple(UInt(i) for i in ids))
    return t.call(who, "policy-registry", "settle-policies", batch, t.contracts.sbtc)


def settle(t: Twin, *ids: int, who: str = "deployer"):
    """What anyone settling does: prove the fixings the expired policies need, then settle."""
    t.fix_policies(*ids, who=who)
    return settle_only(t, *ids, who=who)


def tranche(t: Twin, tier: int = 1) -> tuple[int, int, int]:
    v = t.read("liquidity-pool", "get-tranche", UInt(0), UInt(tier)).data
    return v["total-assets"].value, v["total-shares"].value, v["locked"].value


def policy(t: Twin, pid: int) -> dict[str, int]:
    found = t.read("policy-registry", "get-policy", UInt(pid)).value.data
    return {k: getattr(v, "value", v) for k, v in found.items()}


def shares(t: Twin, who: str, tier: int = 1) -> int:
    got = t.read("liquidity-pool", "get-shares", UInt(0), UInt(tier), t.accounts[who])
    return got.value


def free_shares(t: Twin, who: str, tier: int = 1) -> int:
    """The most a provider can withdraw now: its shares, or the free assets' worth of them."""
    assets, total, locked = tranche(t, tier)
    return min(shares(t, who, tier), (assets - locked) * total // assets)


def owed(t: Twin, pid: int, btc: int, stx: int) -> int:
    """What the v2 promise owes a settled STX policy: min(claim at these prices, collateral)."""
    p = policy(t, pid)
    usd = (p["strike"] - btc) * p["amount"] // USD if p["strike"] > btc else 0
    return min(usd * STX // stx, p["collateral"])


# --- the oracle: F7, and its role checks on contract-caller (property 7) ----------------------


def put_payout_usd(strike: int, price: int, amount: int) -> int:
    """A put's payout in price units (PROTOCOL.md): what a settlement at `price` pays."""
    return max(0, strike - price) * amount // BTC


class TestOracleF7CapWithinOneBurnBlock:
    """Row F7: a compromised submitter key walks the price down within one burn block, so a
    settlement (or a fixing) reading that height pays as if BTC had crashed."""

    START = 68_250 * USD

    def push(self, t: Twin, price: int):
        return t.call("deployer", "oracle", "set-price", BTC_USD, UInt(price))

    def attack(self, t: Twin) -> list[int]:
        """24 pushes of -5% each (rounded up, so each is within v1's per-push cap); returns the
        prices the oracle accepted."""
        price, accepted = self.START, []
        for _ in range(24):
            step = -(-price * 95 // 100)
            if self.push(t, step) == Ok(TRUE):
                price = step
                accepted.append(step)
        return accepted

    def victim_loss_usd(self, t: Twin, floor: int) -> int:
        """What a 1-BTC put struck at the start price, settled at the price stored at this
        height, pays beyond the lowest price the cap allows here: the provider's loss to the
        attack (an honest crash within the cap is the risk the provider sold)."""
        got = t.read("oracle", "get-price", BTC_USD).value
        assert got["height"] == UInt(t.burn)
        at_height = got["price"].value
        return put_payout_usd(self.START, at_height, BTC) - put_payout_usd(self.START, floor, BTC)

    def test_24_pushes_in_the_block_of_the_last_observation(self, bridge):
        """v1 (measured on main's oracle.clar in simnet): all 24 accepted, 68,250 -> 19,928.25
        USD at burn height 2, so a 1-BTC put struck at 68,250 paid 48,321.75 USD instead of at
        most 3,412.50 (the 5% cap): the provider lost 44,909.25 USD. v2: one observation per
        burn block, every push of the attack refused (u106), the price stays 68,250."""
        t = Twin(bridge)
        assert self.push(t, self.START) == Ok(TRUE)
        assert self.attack(t) == []
        assert self.push(t, self.START // 2) == err(106)
        assert self.victim_loss_usd(t, floor=self.START) <= 0
        t.read("oracle", "get-latest", BTC_USD)

    def test_24_pushes_in_the_next_block(self, bridge):
        """The same attack one block after the last honest observation. v1: as above (all 24
        accepted). v2: the first -5% is accepted (the cap for one elapsed block), the other 23
        are refused; the price at that height is 64,837.50, the lowest the cap allows."""
        t = Twin(bridge)
        assert self.push(t, self.START) == Ok(TRUE)
        t.mine_burn(1)
        floor = -(-self.START * (10_000 - 500) // 10_000)
        assert self.attack(t) == [floor]
        assert self.victim_loss_usd(t, floor) == 0

    def test_silence_does_not_lift_the_cap(self, bridge):
        """v1 lifted the cap once the last price was `max-age` (6) blocks old: any price, e.g.
        68,250 -> 19,928 in one push. v2: after 100 silent blocks the move is still capped at
        `max-jump-bps` (50%)."""
        t = Twin(bridge)
        assert self.push(t, self.START) == Ok(TRUE)
        t.mine_burn(100)
        assert self.push(t, 19_928 * USD) == err(103)
        half = self.START // 2
        assert self.push(t, half - 1) == err(103)
        assert self.push(t, half) == Ok(TRUE)
        assert self.victim_loss_usd(t, floor=half) == 0


class TestOracleRolesOnContractCaller:
    """Property 7 for the oracle: a role key that calls some other contract lends it no
    authority. The attacker deploys the relay (tests/contracts/relay.py) and lures the key into
    calling it; the relay calls the oracle as itself."""

    def test_a_submitter_calling_a_contract_lends_it_no_price_push(self, bridge):
        """v1 (measured on main's oracle.clar with this relay): `(ok true)`, the relay stored
        a price of 1 unit as the submitter. v2: u101, nothing stored."""
        t = Twin(bridge)
        deploy_relay(t)
        assert t.call("deployer", "relay", "set-price", BTC_USD, UInt(1)) == err(101)
        assert t.read("oracle", "get-price", BTC_USD) == err(104)
        assert t.call("deployer", "oracle", "set-price", BTC_USD, UInt(65_000 * USD)) == Ok(TRUE)
        t.mine_burn(1)
        assert t.call("deployer", "relay", "set-price", BTC_USD, UInt(62_000 * USD)) == err(101)
        assert t.read("oracle", "get-price", BTC_USD).value["price"] == UInt(65_000 * USD)

    def test_an_admin_calling_a_contract_lends_it_no_submitter(self, bridge):
        """v1: `(ok true)`, the relay made wallet_7 a submitter as the admin. v2: u100."""
        t = Twin(bridge)
        wallet_7 = t.accounts["wallet_7"]
        deploy_relay(t)
        assert t.call("deployer", "relay", "add-submitter", wallet_7) == err(100)
        assert t.read("oracle", "is-submitter", wallet_7) == FALSE

    def test_a_contract_the_admin_names_as_submitter_is_one(self, bridge):
        """The check is on the direct caller, not on keys: a contract the admin makes a
        submitter pushes for whoever calls it (so the admin must only name audited ones)."""
        t = Twin(bridge)
        relay = deploy_relay(t)
        assert t.call("deployer", "oracle", "queue-submitter", relay) == Ok(UInt(t.burn + DELAY))
        t.mine_burn(DELAY)
        assert t.call("wallet_7", "oracle", "apply-submitter") == Ok(TRUE)
        assert t.call("wallet_7", "relay", "set-price", BTC_USD, UInt(USD)) == Ok(TRUE)
        assert t.call("wallet_7", "oracle", "set-price", BTC_USD, UInt(USD)) == err(101)


# --- F1: providers withdraw between a crash (an in-the-money expiry) and settlement ----------


class TestF1ProvidersLeaveBeforeSettlement:
    """Row F1 (pool and registry slice), under two-step withdrawals."""

    def test_the_buyer_is_paid_in_full_up_to_the_cap_whoever_withdraws_first(self, t):
        """v1 (measured, these moves on the v1 contracts): a 40,200 STX tranche, 11,160 STX
        locked, 32,000 owed after the crash; the providers withdrew 20,100 and 8,939.999999 STX,
        the backend's set-locked(55,800) failed u412 (required > assets), and the buyer was paid
        11,160.000001 of the 32,000 its policy said it was owed: a loss of 20,839.999999 STX.

        v2: the policy's collateral (11,160 STX: 0.09 BTC x 62,000 at 0.50) is computed on chain
        and is its cap. Between the expiry and the settlement nobody enters or leaves the
        tranche (u414: an expired policy is unsettled); a request made before the expiry is
        ready only at it and still cannot complete before the settlement. The buyer is owed
        and paid min(32,000, 11,160) = 11,160: loss 0, and the providers then leave alike.
        """
        assert deposit(t, "wallet_1", 20_000 * STX) == Ok(UInt(20_000 * STX))
        assert deposit(t, "wallet_2", 20_000 * STX) == Ok(UInt(20_000 * STX))
        terms = dict(amount=9 * BTC // 100, strike=62_000 * USD, premium=200 * STX)
        assert buy(t, "wallet_3", 1, **terms) == Ok(UInt(1))
        assert tranche(t) == (40_200 * STX, 40_000 * STX, 11_160 * STX)
        expiry = policy(t, 1)["expiration"]
        mine_to(t, expiry - 40)
        # BTC to 26,444.44 and STX to 0.10 before the fixing's window: 3,200 USD = 32,000
        # STX of intrinsic value at the fixings
        btc, stx = 2_644_444_444_444, 10_000_000
        crash(t, btc, stx)
        mine_to(t, expiry)  # the expiry passes, unsettled
        # the race: both try to leave with everything before the settlement
        assert withdraw(t, "wallet_1", shares(t, "wallet_1")) == err(414)
        assert withdraw(t, "wallet_2", 1) == err(414)
        assert deposit(t, "wallet_4", 100_000 * STX) == err(414)  # nor a fresh entry
        assert tranche(t) == (40_200 * STX, 40_000 * STX, 11_160 * STX)
        buyer = t.accounts["wallet_3"]
        before = t.py.stx_balance(buyer)
        assert settle(t, 1, who="wallet_5").value["settled"] == UInt(1)  # anyone may settle
        paid = t.py.stx_balance(buyer) - before
        p = policy(t, 1)
        assert p["payout"] == p["paid"] == owed(t, 1, btc, stx) == 11_160 * STX
        assert paid == p["paid"]
        assert owed(t, 1, btc, stx) - p["paid"] == 0  # the victim's loss
        assert tranche(t) == (29_040 * STX, 40_000 * STX, 0)
        for who in ("wallet_1", "wallet_2"):  # then both leave at the same price
            assert withdraw(t, who, shares(t, who)) == Ok(UInt(14_520 * STX))
        t.assert_same_state(policies=1)


# --- F2: the provider who leaves first takes the stayer's share ---------------------------------


class TestF2FirstToLeaveGetsNoBetterPrice:
    """Row F2: the same race, seen from the provider who stays."""

    def test_an_early_request_completes_after_settlement_at_the_stayers_price(self, t):
        """v1 (the issue's table, measured on the v1 contracts): the provider who left first
        got 20,100 STX and the one who stayed 7,300 (fair: 13,700 each).

        v2: the leaver's request, made right after the purchase (before the crash), is ready at
        the policy's expiry; its pending shares keep sharing the payout; it completes after the
        settlement at the share price of that moment. Both get 14,520 STX: the stayer's loss
        against the leaver is 0."""
        assert deposit(t, "wallet_1", 20_000 * STX) == Ok(UInt(20_000 * STX))
        assert deposit(t, "wallet_2", 20_000 * STX) == Ok(UInt(20_000 * STX))
        terms = dict(amount=9 * BTC // 100, strike=62_000 * USD, premium=200 * STX)
        assert buy(t, "wallet_3", 1, **terms) == Ok(UInt(1))
        expiration = policy(t, 1)["expiration"]
        ready = request(t, "wallet_1", 20_000 * STX)
        assert isinstance(ready, Ok) and ready.value.value >= expiration
        assert complete(t, "wallet_1") == err(416)  # not before the expiry
        mine_to(t, expiration - 40)
        btc, stx = 2_644_444_444_444, 10_000_000
        crash(t, btc, stx)  # before the fixing's window
        mine_to(t, expiration)
        assert complete(t, "wallet_1") == err(414)  # nor between expiry and settlement
        assert settle(t, 1).value["settled"] == UInt(1)
        assert policy(t, 1)["paid"] == owed(t, 1, btc, stx)  # the buyer's loss: 0
        left = complete(t, "wallet_1")
        stayed = withdraw(t, "wallet_2", shares(t, "wallet_2"))
        assert left == stayed == Ok(UInt(14_520 * STX))  # the stayer's loss: 0
        t.assert_same_state(policies=1)

    def test_purchases_may_not_use_the_value_of_pending_shares(self, t):
        """v2 only (v1 had no pending shares): 15,000 of a provider's 20,000 shares pending
        leave 5,050 STX for purchases, so a policy locking 11,160 is refused u415 although the
        utilisation cap would allow it; cancelling is not possible, completing frees it."""
        assert deposit(t, "wallet_1", 20_000 * STX) == Ok(UInt(20_000 * STX))
        assert isinstance(request(t, "wallet_1", 15_000 * STX), Ok)
        terms = dict(amount=9 * BTC // 100, strike=62_000 * USD, premium=200 * STX)
        assert buy(t, "wallet_3", 1, **terms) == err(415)
        assert complete(t, "wallet_1") == Ok(UInt(15_000 * STX))
        assert buy(t, "wallet_3", 2, amount=2 * BTC // 100, strike=62_000 * USD) == Ok(UInt(1))
        t.assert_same_state(policies=1)


# --- F3: a just-in-time deposit around a purchase -----------------------------------------------


class TestF3JustInTimeDepositCarriesTheRisk:
    """Row F3: a large deposit just before a purchase, withdrawn right after."""

    def test_the_jit_depositor_stays_until_settlement_and_gets_the_passive_price(self, t):
        """v1 (the issue's table, measured on the v1 contracts): a 900k STX deposit just before
        a purchase, withdrawn right after, took +4,500 of the 5,000 STX premium, risk free, in
        two blocks.

        v2: the withdrawal requested right after the purchase is ready only at the policy's
        expiry (u416 before it, u414 after it until the settlement), so the depositor carries
        the policy's risk to its end. Here the policy ends in the money: the 12,000 STX payout
        falls on both providers pro rata, and the depositor gets exactly the passive provider's
        price per share. The passive provider's loss against it: 0."""
        assert deposit(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))
        assert deposit(t, "wallet_2", 900_000 * STX) == Ok(UInt(900_000 * STX))
        assert buy(t, "wallet_3", 1, premium=5_000 * STX) == Ok(UInt(1))
        assert isinstance(request(t, "wallet_2", 900_000 * STX), Ok)
        t.mine_burn(1)
        assert complete(t, "wallet_2") == err(416)  # v1 left here with +4,500 STX
        expiration = policy(t, 1)["expiration"]
        mine_to(t, expiration - 40)
        crash(t, 2_644_444_444_444, 10_000_000)  # before the fixing's window
        mine_to(t, expiration)
        assert complete(t, "wallet_2") == err(414)
        assert settle(t, 1).value["settled"] == UInt(1)
        assert policy(t, 1)["paid"] == 12_000 * STX
        assets, total, _ = tranche(t)
        assert assets == 933_000 * STX
        jit = complete(t, "wallet_2")
        assert jit == Ok(UInt(900_000 * STX * assets // total))  # carried 900/940 of the payout
        assert jit.value.value < 900_000 * STX  # no risk-free premium
        left = tranche(t)[0]
        fair = 40_000 * STX * 933_000 // 940_000  # the same price per share, rounded down
        assert withdraw(t, "wallet_1", 40_000 * STX) == Ok(UInt(left))
        assert fair <= left <= fair + 1  # the jit's truncation stays in the tranche
        t.assert_same_state(policies=1)

    def test_a_request_before_the_purchase_gets_none_of_its_premium(self, t):
        """v2's first draft let this variant through: the depositor asks to leave *before* the
        purchase (nothing unsettled then, so its request is ready at once); the purchase cannot
        use its pending value (u415 reserve) but fits in the passive provider's capital; the
        pending shares then shared the 5,000 STX premium and left in the next block with about
        4,787 STX of it and none of the risk. Now a completion pays at most what the shares
        were worth at the request: the depositor leaves with its 900,000 STX, the premium stays
        with the provider who backs the policy."""
        assert deposit(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))
        assert deposit(t, "wallet_2", 900_000 * STX) == Ok(UInt(900_000 * STX))
        assert request(t, "wallet_2", 900_000 * STX) == Ok(UInt(t.burn))  # ready at once
        assert buy(t, "wallet_3", 1, premium=5_000 * STX) == Ok(UInt(1))
        assert complete(t, "wallet_2") == Ok(UInt(900_000 * STX))  # no premium, no risk
        assert tranche(t) == (45_000 * STX, 40_000 * STX, 12_000 * STX)  # all of it backs
        t.assert_same_state(policies=1)


# --- property 8: epochs and the last shares ------------------------------------------------------


WIPED = 11_600 * STX + 1  # a tier-2 deposit that wipe_out's policy takes all but 1 uSTX of


def wipe_out(t: Twin, quote_id: int, spot: int, stx: int = 50_000_000) -> None:
    """Tier 2's whole assets but 1 uSTX (a deposit of WIPED plus the premium) locked for one
    at-the-money policy of 0.1 BTC (its on-chain collateral: 11,700 STX), then BTC and STX
    halve and the settlement pays the whole collateral: the tranche keeps 1 uSTX for all its
    shares. (max-utilisation-2 is raised to 10,000 bps first: the default 8,500 keeps 15%.)"""
    key = StringAscii("max-utilisation-2")
    if t.read("parameters", "get-parameter", key) != Ok(UInt(10_000)):  # queued, a week later
        queued = t.call("deployer", "parameters", "queue-parameter", key, UInt(10_000))
        mine_to(t, queued.value.value)
        assert t.call("wallet_5", "parameters", "apply-parameter", key) == Ok(TRUE)
    assets, _, _ = tranche(t, 2)
    premium = 100 * STX
    seen = t.read("oracle", "get-price", StringAscii("STX-USD")).value["height"].value
    if seen < t.burn:  # the purchase needs a token price at most price-max-age old
        assert prices(t, spot, stx)
    terms = dict(strike=spot, premium=premium, tier=2, collateral=assets + premium - 1)
    pid = buy(t, "wallet_3", quote_id, **terms)
    assert isinstance(pid, Ok)
    expiration = policy(t, pid.value.value)["expiration"]
    mine_to(t, expiration - 10)  # in force over the whole fixing window
    assert prices(t, spot // 2, stx // 2)
    mine_to(t, expiration)
    assert settle(t, pid.value.value).value["settled"] == UInt(1)
    assert tranche(t, 2)[0] == 1


class TestEpochs:
    """Property 8: share counts stay bounded and no holder keeps a wiped tranche closed."""

    def test_deposits_after_two_near_total_wipeouts_stay_bounded(self, t):
        """v1 (the issue's text, measured on the v1 contracts): after two near-total wipeouts,
        5M STX of deposits minted 2.5e32 shares and withdrawing half aborted on u128 overflow.

        v2: each wipeout leaves total-shares > 10^6 x total-assets with no unsettled policy, so
        the next deposit opens a new epoch at one share per uSTX; the 5M STX mint 5e12 shares,
        half of them withdraw, and the old holders take what their epochs left."""
        assert deposit(t, "wallet_1", WIPED, tier=2) == Ok(UInt(WIPED))
        wipe_out(t, 1, 65_000 * USD)
        assert deposit(t, "wallet_2", WIPED, tier=2) == Ok(UInt(WIPED))
        assert t.read("liquidity-pool", "get-vault", UInt(0), UInt(2)).data["epoch"] == UInt(1)
        wipe_out(t, 2, 32_500 * USD, stx=25_000_000)
        big = 5_000_000 * STX
        assert deposit(t, "wallet_4", big, tier=2) == Ok(UInt(big))
        assets, total, _ = tranche(t, 2)
        assert (assets, total) == (big, big) and total <= 10**6 * assets
        assert withdraw(t, "wallet_4", big // 2, tier=2) == Ok(UInt(big // 2))
        for who in ("wallet_1", "wallet_2"):  # each epoch left 1 uSTX to its only holder
            assert withdraw(t, who, shares(t, who, 2), tier=2) == Ok(UInt(1))
        t.assert_same_state(policies=2)

    def test_a_holder_who_never_burns_cannot_keep_the_tranche_closed(self, t):
        """v1 (the issue's text): a wiped-out tranche refused deposits (u406) until every holder
        had withdrawn, so one holder who never burnt kept it closed forever.

        v2: the next deposit opens a new epoch while the old holder still holds its shares;
        those are worth what the old epoch left (1 uSTX) and nothing in the new one, and the
        old holder may deposit again only once it has taken them (u419)."""
        assert deposit(t, "wallet_1", WIPED, tier=2) == Ok(UInt(WIPED))
        wipe_out(t, 1, 65_000 * USD)
        assert deposit(t, "wallet_2", 500 * STX, tier=2) == Ok(UInt(500 * STX))
        assert tranche(t, 2) == (500 * STX, 500 * STX, 0)
        assert deposit(t, "wallet_1", 500 * STX, tier=2) == err(419)
        assert withdraw(t, "wallet_1", WIPED, tier=2) == Ok(UInt(1))
        assert deposit(t, "wallet_1", 500 * STX, tier=2) == Ok(UInt(500 * STX))
        assert tranche(t, 2) == (1_000 * STX, 1_000 * STX, 0)
        t.assert_same_state(policies=1)


class TestLastShares:
    """A tranche's last shares cannot leave while a policy they back is unsettled."""

    def test_the_only_provider_leaves_only_after_its_policy_is_settled(self, t):
        """v1 (measured in the issue's F1 moves): the only provider could withdraw everything
        above a lock the backend had not raised yet. v2: its request of all its shares is
        ready at the policy's expiry, refused between expiry and settlement (u414), and after
        the settlement pays all that is left."""
        assert deposit(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))
        assert buy(t, "wallet_3", 1) == Ok(UInt(1))
        assert isinstance(request(t, "wallet_1", 40_000 * STX), Ok)
        assert complete(t, "wallet_1") == err(416)
        expiration = policy(t, 1)["expiration"]
        mine_to(t, expiration - 10)
        assert prices(t, 65_000 * USD, 50_000_000)
        mine_to(t, expiration)
        assert complete(t, "wallet_1") == err(414)
        assert settle(t, 1).value["expired"] == UInt(1)
        assert complete(t, "wallet_1") == Ok(UInt(40_100 * STX))
        assert tranche(t) == (0, 0, 0)
        t.assert_same_state(policies=1)


# --- F6: the settlement price chosen by when the backend settles -------------------------------


def recover(t: Twin, btc: int, stx: int) -> None:
    """Both prices up to their targets as fast as the oracle lets a submitter (+50% a push,
    pushes ten burn blocks apart), as after a crash that reverted."""
    b, s = (t.read("oracle", "get-price", StringAscii(a)).value["price"].value
            for a in ("BTC-USD", "STX-USD"))  # fmt: skip
    while (b, s) != (btc, stx):
        b, s = min(btc, b * 3 // 2), min(stx, s * 3 // 2)
        assert prices(t, b, s)
        if (b, s) != (btc, stx):
            t.mine_burn(10)


def fixing(t: Twin, asset: str, expiry: int) -> dict[str, int]:
    found = t.read("oracle", "get-fixing", StringAscii(asset), UInt(expiry)).value.data
    return {k: getattr(v, "value", v) for k, v in found.items()}


class TestF6SettlementPriceDependsOnTheExpirationAlone:
    """Row F6: the price a settlement uses, and so the payout, must not depend on when (or by
    whom) the policy is settled, nor on anything pushed after the expiration."""

    BTC, STX_PRICE = 2_644_444_444_444, 10_000_000  # 26,444.44 USD and 0.10 USD at the crash
    OWED = 11_160 * STX  # min(32,000 STX of claim, 11,160 STX of collateral)

    def bought_then_crashed(self, t: Twin) -> int:
        """A provider, a policy (0.09 BTC struck at 62,000, paid in STX), a crash before the
        fixing's window; returns the expiration."""
        assert deposit(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))
        terms = dict(amount=9 * BTC // 100, strike=62_000 * USD, premium=200 * STX)
        assert buy(t, "wallet_3", 1, **terms) == Ok(UInt(1))
        expiry = policy(t, 1)["expiration"]
        assert expiry % 144 == 0
        mine_to(t, expiry - 40)
        crash(t, self.BTC, self.STX_PRICE)
        mine_to(t, expiry)
        return expiry

    @pytest.mark.parametrize("late", [300, 450])
    def test_in_the_money_at_expiry_settled_late_after_a_recovery_is_paid_in_full(self, t, late):
        """v1 (the issue's row F6, measured in the VM by the adversarial review): policies in
        the money at expiry, settled 300-450 blocks later when the price had recovered, were
        paid 0: v1 settled at whichever fresh price existed when the backend got round to it.

        v2: the price recovers to 70,000 USD and 0.50 STX after the expiration; the buyer
        itself settles `late` blocks after it (it proves the fixings, then settles) and is paid
        the 11,160 STX the fixings owe: a loss of 0."""
        expiry = self.bought_then_crashed(t)
        t.mine_burn(5)
        recover(t, 70_000 * USD, 50_000_000)
        mine_to(t, expiry + late)
        assert prices(t, 70_000 * USD, 50_000_000)  # fresh, recovered prices at settlement
        buyer = t.accounts["wallet_3"]
        before = t.py.stx_balance(buyer)
        assert settle(t, 1, who="wallet_3").value["settled"] == UInt(1)
        p = policy(t, 1)
        assert p["price"] == fixing(t, "BTC-USD", expiry)["price"] == self.BTC
        assert p["paid"] == t.py.stx_balance(buyer) - before == self.OWED
        assert owed(t, 1, self.BTC, self.STX_PRICE) - p["paid"] == 0  # the victim's loss
        assert tranche(t)[2] == 0
        t.assert_same_state(policies=1)

    def test_a_fixing_proven_right_at_expiry_is_the_one_proven_after_later_pushes(self, t):
        """Two runs of the same moves must agree: here the BTC fixing is proven at E by a
        keeper, the STX one only after the recovery's pushes; both equal the window's
        prices, and a second `fix` returns the stored record unchanged."""
        expiry = self.bought_then_crashed(t)
        assert isinstance(fix(t, "BTC-USD", expiry, who="wallet_6"), Ok)
        btc = fixing(t, "BTC-USD", expiry)
        t.mine_burn(1)
        recover(t, 70_000 * USD, 50_000_000)
        assert isinstance(fix(t, "STX-USD", expiry, who="wallet_7"), Ok)
        assert fix(t, "BTC-USD", expiry) == Ok(
            t.read("oracle", "get-fixing", BTC_USD, UInt(expiry)).value
        )
        assert fixing(t, "BTC-USD", expiry) == btc
        assert (btc["price"], fixing(t, "STX-USD", expiry)["price"]) == (self.BTC, self.STX_PRICE)
        assert settle(t, 1, who="wallet_5").value["settled"] == UInt(1)
        assert policy(t, 1)["paid"] == self.OWED
        t.assert_same_state(policies=1)

    def test_without_a_stored_fixing_the_policy_waits(self, t):
        """`settle-policies` reads stored fixings only: with none it defers (u322 for BTC-USD,
        u323 for the token's STX-USD), moves nothing and can be retried by anyone."""
        expiry = self.bought_then_crashed(t)
        got = settle_only(t, 1)
        assert got.value["deferred"] == UInt(1)
        assert tranche(t)[2] == self.OWED  # still locked for the policy
        assert isinstance(fix(t, "BTC-USD", expiry), Ok)
        assert settle_only(t, 1).value["deferred"] == UInt(1)  # u323: no STX fixing yet
        assert isinstance(fix(t, "STX-USD", expiry), Ok)
        assert settle_only(t, 1).value["settled"] == UInt(1)
        assert policy(t, 1)["paid"] == self.OWED
        t.assert_same_state(policies=1)

    def test_a_stale_fixing_is_flagged_and_still_used(self, t):
        """No observation in the window (the feed fell silent 20 blocks before E): the fixing
        is the last price in force, flagged stale, and the policy is paid at it."""
        expiry = self.bought_then_crashed(t)  # the crash's last pushes: 20 blocks before E
        t.mine_burn(3)
        for asset in ("BTC-USD", "STX-USD"):
            assert isinstance(fix(t, asset, expiry), Ok)
            f = fixing(t, asset, expiry)
            assert f["stale"] is True and f["last-observed"] == expiry - 20
        assert settle(t, 1).value["settled"] == UInt(1)
        assert policy(t, 1)["paid"] == self.OWED
        t.assert_same_state(policies=1)

    def test_an_expiration_off_the_grid_is_refused(self, t):
        """One fixing per grid point serves every policy of that day; any other expiration
        is refused (u321), one block either side of the grid."""
        assert deposit(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))
        on = grid(t, 200)
        assert buy(t, "wallet_3", 1, expiration=on + 1) == err(321)
        assert buy(t, "wallet_3", 2, expiration=on - 1) == err(321)
        assert buy(t, "wallet_3", 3, expiration=on) == Ok(UInt(1))
        t.assert_same_state(policies=1)


# --- F4: a lock computed before a purchase lands after it --------------------------------------


class TestF4StaleLockCannotOverwrite:
    """Row F4 (pool and registry slice)."""

    def test_no_one_can_set_a_lock_and_two_policies_keep_both_collaterals(self, t, bridge):
        """v1 (measured, these moves on the v1 contracts): the backend's set-locked(11,160),
        computed before the second purchase, landed after it and succeeded: 22,320 STX of
        collateral for active policies, 11,160 locked; the provider withdrew 29,039.999999 STX,
        and after the crash the two buyers, each owed 32,000, were paid 11,160.000001 and 0.

        v2: `set-locked` does not exist (the VM refuses the call, the model has no such
        function); the lock is the sum of both collaterals, the provider's withdrawal waits for
        both settlements, and after a crash both buyers are paid min(claim, collateral) in
        full."""
        assert deposit(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))
        terms = dict(amount=9 * BTC // 100, strike=62_000 * USD)
        assert buy(t, "wallet_3", 1, **terms) == Ok(UInt(1))
        assert buy(t, "wallet_4", 2, **terms) == Ok(UInt(2))
        assert tranche(t)[2] == 22_320 * STX
        assert "set-locked" not in t.py.pool.functions
        args = (UInt(0), UInt(1), UInt(11_160 * STX))
        with pytest.raises(BridgeError):
            bridge.do(call_request("liquidity-pool", "set-locked", args, t.deployer.address))
        t.py.clock.mine()  # the refused call still mined a Stacks block in the VM
        # the provider asks for all that is free: it waits for both policies' settlement
        assert withdraw(t, "wallet_1", free_shares(t, "wallet_1")) == err(416)
        assert tranche(t)[2] == 22_320 * STX
        expiry = policy(t, 1)["expiration"]
        mine_to(t, expiry - 40)
        btc, stx = 2_644_444_444_444, 10_000_000
        crash(t, btc, stx)  # before the fixing's window
        mine_to(t, expiry)
        assert settle(t, 2, 1).value["settled"] == UInt(2)
        for pid in (1, 2):
            p = policy(t, pid)
            assert p["paid"] == owed(t, pid, btc, stx) == 11_160 * STX  # loss 0 for each
        assert isinstance(complete(t, "wallet_1"), Ok)
        t.assert_same_state(policies=2)


# --- F5: a lock outlives its policies -----------------------------------------------------------


class TestF5NoLockOutlivesItsPolicy:
    """Row F5 (pool and registry slice)."""

    def test_an_out_of_the_money_expiry_frees_exactly_its_collateral(self, t):
        """v1 (measured, these moves on the v1 contracts with one policy): the lock raised to
        18,972 STX, then the only policy expired out of the money: 7,812 STX stayed locked with
        no active policy and the provider's full withdrawal failed u409 (the issue's
        mass-settlement: 229,534 STX and 1.66 sBTC locked after every policy had settled).

        v2: the lock rises and falls only with the policies, by exactly their collateral: after
        the settlement nothing is locked and the provider withdraws everything."""
        assert deposit(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))
        assert buy(t, "wallet_3", 1, amount=9 * BTC // 100, strike=62_000 * USD) == Ok(UInt(1))
        assert buy(t, "wallet_4", 2, expiration=grid(t, 300)) == Ok(UInt(2))
        assert tranche(t)[2] == 11_160 * STX + 12_000 * STX
        mine_to(t, policy(t, 1)["expiration"] - 10)
        assert prices(t, 70_000 * USD, 50_000_000)  # policy 1 ends out of the money
        mine_to(t, policy(t, 1)["expiration"])
        assert settle(t, 1, 2).value["expired"] == UInt(1)
        assert tranche(t)[2] == 12_000 * STX  # policy 2's collateral alone
        mine_to(t, policy(t, 2)["expiration"])
        assert settle(t, 2).value["expired"] == UInt(1)
        assets, total, locked = tranche(t)
        assert locked == 0
        assert withdraw(t, "wallet_1", total) == Ok(UInt(assets))  # stuck: 0
        t.assert_same_state(policies=2)


# --- F15: a role key lends its authority to a contract it calls ---------------------------------


class TestF15RoleKeyThroughAThirdPartyContract:
    """Row F15 (pool and registry slice)."""

    def test_the_admin_key_calling_a_relay_lends_it_nothing(self, t):
        """v1 (measured in the VM on the v1 contracts): the backend key called a third-party
        contract, which called `set-locked(u0 u1 u0)` as the backend and got `(ok true)` (role
        checks used tx-sender): the tranche's 11,160 STX lock of an active policy went to 0.

        v2: role checks read contract-caller. When the admin calls a relay, the relay's calls
        to queue itself as the admin (`.parameters queue-role`) and to queue its own quote key
        are refused u200 / u300; nothing is queued, so the providers and buyers lose nothing."""
        relay = deploy_relay(t)
        assert deposit(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))
        assert t.call("deployer", "relay", "take-pool", relay) == err(200)
        assert t.call("deployer", "relay", "take-quotes", Buffer(bytes(33))) == err(300)
        assert t.read("parameters", "get-queued-role", StringAscii("admin")) == NONE
        assert t.read("policy-registry", "get-queued-quote-pubkey") == NONE
        # the admin's own direct call still works: contract-caller is the admin then
        admin = StringAscii("admin")
        eta = UInt(t.burn + DELAY)
        assert t.call("deployer", "parameters", "queue-role", admin, relay) == Ok(eta)
        assert withdraw(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))  # loss 0
        t.assert_same_state()


# --- F8: admin power is bounded (property 5) -----------------------------------------------------

DELAY = 1008  # the admin delay at deployment: a week of burn blocks
GUARDIAN = "wallet_8"
ATTACKER_KEY = PrivateKey.from_seed(b"clarity-tests/attacker-quote")


def guarded(t: Twin) -> Twin:
    """`t` with wallet_8 as the guardian (the deployment step, once and at once)."""
    assert t.call("deployer", "parameters", "init-guardian", t.accounts[GUARDIAN]) == Ok(TRUE)
    return t


def until(t: Twin, eta: int) -> None:
    """Mines burn blocks up to height `eta` and pushes both prices again (unchanged), so that
    a purchase right after a week's wait still finds fresh prices."""
    t.mine_burn(eta - t.burn)
    latest = [t.read("oracle", "get-price", StringAscii(a)).value["price"].value
              for a in ("BTC-USD", "STX-USD")]  # fmt: skip
    assert prices(t, *latest)


class TestF8AdminPowerIsBounded:
    """Row F8: the admin emptied the pool in one transaction.

    v1 (measured in the VM on the v1 contracts and models): the admin's `set-sbtc-token` named
    a malicious SIP-010 contract; the next sBTC `withdraw` of 1,000 shares moved the pool's
    whole 2 sBTC to the withdrawer (an STX-draining token moved all 40,000 STX), at once, with
    no warning to anyone.

    v2: the sBTC principal is fixed at deployment, so no token can be whitelisted at all;
    every other change is queued a week (1008 burn blocks) ahead with an event, and a
    guardian key can only reduce power. Every test runs in the VM and the models at once."""

    def test_no_token_can_be_whitelisted_and_a_hostile_one_moves_nothing(self, t):
        """The pool has no `set-sbtc-token` (the VM and the models refuse the call); a
        draining token passed as `ft` is refused u403 before any transfer: loss 0."""
        assert "set-sbtc-token" not in t.py.pool.functions
        with pytest.raises(BridgeError):
            t.bridge.do(call_request("liquidity-pool", "set-sbtc-token", [t.contracts.oracle],
                                     t.deployer.address))  # fmt: skip
        t.py.clock.mine()  # the refused call still mined a Stacks block in the VM
        assert t.read("liquidity-pool", "get-sbtc-token") == t.contracts.sbtc
        sbtc = t.contracts.sbtc
        assert t.call("deployer", "sbtc-token", "mint", UInt(2 * BTC), t.accounts["wallet_1"])
        assert t.call("wallet_1", "liquidity-pool", "deposit", sbtc, UInt(1), UInt(2), UInt(BTC))
        assert deposit(t, "wallet_3", 40_000 * STX) == Ok(UInt(40_000 * STX))
        pool = t.contracts.pool
        held = (t.py.stx_balance(pool), t.py.sbtc_balance(pool))
        pending = (UInt(1), UInt(2), UInt(1_000))
        assert t.call("wallet_1", "liquidity-pool", "request-withdraw", *pending) == Ok(
            UInt(t.burn)
        )
        for name, drain, model in (("drain-sbtc", DRAIN_SBTC, DrainSbtc),
                                   ("drain-stx", DRAIN_STX, DrainStx)):  # fmt: skip
            token = t.deploy(name, hostile_token_source(t.deployer.address, drain), "wallet_8",
                             model)  # fmt: skip
            out = (token, UInt(1), UInt(2))
            assert t.call("wallet_1", "liquidity-pool", "complete-withdraw", *out) == err(403)
            into = (token, UInt(1), UInt(2), UInt(100_000))
            assert t.call("wallet_1", "liquidity-pool", "deposit", *into) == err(403)
            assert (t.py.stx_balance(pool), t.py.sbtc_balance(pool)) == held
        done = t.call("wallet_1", "liquidity-pool", "complete-withdraw", sbtc, UInt(1), UInt(2))
        assert done == Ok(UInt(1_000))
        rest = (UInt(1), UInt(2), UInt(BTC - 1_000))
        assert isinstance(t.call("wallet_1", "liquidity-pool", "request-withdraw", *rest), Ok)
        args = (sbtc, UInt(1), UInt(2))
        assert t.call("wallet_1", "liquidity-pool", "complete-withdraw", *args) == Ok(
            UInt(BTC - 1_000)
        )  # loss 0
        assert withdraw(t, "wallet_3", 40_000 * STX) == Ok(UInt(40_000 * STX))
        t.assert_same_state()

    def test_a_queued_parameter_change_is_seen_a_week_ahead_and_applies_only_then(self, t):
        """`queue-parameter` prints the change and its effective height; `apply-parameter` is
        refused u206 one block before, works from the eta (by anyone), and a change left
        unapplied for 144 blocks after its eta lapses (u207) and frees its key."""
        key = StringAscii("max-utilisation-1")
        queued_at = t.burn
        assert t.call("deployer", "parameters", "queue-parameter", key, UInt(9500)) == Ok(
            UInt(queued_at + DELAY)
        )
        change = t.read("parameters", "get-queued-parameter", key).value.data
        assert change == {"value": UInt(9500), "eta": UInt(queued_at + DELAY)}
        assert t.call("deployer", "parameters", "queue-parameter", key, UInt(9000)) == err(204)
        assert t.call("deployer", "parameters", "queue-parameter", key, UInt(10_001)) == err(203)
        t.mine_burn(DELAY - 1)
        assert t.call("wallet_5", "parameters", "apply-parameter", key) == err(206)
        assert t.read("parameters", "get-parameter", key) == Ok(UInt(7500))
        t.mine_burn(1)
        assert t.call("wallet_5", "parameters", "apply-parameter", key) == Ok(TRUE)
        assert t.read("parameters", "get-parameter", key) == Ok(UInt(9500))
        # a change nobody applies in time lapses, and the key can be queued again
        fee = StringAscii("protocol-fee-bps")
        assert t.call("deployer", "parameters", "queue-parameter", fee, UInt(0)).value
        t.mine_burn(DELAY + 144)
        assert t.call("wallet_5", "parameters", "apply-parameter", fee) == err(207)
        assert t.call("deployer", "parameters", "queue-parameter", fee, UInt(2000)) == Ok(
            UInt(t.burn + DELAY)
        )

    def test_a_new_admin_delay_waits_the_old_one(self, t):
        """Shortening or lengthening the delay is itself a change queued under the old delay;
        below a week (u203) it cannot go."""
        delay = StringAscii("admin-delay")
        assert t.call("deployer", "parameters", "queue-parameter", delay, UInt(1007)) == err(203)
        assert t.call("deployer", "parameters", "queue-parameter", delay, UInt(2016)) == Ok(
            UInt(t.burn + DELAY)
        )
        t.mine_burn(DELAY)
        assert t.call("wallet_5", "parameters", "apply-parameter", delay) == Ok(TRUE)
        key = StringAscii("min-premium-0")
        assert t.call("deployer", "parameters", "queue-parameter", key, UInt(1)) == Ok(
            UInt(t.burn + 2016)
        )

    def test_the_guardian_cancels_a_compromised_admins_quote_key_and_submitter(self, t):
        """A stolen admin key queues its own quote key and oracle submitter; the guardian sees
        the events and cancels both at once; a week later nothing applies (u342, u113) and
        the attacker's quotes still fail (u303). The admin may cancel its own changes too."""
        guarded(t)
        attacker = t.accounts["wallet_7"]
        key = Buffer(ATTACKER_KEY.public_key)
        assert t.call("deployer", "policy-registry", "queue-quote-pubkey", key).value
        assert t.call("deployer", "oracle", "queue-submitter", attacker).value
        assert t.call(GUARDIAN, "policy-registry", "cancel-quote-pubkey") == Ok(TRUE)
        assert t.call(GUARDIAN, "oracle", "cancel-submitter") == Ok(TRUE)
        assert t.call("wallet_5", "oracle", "cancel-submitter") == err(111)  # not a role
        until(t, t.burn + DELAY)
        assert t.call("wallet_7", "policy-registry", "apply-quote-pubkey") == err(342)
        assert t.call("wallet_7", "oracle", "apply-submitter") == err(113)
        assert t.read("oracle", "is-submitter", attacker) == FALSE
        assert deposit(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))
        q = Quote(buyer=attacker, amount=BTC // 10, strike=60_000 * USD,
                  expiration=t.burn + 144, premium=100 * STX, collateral=1, token=0, tier=1,
                  quote_expiry=t.burn + 3, quote_id=1, **t.quote_pins())  # fmt: skip
        sig = Buffer(sign_quote(q, ATTACKER_KEY))
        args = (q.to_clarity(), sig, t.contracts.sbtc)
        assert t.call("wallet_7", "policy-registry", "purchase-policy", *args) == err(303)
        backend = t.accounts["wallet_6"]
        assert t.call("deployer", "policy-registry", "queue-backend", backend).value
        assert t.call("deployer", "policy-registry", "cancel-backend") == Ok(TRUE)
        t.assert_same_state()

    def test_the_guardian_cannot_raise_power(self, t):
        """Every power-raising call refuses the guardian; what it may do (pause, zero the quote
        key, cancel, remove a submitter, shut down) only stops things."""
        guarded(t)
        g = GUARDIAN
        me = t.accounts[g]
        refused = [
            ("parameters", "queue-parameter", (StringAscii("max-utilisation-1"), UInt(9500)), 200),
            ("parameters", "queue-role", (StringAscii("admin"), me), 200),
            ("parameters", "init-guardian", (me,), 200),
            ("oracle", "queue-submitter", (me,), 100),
            ("oracle", "queue-setting", (StringAscii("max-jump-bps"), UInt(5000)), 100),
            ("policy-registry", "queue-quote-pubkey", (Buffer(ATTACKER_KEY.public_key),), 300),
            ("policy-registry", "queue-backend", (me,), 300),
            ("policy-registry", "set-paused", (FALSE,), 300),
        ]
        for contract, function, args, code in refused:
            assert t.call(g, contract, function, *args) == err(code), function
        assert t.call("deployer", "parameters", "init-guardian", me) == err(208)  # once
        assert t.call(g, "policy-registry", "set-paused", TRUE) == Ok(TRUE)
        assert t.read("policy-registry", "is-paused") == TRUE
        assert t.call(g, "policy-registry", "zero-quote-pubkey") == Ok(TRUE)
        assert t.read("policy-registry", "get-quote-pubkey") == Buffer(bytes(33))
        # the zeroed key can come back only through the queue, never at once
        key = Buffer(QUOTE_KEY.public_key)
        assert t.call("deployer", "policy-registry", "set-quote-pubkey", key) == err(345)
        assert t.call("deployer", "policy-registry", "set-paused", FALSE) == Ok(TRUE)
        assert deposit(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))
        assert buy(t, "wallet_3", 1) == err(303)
        assert t.call("deployer", "policy-registry", "queue-quote-pubkey", key).value
        until(t, t.burn + DELAY)
        assert t.call("wallet_3", "policy-registry", "apply-quote-pubkey") == Ok(TRUE)
        assert buy(t, "wallet_3", 1) == Ok(UInt(1))

    def test_the_last_submitter_cannot_be_removed(self, t):
        """Removing a submitter is at once (the guardian's), but never the last (u116), so
        the oracle, and with it settlement, goes on."""
        guarded(t)
        deployer = t.deployer
        assert t.call(GUARDIAN, "oracle", "remove-submitter", deployer) == err(116)
        other = t.accounts["wallet_6"]
        assert t.call("deployer", "oracle", "queue-submitter", other).value
        t.mine_burn(DELAY)
        assert t.call("wallet_5", "oracle", "apply-submitter") == Ok(TRUE)
        assert t.read("oracle", "get-submitter-count") == UInt(2)
        assert t.call(GUARDIAN, "oracle", "remove-submitter", deployer) == Ok(TRUE)
        assert t.call(GUARDIAN, "oracle", "remove-submitter", other) == err(116)
        assert t.read("oracle", "get-submitter-count") == UInt(1)
        assert t.call("wallet_6", "oracle", "set-price", BTC_USD, UInt(65_000 * USD)) == Ok(TRUE)

    def test_shutdown_refuses_purchases_and_deposits_while_settlement_and_exits_go_on(self, t):
        """After the guardian's `shutdown`: purchases u346, deposits u430, forever (nobody can
        undo it); the oracle takes prices, the policy bought before is settled and paid
        min(claim, collateral), and the provider withdraws all that is left: loss 0."""
        guarded(t)
        assert deposit(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))
        assert buy(t, "wallet_3", 1, strike=64_000 * USD) == Ok(UInt(1))
        assert t.call(GUARDIAN, "parameters", "shutdown") == Ok(TRUE)
        assert t.read("parameters", "is-shutdown") == TRUE
        assert buy(t, "wallet_4", 2) == err(346)
        assert deposit(t, "wallet_2", 40_000 * STX) == err(430)
        expiration = policy(t, 1)["expiration"]
        mine_to(t, expiration - 10)  # in force over the whole fixing window
        assert prices(t, 62_000 * USD, 50_000_000)
        mine_to(t, expiration)
        assert settle(t, 1, who="wallet_3").value["settled"] == UInt(1)
        paid = policy(t, 1)["paid"]
        assert paid == owed(t, 1, 62_000 * USD, 50_000_000) > 0
        assets, total, locked = tranche(t)
        assert locked == 0
        assert withdraw(t, "wallet_1", total) == Ok(UInt(assets))
        t.assert_same_state(policies=1)


# --- F14: a signed quote replayed on another deployment; stale quotes (property 6) -------------


class SecondRegistry(Registry):
    """The model of a second deployment of policy-registry.clar (`policy-registry-2`) by the
    same deployer, with its own maps: another registry that trusts the same quote key."""

    name = "policy-registry-2"

    def __init__(self, world, deployer):
        super().__init__(world, deployer)
        self.policies = self.state.map("registry-2/policies")
        self.used_quotes = self.state.map("registry-2/used-quotes")


def second_registry(t: Twin) -> str:
    source = (CONTRACTS / "contracts" / "policy-registry.clar").read_text()
    t.deploy("policy-registry-2", source, "deployer", SecondRegistry)
    key = Buffer(QUOTE_KEY.public_key)
    assert t.call("deployer", "policy-registry-2", "set-quote-pubkey", key) == Ok(TRUE)
    return "policy-registry-2"


def node_signed(q: Quote) -> tuple[bytes, bytes]:
    """`signStructuredData`'s signature of the quote with QUOTE_KEY under the simnet's domain,
    and sha256 of `encodeStructuredData`'s bytes (contracts/scripts/sip018_vm.mjs, the script
    of the SIP-018 vector tests)."""
    case = {
        "label": "quote",
        "domain": DEVNET_DOMAIN.to_clarity().serialize().hex(),
        "message": q.to_clarity().serialize().hex(),
        "private_key": QUOTE_KEY.secret_hex(),
    }
    out = subprocess.run(
        ["node", "scripts/sip018_vm.mjs"],
        cwd=CONTRACTS,
        input=json.dumps({"cases": [case]}).encode(),
        capture_output=True,
        check=True,
    ).stdout
    answer = json.loads(out)["cases"][0]
    return bytes.fromhex(answer["signature"]), bytes.fromhex(answer["node_hash"])


@pytest.fixture
def funded(t: Twin) -> Twin:
    assert deposit(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))
    return t


class TestF14QuoteReplayOnAnotherDeployment:
    """Row F14."""

    def test_a_quote_signed_for_one_registry_is_refused_by_another_trusting_the_same_key(
        self, funded
    ):
        """v1 (issue 11's review, in the VM): accepted, the signature covered sha256 of the
        quote tuple alone, which names no chain and no contract, so any deployment trusting the
        key took it. v2: the tuple names its registry (checked against `current-contract`,
        u330) and is signed under the SIP-018 domain {name, version "2", chain-id}: the second
        deployment refuses it, a buyer who rewrites `registry` breaks the signature (u303), and
        the first deployment still accepts it once."""
        t = funded
        other = second_registry(t)
        q, sig = signed(t, "wallet_3", 1)
        assert submit(t, "wallet_3", q, sig, other) == err(330)
        moved = replace(q, registry=t.contract(other))
        assert submit(t, "wallet_3", moved, sig, other) == err(303)
        for_other, other_sig = signed(t, "wallet_3", 2, registry=t.contract(other))
        assert submit(t, "wallet_3", for_other, other_sig) == err(330)
        assert submit(t, "wallet_3", q, sig) == Ok(UInt(1))
        assert submit(t, "wallet_3", q, sig, other) == err(330)
        assert t.read(other, "get-policy-count") == UInt(0)
        t.assert_same_state(policies=1)

    def test_a_quote_signed_in_node_verifies_in_purchase_policy(self, funded):
        """The wallet side: `signStructuredData` over the quote gives the bytes the registry
        verifies, and `encodeStructuredData`'s hash is the registry's `get-quote-hash`."""
        t = funded
        q, sig = signed(t, "wallet_3", 1)
        node_sig, node_hash = node_signed(q)
        assert node_hash == t.read("policy-registry", "get-quote-hash", q.to_clarity()).value
        assert node_sig == sig.value  # RFC 6979: the same key and hash sign the same bytes
        assert submit(t, "wallet_3", q, Buffer(node_sig)) == Ok(UInt(1))


class TestQuotesAreShortLivedAndPinnedToSpot:
    """Property 6: a stale quote is no free option."""

    def test_a_quote_past_its_valid_until_or_valid_too_long_is_refused(self, funded):
        """v1: a quote stayed good until its `quote-expiry` burn height, whatever the price did
        meanwhile. v2: `valid-until` is in `stacks-block-time` seconds; the purchase's block is
        10 s after the tip in the simnet, so `tip + 9` has passed (u331), `tip + 10` has not,
        and more than quote-ttl-seconds (60) ahead of the purchase is refused (u332)."""
        t = funded
        assert buy(t, "wallet_3", 1, valid_until=t.time + 9) == err(331)
        assert buy(t, "wallet_3", 2, valid_until=t.time + 10 + 61) == err(332)
        assert buy(t, "wallet_3", 3, valid_until=t.time + 10 + 60) == Ok(UInt(1))
        assert buy(t, "wallet_3", 4, valid_until=t.time + 10) == Ok(UInt(2))
        q, sig = signed(t, "wallet_3", 5)  # good for 60 s from the tip
        for _ in range(6):  # six calls, six Stacks blocks of 10 s: a minute has passed
            assert t.call("deployer", "policy-registry", "set-paused", FALSE) == Ok(TRUE)
        assert submit(t, "wallet_3", q, sig) == err(331)
        t.assert_same_state(policies=2)

    def test_a_purchase_needs_an_observation_from_this_or_the_previous_burn_block(self, funded):
        """Without an observation in the current or the previous burn block the registry
        refuses (u333) even a quote within its minute: spot may have moved unobserved."""
        t = funded
        t.mine_burn(1)
        assert buy(t, "wallet_3", 1) == Ok(UInt(1))  # the observation is one block old
        t.mine_burn(1)
        assert buy(t, "wallet_3", 2) == err(333)
        assert prices(t, 65_000 * USD, 50_000_000)
        assert buy(t, "wallet_3", 3) == Ok(UInt(2))
        t.assert_same_state(policies=2)

    def test_an_older_observation_only_as_far_as_quote_price_blocks_allows(self, funded):
        """`quote-price-blocks` (u1 at deployment) is how old the observation may be: the admin
        can widen it only by a change queued a week, and at most to 6 burn blocks (u203); then a
        quote is bought on a 3-block-old observation and refused on a 4-block-old one."""
        t = funded
        key = StringAscii("quote-price-blocks")
        assert t.call("deployer", "parameters", "queue-parameter", key, UInt(7)) == err(203)
        assert t.call("wallet_3", "parameters", "queue-parameter", key, UInt(3)) == err(200)
        assert t.call("deployer", "parameters", "queue-parameter", key, UInt(3)).value
        t.mine_burn(2)
        assert buy(t, "wallet_3", 1) == err(333)  # the old rule until the change applies
        until(t, t.burn + DELAY)
        assert t.call("wallet_5", "parameters", "apply-parameter", key) == Ok(TRUE)
        t.mine_burn(3)  # `until` observed both prices at the eta
        assert buy(t, "wallet_3", 2) == Ok(UInt(1))  # three blocks old
        t.mine_burn(1)
        assert buy(t, "wallet_3", 3) == err(333)  # four
        t.assert_same_state(policies=1)

    def test_a_quote_priced_before_a_move_past_the_slippage_is_refused(self, funded):
        """The attack: a buyer holds a quote priced at 65,000 while BTC falls (a put worth more
        now) and buys after the oracle's next observation. v2: the latest observation must be
        within quote-slippage-bps (50) of the quote's `spot` (|latest - spot| x 10000 <= spot x
        50): -0.502% is refused (u334); so is one price unit past either edge."""
        t = funded
        t.mine_burn(1)  # the last observation (65,000) is from the previous burn block
        stale, stale_sig = signed(t, "wallet_3", 1)
        assert stale.spot == 65_000 * USD
        assert prices(t, 64_674 * USD, 50_000_000)  # -0.502%: past 50 bps of 65,000
        assert submit(t, "wallet_3", stale, stale_sig) == err(334)
        latest = 64_674 * USD
        high, low = latest * 10_000 // 9_950, -(-latest * 10_000 // 10_050)  # the edges
        assert buy(t, "wallet_3", 2, spot=high + 1) == err(334)
        assert buy(t, "wallet_3", 3, spot=low - 1) == err(334)
        assert buy(t, "wallet_3", 4, spot=high) == Ok(UInt(1))
        assert buy(t, "wallet_3", 5, spot=low) == Ok(UInt(2))
        t.assert_same_state(policies=2)
