"""Live exchange prices: public ticker adapters and the oracle's PriceFeed over them (the
live twin of sim/exchanges.py, which simulates the same sources).

Each adapter knows one exchange's public ticker URL per asset and how to read one price out of
its body. Prices are read as `Decimal` from the JSON text (never through a float) and truncated
toward zero to whole price units (USD x 1e8), the same rule as Clarity's integer division, so a
quote of "6268.489999999" becomes 626_848_999_999 and never rounds up.

Which price: every exchange gives its last trade price, except CoinGecko (an aggregate across
exchanges) and Binance/OKX, which quote BTC and STX in USDT rather than USD. The oracle's
median with outlier rejection (actors/oracle.py) absorbs the small USDT/USD spread; a USDT
depeg beyond its outlier band drops those two quotes rather than moving the price.

`ExchangeFeed.fetch` asks every source at once and returns what answered in time, in the
order the sources were given; a source that is down, slow or answers garbage is simply absent,
and reported through the optional event log as `exchange-error`.

The bodies each exchange documents for its ticker are package data in `recorded/exchanges/`
(RECORDED): the adapters' tests parse them, and the devnet's loopback feed (sim/feed.py) serves
them, so a shipped engine can serve its offline feed without the test tree.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal, InvalidOperation, localcontext
from pathlib import Path
from typing import Any

import httpx

from chain.contracts import BTC_USD, PRICE_SCALE, STX_USD
from chain.port import EventLog

MAX_PRICE_USD = 10_000_000  # a quote at or above this per coin is a bug or an attack, not a price
_MAX_NUMBER_CHARS = 64  # a price field longer than this is garbage, not a number
_USER_AGENT = "bithedge-oracle/0.1"
# Idle connections are kept across oracle ticks (production polls every 60 s), so a tick costs
# one request per source, not a TCP and TLS handshake each; a server that closed one meanwhile
# is noticed by the pool when it takes the connection, and a new one is opened.
KEEPALIVE_SECONDS = 120.0
RECORDED = Path(__file__).resolve().parent / "recorded" / "exchanges"


class BadQuote(ValueError):
    """An answer that is not a usable price: not JSON, a missing field, or an absurd value."""


@dataclass(frozen=True)
class Adapter:
    """One exchange's public ticker: where to ask for each asset and how to read the answer."""

    name: str
    base_url: str  # scheme + host of the public API
    paths: Mapping[str, str]  # asset -> path and query; assets the exchange lacks are absent
    reader: Callable[[Any], Any]  # the parsed JSON document -> the price field, still as text
    price: str  # which price the field holds, for the docs and the logs

    def path(self, asset: str) -> str | None:
        return self.paths.get(asset)

    def url(self, asset: str, base_url: str | None = None) -> str | None:
        """The ticker URL for `asset`, or None when the exchange does not list it.

        `base_url` replaces the scheme and host (and may add a path prefix), so the same
        adapter can be pointed at a loopback fake or a local devnet mirror.
        """
        path = self.paths.get(asset)
        if path is None:
            return None
        return (base_url or self.base_url).rstrip("/") + path

    def parse(self, body: bytes) -> int:
        """The price in price units, or BadQuote naming this exchange and what was wrong."""
        try:
            doc = _load_json(body)
            field = self.reader(doc)
        except BadQuote as e:
            raise BadQuote(f"{self.name}: {e}") from None
        except (KeyError, IndexError, TypeError, AttributeError) as e:
            raise BadQuote(
                f"{self.name}: missing or malformed field ({type(e).__name__}: {e})"
            ) from None
        try:
            return to_price_units(field)
        except BadQuote as e:
            raise BadQuote(f"{self.name}: {e}") from None


def _reject_constant(name: str) -> Any:
    raise BadQuote(f"non-finite number {name} in body")


def _load_json(body: bytes) -> Any:
    """JSON with every non-integer number as an exact Decimal; NaN and Infinity refused."""
    try:
        return json.loads(body, parse_float=Decimal, parse_constant=_reject_constant)
    except BadQuote:
        raise
    except (ValueError, UnicodeDecodeError) as e:
        raise BadQuote(f"body is not JSON ({e})") from None
    except RecursionError:  # a body of nested brackets deeper than the parser's stack
        raise BadQuote("body is not JSON (nested too deeply)") from None


def to_price_units(value: Any) -> int:
    """A decimal price (string, exact Decimal or int) in USD per coin -> price units, truncated.

    Floats are refused: by the time a float exists the exact decimal text is already lost.
    """
    if isinstance(value, bool) or not isinstance(value, str | Decimal | int):
        raise BadQuote(f"price is not a number: {value!r}")
    text = str(value).strip()
    if not text or len(text) > _MAX_NUMBER_CHARS:
        raise BadQuote(f"price is not a number: {value!r}")
    try:
        price = Decimal(text)
    except InvalidOperation:
        raise BadQuote(f"price is not a number: {value!r}") from None
    if not price.is_finite():
        raise BadQuote(f"price is not finite: {value!r}")
    if price <= 0:
        raise BadQuote(f"price is not positive: {value!r}")
    if price >= MAX_PRICE_USD:
        raise BadQuote(f"price is absurd: {value!r} (limit {MAX_PRICE_USD} USD)")
    with localcontext() as ctx:
        ctx.prec = 2 * _MAX_NUMBER_CHARS  # the product is exact; only the truncation drops digits
        units = int((price * PRICE_SCALE).to_integral_value(rounding=ROUND_DOWN))
    if units <= 0:
        raise BadQuote(f"price is below one price unit: {value!r}")
    return units


