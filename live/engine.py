"""The live engine: the simulation's actors on threads, against a Stacks node and exchanges.

`LiveEngine` assembles the world of a live config: StacksChain over the node API, exchange
adapters behind the oracle's PriceFeed, the store on its URL, the Signer with keys loaded from
their sources, and the engine (actors/engine.py, the same four actors a simulation starts) on
pykka's ThreadingActor. Its loop is what scenarios/follow.py does in a simulation, on the wall
clock: tick the engine every `poll_seconds`, poll the chain every `block_poll_seconds` and
hand each new block to the engine.

Stopping (SIGINT/SIGTERM set the stop event) lets each actor finish the messages already in
its inbox, then flushes the store: every transaction signed is in the outbox with its status,
and the next start resumes from there (the Signer re-tracks pending rows; the first poll
replays the contracts' events so the actors rebuild their mirrors).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from actors.base import ThreadingRuntime
from actors.engine import Configs, Engine, Keys
from actors.events import decode_prints, plain
from actors.oracle import OracleConfig
from actors.signer import SignerConfig
from chain import errors
from chain import transactions as txs
from chain.node import NodeClient
from chain.port import Block
from chain.stacks import StacksChain
from live import console
from live.config import LiveConfig
from settings import ConfigError
from store import Store, open_store

logger = logging.getLogger("bithedge.live")


class LiveLog:
    """The EventLog of a live run: one JSON line per decision, written at once (a crash keeps
    everything before it), from any actor thread. The same record goes to `logging` as a line
    people can read (live/console.py) and to each listener (the metrics, the readiness)."""

    def __init__(self, path: Path | None, clock: Callable[[], float] = time.time):
        self.clock = clock
        self._lock = threading.Lock()
        self._file: TextIO | None = path.open("a", encoding="utf-8") if path else None
        self.listeners: list[Callable[[str, dict[str, Any]], None]] = []

    def record(self, kind: str, **fields: Any) -> None:
        values = {k: plain(v) for k, v in fields.items()}
        line = json.dumps({"t": round(self.clock(), 3), "kind": kind, **values}, default=str)
        with self._lock:
            if self._file is not None:
                self._file.write(line + "\n")
                self._file.flush()
        level = console.level(kind)
        if logger.isEnabledFor(level):  # a quote's line is DEBUG: not formatted unless shown
            logger.log(level, console.line(kind, values))
        for listener in self.listeners:
            listener(kind, values)

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class NotBroadcast(errors.Rejected):
    reason = "DryRun"


class DryRunChain(StacksChain):
    """Reads the real chain; never broadcasts. Each transaction the engine would send is
    printed (decoded, never the key), then refused as a node would refuse it, so the Signer
    records it as rejected: no store ever holds a dry run's transaction as pending, and no
    later run can send it."""

    def __init__(self, *args: Any, out: TextIO = sys.stdout, **kw: Any):
        super().__init__(*args, **kw)
        self.out = out
        self.would_send: list[dict[str, Any]] = []

    def submit(self, raw: bytes) -> str:
        tx = txs.decode(raw)
        payload = tx.payload
        entry: dict[str, Any] = {
            "txid": tx.txid.hex(),
            "sender": tx.sender.address,
            "nonce": tx.auth.nonce,
            "fee": tx.auth.fee,
        }
        if isinstance(payload, txs.ContractCall):
            entry["contract"] = payload.contract.address
            entry["function"] = payload.function
            entry["args"] = [plain(a) for a in payload.args]
        self.would_send.append(entry)
        print("would send " + json.dumps(entry, default=str), file=self.out, flush=True)
        raise NotBroadcast("dry run")


class LiveEngine:
    def __init__(
        self,
        config: LiveConfig,
        *,
        dry_run: bool = False,
        feed: Any = None,
        client: NodeClient | None = None,
        out: TextIO = sys.stdout,
        clock: Callable[[], float] = time.time,
    ):
        self.config = config
        self.dry_run = dry_run
        self.clock = clock
        self.out = out
        self._feed = feed
        self._own_feed: Any = None  # the ExchangeFeed start() built, closed by stop()
        self._client = client
        self.engine: Engine | None = None
        self.store: Store | None = None
        self.log: LiveLog | None = None
        self.chain: StacksChain | None = None
        self._next_tick = 0.0
        self.api_client: NodeClient | None = None  # the API's own node client (tests inject)
        self.api: Any = None  # live.service.ApiServer once serve_api() ran
        self.metrics: Any = None
        self.risk: Any = None  # live.risk.ShadowRisk when [risk] is enabled
        self._registry_proxy: Any = None
        self.backend_address = ""
        from live.api import Health

        self.health = Health()

    # -- assembling --------------------------------------------------------------------------

    def start(self) -> None:
        """Connects and starts the actors; raises on an unreachable node before any actor runs."""
        cfg = self.config
        backend_key = cfg.backend_key.load()
        quote_key = cfg.quote_key.load()
        api_key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
        client = self._client or NodeClient(
            cfg.node_url, api_key=api_key, timeout=cfg.timeout_seconds
        )
        chain_cls = DryRunChain if self.dry_run else StacksChain
        kw = {"out": self.out} if self.dry_run else {}
        self.chain = chain = chain_cls(client, cfg.contracts, clock=self.clock, **kw)
        chain.tip()  # fails fast (NodeUnavailable) on a node that is not there
        self.store = store = _open_store(cfg.store_url)
        _wal(store)
        self.log = log = LiveLog(cfg.log_path, self.clock)
        from live.metrics import Metrics

        self.metrics = Metrics()
        log.listeners += [self.metrics.record, self._observe]
        self.backend_address = signer_address(backend_key, cfg)
        feed = self._feed
        if feed is None:
            from live.exchanges import feed_from_names

            o = cfg.oracle
            feed = self._own_feed = feed_from_names(
                o.sources, timeout=o.timeout_seconds, base_urls=o.base_urls, log=log
            )
        o = cfg.oracle
        oracle_cfg = OracleConfig(
            poll_seconds=o.poll_seconds,
            threshold_bps=o.threshold_bps,
            heartbeat_seconds=o.heartbeat_seconds,
            min_interval_seconds=o.min_interval_seconds,
            outlier_bps=o.outlier_bps,
            quorum=o.quorum,
        )
        signer_cfg = SignerConfig(
            fee=cfg.fee,
            max_fee=cfg.max_fee,
            network=cfg.tx_network,
            resend_blocks=cfg.resend_blocks,
            estimate_fees=True,
        )
        self.engine = engine = Engine(
            ThreadingRuntime(),
            chain=chain,
            store=store,
            log=log,
            feed=feed,
            contracts=cfg.contracts,
            keys=Keys(backend_key, quote_key),
            configs=Configs(oracle=oracle_cfg, signer=signer_cfg),
        )
        # every actor has handled `Connect` before the first block: the Signer's `Recovered`
        # (a previous run's pending transactions) then reaches their owners before any block
        # could make them send the same again
        engine.sync(1)
        self._registry_proxy = engine.refs.registry.proxy()
        if cfg.risk.enabled:
            from live.risk import ShadowRisk

            self.risk = ShadowRisk(self, cfg.risk, self.metrics, log)
        log.record("live-start", network=cfg.network, node=cfg.node_url, dry_run=self.dry_run,
                   signer=signer_address(backend_key, cfg))  # fmt: skip

    def serve_api(self) -> str:
        """Starts the HTTP API on its thread; returns its URL."""
        from live.service import ApiServer, Service

        self.api = ApiServer(Service(self, self.metrics, self.health))
        self.api.start()
        _calm_collector()
        assert self.log is not None
        self.log.record("api-listening", url=self.api.url)
        return self.api.url

    def _observe(self, kind: str, fields: dict[str, Any]) -> None:
        if kind == "oracle-no-quorum":
            self.health.no_quorum_at[fields.get("asset", "")] = self.clock()

    @property
    def actors(self) -> tuple:
        """The running actors (none before start and after stop)."""
        return self.engine.refs.all if self.engine is not None else ()

    @property
    def oracle(self):
        assert self.engine is not None
        return self.engine.refs.oracle

    @property
    def registry(self):
        assert self.engine is not None
        return self.engine.refs.registry

    # -- running -----------------------------------------------------------------------------

    def step(self) -> list[Block]:
        """One turn of the loop: a due oracle tick, then the new blocks to every actor."""
        assert self.engine is not None and self.chain is not None
        now = self.clock()
        if now >= self._next_tick:
            self._next_tick = now + self.config.oracle.poll_seconds
            self.engine.tick(now)
        return self.engine.poll(self.chain)

    def sync(self, rounds: int = 3) -> None:
        """Returns once every actor has handled what it was sent, and what that caused
        (a few rounds: a tick leads to a push request, which leads to a signed transaction)."""
        if self.engine is not None:
            self.engine.sync(rounds)

    def run(self, stop: threading.Event) -> None:
        """Until `stop` is set; a failing node poll (no answer, or one it cannot use) is
        logged and retried next turn. A reorganisation is the block source's own business
        (`StacksChain.poll` re-finds where it stands), never a reason to stop."""
        while not stop.is_set():
            try:
                self.poll()
            except errors.Unavailable as exc:
                assert self.log is not None
                self.log.record("node-error", error=str(exc))
            stop.wait(self.config.block_poll_seconds)

    def poll(self) -> list[Block]:
        """`step()`, remembering for /readyz when the node last answered and last failed."""
        try:
            blocks = self.step()
        except Exception as exc:
            self.health.last_poll_error = self.clock()
            self.health.last_error = f"{type(exc).__name__}: {exc}"
            raise
        self.health.last_poll_ok = self.clock()
        assert self.store is not None
        self.store.flush()  # what the actors buffered becomes visible to the API's reads
        self._report(blocks)
        if self.risk is not None and blocks:
            self.risk.maybe_run(blocks[-1].burn_height)
        return blocks

    def _report(self, blocks: list[Block]) -> None:
        """Confirmations of the backend's transactions and payouts, for the operator's console
        (the event log's actors record decisions; these are the chain's answers)."""
        assert self.log is not None
        for block in blocks:
            for r in block.receipts:
                if r.sender == self.backend_address:
                    self.log.record("tx-confirmed", txid=r.txid, call=r.call, nonce=r.nonce,
                                    status=r.status.value, height=block.height)  # fmt: skip
            registry = self.config.contracts.registry.address
            for e in decode_prints(block.events):
                if e["_contract"] == registry and e["event"] == "policy-settled":
                    self.log.record("payout", policy=e["id"], owner=e["owner"],
                                    price=e["price"], payout=e["payout"], paid=e["paid"],
                                    token=e["token"])  # fmt: skip

    def registry_view(self):
        """A copy of what the Registry sees now (prices and volatility, parameters, tranche
        views), asked of the actor itself through its pykka proxy; blocks until it answers."""
        import pykka

        from live.api import RegistryView

        p = self._registry_proxy
        for _ in range(3):  # a copy can meet the actor mid-update: take another
            futures = [p.params, p.burn_height, p.onchain, p.prices, p.tranches, p.config]
            try:
                got = pykka.get_all(futures, timeout=5)
                params, height, onchain, prices, tranches, config = got
                return RegistryView(dict(params), height, dict(onchain), dict(prices),
                                    dict(tranches), config.quote_ttl_blocks)  # fmt: skip
            except RuntimeError:
                continue
        raise RuntimeError("the registry's view kept changing")

    def stop(self) -> None:
        """Stops the API, lets every actor drain its inbox, then makes the store durable and
        closes it."""
        if self.api is not None:
            self.api.stop()
            self.api = None
        if self.risk is not None:
            self.risk.join()
        if self.engine is not None:
            self.engine.stop()
            self.engine = None
        if self._own_feed is not None:  # after the oracle stopped: no fetch is under way
            self._own_feed.close()
            self._own_feed = None
        if self.log is not None:
            self.log.record("live-stop")
        if self.store is not None:
            self.store.close()
        if self.chain is not None:
            self.chain.client.close()
        if self.log is not None:
            self.log.close()


def _open_store(url: str) -> Store:
    """The live store, or one line naming `store.url` (never its password) and the cause."""
    from sqlalchemy.exc import ArgumentError, SQLAlchemyError

    try:
        return open_store(url)
    except (SQLAlchemyError, ArgumentError, ValueError, OSError) as exc:
        from sqlalchemy.engine import make_url

        try:
            shown = make_url(url).render_as_string(hide_password=True)
        except ArgumentError:
            shown = "the configured URL"
        cause = " ".join(str(getattr(exc, "orig", None) or exc).split())[:200]
        raise ConfigError(f"store.url: cannot open {shown}: {cause}") from None


def _wal(store: Store) -> None:
    """A SQLite file in WAL mode, so the API's read-only connections never block the
    actors' writes (nor the reverse); PostgreSQL needs nothing."""
    if store.engine.dialect.name == "sqlite" and store.engine.url.database not in (
        None,
        "",
        ":memory:",
    ):
        with store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")


def _calm_collector() -> None:
    """Keeps the garbage collector's pauses out of the API's latency (it holds the GIL: every
    request and actor waits). Everything made before the API serves (modules, FastAPI's routes
    and pydantic's validators, the contracts, the actors) lives as long as the process, so it
    is frozen out of the collector's sight; and young collections run every 50,000 allocations
    instead of 700, so the objects of requests in flight are not promoted by the thousand and
    then swept by full collections. benchmarks/api.py, 20 s of quotes (README): full
    collections of up to 316 ms and 2.7 s of collector time before, 0.5 s after."""
    gc.freeze()
    gc.set_threshold(50_000, 20, 10)


def signer_address(key, cfg: LiveConfig) -> str:
    return key.principal(mainnet=cfg.network == "mainnet").address
