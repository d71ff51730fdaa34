"""Model of `oracle.clar` (protocol v2): one immutable observation per asset per burn block,
with cumulative sums, under a cap that scales with elapsed time; and settlement fixings, the
time-weighted average over the window before an expiry, proven from two observations."""

from __future__ import annotations

from dataclasses import dataclass

from chain.clarity import (
    NONE,
    TRUE,
    Bool,
    Err,
    Ok,
    Principal,
    Some,
    StringAscii,
    Tuple,
    UInt,
)
from chain.protocol import BLOCKS_PER_DAY, BTC_USD
from sim.models.base import (
    Contract,
    ContractErr,
    Ctx,
    add,
    div,
    mul,
    p_ascii,
    p_principal,
    p_uint,
    public,
    read_only,
    sub,
)
from sim.models.parameters import ChangeQueue, QueueErrors

ERR_NOT_ADMIN = 100
ERR_NOT_SUBMITTER = 101
ERR_ZERO_PRICE = 102
ERR_DEVIATION = 103
ERR_NO_PRICE = 104
ERR_BAD_VALUE = 105
ERR_SAME_BLOCK = 106
ERR_OFF_GRID = 107
ERR_NOT_YET = 108
ERR_TOO_EARLY = 109
ERR_BAD_HINT = 110
ERR_NOT_GUARDIAN = 111
ERR_QUEUED = 112
ERR_NOT_QUEUED = 113
ERR_NOT_READY = 114
ERR_LAPSED = 115
ERR_LAST_SUBMITTER = 116
ERR_UNKNOWN_SETTING = 117
ERR_SETUP_CLOSED = 118

# the settings a queued change may set, their bounds (inclusive) and the var each one is
SETTINGS: dict[str, tuple[int, int, str]] = {
    "max-deviation-bps": (1, 1000, "max_deviation_bps"),
    "max-jump-bps": (100, 5000, "max_jump_bps"),
    "max-age": (1, 144, "max_age"),
}
SUBMITTER = "submitter"  # the queue key of the one pending submitter addition

# fixed at deployment (constants of the contract)
EXPIRY_INTERVAL = BLOCKS_PER_DAY  # oracle.clar's EXPIRY-INTERVAL: expiries lie on a daily grid
FIXING_WINDOW = 6


@dataclass(frozen=True, slots=True)
class Observation:
    price: int
    height: int
    prev: int | None  # height of the previous observation of the asset
    cum: int  # sum of price x blocks from the first observation up to `height`

    def to_clarity(self) -> Tuple:
        return Tuple(
            {
                "price": UInt(self.price),
                "height": UInt(self.height),
                "prev": NONE if self.prev is None else Some(UInt(self.prev)),
                "cum": UInt(self.cum),
            }
        )


@dataclass(frozen=True, slots=True)
class Fixing:
    price: int  # time-weighted average over the window, truncated
    last_observed: int  # height of the last observation at or before the expiry
    stale: bool  # that observation was older than max-age at the expiry

    def to_clarity(self) -> Tuple:
        return Tuple(
            {
                "price": UInt(self.price),
                "last-observed": UInt(self.last_observed),
                "stale": Bool(self.stale),
            }
        )


@dataclass(frozen=True, slots=True)
class Feed:
    first: int
    latest: int