def _only_entry(mapping: Any, what: str) -> Any:
    """The single value of a one-key object (the ticker keyed by the exchange's own pair name)."""
    if not isinstance(mapping, dict) or len(mapping) != 1:
        raise BadQuote(f"expected exactly one {what}, got {_shape(mapping)}")
    return next(iter(mapping.values()))


def _shape(value: Any) -> str:
    if isinstance(value, dict):
        return f"object with keys {sorted(value)[:5]}"
    return type(value).__name__


def _read_coinbase(doc: Any) -> Any:
    return doc["price"]


def _read_kraken(doc: Any) -> Any:
    if doc.get("error"):
        raise BadQuote(f"error {doc['error']!r}")
    closed = _only_entry(doc["result"], "pair in result")["c"]
    if not isinstance(closed, list):  # a string here would index its first character
        raise BadQuote(f"expected c as [price, lot volume], got {_shape(closed)}")
    return closed[0]


def _read_bitstamp(doc: Any) -> Any:
    return doc["last"]


def _read_binance(doc: Any) -> Any:
    return doc["price"]


def _read_gemini(doc: Any) -> Any:
    return doc["last"]


def _read_bitfinex(doc: Any) -> Any:
    # [BID, BID_SIZE, ASK, ASK_SIZE, DAILY_CHANGE, DAILY_CHANGE_RELATIVE, LAST_PRICE, ...];
    # an unknown symbol answers an empty list or ["error", code, message].
    if not isinstance(doc, list) or len(doc) < 10:
        raise BadQuote(f"expected a ticker array of at least 10 fields, got {_shape(doc)}")
    return doc[6]


def _read_okx(doc: Any) -> Any:
    if doc.get("code") != "0":
        raise BadQuote(f"error code {doc.get('code')!r}: {doc.get('msg')!r}")
    data = doc["data"]
    if not isinstance(data, list) or len(data) != 1:
        raise BadQuote(f"expected one ticker in data, got {_shape(data)}")
    return data[0]["last"]


def _read_coingecko(doc: Any) -> Any:
    return _only_entry(doc, "coin")["usd"]


SOURCES: dict[str, Adapter] = {
    a.name: a
    for a in (
        Adapter(
            "coinbase",
            "https://api.exchange.coinbase.com",
            {
                BTC_USD: "/products/BTC-USD/ticker",
                STX_USD: "/products/STX-USD/ticker",
            },
            _read_coinbase,
            "last trade (`price`), USD",
        ),
        Adapter(
            "kraken",
            "https://api.kraken.com",
            {
                BTC_USD: "/0/public/Ticker?pair=XBTUSD",
                STX_USD: "/0/public/Ticker?pair=STXUSD",
            },
            _read_kraken,
            "last trade closed (`c[0]`), USD",
        ),
        Adapter(
            "bitstamp",
            "https://www.bitstamp.net",
            {BTC_USD: "/api/v2/ticker/btcusd/"},
            _read_bitstamp,
            "last trade (`last`), USD",
        ),
        Adapter(
            "binance",
            "https://api.binance.com",
            {
                BTC_USD: "/api/v3/ticker/price?symbol=BTCUSDT",
                STX_USD: "/api/v3/ticker/price?symbol=STXUSDT",
            },
            _read_binance,
            "latest trade (`price`), USDT not USD",
        ),
        Adapter(
            "gemini",
            "https://api.gemini.com",
            {BTC_USD: "/v1/pubticker/btcusd"},
            _read_gemini,
            "last trade (`last`), USD",
        ),
        Adapter(
            "bitfinex",
            "https://api-pub.bitfinex.com",
            {
                BTC_USD: "/v2/ticker/tBTCUSD",
                STX_USD: "/v2/ticker/tSTXUSD",
            },
            _read_bitfinex,
            "last trade (`LAST_PRICE`, index 6), USD",
        ),
        Adapter(
            "okx",
            "https://www.okx.com",
            {
                BTC_USD: "/api/v5/market/ticker?instId=BTC-USDT",
                STX_USD: "/api/v5/market/ticker?instId=STX-USDT",
            },
            _read_okx,
            "last trade (`data[0].last`), USDT not USD",
        ),
        Adapter(
            "coingecko",
            "https://api.coingecko.com",
            {
                BTC_USD: "/api/v3/simple/price?ids=bitcoin&vs_currencies=usd",
                STX_USD: "/api/v3/simple/price?ids=blockstack&vs_currencies=usd",
            },
            _read_coingecko,
            "aggregate across exchanges (`<coin>.usd`), USD; not a trade",
        ),
    )
}


