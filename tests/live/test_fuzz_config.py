"""Hostile live configs: accepted with every field in its range, or refused with one
ConfigError line; never another exception, and never a key's text in the message.

The documents start from a valid config and have fields replaced, added or removed with
values of every TOML type, so most examples get past the first checks and reach the later ones.
"""

from __future__ import annotations

import math
import os
import tempfile
import tomllib
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain import c32
from chain.keys import PrivateKey
from live.config import NETWORKS, KeySource, LiveConfig, _key, load, parse
from live.exchanges import SOURCES
from scenarios.config import ConfigError
from tests.conftest import examples

FUZZ = settings(
    max_examples=examples(400),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow],
)
TESTNET = PrivateKey.from_seed(b"fuzz-deployer").principal().address
MAINNET = PrivateKey.from_seed(b"fuzz-deployer").principal(mainnet=True).address
GOOD = f"""
[network]
name = "testnet"

[contracts]
deployer = "{TESTNET}"

[keys]
backend = "env:BH_FUZZ_BACKEND"
quote = "file:/nonexistent/quote.key"

[oracle]
sources = ["coinbase", "kraken", "bitstamp"]
"""
FIELDS = {
    "network": ["name", "url", "api_key_env", "timeout_seconds"],
    "contracts": ["deployer", "sbtc"],
    "keys": ["backend", "quote"],
    "store": ["url"],
    "oracle": [
        "sources",
        "base_urls",
        "timeout_seconds",
        "poll_seconds",
        "threshold_bps",
        "heartbeat_seconds",
        "min_interval_seconds",
        "outlier_bps",
        "quorum",
    ],
    "signer": ["fee", "max_fee", "resend_blocks"],
    "engine": ["block_poll_seconds", "log"],
}
NUMBERS = {  # section.field -> (lo, hi, kind), as the config documents them
    "network.timeout_seconds": (0.1, 300, float),
    "oracle.timeout_seconds": (0.1, 60, float),
    "oracle.poll_seconds": (1, 3600, float),
    "oracle.threshold_bps": (1, 5000, int),
    "oracle.heartbeat_seconds": (10, 86400, float),
    "oracle.min_interval_seconds": (0, 3600, float),
    "oracle.outlier_bps": (1, 5000, int),
    "signer.fee": (1, 100_000_000, int),
    "signer.max_fee": (1, 1_000_000_000, int),
    "signer.resend_blocks": (1, 10_000, int),
    "engine.block_poll_seconds": (0.05, 600, float),
}

# --- values of every TOML type, biased towards the edges ---------------------------------------

