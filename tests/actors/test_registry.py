"""RegistryActor's settlement batching, against a real SimChain and a signer that fails."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from actors.events import decode_prints
from actors.messages import (
    Connect,
    NewBlock,
    PoolState,
    PriceUpdate,
    QuoteRefused,
    QuoteRequest,
    Recovered,
    SignQuote,
    Submit,
    TrancheView,
    TxDone,
)
from actors.registry import NEVER, RegistryActor, RegistryConfig
from actors.tags import FixTag, SettleTag
from chain import protocol
from chain.clarity import Buffer, UInt
from chain.contracts import Contracts
from chain.keys import PrivateKey
from chain.port import Block
from chain.quotes import Quote
from chain.wallet import Wallet
from risk.book import Demand, PoolTerms, admit
from risk.paths import PriceModel
from risk.pricing import PricingParams, premium_floor, premium_usd
from sim.runtime import SimRuntime
from store import open_store
from tests.doubles import NoLog, Sink
from tests.sim.harness import BTC, STX, USD, Harness, err


class FailingBatches(Sink):
    """A signer whose multi-policy settlements all abort, as if one policy in each overflowed."""

    def tell(self, message) -> None:
        super().tell(message)
        if isinstance(message, Submit) and message.function == "settle-policies":
            ids = message.tag.ids
            status = "abort_by_response" if len(ids) > 1 else "success"
            message.reply_to.tell(TxDone(message.tag, f"tx-{ids}", status, None, 0))


def _seeing_the_chain(
    h: Harness, signer, config: RegistryConfig | None = None, forged: tuple[dict, ...] = ()
):
    """A registry actor started on the harness's chain that has seen all of its events (one
    block, after a block of `forged` prints), sending to `signer`; returns the runtime and the
    actor."""
    runtime = SimRuntime(h.chain.env)
    contracts = Contracts.of(h.d.accounts.deployer.principal())
    registry = runtime.start(RegistryActor, h.chain, open_store(), NoLog(), contracts, config)
    registry.tell(Connect(Sink(), registry, Sink(), signer))
    events = tuple(h.chain.events_since(0, 10**9))
    tip = h.chain.tip()
    if forged:
        registry.tell(NewBlock(Block(tip.stacks_height, tip.burn_height, 0.0, (), ()), forged))
    registry.tell(
        NewBlock(Block(tip.stacks_height, tip.burn_height, 0.0, (), events), decode_prints(events))
    )
    h.chain.env.run()
    return runtime, registry


def _three_policies() -> tuple[Harness, Quote]:
    """Policies 1-3, each 0.1 BTC, bought at 65,000 USD; returns the last quote."""
    h = Harness(users=3)
    h.set_price(65_000 * USD, 150_000_000)
    assert h.deposit(h.users[0], 0, 1, 500_000 * STX).status == "success"
    for i in range(3):
        q = h.quote(h.users[1 + i % 2], amount=BTC // 10)
        assert h.purchase(h.users[1 + i % 2], q).status == "success"
    return h, q


def test_a_failed_batch_is_retried_one_policy_per_transaction():
    h, q = _three_policies()
    h.chain.mine_burn(q.expiration - h.chain.tip().burn_height)  # expired: settlement may go

    signer = FailingBatches()
    runtime, registry = _seeing_the_chain(h, signer)
    tip = h.chain.tip()
    registry.tell(NewBlock(Block(tip.stacks_height + 1, tip.burn_height, 0.0, (), ())))
    h.chain.env.run()
    sent = [m.tag.ids for m in signer.got if isinstance(m, Submit) and m.tag.kind == "settle"]
    assert sent == [(1, 2, 3), (1,), (2,), (3,)]
    runtime.stop_all()


def test_a_recovered_settlement_holds_its_policies_until_the_signer_says_it_is_done():
    """The Signer (not the Signer's outbox) tells the Registry of a previous run's batch: its
    policies are not settled again while it is on its way, and may be once it has run."""
    h, q = _three_policies()
    h.chain.mine_burn(q.expiration - h.chain.tip().burn_height)

    runtime = SimRuntime(h.chain.env)
    contracts = Contracts.of(h.d.accounts.deployer.principal())
    registry = runtime.start(RegistryActor, h.chain, open_store(), NoLog(), contracts)
    signer = Sink()
    registry.tell(Connect(Sink(), registry, Sink(), signer))
    registry.tell(Recovered(SettleTag((1, 2)), "old"))
    events = tuple(h.chain.events_since(0, 10**9))
    tip = h.chain.tip()
    registry.tell(
        NewBlock(Block(tip.stacks_height, tip.burn_height, 0.0, (), events), decode_prints(events))
    )
    h.chain.env.run()

    def settled() -> list[tuple[int, ...]]:
        got = [m.tag.ids for m in signer.got if isinstance(m, Submit) and m.tag.kind == "settle"]
        signer.got.clear()
        return got

    assert settled() == [(3,)]
    # it ran, but (in this test) settled nothing: the two are due again
    registry.tell(TxDone(SettleTag((1, 2)), "old", "success", None, tip.burn_height))
    registry.tell(NewBlock(Block(tip.stacks_height + 1, tip.burn_height, 0.0, (), ())))
    h.chain.env.run()
    assert settled() == [(1, 2)]
    runtime.stop_all()


def _quoting_registry(h: Harness, pending: int = 0, store=None):
    """A registry actor that has seen the chain's prices and tranches (`pending` shares of
    tranche (0, 1) waiting to be withdrawn), and a signer sink; on the runtime's clock."""
    runtime = SimRuntime(h.chain.env)
    contracts = Contracts.of(h.d.accounts.deployer.principal())
    store = store or open_store()
    registry = runtime.start(RegistryActor, h.chain, store, NoLog(), contracts, None, runtime.now)
    signer = Sink()
    registry.tell(Connect(Sink(), registry, Sink(), signer))
    tip = h.chain.tip()
    registry.tell(NewBlock(Block(tip.stacks_height, tip.burn_height, 0.0, (), ())))
    for asset, price in (("BTC-USD", 65_000 * USD), ("STX-USD", 50_000_000)):
        registry.tell(PriceUpdate(asset, price, 0.0, 0.5))
    assets, shares, locked = h.tranche(0, 1)
    views = tuple(
        TrancheView(token, tier, *((assets, shares, locked, 0, pending) if (token, tier) == (0, 1)
                                   else (0, 0, 0, 0, 0)))
        for token, tier in ((0, 0), (0, 1), (0, 2), (1, 0), (1, 1), (1, 2))
    )  # fmt: skip
    registry.tell(PoolState(tip.burn_height, views))
    h.chain.env.run()
    return runtime, registry, signer


