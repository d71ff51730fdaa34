"""What an adversary needs to buy policies like any buyer: ask the registry for a quote, sign
the purchase with its own wallet, learn its policy ids, read policies and fixings back.

Shared by the adversaries that hold policies (late_settlement's buyers, oracle_key).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from actors.messages import QuoteOffer, QuoteRefused, QuoteRequest
from chain import errors
from chain import transactions as txs
from chain.clarity import Buffer, ContractPrincipal, Ok, Some, StringAscii, UInt
from chain.payloads import sends
from chain.protocol import BLOCKS_PER_DAY, PRICE_SCALE, SATS, TOKEN_UNIT
from chain.wallet import Wallet
from sim.adversaries import Stage


def claim_at(p: dict[str, Any], btc: int, token_price: int) -> int:
    """`min(formula, collateral)` in tokens at these prices, as settle-policies computes it."""
    payout_usd = (p["strike"] - btc) * p["amount"] // SATS if p["strike"] > btc else 0
    return min(payout_usd * TOKEN_UNIT[p["token"]] // token_price, p["collateral"])


@dataclass
class PolicyBuyer:
    """Buys through the registry actor (a reply target for its offers) with `wallets`."""

    stage: Stage
    wallets: list[Wallet]
    fee: int = 1000
    pending: list[str] = field(default_factory=list)  # purchase txids not yet confirmed
    mine: dict[int, Wallet] = field(default_factory=dict)  # policy id -> its buyer
    premiums_usd: dict[int, float] = field(default_factory=dict)  # at the true price then
    _offered: dict[str, float] = field(default_factory=dict)  # txid -> premium in USD

    def request(self, wallet: Wallet, amount_btc: float, strike_frac: float, days: float,
                token: int, tier: int | None = None) -> None:  # fmt: skip
        """Asks for a quote (`tier` None: the one that backs the strike); an offer is bought
        as it arrives."""
        stage = self.stage
        spot = stage.btc_at(stage.env.now)
        expiration = stage.burn_height() + round(days * BLOCKS_PER_DAY)  # the grid rounds it
        stage.registry.tell(QuoteRequest(wallet.address, round(amount_btc * SATS),
                                         int(spot * strike_frac) * PRICE_SCALE, expiration,
                                         token, self, tier))  # fmt: skip

    def tell(self, message: Any) -> None:
        """The registry's (or the signer's) reply to a quote request."""
        if isinstance(message, QuoteRefused):
            return
        assert isinstance(message, QuoteOffer)
        q, c = message.quote, self.stage.contracts
        wallet = next(w for w in self.wallets if w.address == q.buyer)
        pc = sends(c, txs.ORIGIN, q.token, q.premium)
        args = (q.to_clarity(), Buffer(message.signature), c.sbtc)
        txid = self.send(wallet, c.registry, "purchase-policy", args,
                         post_conditions=[pc], mode=txs.PostConditionMode.DENY)  # fmt: skip
        if txid is not None:
            self.pending.append(txid)
            now = self.stage.env.now
            price = self.stage.stx_at(now) if q.token == 0 else self.stage.btc_at(now)
            self._offered[txid] = q.premium / TOKEN_UNIT[q.token] * price

    def send(self, wallet: Wallet, contract: ContractPrincipal, function: str, args: tuple,
             fee: int | None = None, **kw: Any) -> str | None:  # fmt: skip
        try:
            return wallet.call(contract, function, *args, fee=fee or self.fee, **kw)
        except errors.Rejected as exc:
            self.stage.log.record("user-tx-rejected", user=wallet.address.address,
                                  what=function, reason=exc.reason)  # fmt: skip
            wallet.resync()
            return None

    def confirm(self) -> list[int]:
        """Policy ids of purchases confirmed since the last call (now in `mine`)."""
        new = []
        for txid in list(self.pending):
            receipt = self.stage.chain.status(txid)
            if receipt is None or receipt.status.value == "pending":
                continue
            self.pending.remove(txid)
            premium = self._offered.pop(txid)
            if isinstance(receipt.result, Ok):
                pid = receipt.result.value.value  # type: ignore[attr-defined]
                owner = self.policy(pid)["owner"]
                self.mine[pid] = next(w for w in self.wallets if w.address.address == owner)
                self.premiums_usd[pid] = premium
                new.append(pid)
        return new

    def policy(self, pid: int) -> dict[str, Any]:
        got = self.stage.chain.read_only(self.stage.contracts.registry, "get-policy", [UInt(pid)])
        assert isinstance(got, Some)
        data = got.value.data  # type: ignore[attr-defined]
        return {k: v.address if k == "owner" else v.value for k, v in data.items()}

    def fixing(self, asset: str, expiry: int) -> int | None:
        c = self.stage.contracts
        got = self.stage.chain.read_only(c.oracle, "get-fixing", [StringAscii(asset), UInt(expiry)])
        return got.value["price"].value if isinstance(got, Some) else None  # type: ignore[attr-defined]
