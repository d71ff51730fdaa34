"""Simulated users: liquidity providers and protection buyers, each with their own keys.

They are SimPy processes, not actors: users sit outside the engine. A buyer asks the registry
for a quote (a message, like a front end's request), and on an offer signs `purchase-policy`
with its own wallet and broadcasts it, as a wallet would. A v2 quote is short-lived and pinned
to spot, so a purchase mined too late fails (u331 stale, u333 no recent price, u334 slippage);
the buyer then asks once more for a fresh quote on the same terms, as a front end would
(STALE_RETRIES). Every choice is drawn from the agent's own seeded generator.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import simpy

from actors.messages import QuoteOffer, QuoteRefused, QuoteRequest
from chain import errors
from chain import transactions as txs
from chain.clarity import NONE, Buffer, Err, UInt
from chain.contracts import Contracts
from chain.payloads import sends
from chain.port import Block, Chain, EventLog, TxStatus
from chain.protocol import BLOCKS_PER_DAY, PRICE_SCALE, SATS, SBTC, STX, TIERS
from chain.quotes import Quote
from chain.wallet import Wallet

TIER_WEIGHTS = (0.3, 0.4, 0.3)
# purchase-policy's errors for a quote that went stale before its purchase was mined
# (contracts/README.md): past valid-until, no BTC-USD observation this or the previous burn
# block, spot moved past quote-slippage-bps. The buyer asks this many times more for a fresh one.
STALE_QUOTE_ERRORS = frozenset({331, 333, 334})
STALE_RETRIES = 1


def split_deposit(total: int) -> tuple[int, ...]:
    """How a simulated provider splits `total` token units across the tiers (TIER_WEIGHTS,
    truncating; the last tier takes the remainder, so nothing is lost). One home: the
    providers deposit so, and scenarios/study.py builds a study's pool so."""
    parts = [int(total * w) for w in TIER_WEIGHTS]
    parts[-1] += total - sum(parts)
    return tuple(parts)


def _deny(pc: txs.PostCondition) -> dict[str, Any]:
    return {"post_conditions": [pc], "mode": txs.PostConditionMode.DENY}


def _broadcast(wallet: Wallet, log: EventLog, call: Callable[[], str], what: str) -> str | None:
    try:
        return call()
    except errors.Rejected as exc:
        log.record("user-tx-rejected", user=wallet.address.address, what=what, reason=exc.reason)
        wallet.resync()
        return None


@dataclass
class Providers:
    """Deposit at the start; with `panic_drop`, run for the exit when BTC falls that far."""

    env: simpy.Environment
    chain: Chain
    contracts: Contracts
    wallets: list[Wallet]
    log: EventLog
    true_btc: Callable[[float], float]
    stx_each: int
    sbtc_each: int
    panic_drop: float
    check_seconds: float

    def start(self) -> None:
        self.env.process(self._run())

    def _run(self):
        for w in self.wallets:
            for token, total in ((STX, self.stx_each), (SBTC, self.sbtc_each)):
                for tier, amount in zip(TIERS, split_deposit(total), strict=True):
                    if amount > 0:
                        self._deposit(w, token, tier, amount)
        if self.panic_drop <= 0:
            return
        start = self.true_btc(0.0)
        panicked = False
        while True:
            yield self.env.timeout(self.check_seconds)
            if not panicked and self.true_btc(self.env.now) > start * (1 - self.panic_drop):
                continue
            if not panicked:
                self.log.record("providers-panic", btc=round(self.true_btc(self.env.now), 2))
            panicked = True
            if not self._withdraw_all():
                return

    def _deposit(self, w: Wallet, token: int, tier: int, amount: int) -> None:
        pool = self.contracts.pool
        args = (self.contracts.sbtc, UInt(token), UInt(tier), UInt(amount))
        pc = sends(self.contracts, txs.ORIGIN, token, amount)
        _broadcast(w, self.log, lambda: w.call(pool, "deposit", *args, **_deny(pc)), "deposit")

    def _withdraw_all(self) -> bool:
        """Each provider's exit in two steps: it asks to withdraw all it holds (a request burns
        nothing, so nothing is ever given up for 0 tokens, unlike v1's partial burns: 2,534 of
        them in bank-run), then completes once its withdrawal is ready (ready-at reached, or
        nothing unsettled in the tranche). False when nobody holds or waits for anything."""
        anyone = False
        pool = self.contracts.pool
        burn = self.chain.tip().burn_height
        for w in self.wallets:
            for token in (STX, SBTC):
                for tier in TIERS:
                    key = [UInt(token), UInt(tier)]
                    held = self.chain.read_only(pool, "get-shares", [*key, w.address]).value
                    pending = self.chain.read_only(pool, "get-pending", [*key, w.address])
                    if held:
                        anyone = True
                        args = (*key, UInt(held))
                        _broadcast(w, self.log,
                                   lambda a=args, w=w: w.call(pool, "request-withdraw", *a),
                                   "request-withdraw")  # fmt: skip
                    if pending is NONE:
                        continue
                    anyone = True
                    unsettled = self.chain.read_only(pool, "get-vault", key)["unsettled"].value
                    if burn < pending.value["ready-at"].value and unsettled:
                        continue  # not ready: the policies its shares back are still open
                    args = (self.contracts.sbtc, *key)
                    _broadcast(w, self.log,
                               lambda a=args, w=w: w.call(pool, "complete-withdraw", *a),
                               "complete-withdraw")  # fmt: skip
        return anyone


class _Inbox:
    """Where the registry's answer to a buyer's request arrives; `retry` counts the requests
    made again for the same terms after a stale quote (0 for the first)."""

    __slots__ = ("buyer", "retry")

    def __init__(self, buyer: Buyers, retry: int = 0):
        self.buyer, self.retry = buyer, retry

    def tell(self, message: Any) -> None:
        self.buyer.answer(message, self.retry)


