"""A loopback stand-in for the public exchange APIs: the tests' fake and the devnet's feed.

Every source in live.exchanges.SOURCES is served under its own path prefix, answering its
ticker path with the body recorded from that exchange's documentation
(live/recorded/exchanges/, package data) with the price field replaced by the price you set. Each
source can be switched to misbehave: slow, down, closing the connection, or garbage.

    with ExchangeServer() as server:
        server.set_price("BTC-USD", "65000.12")
        server.set_mode("kraken", "slow", delay=5.0)
        feed = ExchangeFeed(list(SOURCES.values()), timeout=0.5, base_urls=server.base_urls())
        feed.fetch("BTC-USD")  # seven quotes of 6_500_012_000_000; kraken absent

Modes: "ok" (default), "slow" (answer after `delay` seconds), "down" (HTTP 500), "closed"
(drop the connection without answering), "garbage" (HTTP 200 with a body that is not JSON).
Only the price field follows the set price; every other field keeps its recorded value, and a
source serves the same body shape for every asset it lists.

`run.py devnet` serves it with `path_quotes`: every source answers the price of one seeded
price path (sim/prices.py) at the seconds since the feed started, so `run.py live` on the
devnet's config finds a quorum offline, and a scripted crash (`--crash`) moves every source.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from chain.contracts import BTC_USD, STX_USD
from live.exchanges import RECORDED, SOURCES
from sim.prices import PathSpec, PricePath, Segment

# Where each recorded body holds the price the adapter reads: keys and indices from the root.
PRICE_AT: dict[str, tuple[str | int, ...]] = {
    "coinbase": ("price",),
    "kraken": ("result", "XXBTZUSD", "c", 0),
    "bitstamp": ("last",),
    "binance": ("price",),
    "gemini": ("last",),
    "bitfinex": (6,),
    "okx": ("data", 0, "last"),
    "coingecko": ("bitcoin", "usd"),
}
NUMERIC = {"bitfinex", "coingecko"}  # the price is a bare JSON number there, not a string
MODES = ("ok", "slow", "down", "closed", "garbage")
GARBAGE = b"<html><body>502 Bad Gateway</body></html>"
_SENTINEL = "\u0000price\u0000"


def render(source: str, price_text: str, *, missing: bool = False) -> bytes:
    """The recorded body of `source` with its price field set to `price_text` verbatim.

    `price_text` is written as-is (a JSON string, or a bare number for NUMERIC sources), so
    tests can also render "-1", "0" or "1e12". `missing=True` removes the price field instead.
    """
    doc = json.loads((RECORDED / f"{source}.json").read_text())
    *parents, last = PRICE_AT[source]
    container = doc
    for key in parents:
        container = container[key]
    if missing:
        if isinstance(container, list):
            del container[last:]  # type: ignore[misc]
        else:
            del container[last]
        return json.dumps(doc).encode()
    container[last] = _SENTINEL
    literal = price_text if source in NUMERIC else json.dumps(price_text)
    return json.dumps(doc).replace(json.dumps(_SENTINEL), literal).encode()


def _same_target(a: str, b: str) -> bool:
    """Same path and same query parameters, whatever their order or encoding."""
    sa, sb = urlsplit(a), urlsplit(b)
    return sa.path == sb.path and sorted(parse_qsl(sa.query)) == sorted(parse_qsl(sb.query))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64  # the default 5 drops simultaneous connects: SYN retried after 1 s
    owner: ExchangeServer

    def handle_error(self, request, client_address) -> None:
        pass  # a client that gave up on a slow answer is the point of the test, not an error


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def do_GET(self) -> None:
        self.server.owner._answer(self)

    def log_message(self, format: str, *args) -> None:
        pass


class ExchangeServer:
    """Fake public exchange APIs on 127.0.0.1 (a free port), one thread per request."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        quotes: Callable[[str], str] | None = None,
    ):
        """`quotes(asset)` -> decimal text, when given, replaces the set price (the devnet)."""
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._prices = {BTC_USD: "65000.00", STX_USD: "1.50"}
        self._overrides: dict[tuple[str, str], str] = {}
        self._quotes = quotes
        self._modes: dict[str, tuple[str, float]] = {}
        self.hits: Counter[str] = Counter()  # requests received per source
        self._httpd = _Server((host, port), _Handler)
        self._httpd.owner = self
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name="exchange-server", daemon=True
        )
        self._thread.start()

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def base_urls(self) -> dict[str, str]:
        """{source: "http://127.0.0.1:<port>/<source>"}, for ExchangeFeed(base_urls=...)."""
        host = self._httpd.server_address[0]
        return {name: f"http://{host}:{self.port}/{name}" for name in SOURCES}

    def set_price(self, asset: str, usd: str, source: str | None = None) -> None:
        """Serve `usd` (decimal text, e.g. "65000.12") for `asset`, at every source or one."""
        if asset not in (BTC_USD, STX_USD):
            raise ValueError(f"asset must be {BTC_USD} or {STX_USD}, got {asset!r}")
        if source is not None and source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; allowed: {', '.join(SOURCES)}")
        with self._lock:
            if source is None:
                self._prices[asset] = usd
                self._overrides = {k: v for k, v in self._overrides.items() if k[1] != asset}
            else:
                self._overrides[(source, asset)] = usd

    def set_mode(self, source: str, mode: str, delay: float = 0.0) -> None:
        """Make `source` answer in `mode` (see the module docstring) until set back to "ok"."""
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}; allowed: {', '.join(SOURCES)}")
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        with self._lock:
            self._modes[source] = (mode, delay)

    def price_units(self, asset: str) -> int:
        """The price units an adapter should read for the common price of `asset`."""
        return int(Decimal(self._prices[asset]) * 100_000_000)

    def close(self) -> None:
        self._closing.set()  # wakes slow handlers so they do not outlive the test
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ExchangeServer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _answer(self, handler: _Handler) -> None:
        source, _, rest = handler.path.lstrip("/").partition("/")
        adapter = SOURCES.get(source)
        asset = None
        if adapter is not None:
            asset = next(
                (
                    a
                    for a in (BTC_USD, STX_USD)
                    if (p := adapter.path(a)) is not None and _same_target(p, "/" + rest)
                ),
                None,
            )
        if asset is None:
            self._send(handler, 404, b'{"error":"not found"}')
            return
        with self._lock:
            self.hits[source] += 1
            mode, delay = self._modes.get(source, ("ok", 0.0))
            price = self._overrides.get((source, asset))
            if price is None:
                price = self._quotes(asset) if self._quotes else self._prices[asset]
        if mode == "slow" and self._closing.wait(delay):
            return
        if mode == "down":
            self._send(handler, 500, b'{"error":"internal"}')
        elif mode == "closed":
            handler.close_connection = True  # nothing written: the client sees a dropped connection
        elif mode == "garbage":
            self._send(handler, 200, GARBAGE)
        else:
            self._send(handler, 200, render(source, price))

    @staticmethod
    def _send(handler: _Handler, status: int, body: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)