names = st.sampled_from(sorted(SOURCES))
urls = st.one_of(
    st.sampled_from(
        [
            "http://127.0.0.1:20443",
            "https://api.hiro.so/",
            "http://",
            "https://",
            "http://:80",
            "http://host:0",
            "http://host:99999",
            "http://host:port",
            "http://[::1",
            "http://a b",
            "http://a\nb",
            "ftp://x",
            "HTTP://X",
        ]
    ),
    st.text(max_size=20).map(lambda t: "http://" + t),
)
numbers = st.one_of(
    st.integers(min_value=-(2**70), max_value=2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([0, 1, 3, 0.05, 0.1, 1.5, 5000, 10**9, 2**63 - 1, True, False]),
)
scalars = st.one_of(
    numbers,
    st.text(max_size=12),
    names,
    urls,
    st.sampled_from(["mainnet", "testnet", "devnet", TESTNET, MAINNET, f"{TESTNET}.sbtc-token"]),
    st.sampled_from(["env:X", "env:", "file:", "file:~nosuchuser/k", "file:/a\x00b", "hex:ab"]),
    st.datetimes(),
    st.dates(),
    st.times(),
)
values = st.one_of(
    scalars,
    st.lists(names, max_size=4),
    st.lists(scalars, max_size=3),
    st.dictionaries(st.one_of(names, st.text(max_size=5)), urls, max_size=3),
    st.dictionaries(st.text(max_size=5), scalars, max_size=2),
)
sections = st.sampled_from(sorted(FIELDS))
DELETE = object()


def plausible(path: str) -> st.SearchStrategy:
    """Values a user might write for this field: mostly right, sometimes just wrong."""
    if path in NUMBERS:
        lo, hi, kind = NUMBERS[path]
        if kind is int:
            return st.integers(min_value=int(lo) - 1, max_value=int(hi) + 1)
        return st.floats(min_value=lo, max_value=hi) | st.integers(int(lo), int(hi)) | numbers
    if path in ("oracle.quorum",):
        return st.integers(min_value=0, max_value=9)
    if path.endswith("url") and path != "store.url":
        return urls
    if path == "network.name":
        return st.sampled_from(["mainnet", "testnet", "devnet", "regtest"])
    if path == "contracts.deployer":
        return st.sampled_from([TESTNET, MAINNET, TESTNET[:-1], TESTNET.lower()])
    if path == "contracts.sbtc":
        return st.sampled_from([f"{TESTNET}.sbtc-token", f"{MAINNET}.x", TESTNET, "a.b"])
    if path.startswith("keys."):
        return st.text(max_size=10).map(lambda t: "env:" + t) | st.sampled_from(
            ["file:/k", "file:~/k", "env:", "hex:00"]
        )
    if path == "oracle.sources":
        return st.lists(names, min_size=1, max_size=8, unique=True) | st.lists(names, max_size=4)
    if path == "oracle.base_urls":
        return st.dictionaries(names, urls, max_size=3)
    return st.text(max_size=12)


@st.composite
def documents(draw) -> dict:
    doc = tomllib.loads(GOOD)
    if draw(st.booleans()):  # a devnet needs its URL: half the documents are devnet ones
        doc["network"] = {"name": "devnet", "url": "http://127.0.0.1:3999"}
    for _ in range(draw(st.integers(min_value=0, max_value=6))):
        # (integers are drawn biased towards 0, so rare choices come from a weighted list)
        odd = draw(st.sampled_from(["known"] * 28 + ["section", "field"]))
        section = draw(st.text(max_size=8) if odd == "section" else sections)
        known = FIELDS.get(section, ["x"])
        field = draw(st.text(max_size=8) if odd == "field" else st.sampled_from(known))
        path = f"{section}.{field}"
        kind = draw(st.sampled_from(["plausible"] * 14 + ["any"] * 4 + ["delete", "section"]))
        strategy = values if kind == "any" else plausible(path)
        value = DELETE if kind == "delete" else draw(strategy)
        if kind == "section":  # the whole section
            doc[section] = value if value is not DELETE else doc.pop(section, None)
            continue
        table = doc.setdefault(section, {})
        if not isinstance(table, dict):
            continue
        if value is DELETE:
            table.pop(field, None)
        else:
            table[field] = value
    return doc


# --- the contract -------------------------------------------------------------------------------


def assert_one_line(exc: ConfigError) -> None:
    text = str(exc)
    assert text and len(text.splitlines()) == 1 and text.isprintable(), repr(text)


def assert_in_range(c: LiveConfig, doc: dict) -> None:
    net = doc["network"]
    assert c.network == net["name"] in ("mainnet", "testnet", "devnet")
    if "url" in net:
        assert c.node_url == net["url"].rstrip("/") and urlsplit(c.node_url).hostname
    else:
        assert c.network != "devnet" and c.node_url == NETWORKS[c.network]
    # c32 is case-insensitive and reads O as 0, I and L as 1: the same address, normalised
    deployer = c32.address(*c32.decode_address(doc["contracts"]["deployer"]))
    assert c.contracts.pool.address == f"{deployer}.liquidity-pool"
    assert c.contracts.pool.address.startswith("SP" if c.network == "mainnet" else "ST")
    assert c.backend_key.spec == doc["keys"]["backend"]
    assert c.quote_key.spec == doc["keys"]["quote"]
    for key in (c.backend_key, c.quote_key):
        assert key.spec.isprintable() and key.spec.split(":", 1)[0] in ("env", "file")
    assert c.store_url and c.store_url.isprintable()
    o = c.oracle
    sources = doc["oracle"]["sources"]
    assert o.sources == tuple(sources) and len(set(o.sources)) == len(o.sources)
    assert set(o.sources) <= set(SOURCES)
    assert type(o.quorum) is int and 1 <= o.quorum <= len(o.sources)
    assert set(o.base_urls) <= set(o.sources)
    for url in o.base_urls.values():
        assert url.startswith(("http://", "https://")) and urlsplit(url).hostname
    got = {
        "network.timeout_seconds": c.timeout_seconds,
        "signer.fee": c.fee,
        "signer.max_fee": c.max_fee,
        "signer.resend_blocks": c.resend_blocks,
        "engine.block_poll_seconds": c.block_poll_seconds,
        **{f"oracle.{k}": getattr(o, k) for k in FIELDS["oracle"] if k in NUMBERS_ORACLE},
    }
    for path, (lo, hi, kind) in NUMBERS.items():
        value = got[path]
        assert type(value) is kind and lo <= value <= hi, (path, value)
        section, _, field = path.partition(".")
        given_value = doc.get(section, {}).get(field)
        if given_value is not None:  # nothing silently changed
            assert value == given_value and not isinstance(given_value, bool), (path, value)
    assert c.max_fee >= c.fee
    if c.log_path is not None:
        assert str(c.log_path).isprintable()


NUMBERS_ORACLE = {p.partition(".")[2] for p in NUMBERS if p.startswith("oracle.")}


def check(doc: dict) -> LiveConfig | None:
    try:
        c = parse(doc)
    except ConfigError as exc:
        assert_one_line(exc)
        return None
    assert_in_range(c, doc)
    return c


@FUZZ
@given(documents())
def test_a_fuzzed_live_config_is_accepted_in_range_or_refused_in_one_line(doc):
    check(doc)


@FUZZ
@given(st.dictionaries(st.text(max_size=8), values, max_size=4))
def test_a_document_of_anything_is_refused_in_one_line(doc):
    with pytest.raises(ConfigError) as err:
        parse(doc)
    assert_one_line(err.value)


def test_the_fuzzer_reaches_acceptance():
    """The contract's accepted half is exercised, not only refusals."""
    accepted = []

    # a fixed count, whatever the profile: the assertion counts accepted examples out of these
    @settings(max_examples=200, deadline=None, derandomize=True)
    @given(documents())
    def run(doc):
        if check(doc) is not None:
            accepted.append(doc)

    run()
    assert len(accepted) >= 20


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        # found by the fuzzer: each was accepted and failed later, or broke the one-line rule
        ({"oracle": {"sources": ["coinbase", "coinbase"]}}, "each source named once"),
        ({"network": {"name": "devnet", "url": "http://"}}, "network.url: 'http://' is not"),
        ({"network": {"name": "devnet", "url": "http://host:99999"}}, "network.url:"),
        ({"network": {"name": "devnet", "url": "http://a\nb"}}, "network.url:"),
        ({"keys": {"backend": "file:/a\nb"}}, "keys.backend: 'file:/a\\nb' is not valid"),
        ({"engine": {"log": "a\x00b"}}, "engine.log:"),
        ({"network": {"name": "testnet", "a\nb": 1}}, "network.'a\\nb': unknown field"),
    ],
)
def test_fuzzer_findings_are_refused_in_one_line(patch, message):
    doc = tomllib.loads(GOOD)
    for section, fields in patch.items():
        doc[section] = {**doc.get(section, {}), **fields}
    with pytest.raises(ConfigError) as err:
        parse(doc)
    assert_one_line(err.value)
    assert message in str(err.value)


