"""The engine as a service: what the API needs from a running engine, and the uvicorn server
that runs the API on its own thread inside the engine's process.

`Service` is the API's only door into the engine: the Registry actor (quotes, by message; its
live view, by proxy), a node client of its own (payloads that read the chain, the signer's
balance), the read-only store (`live/reads.py`), sign-in (`live/auth.py`), the request limits
and the metrics. `ApiServer` binds the socket first (so a taken port is one line at start, and
port 0 gives a free one), then serves it with uvicorn on a daemon thread with its own event loop.
"""

from __future__ import annotations

import asyncio
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from chain import payloads
from chain.contracts import BTC_USD, STX_USD, TRANCHES
from live.api import Health, RegistryView, create_app
from live.auth import Auth
from live.limits import RateLimiter
from live.metrics import Metrics
from live.reads import Reads, read_only_engine
from settings import ConfigError
from store.schema import PolicyStatus

VIEW_TTL = 0.25  # seconds a Registry view is reused: bounds the asks a burst of reads makes
BALANCE_TTL = 5.0


@dataclass(frozen=True)
class WithdrawBuilders:
    """One payload builder per withdrawal step (protocol v2): `request-withdraw`, then
    `complete-withdraw` once the policies the shares back are settled."""

    request: Callable[..., payloads.CallPayload]
    complete: Callable[..., payloads.CallPayload]