def path_quotes(
    path: PricePath, clock: Callable[[], float] = time.monotonic
) -> Callable[[str], str]:
    """The price of `path` at the seconds since this call, as decimal text, for `quotes=`.

    Decimal text with 8 places: the adapters truncate it to whole price units exactly.
    """
    started = clock()
    return lambda asset: f"{path.at(asset, clock() - started):.8f}"


@dataclass(frozen=True)
class Crash:
    """`--crash PCT[@MINUTES]`: every price falls by `percent` over `CRASH_SECONDS`, starting
    `minutes` after the feed starts."""

    percent: float
    minutes: float = 5.0

    @classmethod
    def parse(cls, text: str) -> Crash:
        pct, _, minutes = text.partition("@")
        try:
            crash = cls(float(pct), float(minutes) if minutes else cls.minutes)
        except ValueError:
            crash = None
        if crash is None or not (0 < crash.percent <= 95 and 0 <= crash.minutes <= 1440):
            raise ValueError(
                f"--crash: {text!r} is not valid; allowed: PCT[@MINUTES], PCT from 0 to 95 "
                "(exclusive of 0), MINUTES from 0 to 1440 (default 5)"
            )
        return crash

    def segment(self) -> Segment:
        return Segment(self.minutes / 60, CRASH_SECONDS / 3600, -self.percent / 100)


CRASH_SECONDS = 20.0  # short enough that one oracle poll sees most of the fall
FEED_HOURS = 48.0  # the path's horizon; past it the last price holds


def devnet_path(seed: int, crash: Crash | None = None) -> PricePath:
    """The devnet feed's price path: GBM on a one-second grid, with the scripted crash if any."""
    spec = PathSpec(
        btc_start=65_000.0,
        stx_start=1.50,
        segments=(crash.segment(),) if crash else (),
        step_seconds=1.0,
    )
    return PricePath(spec, FEED_HOURS * 3600, np.random.default_rng(seed))