# --- files and key sources ---------------------------------------------------------------------

file_bodies = st.one_of(
    st.binary(max_size=120),
    st.text(max_size=120).map(lambda t: t.encode("utf-8", "surrogatepass")),
    documents().map(lambda d: GOOD.encode() + b"\n# " + repr(d).encode("unicode_escape")),
    st.sampled_from([GOOD.encode(), GOOD.encode()[:-20], b"\xef\xbb\xbf" + GOOD.encode()]),
)


@FUZZ
@given(file_bodies)
def test_any_file_as_the_config_is_loaded_or_refused_in_one_line(body):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "live.toml"
        path.write_bytes(body)
        try:
            c = load(path)
        except ConfigError as exc:
            assert_one_line(exc)
        else:
            assert_in_range(c, tomllib.loads(body.decode()))


SECRET = PrivateKey.from_seed(b"fuzz-key")


@FUZZ
@given(
    spec=st.one_of(
        st.text(max_size=20).map(lambda t: "env:" + t),
        st.text(max_size=20).map(lambda t: "file:" + t),
        st.just("file:KEYFILE"),
    ),
    content=st.one_of(
        st.binary(max_size=80),
        st.just(SECRET.secret_hex()),
        st.integers(min_value=0, max_value=63).map(
            lambda i: SECRET.secret_hex()[:i] + "z" + SECRET.secret_hex()[i + 1 :]
        ),
        st.just(SECRET.secret_hex()[:-1]),
        st.just("ff" * 32),  # above the curve order
        st.just("00" * 32),
    ),
    mode=st.sampled_from([0o600, 0o400, 0o640, 0o604]),
)
def test_a_key_source_loads_a_key_or_one_line_that_never_shows_the_text(spec, content, mode):
    try:
        source = _key("keys.backend", spec)
    except ConfigError as exc:
        assert_one_line(exc)
        return
    data = content if isinstance(content, bytes) else content.encode()
    with tempfile.TemporaryDirectory() as folder, pytest.MonkeyPatch.context() as mp:
        path = Path(folder) / "key"
        path.write_bytes(data)
        os.chmod(path, mode)
        if spec == "file:KEYFILE":
            source = KeySource("keys.backend", f"file:{path}")
        elif spec.startswith("env:") and "=" not in spec[4:] and isinstance(content, str):
            mp.setenv(spec[4:], content)
        try:
            key = source.load()
        except ConfigError as exc:
            assert_one_line(exc)
            text = data.decode("latin-1").strip()
            if len(text) >= 8:
                assert text not in str(exc)
            assert SECRET.secret_hex()[:16] not in str(exc)
        else:
            assert repr(key).find(SECRET.secret_hex()) == -1
            assert key.public_key == PrivateKey.from_hex(data.decode().strip()).public_key


def test_numbers_table_matches_edges():
    """The range table above is the config's: its edges pass and one step out fails."""
    for path, (lo, hi, kind) in NUMBERS.items():
        if path == "signer.max_fee":
            lo = 2000  # at least the default fee
        section, _, field = path.partition(".")
        for value, ok in ((lo, True), (hi, True), (hi * 2 + 1, False)):
            doc = tomllib.loads(GOOD)
            doc["signer"] = {"max_fee": 1_000_000_000}  # room for the largest fee
            doc[section] = {**doc.get(section, {}), field: kind(value) if ok else value}
            if ok:
                assert check(doc) is not None, path
            else:
                with pytest.raises(ConfigError):
                    parse(doc)
        below = lo - (1 if kind is int else 0.001)
        if not math.isclose(below, lo):
            doc = tomllib.loads(GOOD)
            doc.setdefault(section, {})[field] = below
            with pytest.raises(ConfigError):
                parse(doc)
