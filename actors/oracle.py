"""OracleActor: many exchanges in, one defended price out, pushed on chain when it matters.

Each tick it asks every source, takes the median, drops quotes too far from it, and accepts the
median of what is left only with a quorum. It pushes `set-price` when the price moved past a
threshold or a heartbeat elapsed, never more often than a minimum interval, with one push in
flight per asset and at most one per asset per burn block (the contract keeps one observation
per burn block). Because the oracle contract caps each move at `min(max-jump, max-deviation x
blocks elapsed)` of the last observation, a push is clamped to that cap: a real crash reaches
the chain in steps, one a block.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.base import ServiceActor, handles
from actors.messages import NewBlock, PriceUpdate, PushNow, Recovered, Submit, Tick, TxDone
from actors.tags import PriceTag
from chain.clarity import Ok, StringAscii, Tuple, UInt
from chain.contracts import BTC_USD, STX_USD, Contracts
from chain.port import Chain, EventLog, PriceFeed, StorePort
from risk.volatility import VolEstimator
from settings import Knob

# The oracle's settings a user sets, with their defaults and allowed ranges: one table for the
# scenarios' knobs (`oracle.<name>`) and the live config's `[oracle]` section (where the quorum
# is at most the number of sources).
KNOBS: dict[str, Knob] = {
    "poll_seconds": Knob(60.0, 1, 3600),
    "threshold_bps": Knob(50, 1, 5000),
    "heartbeat_seconds": Knob(1800.0, 10, 86_400),
    "min_interval_seconds": Knob(30.0, 0, 3600),
    "outlier_bps": Knob(200, 1, 5000),
    "quorum": Knob(3, 1, 20),
}


@dataclass(frozen=True)
class OracleConfig:
    poll_seconds: float = KNOBS["poll_seconds"].default
    threshold_bps: int = KNOBS["threshold_bps"].default  # push when the price moved this much
    heartbeat_seconds: float = KNOBS["heartbeat_seconds"].default  # push at least this often
    min_interval_seconds: float = KNOBS["min_interval_seconds"].default  # never push more often
    outlier_bps: int = KNOBS["outlier_bps"].default  # quotes this far from the median dropped
    quorum: int = KNOBS["quorum"].default
    # seconds a burn block lasts, to turn the age in blocks of the chain's last price into a
    # time at a restart: the network's (a simulation's `chain.burn_block_seconds`)
    burn_block_seconds: float = 600.0
    vol_window_days: float = 30.0
    vol_floor: float = 0.20
    assets: tuple[str, ...] = (BTC_USD, STX_USD)
    store_raw: bool = True


def median(values: list[int]) -> int:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else (s[n // 2 - 1] + s[n // 2]) // 2


def aggregate(quotes: list[tuple[str, int]], outlier_bps: int, quorum: int) -> int | None:
    """Median of the quotes within `outlier_bps` of the first median; None without a quorum."""
    prices = [p for _, p in quotes if p > 0]
    if len(prices) < quorum:
        return None
    m = median(prices)
    kept = [p for p in prices if abs(p - m) * 10_000 <= m * outlier_bps]
    if len(kept) < quorum:
        return None
    return median(kept)


def cap_bps(elapsed: int, max_deviation_bps: int, max_jump_bps: int) -> int:
    """The largest move (bps of the last observation) the oracle contract accepts `elapsed`
    burn blocks after it: it grows with time and stops at `max_jump_bps`, never lifted."""
    return min(max_jump_bps, max_deviation_bps * elapsed)


def clamp_to_cap(target: int, onchain: int, cap: int) -> int:
    """The closest positive price to `target` within `cap` bps of `onchain` (see `cap_bps`)."""
    hi = onchain * (10_000 + cap) // 10_000
    lo = max(1, -(-onchain * (10_000 - cap) // 10_000))
    return min(max(target, lo), hi)


@dataclass
class _Asset:
    vol: VolEstimator
    latest: int = 0  # aggregated off-chain price
    onchain: int = 0  # last price the chain accepted
    onchain_height: int = -1
    last_push_time: float = float("-inf")
    in_flight: bool = False
    forced: bool = False
    push_burn: int = -1  # burn height at which the last push was sent: one per burn block


class OracleActor(ServiceActor):
    def __init__(
        self,
        feed: PriceFeed,
        chain: Chain,
        store: StorePort,
        log: EventLog,
        contracts: Contracts,
        config: OracleConfig | None = None,
    ):
        super().__init__(chain, store, log, contracts)
        self.feed = feed
        self.config = cfg = config or OracleConfig()
        self.assets = {
            a: _Asset(VolEstimator(cfg.vol_window_days * 86400, cfg.vol_floor)) for a in cfg.assets
        }
        self.burn_height = 0
        self.max_deviation_bps = 500
        self.max_jump_bps = 5000
        self.max_age = 6
        self.now = 0.0

    def on_start(self) -> None:
        config = self.chain.read_only(self.contracts.oracle, "get-config", [])
        assert isinstance(config, Tuple)
        self.max_deviation_bps = config["max-deviation-bps"].value  # type: ignore[attr-defined]
        self.max_jump_bps = config["max-jump-bps"].value  # type: ignore[attr-defined]
        self.max_age = config["max-age"].value  # type: ignore[attr-defined]
        self.burn_height = self.chain.tip().burn_height
        for asset, state in self.assets.items():
            got = self.chain.read_only(self.contracts.oracle, "get-price", [StringAscii(asset)])
            if isinstance(got, Ok) and isinstance(got.value, Tuple):
                state.onchain = got.value["price"].value  # type: ignore[attr-defined]
                state.onchain_height = got.value["height"].value  # type: ignore[attr-defined]

    @handles(Tick)
    def tick(self, msg: Tick) -> None:
        self.now = t = msg.now
        cfg = self.config
        for asset, state in self.assets.items():
            if state.last_push_time == float("-inf") and state.onchain:
                # a restart: the price on chain was pushed about this long ago, so the
                # heartbeat runs from then, not from now
                age = max(0, self.burn_height - state.onchain_height)
                state.last_push_time = t - age * cfg.burn_block_seconds
            quotes = self.feed.fetch(asset)
            if cfg.store_raw:
                for source, raw in quotes:
                    self.store.prices.add_raw(source, asset, raw, t)
            price = aggregate(quotes, cfg.outlier_bps, cfg.quorum)
            if price is None:
                self.log.record("oracle-no-quorum", asset=asset, sources=len(quotes))
                continue
            state.latest = price
            state.vol.update(t, price)
            self.store.prices.add_aggregated(asset, price, t, len(quotes))
            update = PriceUpdate(asset, price, t, state.vol.value())
            if self.peers is not None:
                self.peers.registry.tell(update)
                self.peers.pool.tell(update)
            self._maybe_push(asset, state)

    @handles(PushNow)
    def push_now(self, msg: PushNow) -> None:
        state = self.assets.get(msg.asset)
        if state is not None:
            state.forced = True
            self._maybe_push(msg.asset, state)

    def _maybe_push(self, asset: str, state: _Asset) -> None:
        cfg = self.config
        if state.in_flight or not state.latest or self.peers is None:
            return
        # a push asked for (PushNow: at most once per asset per burn block, while quotes or
        # settlements need one) is not held back by the minimum interval: a purchase needs an
        # observation from its own or the previous burn block, however fast blocks come. The
        # contract keeps one observation a burn block: never a second push in one.
        if state.push_burn == self.burn_height:
            return
        if not state.forced and self.now - state.last_push_time < cfg.min_interval_seconds:
            return
        elapsed = self.burn_height - state.onchain_height
        if state.onchain and elapsed < 1:
            return  # observed in this burn block already: the next block takes the next push
        fresh = state.onchain and elapsed < self.max_age
        target = state.latest
        if state.onchain:
            cap = cap_bps(elapsed, self.max_deviation_bps, self.max_jump_bps)
            target = clamp_to_cap(target, state.onchain, cap)
        moved = abs(target - state.onchain) * 10_000 >= state.onchain * cfg.threshold_bps
        due = self.now - state.last_push_time >= cfg.heartbeat_seconds
        if not (state.forced or not state.onchain or moved or due):
            return
        if target == state.onchain and fresh and not due and not state.forced:
            return
        reason = (
            "forced"
            if state.forced
            else "first"
            if not state.onchain
            else "moved"
            if moved
            else "heartbeat"
        )
        state.forced = False
        state.in_flight = True
        state.last_push_time = self.now
        state.push_burn = self.burn_height
        self.log.record(
            "oracle-push", asset=asset, price=target, latest=state.latest, reason=reason
        )
        self.peers.signer.tell(
            Submit(
                self.contracts.oracle,
                "set-price",
                (StringAscii(asset), UInt(target)),
                PriceTag(asset, target),
                self.actor_ref,
            )
        )

    @handles(Recovered)
    def recovered_tx(self, msg: Recovered) -> None:
        """A previous run's `set-price` is on its way again: no second push until it is done."""
        if isinstance(msg.tag, PriceTag) and msg.tag.asset in self.assets:
            self.assets[msg.tag.asset].in_flight = True

    @handles(TxDone)
    def done(self, msg: TxDone) -> None:
        if not isinstance(msg.tag, PriceTag):
            return
        asset, price = msg.tag.asset, msg.tag.price
        state = self.assets.get(asset)
        if state is None:
            return
        state.in_flight = False
        if not msg.succeeded:
            self.log.record("oracle-push-failed", asset=asset, price=price, status=msg.status,
                            result=str(msg.result))  # fmt: skip

    @handles(NewBlock)
    def block(self, msg: NewBlock) -> None:
        self.burn_height = msg.burn_height
        oracle = self.contracts.oracle.address
        for e in msg.prints:
            if (
                e["_contract"] == oracle
                and e["event"] == "price-updated"
                and e["asset"] in self.assets
            ):
                state = self.assets[e["asset"]]
                state.onchain, state.onchain_height = e["price"], e["height"]
