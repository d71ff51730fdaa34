"""RegistryActor: prices and issues quotes, follows purchases, settles expired policies.

Quotes are priced off-chain (Black-Scholes with the utilisation skew) against the oracle's
aggregated price and the pool's tranche view, with the collateral the quote will lock reserved
until the quote is bought or expires, so one block's quotes cannot together overfill a tranche.
Protocol v2: the quote prices the capped put the chain sells (its payout stops at the
collateral), its collateral is at least what the chain will compute at its own latest prices,
and its premium clears the chain's floors (intrinsic value, minimum premium, capital charge),
so a quote the actor signs is one the registry contract accepts.
Settlement is at the oracle's fixings (PROTOCOL.md v2): once an expiry E is reached (plus
`settle_delay_blocks`, 0 by default) the actor proves the fixings its policies need with the
oracle's `fix` (hints from the observations it has seen in `price-updated` events, walking back
by their `prev`), then settles in batches of up to 50 ids, in the same round: the signer sends
in nonce order, so the fix runs first. An id is never in two unconfirmed batches; a fixing is
never in two unconfirmed `fix` transactions.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field, replace

from actors.base import ServiceActor, handles
from actors.messages import (
    NewBlock,
    PoolState,
    PriceUpdate,
    PushNow,
    QuoteBreaker,
    QuoteRefused,
    QuoteRequest,
    Recovered,
    SignQuote,
    Submit,
    TrancheView,
    TxDone,
)
from actors.params import ZERO_KEY, Governance, follow, read_parameters
from actors.tags import FixTag, SettleTag
from chain.clarity import NONE, List, Ok, Some, StringAscii, Tuple, UInt
from chain.contracts import BTC_USD, STX, STX_USD, TOKEN_UNIT, Contracts
from chain.fixings import fix_hints
from chain.port import Chain, Clock, EventLog, PolicyStatus, StorePort, no_clock
from chain.protocol import expiry_on_grid
from chain.quotes import Quote
from risk.pricing import PricingParams
from risk.quote import QUOTE_TTL_BLOCKS, Market, QuoteRules, Refusal, price_quote

PARAMETERS = (
    "min-duration",
    "max-duration",
    "min-amount",
    "max-amount",
    "strike-band-bps",
    "protocol-fee-bps",
    "collateral-ratio-0",
    "collateral-ratio-1",
    "collateral-ratio-2",
    "max-utilisation-0",
    "max-utilisation-1",
    "max-utilisation-2",
    "tier-strike-bps-1",
    "tier-strike-bps-2",
    "min-premium-0",
    "min-premium-1",
    "capital-rate-bps",
    "price-max-age",
    "quote-ttl-seconds",
    "quote-slippage-bps",
    "quote-price-blocks",
)
QUOTE_IDS_PER_BLOCK = 1_000_000  # quote ids are burn height x this + a counter: unique for life
# a v2 purchase needs a BTC-USD observation at most quote-price-blocks old (u1 at deployment:
# its own or the previous burn block): for this many burn blocks after a quote request, the
# registry asks for one in every burn block
QUOTING_BLOCKS = 6


@dataclass(frozen=True)
class RegistryConfig:
    pricing: PricingParams = field(default_factory=PricingParams)
    quote_ttl_blocks: int = QUOTE_TTL_BLOCKS
    settle_batch: int = 50
    # burn blocks after an expiry before the actor settles it (a slow backend); NEVER: it does
    # not (buyers settle themselves: scenarios/late-settlement.toml)
    settle_delay_blocks: int = 0


NEVER = -1  # RegistryConfig.settle_delay_blocks: the backend never settles


@dataclass
class _Reservation:
    tranche: tuple[int, int]
    collateral: int
    expiry: int


class RegistryActor(ServiceActor):
    def __init__(
        self,
        chain: Chain,
        store: StorePort,
        log: EventLog,
        contracts: Contracts,
        config: RegistryConfig | None = None,
        clock: Clock = no_clock,
    ):
        super().__init__(chain, store, log, contracts)
        self.clock = clock  # the runtime's, for the quotes' `created` column
        self.config = config or RegistryConfig()
        self.params: dict[str, int] = {}
        self.prices: dict[str, PriceUpdate] = {}
        self.onchain: dict[str, tuple[int, int]] = {}  # asset -> (price, height)
        self.tranches: dict[tuple[int, int], TrancheView] = {}
        self.reservations: dict[int, _Reservation] = {}
        self.reserved: dict[tuple[int, int], int] = {}
        self.burn_height = 0
        self.quote_counter = 0
        self.active: dict[int, tuple[int, int]] = {}  # id -> (expiration, token)
        self.expiring: list[tuple[int, int]] = []  # heap of (expiration, id)
        self.due: set[int] = set()
        self.in_flight: set[int] = set()
        self.push_asked: dict[str, int] = {}
        self._settle_dirty = False
        self.recovered: set[SettleTag] = set()  # a previous run's batches (Recovered)
        self.alone: set[int] = set()  # ids of a failed batch: settled one per transaction
        self.breakers: set[tuple[int, int]] = set()  # tranches not quoted (QuoteBreaker)
        self.fixing_window = 6  # the oracle's, read on start
        self.prev_of: dict[tuple[str, int], int | None] = {}  # observation -> the one before
        self.fixed: set[tuple[str, int]] = set()  # (asset, expiry) fixings known stored
        self.fixing: set[tuple[str, int]] = set()  # fixings in an unconfirmed `fix`
        # queued admin changes, followed from their events; quotes stop while the quote key is
        # zeroed (the guardian's) or about to change within a quote's validity
        self.governance = Governance()
        self.key_zeroed = False
        self.quoting_until = -1  # burn height: keep BTC-USD observed every block until then

    def on_start(self) -> None:
        self.params = read_parameters(self.chain, self.contracts, PARAMETERS)
        self.burn_height = self.chain.tip().burn_height
        base = self.burn_height * QUOTE_IDS_PER_BLOCK
        last = self.store.quotes.last_id(base, base + QUOTE_IDS_PER_BLOCK)
        self.quote_counter = 0 if last is None else last - base
        for asset in (BTC_USD, STX_USD):
            got = self.chain.read_only(self.contracts.oracle, "get-price", [StringAscii(asset)])
            if isinstance(got, Ok) and isinstance(got.value, Tuple):
                v = got.value
                self.onchain[asset] = (v["price"].value, v["height"].value)  # type: ignore[attr-defined]
        config = self.chain.read_only(self.contracts.oracle, "get-config", [])
        if isinstance(config, Tuple):
            self.fixing_window = config["fixing-window"].value  # type: ignore[attr-defined]

    @handles(PriceUpdate)
    def price(self, msg: PriceUpdate) -> None:
        self.prices[msg.asset] = msg

    @handles(PoolState)
    def pool_state(self, msg: PoolState) -> None:
        self.tranches = {(t.token, t.tier): t for t in msg.tranches}

    # -- quotes --

    @handles(QuoteBreaker)
    def breaker(self, msg: QuoteBreaker) -> None:
        key = (msg.token, msg.tier)
        if msg.open:
            self.breakers.add(key)
        else:
            self.breakers.discard(key)

    @handles(QuoteRequest)
    def quote(self, req: QuoteRequest) -> None:
        quote = self._price_quote(req)
        if isinstance(quote, str):
            self.log.record("quote-refused", buyer=req.buyer.address, reason=quote)
            req.reply_to.tell(QuoteRefused(quote))
            return
        self.reservations[quote.quote_id] = _Reservation(
            (quote.token, quote.tier), quote.collateral, quote.quote_expiry
        )
        key = (quote.token, quote.tier)
        self.reserved[key] = self.reserved.get(key, 0) + quote.collateral
        self.store.quotes.add(
            quote.quote_id,
            req.buyer.address,
            quote.amount,
            quote.strike,
            quote.expiration,
            quote.premium,
            quote.collateral,
            quote.token,
            quote.tier,
            quote.quote_expiry,
            self.clock(),
        )
        self.log.record(
            "quote",
            quote_id=quote.quote_id,
            buyer=req.buyer.address,
            amount=quote.amount,
            strike=quote.strike,
            expiration=quote.expiration,
            token=quote.token,
            tier=quote.tier,
            premium=quote.premium,
            collateral=quote.collateral,
            spot=quote.spot,
            valid_until=quote.valid_until,
        )
        assert self.peers is not None
        self.peers.signer.tell(SignQuote(quote, req.reply_to))

    def _price_quote(self, req: QuoteRequest) -> str | Quote:
        """The quote for a request, or why there is none."""
        p, cfg = self.params, self.config
        if self.key_zeroed:
            return "quote-key-zeroed"
        change = self.governance.pending("policy-registry", "quote-pubkey")
        if change is not None and (change.eta or 0) <= self.burn_height + cfg.quote_ttl_blocks:
            return "quote-key-changing"  # a quote signed now might outlive the key
        self.quoting_until = self.burn_height + QUOTING_BLOCKS
        btc = self.prices.get(BTC_USD)
        onchain = self.onchain.get(BTC_USD)
        if btc is None or onchain is None:
            return "no-price"
        token_price = (
            btc.price if req.token != STX else getattr(self.prices.get(STX_USD), "price", 0)
        )
        chain_token = onchain if req.token != STX else self.onchain.get(STX_USD)
        if not token_price or req.token not in TOKEN_UNIT or chain_token is None:
            return "no-price"
        age, max_age = self.burn_height - chain_token[1], self.params["price-max-age"]
        if age > max_age - self.config.quote_ttl_blocks:  # it may be stale by the purchase
            self._ask_push(BTC_USD if req.token != STX else STX_USD)
        if age > max_age:
            return "no-price"  # the chain would refuse the purchase (u317)
        # a purchase needs a BTC-USD observation at most quote-price-blocks old (u333; 1: its
        # own or the previous burn block): ask for one in every burn block that has none, while
        # quotes are requested. Judged on the blocks followed so far, the same view the on-chain
        # price comes from (a poll that lags lags both; the wallet asks again if the purchase
        # comes too late)
        if onchain[1] < self.burn_height:
            self._ask_push(BTC_USD)
        if onchain[1] + p["quote-price-blocks"] < self.burn_height:
            return "no-price"
        spot, rules = btc.price, QuoteRules.of(p, cfg.quote_ttl_blocks)
        tier = req.tier
        if tier is None:
            tier = rules.tier(req.strike, spot)
        if (req.token, tier) in self.breakers:
            return "circuit-breaker"
        # on the expiry grid (the registry refuses any other expiration, u321)
        expiration = expiry_on_grid(
            self.burn_height, req.expiration - self.burn_height, p["max-duration"]
        )
        view = self.tranches.get((req.token, tier))
        if view is not None:  # this block's unbought quotes hold their collateral too
            view = replace(view, locked=view.locked + self.reserved.get((req.token, tier), 0))
        pricing = cfg.pricing
        if pricing.protocol_fee_bps != p["protocol-fee-bps"]:  # the chain's fee wins
            pricing = replace(pricing, protocol_fee_bps=p["protocol-fee-bps"])
        priced = price_quote(
            amount=req.amount,
            strike=req.strike,
            blocks=expiration - self.burn_height,
            token=req.token,
            tier=tier,
            market=Market(spot, token_price, onchain[0], chain_token[0], btc.vol),
            rules=rules,
            pricing=pricing,
            tranche=view,
        )
        if isinstance(priced, Refusal):
            return priced.value
        self.quote_counter += 1
        chain_time = self.chain.read_only(self.contracts.registry, "get-block-time", [])
        assert isinstance(chain_time, UInt)  # stacks-block-time of the tip
        return Quote(
            buyer=req.buyer,
            amount=req.amount,
            strike=req.strike,
            expiration=expiration,
            premium=priced.premium,
            collateral=priced.collateral,
            token=req.token,
            tier=tier,
            quote_expiry=self.burn_height + cfg.quote_ttl_blocks,
            quote_id=self.burn_height * QUOTE_IDS_PER_BLOCK + self.quote_counter,
            registry=self.contracts.registry,
            spot=onchain[0],  # pinned to the chain's own latest observation (slippage 0 now)
            # good for the longest the registry accepts from the tip's time (u331 / u332)
            valid_until=chain_time.value + p["quote-ttl-seconds"],
        )

    def _ask_push(self, asset: str) -> None:
        """Asks the oracle for a fresh on-chain price of `asset`, at most once a burn block: a
        purchase needs one at most price-max-age old (settlement needs none: it reads fixings)."""
        if self.peers is not None and self.push_asked.get(asset) != self.burn_height:
            self.push_asked[asset] = self.burn_height
            self.log.record("push-request", asset=asset, waiting=len(self.due))
            self.peers.oracle.tell(PushNow(asset))

    def _release(self, quote_id: int) -> None:
        r = self.reservations.pop(quote_id, None)
        if r is not None:
            self.reserved[r.tranche] -= r.collateral

    # -- chain --

    @handles(NewBlock)
    def block(self, msg: NewBlock) -> None:
        if msg.burn_height != self.burn_height:
            self.burn_height = msg.burn_height
            self._settle_dirty = True  # freshness is judged against the burn height
            self.quote_counter = 0
            btc = self.onchain.get(BTC_USD)
            if (
                self.burn_height <= self.quoting_until
                and btc is not None
                and btc[1] < msg.burn_height
            ):
                self._ask_push(BTC_USD)  # buyers are about: spot observed in every burn block
            for qid in [q for q, r in self.reservations.items() if r.expiry < msg.burn_height]:
                self._release(qid)
        c = self.contracts
        trusted = {c.oracle.address, c.registry.address, c.parameters.address}
        for e in msg.prints:
            if e["_contract"] not in trusted:  # any contract can print an event's look-alike
                continue
            name = e["event"]
            change = self.governance.follow(e)
            if change is not None:
                self.log.record("admin-change", **change.fields())
                if (change.contract, change.key, change.what) == (
                    "policy-registry", "quote-pubkey", "applied"
                ):  # fmt: skip
                    self.key_zeroed = change.value == ZERO_KEY
            if name == "policy-purchased":
                pid = e["id"]
                self.store.policies.purchased(
                    pid,
                    e["owner"],
                    e["amount"],
                    e["strike"],
                    e["expiration"],
                    e["premium"],
                    e["collateral"],
                    e["token"],
                    e["tier"],
                    e["quote-id"],
                    e["_burn"],
                )
                self._release(e["quote-id"])
                self.active[pid] = (e["expiration"], e["token"])
                heapq.heappush(self.expiring, (e["expiration"], pid))
            elif name in ("policy-settled", "policy-expired"):
                pid = e["id"]
                status = PolicyStatus.SETTLED if name == "policy-settled" else PolicyStatus.EXPIRED
                payout, paid = e.get("payout", 0), e.get("paid", 0)
                self.store.policies.finished(pid, status, payout, paid, e["price"], e["_burn"])
                self.active.pop(pid, None)
                self.alone.discard(pid)
                self.due.discard(pid)
                self.in_flight.discard(pid)
            elif name in ("settlement-deferred", "settlement-skipped"):
                self.in_flight.discard(e["id"])
                self._settle_dirty = True
            elif name == "price-updated":
                self.onchain[e["asset"]] = (e["price"], e["height"])
                prev = e["prev"]  # (optional uint), left as Clarity by decode_prints
                self.prev_of[(e["asset"], e["height"])] = (
                    prev.value.value if isinstance(prev, Some) else None  # type: ignore[attr-defined]
                )
            elif name == "fixing-set":
                key = (e["asset"], e["expiry"])
                self.fixed.add(key)
                self.fixing.discard(key)
                self._settle_dirty = True
                if e["stale"]:  # used all the same; monitoring should know
                    self.log.record("fixing-stale", asset=e["asset"], expiry=e["expiry"],
                                    last_observed=e["last-observed"])  # fmt: skip
            elif name == "parameter-set":
                follow(self.params, e)
        self._settle()

    def _stored(self, key: tuple[str, int]) -> bool:
        """Whether the oracle has the fixing; asked of the chain once per key (a restart, or a
        fixing proven by someone else whose event came before this actor started)."""
        if key not in self.fixed:
            got = self.chain.read_only(
                self.contracts.oracle, "get-fixing", [StringAscii(key[0]), UInt(key[1])]
            )
            if got != NONE:
                self.fixed.add(key)
        return key in self.fixed

    def _prove(self, key: tuple[str, int]) -> bool:
        """Sends `fix` for (asset, expiry) unless stored or on its way; False without the
        observations to prove it from (then the batch waits)."""
        if key in self.fixing or self._stored(key):
            return True
        asset, expiry = key
        latest = self.onchain.get(asset)
        hints = fix_hints(self.chain, self.contracts.oracle, asset, expiry, self.fixing_window,
                          latest[1] if latest else None, self.prev_of)  # fmt: skip
        if hints is None or self.peers is None:
            return False
        start, end = hints
        self.fixing.add(key)
        self.log.record("fix", asset=asset, expiry=expiry, start=start, end=end)
        self.peers.signer.tell(
            Submit(
                self.contracts.oracle,
                "fix",
                (StringAscii(asset), UInt(expiry), UInt(start), UInt(end)),
                FixTag(asset, expiry),
                self.actor_ref,
            )
        )
        return True

    def _settle(self) -> None:
        """Sends what can be settled now: proves the fixings each due expiry needs, then
        settles. Runs its scan only when something that decides it changed (new due ids, a
        fixing, a deferral, a failed batch)."""
        delay = self.config.settle_delay_blocks
        if delay == NEVER:
            return
        while self.expiring and self.expiring[0][0] + delay <= self.burn_height:
            _, pid = heapq.heappop(self.expiring)
            if pid in self.active:
                self.due.add(pid)
                self._settle_dirty = True
        if not self.due or self.peers is None or not self._settle_dirty:
            return
        self._settle_dirty = False
        ready = []
        verdicts: dict[tuple[int, int], bool] = {}  # (expiration, token) -> fixings on their way
        for pid in sorted(self.due - self.in_flight):
            key = self.active[pid]
            if key not in verdicts:
                expiration, token = key
                assets = (BTC_USD, STX_USD) if token == STX else (BTC_USD,)
                verdicts[key] = all([self._prove((a, expiration)) for a in assets])
            if verdicts[key]:
                ready.append(pid)
        size = self.config.settle_batch
        grouped = [p for p in ready if p not in self.alone]
        batches = [tuple(grouped[i : i + size]) for i in range(0, len(grouped), size)]
        batches += [(p,) for p in ready if p in self.alone]
        for ids in batches:
            self.in_flight.update(ids)
            self.log.record("settle-batch", ids=list(ids))
            self.peers.signer.tell(
                Submit(
                    self.contracts.registry,
                    "settle-policies",
                    (List(tuple(UInt(i) for i in ids)), self.contracts.sbtc),
                    SettleTag(ids),
                    self.actor_ref,
                )
            )

    @handles(Recovered)
    def recovered_tx(self, msg: Recovered) -> None:
        """A previous run's `fix` or settlement is on its way again: not sent twice meanwhile."""
        match msg.tag:
            case FixTag(asset, expiry):
                self.fixing.add((asset, expiry))
            case SettleTag(ids):
                self.recovered.add(msg.tag)
                self.in_flight.update(ids)

    @handles(TxDone)
    def done(self, msg: TxDone) -> None:
        tag = msg.tag
        if isinstance(tag, FixTag):
            key = (tag.asset, tag.expiry)
            self.fixing.discard(key)
            if not msg.succeeded:  # a hint gone stale (a push at E itself): try again
                self.log.record("fix-failed", asset=key[0], expiry=key[1], status=msg.status)
                self._settle_dirty = True
            return
        if not isinstance(tag, SettleTag):
            return
        if tag in self.recovered and msg.succeeded:
            # a previous run's batch ran: its policies' events have arrived, and whichever it
            # did not settle may be settled again
            self.recovered.discard(tag)
            self.in_flight.difference_update(tag.ids)
            self._settle_dirty = True
        if not msg.succeeded:
            self.recovered.discard(tag)
            ids = tag.ids
            self.log.record("settle-failed", ids=list(ids), status=msg.status)
            self.in_flight.difference_update(ids)
            if len(ids) > 1:
                # a whole batch aborts for one bad policy (an overflowing payout, say): from
                # now on its ids go one by one, so that the one cannot hold back the others
                self.alone.update(ids)
            self._settle_dirty = True
