"""RegistryActor's settlement batching, against a real SimChain and a signer that fails."""

from __future__ import annotations

from dataclasses import replace

from actors.events import decode_prints
from actors.messages import (
    Connect,
    NewBlock,
    PoolState,
    PriceUpdate,
    QuoteRequest,
    SignQuote,
    Submit,
    TrancheView,
    TxDone,
)
from actors.registry import RegistryActor
from chain.contracts import Contracts
from risk.pricing import PricingParams, premium_floor, premium_usd
from sim.runtime import SimRuntime
from store import open_store
from tests.sim.harness import BTC, STX, USD, Harness, err


class Sink:
    def __init__(self) -> None:
        self.got: list = []

    def tell(self, message) -> None:
        self.got.append(message)


class FailingBatches(Sink):
    """A signer whose multi-policy settlements all abort, as if one policy in each overflowed."""

    def tell(self, message) -> None:
        super().tell(message)
        if isinstance(message, Submit) and message.function == "settle-policies":
            ids = message.tag[1]
            status = "abort_by_response" if len(ids) > 1 else "success"
            message.reply_to.tell(TxDone(message.tag, f"tx-{ids}", status, None, 0))


class Log:
    def record(self, kind: str, **fields) -> None:
        pass


def test_a_failed_batch_is_retried_one_policy_per_transaction():
    h = Harness(users=3)
    h.set_price(65_000 * USD, 150_000_000)
    assert h.deposit(h.users[0], 0, 1, 500_000 * STX).status == "success"
    for i in range(3):
        q = h.quote(h.users[1 + i % 2], amount=BTC // 10)
        assert h.purchase(h.users[1 + i % 2], q).status == "success"
    h.chain.mine_burn(150)
    h.set_price(50_000 * USD, 150_000_000)  # fresh, after expiry: settlement may go

    runtime = SimRuntime(h.chain.env)
    contracts = Contracts.of(h.d.accounts.deployer.principal())
    registry = runtime.start(RegistryActor, h.chain, open_store(), Log(), contracts)
    signer = FailingBatches()
    registry.tell(Connect(Sink(), registry, Sink(), signer))
    events = tuple(h.chain.events_since(0, 10**9))
    tip = h.chain.tip()
    registry.tell(NewBlock(tip.stacks_height, tip.burn_height, 0.0, (), events,
                           decode_prints(events)))  # fmt: skip
    h.chain.env.run()
    registry.tell(NewBlock(tip.stacks_height + 1, tip.burn_height, 0.0, (), (), ()))
    h.chain.env.run()
    sent = [m.tag[1] for m in signer.got if isinstance(m, Submit)]
    assert sent == [(1, 2, 3), (1,), (2,), (3,)]
    runtime.stop_all()


def _quoting_registry(h: Harness):
    """A registry actor that has seen the chain's prices and tranches, and a signer sink."""
    runtime = SimRuntime(h.chain.env)
    contracts = Contracts.of(h.d.accounts.deployer.principal())
    registry = runtime.start(RegistryActor, h.chain, open_store(), Log(), contracts)
    signer = Sink()
    registry.tell(Connect(Sink(), registry, Sink(), signer))
    tip = h.chain.tip()
    registry.tell(NewBlock(tip.stacks_height, tip.burn_height, 0.0, (), (), ()))
    for asset, price in (("BTC-USD", 65_000 * USD), ("STX-USD", 50_000_000)):
        registry.tell(PriceUpdate(asset, price, 0.0, 0.5))
    assets, shares, locked = h.tranche(0, 1)
    views = tuple(
        TrancheView(token, tier, *((assets, shares, locked) if (token, tier) == (0, 1) else
                                   (0, 0, 0)), 0)
        for token, tier in ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2))
    )  # fmt: skip
    registry.tell(PoolState(tip.burn_height, views))
    h.chain.env.run()
    return runtime, registry, signer


def test_quotes_clear_the_chains_floors_and_price_the_capped_put():
    """Protocol v2: what the actor signs, the registry contract accepts (u318 intrinsic value,
    u319 minimum premium, u320 capital charge, each checked against the actor's own quote),
    and the premium is that of a put whose payout stops at the collateral: never above the
    plain put's."""
    h = Harness(users=3)
    h.set_price(65_000 * USD, 50_000_000)
    assert h.deposit(h.users[0], 0, 1, 500_000 * STX).status == "success"
    runtime, registry, signer = _quoting_registry(h)
    now = h.chain.tip().burn_height
    # in the money by 20%; far out of the money for 90 days (its put is worth less than the
    # capital charge of its collateral, so the floor sets its premium); at the money
    requests = [
        (78_000 * USD, now + 150, 1, None),
        (33_000 * USD, now + 12_900, 1, 320),
        (65_000 * USD, now + 1_000, 1, None),
    ]
    refused = Sink()
    quotes = []
    for strike, expiration, tier, floor_code in requests:
        # a v2 quote is good for quote-ttl-seconds: each is bought as soon as it is signed
        registry.tell(QuoteRequest(h.users[1].address, BTC // 10, strike, expiration, 0, refused,
                                   tier))  # fmt: skip
        h.chain.env.run()
        assert refused.got == []
        q = [m.quote for m in signer.got if isinstance(m, SignQuote)][-1]
        quotes.append(q)
        floor = premium_floor(strike=q.strike, spot=65_000 * USD, amount_sats=q.amount,
                              collateral=q.collateral, token_price=50_000_000, token_unit=STX,
                              min_premium=STX // 10, capital_rate_bps=200,
                              blocks=q.expiration - now)  # fmt: skip
        assert q.premium >= floor
        assert (q.premium == floor) == (floor_code is not None)  # the floor binds, or not
        r = h.purchase(h.users[1], q)
        assert r.status == "success", (q, r.result)
        if floor_code is not None:  # one unit less than the quote breaks the floor
            cheaper = replace(q, premium=q.premium - 1, quote_id=q.quote_id + 10**9,
                              **h.quote_pins())  # fmt: skip
            assert h.purchase(h.users[1], cheaper).result == err(floor_code)
    _, _, atm = quotes
    plain = premium_usd(65_000 * USD, atm.strike, atm.amount, atm.expiration - now, 0.5, 0.0,
                        PricingParams())  # fmt: skip
    cap = atm.collateral * 50_000_000 / STX / USD
    capped = premium_usd(65_000 * USD, atm.strike, atm.amount, atm.expiration - now, 0.5, 0.0,
                         PricingParams(), cap)  # fmt: skip
    assert capped <= plain
    runtime.stop_all()