class Service:
    def __init__(self, engine: Any, metrics: Metrics, health: Health):
        from chain.node import NodeClient
        from chain.stacks import StacksChain

        cfg = self.config = engine.config
        self.clock = engine.clock
        self.registry = engine.registry
        self._engine_view = engine.registry_view
        self.metrics = metrics
        self.health = health
        self.backend_address: str = engine.backend_address
        api_key = os.environ.get(cfg.api_key_env) if cfg.api_key_env else None
        self.client = engine.api_client or NodeClient(
            cfg.node_url, api_key=api_key, timeout=cfg.timeout_seconds
        )
        self.chain = StacksChain(self.client, cfg.contracts)
        self.reads = Reads(read_only_engine(cfg.store_url))
        self._store_flush = engine.store.flush
        self._durable_waiters: list[asyncio.Future] = []  # callers the next flush answers
        self._durable_wake: asyncio.Event | None = None  # set while any caller waits
        api = cfg.api
        self.auth = Auth(
            cfg.tx_network,
            f"{api.signin_domain} ({cfg.network})",
            api.challenge_ttl_seconds,
            api.session_ttl_seconds,
            self.clock,
        )
        self.quote_principal_limit = RateLimiter(api.quotes_per_minute_principal)
        self.quote_address_limit = RateLimiter(api.quotes_per_minute_address)
        self.challenge_limit = RateLimiter(api.quotes_per_minute_address)
        self.withdraw_builders = WithdrawBuilders(
            request=self._withdraw_request, complete=self._withdraw_complete
        )
        self._view: tuple[float, RegistryView] | None = None
        self._view_lock = asyncio.Lock()
        self._balance: tuple[float, int, int] | None = None
        self._pending_since: dict[str, float] = {}  # txid -> when first seen pending
        self.risk = engine.risk  # live/risk.py's ShadowRisk, when [risk] is enabled

    # -- the engine's state --

    async def registry_view(self) -> RegistryView:
        now = time.monotonic()
        if self._view is not None and now - self._view[0] < VIEW_TTL:
            return self._view[1]
        async with self._view_lock:
            if self._view is None or time.monotonic() - self._view[0] >= VIEW_TTL:
                view = await asyncio.to_thread(self._engine_view)
                self._view = (time.monotonic(), view)
            return self._view[1]

    def _withdraw_request(self, sender, token: int, tier: int, shares: int) -> payloads.CallPayload:
        return payloads.request_withdraw(self.config.contracts, sender, token, tier, shares)

    def _withdraw_complete(self, sender, token: int, tier: int) -> payloads.CallPayload:
        return payloads.complete_withdraw(self.chain, self.config.contracts, sender, token, tier)

    async def durable(self) -> None:
        """Returns once every store write buffered before the call is committed. A signed
        quote is answered only after this: the Registry buffers its row, and a restart
        numbers the next quotes after the last id the store holds, so an id handed out but
        lost in a kill would be handed out again (benchmarks/crash_restart.py --quotes-only
        measured 90 of 759 reused in 3 kills). Concurrent callers share commits: one flusher
        task commits, each time, for every caller that arrived before it started."""
        if self._durable_wake is None:
            self._durable_wake = asyncio.Event()
            asyncio.get_running_loop().create_task(self._flusher(self._durable_wake))
        done = asyncio.get_running_loop().create_future()
        self._durable_waiters.append(done)
        self._durable_wake.set()
        await done

    async def _flusher(self, wake: asyncio.Event) -> None:
        while True:
            await wake.wait()
            wake.clear()
            waiters, self._durable_waiters = self._durable_waiters, []
            try:
                await asyncio.to_thread(self._store_flush)
            except Exception as exc:  # each waiting request fails with it (a 500, no quote)
                for w in waiters:
                    if not w.done():
                        w.set_exception(exc)
            else:
                for w in waiters:
                    if not w.done():
                        w.set_result(None)

    def breaker_open(self, token: int, tier: int | None) -> bool:
        return self.risk is not None and tier is not None and self.risk.open(token, tier)

    def risk_report(self) -> Any:
        return None if self.risk is None else self.risk.report()

    async def outbox(self) -> tuple[int, float | None]:
        """(pending transactions, seconds the oldest has been pending as seen from here)."""
        now = self.clock()
        pending = await self.reads.pending_txids()
        seen = {t: self._pending_since.get(t, now) for t in pending}
        self._pending_since = seen
        return len(seen), (now - min(seen.values()) if seen else None)

    async def signer_account(self) -> tuple[int, int] | None:
        """(balance in micro-STX, nonce) of the backend key, cached a few seconds."""
        now = time.monotonic()
        if self._balance is None or now - self._balance[0] > BALANCE_TTL:
            try:
                acct = await asyncio.to_thread(self.client.account, self.backend_address)
            except Exception:  # the node is down: readiness says so through its own check
                return None
            self._balance = (now, acct.balance, acct.nonce)
        return self._balance[1], self._balance[2]

    async def readiness(self) -> dict[str, Any]:
        api, cfg, now = self.config.api, self.config, self.clock()
        h = self.health
        checks: dict[str, dict[str, Any]] = {}
        node_ok = h.last_poll_ok is not None and (
            h.last_poll_error is None or h.last_poll_ok >= h.last_poll_error
        )
        checks["node"] = {
            "ok": node_ok,
            "last_ok": h.last_poll_ok,
            "error": None if node_ok else (h.last_error or "no poll yet"),
        }
        view = await self.registry_view()
        latest = await self.reads.latest_price(BTC_USD)
        age = None if latest is None else max(0.0, now - latest[0])
        onchain = view.onchain.get(BTC_USD)
        blocks = None if onchain is None else max(0, view.burn_height - onchain[1])
        fresh = (
            age is not None
            and age <= api.ready_price_age_seconds
            and blocks is not None
            and blocks <= api.ready_onchain_age_blocks
        )
        checks["oracle_fresh"] = {
            "ok": fresh,
            "price_age_seconds": age,
            "onchain_age_blocks": blocks,
        }
        lost = h.no_quorum_at.get(BTC_USD)
        quorum = (
            latest is not None
            and latest[2] >= cfg.oracle.quorum
            and (lost is None or lost <= latest[0])
        )
        checks["quorum"] = {
            "ok": quorum,
            "sources": None if latest is None else latest[2],
            "needed": cfg.oracle.quorum,
        }
        acct = await self.signer_account()
        checks["signer_balance"] = {
            "ok": acct is not None and acct[0] >= api.ready_min_signer_ustx,
            "balance_ustx": None if acct is None else str(acct[0]),
            "floor_ustx": str(api.ready_min_signer_ustx),
        }
        depth, oldest = await self.outbox()
        stuck = oldest is not None and oldest > api.ready_outbox_age_seconds
        checks["outbox"] = {"ok": not stuck, "pending": depth, "oldest_age_seconds": oldest}
        ok = all(c["ok"] for c in checks.values())
        for name, c in checks.items():
            self.metrics.ready.labels(name).set(1 if c["ok"] else 0)
        return {"ready": ok, "checks": checks}

    async def refresh_gauges(self) -> None:
        m, now = self.metrics, self.clock()
        view = await self.registry_view()
        m.burn_height.set(view.burn_height)
        for asset in (BTC_USD, STX_USD):
            latest = await self.reads.latest_price(asset)
            if latest is not None:
                m.price.labels(asset, "aggregated").set(latest[1] / 1e8)
                m.price_age.labels(asset).set(max(0.0, now - latest[0]))
            if asset in view.onchain:
                price, height = view.onchain[asset]
                m.price.labels(asset, "onchain").set(price / 1e8)
                m.onchain_age.labels(asset).set(max(0, view.burn_height - height))
            if asset in view.prices:
                m.volatility.labels(asset).set(view.prices[asset].vol)
        depth, oldest = await self.outbox()
        m.outbox_depth.set(depth)
        m.outbox_age.set(oldest or 0)
        acct = await self.signer_account()
        if acct is not None:
            m.signer_balance.set(acct[0])
            m.signer_nonce.set(acct[1])
        rows = {(t.token, t.tier): t for t in await self.reads.tranches()}
        for token, tier in TRANCHES:
            labels = (str(token), str(tier))
            t = rows.get((token, tier))
            if t is not None:
                m.assets.labels(*labels).set(t.assets)
                m.locked.labels(*labels).set(t.locked)
                m.utilisation.labels(*labels).set(t.locked / t.assets if t.assets else 0)
            v = view.tranches.get((token, tier))
            if v is not None and v.required:
                m.coverage.labels(*labels).set(v.assets / v.required)
        counts: dict[str, int] = {s.label: 0 for s in PolicyStatus}
        labels = {int(s): s.label for s in PolicyStatus}
        delays = []
        for row in await self.reads.policies(None, None, 100_000):
            name = labels.get(row["status"], "other")
            counts[name] = counts.get(name, 0) + 1
            if row["settled_block"] is not None:
                delays.append(row["settled_block"] - row["expiration"])
        for name, n in counts.items():
            m.policies.labels(name).set(n)
        recent = delays[-100:]
        m.settle_delay.labels("max").set(max(recent) if recent else 0)
        m.settle_delay.labels("mean").set(sum(recent) / len(recent) if recent else 0)
        await self.readiness()

    async def close(self) -> None:
        await self.reads.close()
        self.client.close()