class ExchangeFeed:
    """The oracle's PriceFeed over live exchanges (chain/port.py).

    Called from an actor thread with no event loop running. The feed keeps one event loop on a
    daemon thread of its own and one HTTP client on it for its whole life: building a client
    builds a TLS context (certificates loaded and parsed), which per tick cost more CPU than
    the requests, and a shared client keeps each exchange's connection alive between ticks.
    Each `fetch` asks every source at once, each under `timeout` seconds, and the whole call
    under `deadline` seconds (default `timeout` + 0.5). `close` ends the client and the loop.
    """

    def __init__(
        self,
        sources: Sequence[Adapter],
        *,
        timeout: float = 3.0,
        deadline: float | None = None,
        base_urls: Mapping[str, str] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        log: EventLog | None = None,
    ):
        names = [s.name for s in sources]
        if not names:
            raise ValueError("an exchange feed needs at least one source")
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate exchange source in {names}: each may be asked once")
        if timeout <= 0:
            raise ValueError(f"timeout must be > 0 seconds, got {timeout}")
        unknown = sorted(set(base_urls or {}) - set(names) - set(SOURCES))
        if unknown:
            raise ValueError(f"base_urls for unknown sources {unknown}; feed has {names}")
        self.sources = tuple(sources)
        self.timeout = timeout
        self.deadline = timeout + 0.5 if deadline is None else deadline
        self.base_urls = dict(base_urls or {})
        self.transport = transport
        self.log = log
        self._started = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._client: httpx.AsyncClient | None = None

    def fetch(self, asset: str) -> list[tuple[str, int]]:
        """(source, price units) from every source that answered, in the feed's source order."""
        jobs = [
            (s, url)
            for s in self.sources
            if (url := s.url(asset, self.base_urls.get(s.name))) is not None
        ]
        if not jobs:
            return []
        loop = self._running_loop()
        results = asyncio.run_coroutine_threadsafe(self._fetch_all(jobs), loop).result()
        quotes = []
        for (source, _), result in zip(jobs, results, strict=True):
            if isinstance(result, int):
                quotes.append((source.name, result))
            elif self.log is not None:
                self.log.record("exchange-error", source=source.name, asset=asset, error=result)
        return quotes

    def close(self) -> None:
        """Closes the connections and stops the feed's loop; a later `fetch` starts anew."""
        with self._started:
            loop, client = self._loop, self._client
            self._loop = self._client = None
        if loop is None:
            return
        if client is not None:
            asyncio.run_coroutine_threadsafe(client.aclose(), loop).result(timeout=5)
        loop.call_soon_threadsafe(loop.stop)

    def _running_loop(self) -> asyncio.AbstractEventLoop:
        with self._started:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                threading.Thread(
                    target=_serve, args=(loop,), name="exchange-feed", daemon=True
                ).start()
                self._client = asyncio.run_coroutine_threadsafe(self._new_client(), loop).result()
                self._loop = loop
            return self._loop

    async def _new_client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            transport=self.transport,
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(
                max_connections=2 * len(self.sources),
                max_keepalive_connections=len(self.sources),
                keepalive_expiry=KEEPALIVE_SECONDS,
            ),
            headers={"User-Agent": _USER_AGENT, "Accept": "application/json"},
            follow_redirects=False,
        )

    async def _fetch_all(self, jobs: list[tuple[Adapter, str]]) -> list[int | str]:
        client = self._client
        assert client is not None
        tasks = [asyncio.ensure_future(self._one(client, s, url)) for s, url in jobs]
        _, pending = await asyncio.wait(tasks, timeout=self.deadline)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return [
            f"no answer within the {self.deadline}s deadline" if t in pending else t.result()
            for t in tasks
        ]

    async def _one(self, client: httpx.AsyncClient, source: Adapter, url: str) -> int | str:
        """The price, or a one-line reason why there is none (never raises)."""
        try:
            async with asyncio.timeout(self.timeout):
                response = await client.get(url)
        except (TimeoutError, httpx.TimeoutException):
            return f"timeout after {self.timeout}s"
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as e:
            return f"{type(e).__name__}: {e}"[:200]
        if response.status_code != 200:
            return f"HTTP {response.status_code}"
        try:
            return source.parse(response.content)
        except BadQuote as e:
            return f"BadQuote: {e}"[:200]


def _serve(loop: asyncio.AbstractEventLoop) -> None:
    """The feed's loop thread: runs until `close` stops it, then closes the loop without
    waiting for stray resolver threads (a hung DNS lookup must not hold the engine's exit)."""
    asyncio.set_event_loop(loop)
    try:
        loop.run_forever()
    finally:
        try:
            loop.run_until_complete(loop.shutdown_asyncgens())
        finally:
            loop.close()


def feed_from_names(names: Iterable[str], **kwargs: Any) -> ExchangeFeed:
    """An ExchangeFeed over the named sources, in the order named (the live config's form)."""
    names = list(names)
    for name in names:
        if name not in SOURCES:
            raise ValueError(
                f"unknown exchange source {name!r}; allowed: {', '.join(sorted(SOURCES))}"
            )
    return ExchangeFeed([SOURCES[n] for n in names], **kwargs)
