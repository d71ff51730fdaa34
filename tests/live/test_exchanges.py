"""Exchange adapters on their documented bodies, and ExchangeFeed against loopback exchanges."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import pytest

from chain.contracts import BTC_USD, STX_USD
from live.exchanges import (
    RECORDED,
    SOURCES,
    BadQuote,
    ExchangeFeed,
    feed_from_names,
    to_price_units,
)
from sim.feed import ExchangeServer, render

# The price each documentation example carries, read by hand from the file, in price units.
DOCUMENTED = {
    "coinbase": 626_848_000_000,  # "6268.48"
    "kraken": 3_030_320_000_000,  # "30303.20000"
    "bitstamp": 221_100_000_000,  # "2211.00"
    "binance": 400_000_200,  # "4.00000200"
    "gemini": 97_765_000_000,  # "977.65"
    "bitfinex": 761_710_000_000,  # 7617.1
    "okx": 999_999_000_000,  # "9999.99"
    "coingecko": 6_718_733_589_365,  # 67187.3358936566, truncated: .66 of a unit dropped
}
STX_LISTED = ["coinbase", "kraken", "binance", "bitfinex", "okx", "coingecko"]


class Log:
    def __init__(self):
        self.events: list[tuple[str, dict]] = []

    def record(self, kind: str, **fields) -> None:
        self.events.append((kind, fields))


@pytest.fixture(scope="module")
def server():
    with ExchangeServer() as s:
        yield s


@pytest.fixture(autouse=True)
def all_ok(request):
    yield
    if "server" in request.fixturenames:
        s = request.getfixturevalue("server")
        for name in SOURCES:
            s.set_mode(name, "ok")
        s.set_price(BTC_USD, "65000.00")
        s.set_price(STX_USD, "1.50")


def feed_for(server: ExchangeServer, *, timeout: float = 2.0, log=None, names=None):
    sources = [SOURCES[n] for n in (names or SOURCES)]
    return ExchangeFeed(sources, timeout=timeout, base_urls=server.base_urls(), log=log)


def test_every_registered_source_has_a_recorded_body():
    assert sorted(SOURCES) == sorted(DOCUMENTED)
    assert len(SOURCES) >= 6


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_parser_reads_the_documented_example(name):
    body = (RECORDED / f"{name}.json").read_bytes()
    assert SOURCES[name].parse(body) == DOCUMENTED[name]


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
@pytest.mark.parametrize(
    "body",
    [b"", b"not json", b"<html>502</html>", b"null", b"[]", b"{}", b"\xff\xfe"],
    ids=["empty", "text", "html", "null", "empty-list", "empty-object", "not-utf8"],
)
def test_garbage_is_a_bad_quote(name, body):
    with pytest.raises(BadQuote, match=name):
        SOURCES[name].parse(body)


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_missing_price_field_is_a_bad_quote(name):
    with pytest.raises(BadQuote, match=name):
        SOURCES[name].parse(render(name, "1", missing=True))


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
@pytest.mark.parametrize("price", ["-1", "0", "-0.00000001", "10000000", "1e12", "0.000000001"])
def test_non_positive_or_absurd_price_is_a_bad_quote(name, price):
    with pytest.raises(BadQuote, match=name):
        SOURCES[name].parse(render(name, price))


@pytest.mark.parametrize("name", sorted(DOCUMENTED))
def test_rendered_price_reads_back_exactly(name):
    assert SOURCES[name].parse(render(name, "65000.12345678")) == 6_500_012_345_678
    assert SOURCES[name].parse(render(name, "0.98765432109")) == 98_765_432  # truncated


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_non_finite_numbers_are_refused_in_string_and_number_fields(text):
    with pytest.raises(BadQuote, match="coinbase"):
        SOURCES["coinbase"].parse(render("coinbase", text))
    with pytest.raises(BadQuote, match="bitfinex"):
        SOURCES["bitfinex"].parse(render("bitfinex", text))  # a bare NaN literal


def test_exchange_error_answers_are_bad_quotes():
    with pytest.raises(BadQuote, match="EQuery:Unknown asset pair"):
        SOURCES["kraken"].parse(b'{"error":["EQuery:Unknown asset pair"]}')
    with pytest.raises(BadQuote, match="51001"):
        SOURCES["okx"].parse(b'{"code":"51001","msg":"Instrument ID does not exist","data":[]}')
    with pytest.raises(BadQuote, match="bitfinex"):
        SOURCES["bitfinex"].parse(b'["error",10020,"symbol: invalid"]')
    with pytest.raises(BadQuote, match="gemini"):
        SOURCES["gemini"].parse(b'{"result":"error","reason":"InvalidSymbol"}')


def test_price_conversion_is_exact_and_truncating():
    assert to_price_units("65000") == 6_500_000_000_000
    assert to_price_units("0.123456789") == 12_345_678
    assert to_price_units("9999999.99999999") == 999_999_999_999_999
    assert to_price_units(7) == 700_000_000
    for bad in [0.5, True, None, [], "", "1" * 65, "1,000"]:
        with pytest.raises(BadQuote):
            to_price_units(bad)


def test_urls_are_the_documented_public_endpoints():
    assert SOURCES["coinbase"].url(BTC_USD) == (
        "https://api.exchange.coinbase.com/products/BTC-USD/ticker"
    )
    assert SOURCES["kraken"].url(BTC_USD) == "https://api.kraken.com/0/public/Ticker?pair=XBTUSD"
    assert SOURCES["bitstamp"].url(BTC_USD) == "https://www.bitstamp.net/api/v2/ticker/btcusd/"
    assert SOURCES["binance"].url(STX_USD) == (
        "https://api.binance.com/api/v3/ticker/price?symbol=STXUSDT"
    )
    assert SOURCES["gemini"].url(BTC_USD) == "https://api.gemini.com/v1/pubticker/btcusd"
    assert SOURCES["bitfinex"].url(BTC_USD) == "https://api-pub.bitfinex.com/v2/ticker/tBTCUSD"
    assert SOURCES["bitstamp"].url(STX_USD) is None
    assert SOURCES["gemini"].url(STX_USD) is None
    assert SOURCES["kraken"].url(BTC_USD, "http://127.0.0.1:9/kraken/") == (
        "http://127.0.0.1:9/kraken/0/public/Ticker?pair=XBTUSD"
    )
    assert sorted(n for n in SOURCES if SOURCES[n].url(STX_USD)) == sorted(STX_LISTED)


def test_feed_through_a_transport_calls_the_real_hosts():
    seen = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        name = next(n for n in SOURCES if str(request.url) == SOURCES[n].url(BTC_USD))
        return httpx.Response(200, content=(RECORDED / f"{name}.json").read_bytes())

    feed = ExchangeFeed(list(SOURCES.values()), transport=httpx.MockTransport(handler))
    assert feed.fetch(BTC_USD) == [(n, DOCUMENTED[n]) for n in SOURCES]
    assert sorted(seen) == sorted(SOURCES[n].url(BTC_USD) for n in SOURCES)


def test_all_sources_ok_give_the_set_price_in_source_order(server):
    server.set_price(BTC_USD, "91234.56789")
    server.set_price(STX_USD, "1.2345")
    feed = feed_for(server)
    assert feed.fetch(BTC_USD) == [(n, 9_123_456_789_000) for n in SOURCES]
    assert feed.fetch(STX_USD) == [(n, 123_450_000) for n in SOURCES if n in STX_LISTED]


def test_order_is_the_order_the_sources_were_given(server):
    names = ["okx", "bitstamp", "coingecko", "kraken", "gemini", "binance", "coinbase", "bitfinex"]
    server.set_price(BTC_USD, "70000", source="gemini")
    got = feed_for(server, names=names).fetch(BTC_USD)
    assert [n for n, _ in got] == names
    assert dict(got)["gemini"] == 7_000_000_000_000
    assert all(p == 6_500_000_000_000 for n, p in got if n != "gemini")


def test_slow_source_is_absent_and_the_call_keeps_its_deadline(server):
    server.set_mode("kraken", "slow", delay=5.0)
    log = Log()
    feed = feed_for(server, timeout=0.5, log=log)
    start = time.monotonic()
    got = feed.fetch(BTC_USD)
    elapsed = time.monotonic() - start
    assert [n for n, _ in got] == [n for n in SOURCES if n != "kraken"]
    assert elapsed < 0.5 + 0.5, elapsed
    assert log.events == [
        ("exchange-error", {"source": "kraken", "asset": BTC_USD, "error": "timeout after 0.5s"})
    ]


@pytest.mark.parametrize("mode", ["down", "closed", "garbage"])
def test_failing_source_is_absent_and_logged(server, mode):
    server.set_mode("bitstamp", mode)
    log = Log()
    got = feed_for(server, log=log).fetch(BTC_USD)
    assert [n for n, _ in got] == [n for n in SOURCES if n != "bitstamp"]
    assert all(p == 6_500_000_000_000 for _, p in got)
    assert len(log.events) == 1
    kind, fields = log.events[0]
    assert kind == "exchange-error"
    assert (fields["source"], fields["asset"]) == ("bitstamp", BTC_USD)
    expected = {"down": "HTTP 500", "closed": "RemoteProtocolError", "garbage": "BadQuote"}[mode]
    assert expected in fields["error"]


def test_several_failures_at_once_leave_the_rest(server):
    server.set_mode("coinbase", "down")
    server.set_mode("okx", "garbage")
    server.set_mode("coingecko", "slow", delay=5.0)
    server.set_price(STX_USD, "-3", source="binance")
    log = Log()
    got = feed_for(server, timeout=0.5, log=log).fetch(STX_USD)
    assert got == [("kraken", 150_000_000), ("bitfinex", 150_000_000)]
    assert [f["source"] for _, f in log.events] == ["coinbase", "binance", "okx", "coingecko"]


def test_unlisted_pairs_are_not_asked_and_not_errors(server):
    log = Log()
    before = server.hits["gemini"]
    got = feed_for(server, log=log, names=["gemini", "bitstamp"]).fetch(STX_USD)
    assert got == []
    assert log.events == []
    assert server.hits["gemini"] == before


def test_feed_from_names_and_its_errors():
    feed = feed_from_names(["kraken", "coinbase"], timeout=1.0)
    assert [s.name for s in feed.sources] == ["kraken", "coinbase"]
    with pytest.raises(ValueError, match=r"unknown exchange source 'ftx'; allowed: binance, "):
        feed_from_names(["kraken", "ftx"])
    with pytest.raises(ValueError, match="duplicate"):
        feed_from_names(["kraken", "kraken"])
    with pytest.raises(ValueError, match="at least one"):
        feed_from_names([])
    with pytest.raises(ValueError, match=r"base_urls for unknown sources \['krakn'\]"):
        feed_from_names(["kraken"], base_urls={"krakn": "http://127.0.0.1:1"})
    feed_from_names(["kraken"], base_urls={"gemini": "http://127.0.0.1:1"})  # unused, not a typo
    with pytest.raises(ValueError, match="timeout"):
        feed_from_names(["kraken"], timeout=0)


def test_overall_deadline_cuts_off_what_the_per_source_timeout_would_still_allow(server):
    server.set_mode("gemini", "slow", delay=5.0)
    log = Log()
    feed = ExchangeFeed(
        list(SOURCES.values()), timeout=4.0, deadline=0.5, base_urls=server.base_urls(), log=log
    )
    start = time.monotonic()
    got = feed.fetch(BTC_USD)
    assert time.monotonic() - start < 0.5 + 0.5
    assert "gemini" not in dict(got) and len(got) == len(SOURCES) - 1
    assert log.events == [
        (
            "exchange-error",
            {"source": "gemini", "asset": BTC_USD, "error": "no answer within the 0.5s deadline"},
        )
    ]


def test_fetch_works_from_a_worker_thread_like_an_actor(server):
    out = []
    worker = threading.Thread(target=lambda: out.append(feed_for(server).fetch(BTC_USD)))
    worker.start()
    worker.join(timeout=10)
    assert out == [[(n, 6_500_000_000_000) for n in SOURCES]]


def feed_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "exchange-feed"]


def test_one_client_and_one_loop_serve_every_tick_until_close(server):
    """Ticks reuse the feed's loop thread and HTTP client (a new client per tick built a TLS
    context each time); close ends both, and a fetch after close starts them again."""
    before = len(feed_threads())
    feed = feed_for(server)
    for _ in range(5):
        assert feed.fetch(BTC_USD) == [(n, 6_500_000_000_000) for n in SOURCES]
    assert len(feed_threads()) == before + 1
    feed.close()
    deadline = time.monotonic() + 5
    while len(feed_threads()) > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(feed_threads()) == before
    assert feed.fetch(STX_USD) == [(n, 150_000_000) for n in SOURCES if n in STX_LISTED]
    feed.close()
    feed.close()  # twice is harmless


def test_fetches_from_several_threads_at_once_share_the_feed(server):
    feed = feed_for(server)
    out: list = []
    workers = [threading.Thread(target=lambda: out.append(feed.fetch(BTC_USD))) for _ in range(4)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=10)
    feed.close()
    assert out == [[(n, 6_500_000_000_000) for n in SOURCES]] * 4


def test_the_recorded_bodies_are_package_data_not_test_files():
    import live

    assert RECORDED.is_relative_to(Path(live.__file__).parent)
    assert sorted(p.stem for p in RECORDED.glob("*.json")) == sorted(SOURCES)