class ApiServer:
    """uvicorn serving the engine's API on a thread of the engine's process."""

    def __init__(self, service: Service):
        import uvicorn

        self.service = service
        api = service.config.api
        family = socket.AF_INET6 if ":" in api.host else socket.AF_INET
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self.sock.bind((api.host, api.port))
        except OSError as exc:
            self.sock.close()
            raise ConfigError(
                f"api.port: cannot listen on {api.host}:{api.port}: {exc.strerror}"
            ) from None
        self.sock.listen(2048)
        self.port = self.sock.getsockname()[1]
        host = f"[{api.host}]" if ":" in api.host else api.host
        self.url = f"http://{host}:{self.port}"
        self.app = create_app(service)
        config = uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=75,
            timeout_graceful_shutdown=5,
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, name="api", daemon=True)

    def _run(self) -> None:
        with asyncio.Runner(loop_factory=_loop_factory()) as runner:
            runner.run(self._serve())

    async def _serve(self) -> None:
        try:
            await self.server.serve(sockets=[self.sock])
        finally:
            await self.service.close()

    def start(self, timeout: float = 10.0) -> None:
        self.thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started and self.thread.is_alive():
            if time.monotonic() > deadline:
                raise RuntimeError("the API did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)
        self.sock.close()


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop when it is installed (it is a dependency: benchmarks/api.py measured
    the API's CPU per quote with and without it, README), else asyncio's. uvicorn picks its
    httptools parser over h11 by itself when that is installed; the loop is ours to choose,
    since the server runs on a thread of the engine rather than through `uvicorn.run`."""
    try:
        import uvloop
    except ImportError:
        return None
    return uvloop.new_event_loop
