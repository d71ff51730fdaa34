"""The attack rows of issue 11, each run in the Clarity VM and the Python models at once (through
`Twin`), each asserting that the victim loses nothing under the v2 rules. Every test's docstring
gives what the same attack got under v1, measured on the v1 contracts.

One section per row (or group of rows), each in its own class.
"""

from __future__ import annotations

import pytest

from chain.clarity import FALSE, TRUE, Err, Ok, StringAscii, UInt
from tests.contracts.twin import Twin

pytestmark = pytest.mark.clarity

USD = 100_000_000  # price units per USD
BTC = 100_000_000  # sats per BTC
BTC_USD = StringAscii("BTC-USD")


def err(code: int) -> Err:
    return Err(UInt(code))


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