class Oracle(Contract):
    name = "oracle"

    def __init__(self, world, deployer):
        super().__init__(world, deployer)
        self.submitters = self.state.map("oracle/submitters")
        self.feeds = self.state.map("oracle/feeds")  # asset -> Feed
        self.observations = self.state.map("oracle/observations")  # (asset, h) -> Observation
        self.successors = self.state.map("oracle/successors")  # (asset, h) -> next height
        self.fixings = self.state.map("oracle/fixings")  # (asset, expiry) -> Fixing
        self.vars.update(max_deviation_bps=500, max_jump_bps=5000, max_age=6, submitter_count=1)
        self.submitters[deployer] = True
        errors = QueueErrors(ERR_QUEUED, ERR_NOT_QUEUED, ERR_NOT_READY, ERR_LAPSED)
        self.queued_settings = ChangeQueue(self, "settings", errors, UInt)
        self.queued_submitters = ChangeQueue(self, "submitters", errors, lambda who: who)

    # -- Python-side readers --

    def latest(self, asset: str) -> Observation | None:
        feed = self.feeds.get(asset)
        return None if feed is None else self.observations[(asset, feed.latest)]

    def price_of(self, asset: str) -> tuple[int, int] | None:
        """(price, height) of the latest observation, as `get-price` reads it."""
        o = self.latest(asset)
        return None if o is None else (o.price, o.height)

    def in_force(self, asset: str, x: int) -> int | None:
        """Height of the last observation at or before `x` (the hint `fix` wants), by walking
        back from the latest: off-chain work, as a keeper would do from the events."""
        o = self.latest(asset)
        while o is not None and o.height > x:
            o = None if o.prev is None else self.observations[(asset, o.prev)]
        return None if o is None else o.height

    def _admin(self, ctx: Ctx) -> None:
        if not self.world.parameters.admin(ctx.caller):  # the role lives in `.parameters`
            raise ContractErr(ERR_NOT_ADMIN)

    def _guardian(self, ctx: Ctx) -> None:
        if not self.world.parameters.guardian(ctx.caller):
            raise ContractErr(ERR_NOT_GUARDIAN)

    # -- observations --

    @public(p_ascii(16), p_uint)
    def set_price(self, ctx: Ctx, asset: str, price: int):
        height = ctx.burn_height
        if not self.submitters.get(ctx.caller, False):
            raise ContractErr(ERR_NOT_SUBMITTER)
        if price == 0:
            raise ContractErr(ERR_ZERO_PRICE)
        feed = self.feeds.get(asset)
        if feed is None:
            obs = Observation(price, height, None, 0)
            new_feed = Feed(height, height)
        else:
            p = self.observations[(asset, feed.latest)]
            old = p.price
            elapsed = sub(height, p.height)
            moved = price - old if price > old else old - price
            if elapsed == 0:
                raise ContractErr(ERR_SAME_BLOCK)
            allowed = min(self.var("max_jump_bps"), mul(self.var("max_deviation_bps"), elapsed))
            if mul(moved, 10000) > mul(old, allowed):
                raise ContractErr(ERR_DEVIATION)
            obs = Observation(price, height, p.height, add(p.cum, mul(old, elapsed)))
            self.state.set(self.successors, (asset, p.height), height)
            new_feed = Feed(feed.first, height)
        self.state.set(self.observations, (asset, height), obs)
        self.state.set(self.feeds, asset, new_feed)
        self.print(
            ctx,
            "price-updated",
            asset=StringAscii(asset),
            price=UInt(price),
            height=UInt(height),
            prev=NONE if obs.prev is None else Some(UInt(obs.prev)),
            cum=UInt(obs.cum),
        )
        return TRUE

    @read_only(p_ascii(16))
    def get_price(self, asset: str):
        o = self.latest(asset)
        if o is None:
            return Err(UInt(ERR_NO_PRICE))
        return Ok(Tuple({"price": UInt(o.price), "height": UInt(o.height)}))

    @read_only(p_ascii(16))
    def get_latest(self, asset: str):
        o = self.latest(asset)
        return NONE if o is None else Some(o.to_clarity())

    @read_only(p_ascii(16), p_uint)
    def get_observation(self, asset: str, height: int):
        o = self.observations.get((asset, height))
        return NONE if o is None else Some(o.to_clarity())

    # -- fixings --

    def _cumulative_at(self, asset: str, latest: int, x: int, hint: int) -> int:
        o = self.observations.get((asset, hint))
        if o is None or hint > x:
            raise ContractErr(ERR_BAD_HINT)
        if hint != latest and not self.successors.get((asset, hint), 0) > x:
            raise ContractErr(ERR_BAD_HINT)
        return add(o.cum, mul(o.price, sub(x, hint)))

    @public(p_ascii(16), p_uint, p_uint, p_uint)
    def fix(self, ctx: Ctx, asset: str, expiry: int, start_hint: int, end_hint: int):
        if expiry % EXPIRY_INTERVAL:
            raise ContractErr(ERR_OFF_GRID)
        if expiry > ctx.burn_height:
            raise ContractErr(ERR_NOT_YET)
        stored = self.fixings.get((asset, expiry))
        if stored is not None:
            return stored.to_clarity()
        feed = self.feeds.get(asset)
        if feed is None:
            raise ContractErr(ERR_NO_PRICE)
        if not (expiry >= FIXING_WINDOW and feed.first <= expiry - FIXING_WINDOW):
            raise ContractErr(ERR_TOO_EARLY)
        c_start = self._cumulative_at(asset, feed.latest, expiry - FIXING_WINDOW, start_hint)
        c_end = self._cumulative_at(asset, feed.latest, expiry, end_hint)
        record = Fixing(
            div(sub(c_end, c_start), FIXING_WINDOW),
            end_hint,
            expiry - end_hint > self.var("max_age"),
        )
        self.state.set(self.fixings, (asset, expiry), record)
        self.print(
            ctx,
            "fixing-set",
            asset=StringAscii(asset),
            expiry=UInt(expiry),
            price=UInt(record.price),
            last_observed=UInt(record.last_observed),
            stale=Bool(record.stale),
        )
        return record.to_clarity()

    @read_only(p_ascii(16), p_uint)
    def get_fixing(self, asset: str, expiry: int):
        f = self.fixings.get((asset, expiry))
        return NONE if f is None else Some(f.to_clarity())

    # -- configuration and roles --

    @read_only()
    def get_config(self):
        return Tuple(
            {
                "max-deviation-bps": UInt(self.var("max_deviation_bps")),
                "max-jump-bps": UInt(self.var("max_jump_bps")),
                "max-age": UInt(self.var("max_age")),
                "expiry-interval": UInt(EXPIRY_INTERVAL),
                "fixing-window": UInt(FIXING_WINDOW),
            }
        )

    @read_only(p_principal)
    def is_submitter(self, who: Principal):
        return Bool(self.submitters.get(who, False))

    # -- admin (protocol v2: queued; the guardian only reduces) --

    @read_only(p_ascii(32))
    def get_queued_setting(self, key: str):
        return self.queued_settings.read(key)

    @read_only()
    def get_queued_submitter(self):
        return self.queued_submitters.read(SUBMITTER)

    @read_only()
    def get_submitter_count(self):
        return UInt(self.var("submitter_count"))

    @public(p_ascii(32), p_uint)
    def queue_setting(self, ctx: Ctx, key: str, value: int):
        self._admin(ctx)
        if key not in SETTINGS:
            raise ContractErr(ERR_UNKNOWN_SETTING)
        lo, hi, _ = SETTINGS[key]
        if not lo <= value <= hi:
            raise ContractErr(ERR_BAD_VALUE)
        return UInt(self.queued_settings.queue(ctx, key, value))

    @public(p_ascii(32))
    def apply_setting(self, ctx: Ctx, key: str):
        value = self.queued_settings.take(ctx, key)
        self.set_var(SETTINGS[key][2], value)
        self.print(ctx, "oracle-setting-set", key=StringAscii(key), value=UInt(value))
        return TRUE

    @public(p_ascii(32))
    def cancel_setting(self, ctx: Ctx, key: str):
        self._guardian(ctx)
        self.queued_settings.cancel(ctx, key)
        return TRUE

    @public(p_principal)
    def queue_submitter(self, ctx: Ctx, who: Principal):
        self._admin(ctx)
        return UInt(self.queued_submitters.queue(ctx, SUBMITTER, who))

    @public()
    def apply_submitter(self, ctx: Ctx):
        who = self.queued_submitters.take(ctx, SUBMITTER)
        if not self.submitters.get(who, False):
            self.set_var("submitter_count", self.var("submitter_count") + 1)
        self.state.set(self.submitters, who, True)
        self.print(ctx, "submitter-added", who=who)
        return TRUE

    @public(p_principal)
    def init_submitter(self, ctx: Ctx, who: Principal):
        """The deployment step: another submitter at once, only before the first BTC-USD
        observation (nothing can be bought before it)."""
        self._admin(ctx)
        if self.feeds.get(BTC_USD) is not None:
            raise ContractErr(ERR_SETUP_CLOSED)
        if not self.submitters.get(who, False):
            self.set_var("submitter_count", self.var("submitter_count") + 1)
        self.state.set(self.submitters, who, True)
        self.print(ctx, "submitter-added", who=who)
        return TRUE

    @public()
    def cancel_submitter(self, ctx: Ctx):
        self._guardian(ctx)
        self.queued_submitters.cancel(ctx, SUBMITTER)
        return TRUE

    @public(p_principal)
    def remove_submitter(self, ctx: Ctx, who: Principal):
        """At once, by the admin or the guardian; never the last submitter."""
        self._guardian(ctx)
        if self.submitters.get(who, False):
            if self.var("submitter_count") <= 1:
                raise ContractErr(ERR_LAST_SUBMITTER)
            self.set_var("submitter_count", self.var("submitter_count") - 1)
            self.state.set(self.submitters, who, False)
            self.print(ctx, "submitter-removed", who=who)
        return TRUE