@dataclass
class Buyers:
    env: simpy.Environment
    chain: Chain
    contracts: Contracts
    registry: Any  # ActorRef
    wallets: list[Wallet]
    log: EventLog
    rng: np.random.Generator
    true_btc: Callable[[float], float]
    burn_height: Callable[[], int]
    knobs: dict[str, Any]  # the scenario's buyers.* section
    sign_seconds: float = 3.0

    def start_arrivals(self, until: float) -> None:
        if self.knobs["rate_per_hour"] > 0:
            self.env.process(self._arrivals(until))

    def start_burst(self, at: float, count: int, burst: dict[str, Any]) -> None:
        self.env.process(self._burst(at, count, burst))

    def _request(self, wallet: Wallet, amount_btc: float, strike_frac: float, days: float,
                 token: int) -> None:  # fmt: skip
        spot = self.true_btc(self.env.now)
        request = QuoteRequest(
            buyer=wallet.address,
            amount=round(amount_btc * SATS),
            strike=int(spot * strike_frac) * PRICE_SCALE,
            expiration=self.burn_height() + round(days * BLOCKS_PER_DAY),
            token=token,
            reply_to=_Inbox(self),
        )
        self.registry.tell(request)

    def _arrivals(self, until: float):
        k, rng = self.knobs, self.rng
        rate = k["rate_per_hour"] / 3600
        while True:
            yield self.env.timeout(float(rng.exponential(1 / rate)))
            if self.env.now >= until:
                return
            wallet = self.wallets[int(rng.integers(len(self.wallets)))]
            amount = float(np.exp(rng.uniform(np.log(k["amount_btc_min"]),
                                              np.log(k["amount_btc_max"]))))  # fmt: skip
            strike = float(rng.uniform(k["strike_min"], k["strike_max"]))
            days = float(rng.uniform(k["days_min"], k["days_max"]))
            token = STX if rng.random() < k["stx_share"] else SBTC
            self._request(wallet, amount, strike, days, token)

    def _burst(self, at: float, count: int, burst: dict[str, Any]):
        """`count` requests spread evenly over `burst.minutes`, one expiration for all."""
        yield self.env.timeout(at)
        expiration = self.burn_height() + round(burst["days"] * BLOCKS_PER_DAY)
        spot = self.true_btc(self.env.now)
        strike = int(spot * burst["strike"]) * PRICE_SCALE
        amount = round(burst["amount_btc"] * SATS)
        window = burst["minutes"] * 60
        step = 5.0  # one batch of requests per Stacks block interval
        steps = max(1, int(window // step))
        sent = 0
        for k in range(steps):
            upto = count * (k + 1) // steps
            for i in range(sent, upto):
                wallet = self.wallets[i % len(self.wallets)]
                token = STX if i % 100 < burst["stx_share"] * 100 else SBTC
                self.registry.tell(
                    QuoteRequest(wallet.address, amount, strike, expiration, token, _Inbox(self))
                )
            sent = upto
            if sent < count:
                yield self.env.timeout(step)

    def answer(self, message: Any, retry: int = 0) -> None:
        if isinstance(message, QuoteRefused):
            return  # the registry logged why
        assert isinstance(message, QuoteOffer)
        if self.sign_seconds:
            self.env.process(self._buy_later(message, retry))
        else:
            self._buy(message, retry)

    def _buy_later(self, offer: QuoteOffer, retry: int):
        yield self.env.timeout(self.sign_seconds)
        self._buy(offer, retry)

    def _buy(self, offer: QuoteOffer, retry: int) -> None:
        q = offer.quote
        wallet = self._wallets_by_address[q.buyer]
        args = (q.to_clarity(), Buffer(offer.signature), self.contracts.sbtc)
        pc = sends(self.contracts, txs.ORIGIN, q.token, q.premium)
        registry = self.contracts.registry
        txid = _broadcast(wallet, self.log,
                          lambda: wallet.call(registry, "purchase-policy", *args, fee=1000,
                                              **_deny(pc)),
                          "purchase")  # fmt: skip
        if txid is not None and retry < STALE_RETRIES:
            if not self._subscribed:  # the chain tells each block's receipts (SimChain)
                self.chain.subscribe(self._on_block)  # type: ignore[attr-defined]
                self._subscribed = True
            self._watched[txid] = (q, retry)

    def _on_block(self, block: Block) -> None:
        """A watched purchase that failed for a stale quote: the same terms are asked for again
        (on the expiry grid already, the tier the quote named), once per STALE_RETRIES."""
        if not self._watched:
            return
        for r in block.receipts:
            watched = self._watched.pop(r.txid, None)
            if watched is None or r.status != TxStatus.ABORT_BY_RESPONSE:
                continue
            code = r.result.value.value if isinstance(r.result, Err) else None  # type: ignore[attr-defined]
            if code not in STALE_QUOTE_ERRORS:
                continue
            q, retry = watched
            self.log.record("quote-retry", buyer=q.buyer.address, quote_id=q.quote_id,
                            error=code, retry=retry + 1)  # fmt: skip
            self.registry.tell(
                QuoteRequest(
                    q.buyer,
                    q.amount,
                    q.strike,
                    q.expiration,
                    q.token,
                    _Inbox(self, retry + 1),
                    q.tier,
                )
            )

    def __post_init__(self) -> None:
        self._wallets_by_address = {w.address: w for w in self.wallets}
        self._watched: dict[str, tuple[Quote, int]] = {}  # purchase txid -> (quote, retry)
        self._subscribed = False
