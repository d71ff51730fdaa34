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

from chain.clarity import FALSE, TRUE, Buffer, Err, List, Ok, StringAscii, UInt
from chain.quotes import DEVNET_DOMAIN, Quote, sign_quote
from sim.clarity_vm import BridgeError, call_request
from sim.models.registry import Registry
from tests.contracts.relay import (
    DRAIN_SBTC,
    DRAIN_STX,
    RELAY,
    DrainSbtc,
    DrainStx,
    Relay,
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


def withdraw(t: Twin, who: str, shares: int, tier: int = 1):
    return t.call(
        who, "liquidity-pool", "withdraw", t.contracts.sbtc, UInt(0), UInt(tier), UInt(shares)
    )


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
        expiration=t.burn + 144,
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


def settle(t: Twin, *ids: int, who: str = "deployer"):
    batch = List(tuple(UInt(i) for i in ids))
    return t.call(who, "policy-registry", "settle-policies", batch, t.contracts.sbtc)


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
    authority. The attacker deploys `role-relay` (test only) and lures the key into calling it;
    the relay calls the oracle as itself."""

    def test_a_submitter_calling_a_contract_lends_it_no_price_push(self, bridge):
        """v1 (measured on main's oracle.clar with this relay): `(ok true)`, the relay stored
        a price of 1 unit as the submitter. v2: u101, nothing stored."""
        t = Twin(bridge)
        assert t.call("deployer", "role-relay", "set-price", BTC_USD, UInt(1)) == err(101)
        assert t.read("oracle", "get-price", BTC_USD) == err(104)
        assert t.call("deployer", "oracle", "set-price", BTC_USD, UInt(65_000 * USD)) == Ok(TRUE)
        t.mine_burn(1)
        assert t.call("deployer", "role-relay", "set-price", BTC_USD, UInt(62_000 * USD)) == err(
            101
        )
        assert t.read("oracle", "get-price", BTC_USD).value["price"] == UInt(65_000 * USD)

    def test_an_admin_calling_a_contract_lends_it_no_submitter(self, bridge):
        """v1: `(ok true)`, the relay made wallet_7 a submitter as the admin. v2: u100."""
        t = Twin(bridge)
        wallet_7 = t.accounts["wallet_7"]
        assert t.call("deployer", "role-relay", "add-submitter", wallet_7) == err(100)
        assert t.read("oracle", "is-submitter", wallet_7) == FALSE

    def test_a_contract_the_admin_names_as_submitter_is_one(self, bridge):
        """The check is on the direct caller, not on keys: a contract the admin makes a
        submitter pushes for whoever calls it (so the admin must only name audited ones)."""
        t = Twin(bridge)
        relay = t.contract("role-relay")
        assert t.call("deployer", "oracle", "add-submitter", relay) == Ok(TRUE)
        assert t.call("wallet_7", "role-relay", "set-price", BTC_USD, UInt(USD)) == Ok(TRUE)
        assert t.call("wallet_7", "oracle", "set-price", BTC_USD, UInt(USD)) == err(101)


# --- F1: providers withdraw between a crash (an in-the-money expiry) and settlement ----------


class TestF1ProvidersLeaveBeforeSettlement:
    """Row F1 (pool and registry slice)."""

    def test_the_buyer_is_paid_in_full_up_to_the_cap_whoever_withdraws_first(self, t):
        """v1 (measured, these moves on the v1 contracts): a 40,200 STX tranche, 11,160 STX
        locked, 32,000 owed after the crash; the providers withdrew 20,100 and 8,939.999999 STX,
        the backend's set-locked(55,800) failed u412 (required > assets), and the buyer was paid
        11,160.000001 of the 32,000 its policy said it was owed: a loss of 20,839.999999 STX.

        v2: the policy's collateral (11,160 STX: 0.09 BTC x 62,000 at 0.50) is computed on chain
        and is its cap; the lock is exactly it, so the providers' withdrawals stop there, and
        the buyer is owed and paid min(32,000, 11,160) = 11,160: loss 0, whoever withdrew first
        and whoever settles.
        """
        assert deposit(t, "wallet_1", 20_000 * STX) == Ok(UInt(20_000 * STX))
        assert deposit(t, "wallet_2", 20_000 * STX) == Ok(UInt(20_000 * STX))
        terms = dict(amount=9 * BTC // 100, strike=62_000 * USD, premium=200 * STX)
        assert buy(t, "wallet_3", 1, **terms) == Ok(UInt(1))
        assert tranche(t) == (40_200 * STX, 40_000 * STX, 11_160 * STX)
        t.mine_burn(150)
        # BTC to 26,444.44 and STX to 0.10: 3,200 USD = 32,000 STX of intrinsic value
        btc, stx = 2_644_444_444_444, 10_000_000
        crash(t, btc, stx)
        # the race: both try to leave with everything; the first gets its share of what is
        # free, the second only what is left above the lock
        assert withdraw(t, "wallet_1", shares(t, "wallet_1")) == Ok(UInt(20_100 * STX))
        assert withdraw(t, "wallet_2", shares(t, "wallet_2")) == err(409)
        assert isinstance(withdraw(t, "wallet_2", free_shares(t, "wallet_2")), Ok)
        assets, _, locked = tranche(t)
        assert locked == 11_160 * STX and assets - locked < 2 * STX  # all else left
        buyer = t.accounts["wallet_3"]
        before = t.py.stx_balance(buyer)
        assert settle(t, 1, who="wallet_5").value["settled"] == UInt(1)  # anyone may settle
        paid = t.py.stx_balance(buyer) - before
        p = policy(t, 1)
        assert p["payout"] == p["paid"] == owed(t, 1, btc, stx) == 11_160 * STX
        assert paid == p["paid"]
        assert owed(t, 1, btc, stx) - p["paid"] == 0  # the victim's loss
        assert tranche(t)[2] == 0
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
        function); the lock is the sum of both collaterals, the provider can take only the
        rest, and after a crash both buyers are paid min(claim, collateral) in full."""
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
        assert isinstance(withdraw(t, "wallet_1", free_shares(t, "wallet_1")), Ok)
        assets, _, locked = tranche(t)
        assert locked == 22_320 * STX and assets - locked <= 1
        t.mine_burn(150)
        btc, stx = 2_644_444_444_444, 10_000_000
        crash(t, btc, stx)
        assert settle(t, 2, 1).value["settled"] == UInt(2)
        for pid in (1, 2):
            p = policy(t, pid)
            assert p["paid"] == owed(t, pid, btc, stx) == 11_160 * STX  # loss 0 for each
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
        assert buy(t, "wallet_4", 2, expiration=t.burn + 300) == Ok(UInt(2))
        assert tranche(t)[2] == 11_160 * STX + 12_000 * STX
        t.mine_burn(150)
        assert prices(t, 70_000 * USD, 50_000_000)  # policy 1 ends out of the money
        assert settle(t, 1, 2).value["expired"] == UInt(1)
        assert tranche(t)[2] == 12_000 * STX  # policy 2's collateral alone
        t.mine_burn(150)
        assert prices(t, 70_000 * USD, 50_000_000)
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

        v2: role checks read contract-caller. When the admin (also the backend) calls a relay,
        the relay's calls to the pool's `set-sbtc-token` (which would whitelist a token the
        relay controls) and to the registry's `set-quote-pubkey` are refused u400 / u300;
        nothing changes, so the providers and buyers lose nothing."""
        relay = t.deploy("relay", RELAY.format(deployer=t.deployer.address), "wallet_8", Relay)
        assert deposit(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))
        before = (t.py.pool.var("sbtc_token"), t.py.registry.var("quote_pubkey"))
        assert t.call("deployer", "relay", "take-pool", relay) == err(400)
        assert t.call("deployer", "relay", "take-quotes", Buffer(bytes(33))) == err(300)
        assert (t.py.pool.var("sbtc_token"), t.py.registry.var("quote_pubkey")) == before
        # the admin's own direct call still works: contract-caller is the admin then
        sbtc = t.contracts.sbtc
        assert t.call("deployer", "liquidity-pool", "set-sbtc-token", sbtc) == Ok(TRUE)
        assert withdraw(t, "wallet_1", 40_000 * STX) == Ok(UInt(40_000 * STX))  # loss 0
        t.assert_same_state()


# --- F8 (the part the pool slice bounds): a whitelisted hostile token -----------------------------


class TestAllowancesStopAWhitelistedHostileToken:
    """Row F8, what the Clarity 4 allowances bound (the admin delay that stops the whitelisting
    itself is another slice). These calls exceed an allowance, and abort alike in the VM and
    in the models."""

    def test_a_token_that_drains_its_sender_moves_nothing(self, t):
        """v1 (measured, these moves on the v1 contracts): after `set-sbtc-token` named the
        draining token, one sBTC withdrawal of 1,000 shares moved the pool's whole 2 sBTC to
        the withdrawer, and the STX-draining token moved all 40,000 STX of the pool.

        v2: the pool calls the token only inside `as-contract?` with an allowance for exactly
        `.sbtc-token`'s `sbtc` and the amount: moving more sBTC aborts `(err u0)`, moving STX
        (no allowance) `(err u128)`; a deposit through it runs inside `restrict-assets?` on
        the depositor and aborts the same way. Nothing moves; the providers lose nothing."""
        sbtc = t.contracts.sbtc
        for who in ("wallet_1", "wallet_2"):  # wallet_2 keeps 1 sBTC for the hostile deposit
            mint = UInt(BTC if who == "wallet_1" else 2 * BTC)
            assert t.call("deployer", "sbtc-token", "mint", mint, t.accounts[who]) == Ok(TRUE)
        for who in ("wallet_1", "wallet_2"):
            args = (sbtc, UInt(1), UInt(2), UInt(BTC))
            assert t.call(who, "liquidity-pool", "deposit", *args) == Ok(UInt(BTC))
        assert deposit(t, "wallet_3", 40_000 * STX) == Ok(UInt(40_000 * STX))
        for name, drain, model in (("drain-sbtc", DRAIN_SBTC, DrainSbtc),
                                   ("drain-stx", DRAIN_STX, DrainStx)):  # fmt: skip
            source = hostile_token_source(t.deployer.address, drain)
            t.deploy(name, source, "wallet_8", model)
        pool = t.contracts.pool
        held = (t.py.stx_balance(pool), t.py.sbtc_balance(pool))
        for name, code in (("drain-sbtc", 0), ("drain-stx", 128)):
            token = t.contract(name)
            assert t.call("deployer", "liquidity-pool", "set-sbtc-token", token) == Ok(TRUE)
            out = (token, UInt(1), UInt(2), UInt(1_000))
            assert t.call("wallet_1", "liquidity-pool", "withdraw", *out) == err(code)
            into = (token, UInt(1), UInt(2), UInt(100_000))
            assert t.call("wallet_2", "liquidity-pool", "deposit", *into) == err(code)
            assert (t.py.stx_balance(pool), t.py.sbtc_balance(pool)) == held
        assert t.call("deployer", "liquidity-pool", "set-sbtc-token", sbtc) == Ok(TRUE)
        for who in ("wallet_1", "wallet_2"):  # loss 0
            args = (sbtc, UInt(1), UInt(2), UInt(BTC))
            assert t.call(who, "liquidity-pool", "withdraw", *args) == Ok(UInt(BTC))
        assert withdraw(t, "wallet_3", 40_000 * STX) == Ok(UInt(40_000 * STX))
        t.assert_same_state()


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