def test_a_quote_is_stored_at_the_runtimes_time():
    h = Harness(users=3)
    h.set_price(65_000 * USD, 50_000_000)
    assert h.deposit(h.users[0], 0, 1, 500_000 * STX).status == "success"
    store = open_store()
    _runtime, registry, signer = _quoting_registry(h, store=store)
    h.chain.env.run(until=h.chain.env.now + 42.0)
    asked_at = h.chain.env.now
    now = h.chain.tip().burn_height
    registry.tell(QuoteRequest(h.users[1].address, BTC // 10, 60_000 * USD, now + 300, 0, Sink()))
    h.chain.env.run()
    q = [m.quote for m in signer.got if isinstance(m, SignQuote)][-1]
    row = store.quotes.get(q.quote_id)
    assert row is not None and row["ts"] == asked_at > 0


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


def _ask(registry, signer, h: Harness, amount: int, strike: int, expiration: int):
    """The actor's quote for the terms (STX, the tier of the strike), or its refusal."""
    refused = Sink()
    before = len(signer.got)
    registry.tell(QuoteRequest(h.users[1].address, amount, strike, expiration, 0, refused))
    h.chain.env.run()
    if refused.got:
        return refused.got[0]
    assert len(signer.got) == before + 1
    return signer.got[-1].quote


def test_the_actor_and_the_risk_book_price_a_quote_alike():
    """Issue 14: one quote-pricing function (risk/quote.py). The registry actor's quote and
    the risk engine's admission of the same terms at the same prices agree to the token unit,
    for a quote whose premium is the capped put and one the capital-charge floor sets, and
    both refuse what is out of bounds."""
    h = Harness(users=3)
    h.set_price(65_000 * USD, 50_000_000)
    assert h.deposit(h.users[0], 0, 1, 500_000 * STX).status == "success"
    assets = h.tranche(0, 1)[0]
    now = h.chain.tip().burn_height
    model = PriceModel(btc_start=65_000.0, stx_start=0.5, btc_vol=0.5)
    pool = PoolTerms(deposits=(assets, assets, assets, 0, 0, 0))
    cases = [
        (BTC // 10, 62_000 * USD, now + 1_000),  # balanced tier, priced by the model
        (BTC // 10, 33_000 * USD, now + 12_900),  # conservative, far out: the floor binds
        (BTC // 10, 66_000 * USD, now + 300),  # aggressive, in the money
        (BTC // 2000, 62_000 * USD, now + 1_000),  # below min-amount: both refuse
        (BTC * 4, 62_000 * USD, now + 1_000),  # 4 BTC: over the tranche's cap
    ]
    sold = 0
    for amount, strike, expiration in cases:
        runtime, registry, signer = _quoting_registry(h)
        # every tranche (0, tier) holds the same assets for the actor as for the book
        registry.tell(PoolState(now, tuple(TrancheView(0, t, assets, assets, 0, 0) for t in
                                           (0, 1, 2))))  # fmt: skip
        h.chain.env.run()
        got = _ask(registry, signer, h, amount, strike, expiration)
        runtime.stop_all()
        blocks = expiration - now if isinstance(got, QuoteRefused) else got.expiration - now
        demand = Demand(*(np.array([x], dtype=np.int64) for x in (amount, strike, blocks, 0)))
        book = admit(demand, pool, model, PricingParams(), realised_vol=0.5)
        if isinstance(got, QuoteRefused):
            assert len(book) == 0, got.reason
            continue
        sold += 1
        assert len(book) == 1
        assert (int(book.premium[0]), int(book.collateral[0]), int(book.tier[0])) == (
            got.premium,
            got.collateral,
            got.tier,
        )
    assert sold == 3


def test_the_actor_refuses_what_pending_withdrawals_leave_the_pool_unable_to_back():
    """Item 4 of the rules round: a quote whose collateral passes what the tranche holds beyond
    its pending withdrawals' value is refused before it is signed (TrancheView.fits), where
    the chain would abort its purchase (u415); a smaller one the chain accepts is quoted."""
    h = Harness(users=3)
    h.set_price(65_000 * USD, 50_000_000)
    assert h.deposit(h.users[0], 0, 1, 500_000 * STX).status == "success"
    _, shares, _ = h.tranche(0, 1)
    pending = shares * 8 // 10  # 400,000 STX wait to leave: 100,000 STX may back policies
    assert h.request_withdraw(h.users[0], 0, 1, pending).status == "success"
    runtime, registry, signer = _quoting_registry(h, pending)
    expiration = h.chain.tip().burn_height + 300
    # 1 BTC at 60,000: 120,000 STX of collateral, within the 75% cap, beyond what is free
    got = _ask(registry, signer, h, BTC, 60_000 * USD, expiration)
    assert isinstance(got, QuoteRefused) and got.reason == "capacity"
    grid = protocol.expiry_on_grid(expiration - 300, 300, 12_960)
    unsigned = h.quote(h.users[1], amount=BTC, collateral=120_000 * STX, premium=5_000 * STX,
                       expiration=grid)  # fmt: skip
    assert h.purchase(h.users[1], unsigned).result == err(415)  # what the chain would do
    half = _ask(registry, signer, h, BTC // 2, 60_000 * USD, expiration)
    assert isinstance(half, Quote) and half.collateral == 60_000 * STX
    assert h.purchase(h.users[1], half).status == "success"
    runtime.stop_all()


def test_at_expiry_the_actor_proves_the_fixings_then_settles_once_each():
    """Protocol v2: at E the actor sends `fix` for BTC-USD and STX-USD with hints from the
    observations it saw (they verify on chain), then the settlement, in that order; a price
    pushed after E changes neither the fixings nor the payout."""
    h = Harness(users=3)
    h.set_price(65_000 * USD, 50_000_000)
    assert h.deposit(h.users[0], 0, 1, 500_000 * STX).status == "success"
    q = h.quote(h.users[1], amount=BTC // 10, strike=60_000 * USD)
    assert h.purchase(h.users[1], q).status == "success"
    h.chain.mine_burn(q.expiration - 6 - h.chain.tip().burn_height)
    h.set_price(55_000 * USD, 50_000_000)  # in force over the fixing window
    h.chain.mine_burn(8)  # two blocks past E
    h.set_price(58_000 * USD, 55_000_000)  # after E

    # a look-alike of the oracle's event, printed by some other contract: a fixing "stored"
    # would make the actor skip proving it (and defer for ever); it ignores it
    hostile = {"_contract": h.d.accounts.users[2].principal().contract("mimic").address,
               "_txid": "forged", "_burn": q.expiration, "_block": 1}  # fmt: skip
    forged = ({**hostile, "event": "fixing-set", "asset": "BTC-USD", "expiry": q.expiration,
               "price": 1, "last-observed": 0, "stale": False},)  # fmt: skip
    signer = Sink()
    runtime, registry = _seeing_the_chain(h, signer, forged=forged)
    tip = h.chain.tip()
    sent = [m for m in signer.got if isinstance(m, Submit)]
    assert [(m.function, m.tag) for m in sent] == [
        ("fix", FixTag("BTC-USD", q.expiration)),
        ("fix", FixTag("STX-USD", q.expiration)),
        ("settle-policies", SettleTag((1,))),
    ]
    for m in sent:  # what the signer would send, in its nonce order
        assert h.send(h.admin, m.contract, m.function, *m.args).status == "success"
    policy = h.chain.read_only(h.registry, "get-policy", [UInt(1)]).value
    # (60,000 - 55,000) x 0.1 BTC = 500 USD = 1,000 STX at 0.50
    assert policy["price"] == UInt(55_000 * USD) and policy["paid"] == UInt(1_000 * STX)
    registry.tell(NewBlock(Block(tip.stacks_height + 1, tip.burn_height, 0.0, (), ())))
    h.chain.env.run()
    assert len([m for m in signer.got if isinstance(m, Submit)]) == 3  # nothing sent twice
    runtime.stop_all()


def test_a_late_backend_waits_its_delay_and_a_never_backend_sends_nothing():
    h = Harness(users=3)
    h.set_price(65_000 * USD, 50_000_000)
    assert h.deposit(h.users[0], 0, 1, 500_000 * STX).status == "success"
    q = h.quote(h.users[1], amount=BTC // 10)
    assert h.purchase(h.users[1], q).status == "success"
    h.chain.mine_burn(q.expiration + 10 - h.chain.tip().burn_height)
    for delay, sends in ((20, False), (10, True), (NEVER, False)):
        signer = Sink()
        runtime, _ = _seeing_the_chain(h, signer, RegistryConfig(settle_delay_blocks=delay))
        assert any(isinstance(m, Submit) for m in signer.got) == sends, delay
        runtime.stop_all()


def test_quoting_follows_the_queued_quote_key():
    """Protocol v2 ("Admin"): the actor follows queued changes from their events. It quotes
    while a new quote key is a week away, stops once the change would apply within a quote's
    validity, quotes again when the guardian cancels it, and stops while the key is zeroed."""
    h = Harness(users=3)
    h.set_price(65_000 * USD, 50_000_000)
    assert h.deposit(h.users[0], 0, 1, 500_000 * STX).status == "success"
    runtime, registry, signer = _quoting_registry(h)
    guardian = Wallet(h.d.accounts.guardian, h.chain)
    other = PrivateKey.from_seed(b"test_registry/someone-elses-quote-key")
    seen = [0]

    def catch_up() -> None:
        """Feeds the actor every event since the last call, at the chain's tip."""
        events = tuple(h.chain.events_since(seen[0], 10**9))
        seen[0] += len(events)
        tip = h.chain.tip()
        registry.tell(
            NewBlock(
                Block(tip.stacks_height, tip.burn_height, 0.0, (), events), decode_prints(events)
            )
        )
        h.chain.env.run()

    def ask() -> str:
        """'quoted', or the reason the actor gave for refusing."""
        before, answers = len(signer.got), Sink()
        now = h.chain.tip().burn_height
        registry.tell(QuoteRequest(h.users[1].address, BTC // 10, 60_000 * USD, now + 300, 0,
                                   answers, 1))  # fmt: skip
        h.chain.env.run()
        if len(signer.got) > before:
            return "quoted"
        return answers.got[0].reason

    queued = h.send(h.admin, h.registry, "queue-quote-pubkey", Buffer(other.public_key))
    eta = queued.result.value.value
    catch_up()
    assert ask() == "quoted"  # a week ahead: quotes signed now end long before
    h.chain.mine_burn(eta - 2 - h.chain.tip().burn_height)
    h.set_price(65_000 * USD, 50_000_000)
    catch_up()
    assert ask() == "quote-key-changing"
    assert h.send(guardian, h.registry, "cancel-quote-pubkey").status == "success"
    catch_up()
    assert ask() == "quoted"
    assert h.send(guardian, h.registry, "zero-quote-pubkey").status == "success"
    catch_up()
    assert ask() == "quote-key-zeroed"
    runtime.stop_all()
