"""The live configuration (TOML): where the node is, whose contracts, which keys, which prices.

Every field is checked before anything connects, and a mistake is one line naming the field and
what it accepts (`ConfigError`, exit 2). Keys are never in this file: it says where each key
comes from, an environment variable or a key file that only its owner may read. A key is loaded
into a `PrivateKey`, whose repr and pickling never show it.
"""

from __future__ import annotations

import os
import stat
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from actors.oracle import KNOBS as ORACLE_KNOBS
from chain import c32
from chain.clarity import ContractPrincipal, StandardPrincipal, principal
from chain.contracts import Contracts
from chain.keys import InvalidKey, PrivateKey
from chain.transactions import Network
from settings import ConfigError, Knob, allowed_range, check_range

NETWORKS = {
    "mainnet": "https://api.hiro.so",
    "testnet": "https://api.testnet.hiro.so",
}


@dataclass(frozen=True)
class KeySource:
    """`env:NAME` or `file:PATH`; the key itself is read only by `load()`."""

    field_name: str
    spec: str

    def load(self) -> PrivateKey:
        kind, _, where = self.spec.partition(":")
        if kind == "env":
            text = os.environ.get(where)
            if not text:
                raise ConfigError(f"{self.field_name}: environment variable {where} is not set")
        else:
            try:  # `~user` of no user is a RuntimeError
                path = Path(where).expanduser()
                mode = path.stat().st_mode
            except (OSError, RuntimeError, ValueError):  # ValueError: a NUL in the path
                raise ConfigError(f"{self.field_name}: key file {where!r} does not exist") from None
            if mode & (stat.S_IRWXG | stat.S_IRWXO):
                raise ConfigError(
                    f"{self.field_name}: key file {path} is readable by others "
                    f"(mode {stat.S_IMODE(mode):o}); allowed: owner only, e.g. chmod 600"
                )
            try:
                text = path.read_text()
            except OSError as exc:
                raise ConfigError(
                    f"{self.field_name}: cannot read key file {path}: {exc.strerror}"
                ) from None
            except ValueError:  # not UTF-8, so not a key: refused below without echoing it
                text = ""
        try:
            return PrivateKey.from_hex(text.strip())
        except (InvalidKey, ValueError):
            # never echo the text: it may be most of a key
            raise ConfigError(
                f"{self.field_name}: not a secp256k1 private key; allowed: 64 hex digits"
            ) from None


@dataclass(frozen=True)
class OracleSettings:
    sources: tuple[str, ...]
    base_urls: dict[str, str] = field(default_factory=dict)
    timeout_seconds: float = 3.0
    # defaults and ranges: the oracle actor's table (actors/oracle.py KNOBS)
    poll_seconds: float = ORACLE_KNOBS["poll_seconds"].default
    threshold_bps: int = ORACLE_KNOBS["threshold_bps"].default
    heartbeat_seconds: float = ORACLE_KNOBS["heartbeat_seconds"].default
    min_interval_seconds: float = ORACLE_KNOBS["min_interval_seconds"].default
    outlier_bps: int = ORACLE_KNOBS["outlier_bps"].default
    quorum: int = ORACLE_KNOBS["quorum"].default


@dataclass(frozen=True)
class ApiSettings:
    """The engine's HTTP API (`[api]`): where it listens, who may call it from a browser, how
    often, and when the engine calls itself ready."""

    enabled: bool = True
    host: str = "127.0.0.1"
    port: int = 8080
    cors_origins: tuple[str, ...] = ()
    max_body_bytes: int = 16_384
    quotes_per_minute_principal: int = 30
    quotes_per_minute_address: int = 120
    session_ttl_seconds: float = 900.0
    challenge_ttl_seconds: float = 300.0
    signin_domain: str = "BitHedge sign-in"
    ready_price_age_seconds: float = 600.0
    ready_onchain_age_blocks: int = 6
    ready_min_signer_ustx: int = 1_000_000
    ready_outbox_age_seconds: float = 1800.0

    @property
    def url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"


@dataclass(frozen=True)
class RiskSettings:
    """Shadow risk (`[risk]`): the Monte Carlo solvency forecast of the live book every
    `every_blocks` burn blocks, and the circuit breaker on its ruin upper bound."""

    enabled: bool = True
    every_blocks: int = 6
    paths: int = 2000
    horizon_days: int = 30
    seed: int = 1
    breaker_ruin_upper: float | None = 0.01  # None: publish only, never stop quoting


@dataclass(frozen=True)
class LiveConfig:
    network: str  # mainnet, testnet or devnet
    node_url: str
    api_key_env: str | None
    timeout_seconds: float
    contracts: Contracts
    backend_key: KeySource
    quote_key: KeySource
    store_url: str = field(repr=False)  # may hold a database password
    oracle: OracleSettings
    fee: int
    max_fee: int
    resend_blocks: int
    block_poll_seconds: float
    log_path: Path | None
    api: ApiSettings = field(default_factory=ApiSettings)
    risk: RiskSettings = field(default_factory=RiskSettings)

    @property
    def tx_network(self) -> Network:
        return Network.MAINNET if self.network == "mainnet" else Network.TESTNET


# -- validation -----------------------------------------------------------------------------


def _section(doc: dict, name: str, required: bool = True) -> dict:
    value = doc.get(name)
    if value is None:
        if required:
            raise ConfigError(f"[{name}]: missing section")
        return {}
    if not isinstance(value, dict):
        raise ConfigError(f"[{name}]: must be a table")
    return value


def _unknown(table: dict, where: str, allowed: set[str]) -> None:
    for key in table:
        if key not in allowed:
            names = ", ".join(sorted(allowed))
            raise ConfigError(f"{where}.{_name(key)}: unknown field; allowed: {names}")


def _number(table: dict, where: str, key: str, default: Any, lo: float, hi: float, kind=float):
    raw = table.get(key, default)
    ok = isinstance(raw, int | float) and not isinstance(raw, bool)
    if kind is int and ok and isinstance(raw, float) and not raw.is_integer():
        ok = False
    if not ok:
        allowed = allowed_range(lo, hi, kind)
        raise ConfigError(f"{where}.{key}: {raw!r} is not valid; allowed: {allowed}")
    check_range(f"{where}.{key}", raw, lo, hi, kind=kind, shown=raw)
    return kind(raw)


def _knob(table: dict, where: str, key: str, knob: Knob) -> Any:
    """A setting whose default and range are an actor's table's (e.g. the oracle's KNOBS)."""
    return _number(table, where, key, knob.default, knob.lo, knob.hi, knob.kind)


def _text(raw: Any) -> bool:
    """A non-empty string of printable characters: a control character or a line break in a
    name, path or URL is a mistake, and would split the one-line errors that quote it."""
    return isinstance(raw, str) and raw != "" and raw.isprintable()


def _name(key: str) -> str:
    """A TOML key as typed, or quoted when it holds characters that would break the line."""
    return key if _text(key) else repr(key)


def _string(table: dict, where: str, key: str, default: str | None = None) -> str:
    raw = table.get(key, default)
    if not _text(raw):
        raise ConfigError(f"{where}.{key}: {raw!r} is not valid; allowed: a non-empty string")
    return raw


def _url(where: str, raw: Any) -> str:
    ok = _text(raw) and " " not in raw and raw.startswith(("http://", "https://"))
    if ok:
        try:
            parts = urlsplit(raw)
            ok = bool(parts.hostname) and (parts.port is None or parts.port > 0)
        except ValueError:  # a port that is not a number or out of range, a bad IPv6 literal
            ok = False
    if not ok:
        raise ConfigError(f"{where}: {raw!r} is not valid; allowed: an http:// or https:// URL")
    return raw.rstrip("/")


def _key(where: str, raw: Any) -> KeySource:
    if not _text(raw) or not raw.startswith(("env:", "file:")) or len(raw) < 5:
        raise ConfigError(
            f"{where}: {raw!r} is not valid; allowed: env:VARIABLE or file:/path/to/key"
        )
    return KeySource(where, raw)


def parse(doc: dict, base: Path = Path(".")) -> LiveConfig:
    _unknown(doc, "config", {"network", "contracts", "keys", "store", "oracle", "signer", "engine",
                             "api", "risk"})  # fmt: skip
    net = _section(doc, "network")
    _unknown(net, "network", {"name", "url", "api_key_env", "timeout_seconds"})
    name = net.get("name")
    if name not in ("mainnet", "testnet", "devnet"):
        raise ConfigError(f"network.name: {name!r} is not valid; allowed: mainnet, testnet, devnet")
    if "url" in net or name == "devnet":
        if "url" not in net:
            raise ConfigError("network.url: missing; allowed: the devnet's http:// URL")
        url = _url("network.url", net["url"])
    else:
        url = NETWORKS[name]
    api_key_env = net.get("api_key_env")
    if api_key_env is not None and not _text(api_key_env):
        raise ConfigError(
            f"network.api_key_env: {api_key_env!r} is not valid; allowed: a variable name"
        )
    timeout = _number(net, "network", "timeout_seconds", 10.0, 0.1, 300)

    con = _section(doc, "contracts")
    _unknown(con, "contracts", {"deployer", "sbtc"})
    deployer_text = _string(con, "contracts", "deployer")
    try:
        version, _ = c32.decode_address(deployer_text)
        deployer = principal(deployer_text)
    except (ValueError, Exception):
        raise ConfigError(
            f"contracts.deployer: {deployer_text!r} is not valid; allowed: a Stacks address"
        ) from None
    mainnet = version == 22
    if not isinstance(deployer, StandardPrincipal) or mainnet != (name == "mainnet"):
        raise ConfigError(
            f"contracts.deployer: {deployer_text!r} is not valid; allowed: an "
            f"{'SP' if name == 'mainnet' else 'ST'}… address for {name}"
        )
    sbtc = None
    if "sbtc" in con:
        try:
            sbtc = principal(_string(con, "contracts", "sbtc"))
        except ValueError:
            sbtc = None
        if not isinstance(sbtc, ContractPrincipal):
            raise ConfigError(
                f"contracts.sbtc: {con['sbtc']!r} is not valid; allowed: a contract ADDRESS.name"
            )

    keys = _section(doc, "keys")
    _unknown(keys, "keys", {"backend", "quote"})
    backend = _key("keys.backend", keys.get("backend"))
    quote = _key("keys.quote", keys.get("quote"))

    store = _section(doc, "store", required=False)
    _unknown(store, "store", {"url"})
    store_url = _string(store, "store", "url", "sqlite:///bithedge-live.db")

    ora = _section(doc, "oracle")
    allowed = {
        "sources", "base_urls", "timeout_seconds", "poll_seconds", "threshold_bps",
        "heartbeat_seconds", "min_interval_seconds", "outlier_bps", "quorum",
    }  # fmt: skip
    _unknown(ora, "oracle", allowed)
    sources = ora.get("sources")
    if not isinstance(sources, list) or not sources or not all(isinstance(s, str) for s in sources):
        raise ConfigError(
            f"oracle.sources: {sources!r} is not valid; allowed: a list of source names"
        )
    if len(set(sources)) != len(sources):  # one exchange listed twice would count twice in quorum
        raise ConfigError(
            f"oracle.sources: {sources!r} is not valid; allowed: each source named once"
        )
    from live.exchanges import SOURCES

    for s in sources:
        if s not in SOURCES:
            raise ConfigError(
                f"oracle.sources: {s!r} is not a source; allowed: {', '.join(sorted(SOURCES))}"
            )
    base_urls = ora.get("base_urls", {})
    if not isinstance(base_urls, dict):
        raise ConfigError("oracle.base_urls: must be a table of source = URL")
    for s, u in base_urls.items():
        if s not in sources:
            raise ConfigError(f"oracle.base_urls.{_name(s)}: not in oracle.sources")
        _url(f"oracle.base_urls.{s}", u)
    q = ORACLE_KNOBS["quorum"]
    quorum = _number(ora, "oracle", "quorum", q.default, q.lo, len(sources), int)
    oracle = OracleSettings(
        sources=tuple(sources),
        base_urls={s: u.rstrip("/") for s, u in base_urls.items()},
        timeout_seconds=_number(ora, "oracle", "timeout_seconds", 3.0, 0.1, 60),
        quorum=quorum,
        **{
            name: _knob(ora, "oracle", name, knob)
            for name, knob in ORACLE_KNOBS.items()
            if name != "quorum"
        },
    )

    sig = _section(doc, "signer", required=False)
    _unknown(sig, "signer", {"fee", "max_fee", "resend_blocks"})
    fee = _number(sig, "signer", "fee", 2000, 1, 100_000_000, int)
    max_fee = _number(sig, "signer", "max_fee", 1_000_000, fee, 1_000_000_000, int)
    resend = _number(sig, "signer", "resend_blocks", 10, 1, 10_000, int)

    eng = _section(doc, "engine", required=False)
    _unknown(eng, "engine", {"block_poll_seconds", "log"})
    poll = _number(eng, "engine", "block_poll_seconds", 5.0, 0.05, 600)
    log = eng.get("log")
    if log is not None and not _text(log):
        raise ConfigError(f"engine.log: {log!r} is not valid; allowed: a file path")

    return LiveConfig(
        network=name,
        node_url=url,
        api_key_env=api_key_env,
        timeout_seconds=timeout,
        contracts=Contracts.of(deployer, sbtc),
        backend_key=backend,
        quote_key=quote,
        store_url=store_url,
        oracle=oracle,
        fee=fee,
        max_fee=max_fee,
        resend_blocks=resend,
        block_poll_seconds=poll,
        log_path=(base / log) if log else None,
        api=_api(_section(doc, "api", required=False)),
        risk=_risk(_section(doc, "risk", required=False)),
    )


def _risk(risk: dict) -> RiskSettings:
    d = RiskSettings()
    _unknown(risk, "risk", set(RiskSettings.__dataclass_fields__))
    enabled = _bool(risk, "risk", "enabled", d.enabled)
    limit = risk.get("breaker_ruin_upper", d.breaker_ruin_upper)
    if limit is not False:  # false turns the breaker off
        limit = _number(risk, "risk", "breaker_ruin_upper", d.breaker_ruin_upper, 0, 1)
    n = _number
    return RiskSettings(
        enabled=enabled,
        every_blocks=n(risk, "risk", "every_blocks", d.every_blocks, 1, 10_000, int),
        paths=n(risk, "risk", "paths", d.paths, 100, 1_000_000, int),
        horizon_days=n(risk, "risk", "horizon_days", d.horizon_days, 1, 365, int),
        seed=n(risk, "risk", "seed", d.seed, 0, 2**32 - 1, int),
        breaker_ruin_upper=None if limit is False else limit,
    )


def _origin(raw: Any) -> str:
    """A browser origin: scheme, host and optional port, nothing after it."""
    ok = _text(raw) and " " not in raw and raw.startswith(("http://", "https://"))
    if ok:
        try:
            parts = urlsplit(raw)
            ok = bool(parts.hostname) and parts.path in ("", "/") and not parts.query
            ok = ok and (parts.port is None or parts.port > 0)
        except ValueError:
            ok = False
    if not ok:
        raise ConfigError(
            f"api.cors_origins: {raw!r} is not valid; allowed: origins like https://app.example.com"
        )
    return raw.rstrip("/")


def _bool(table: dict, where: str, key: str, default: bool) -> bool:
    raw = table.get(key, default)
    if not isinstance(raw, bool):
        raise ConfigError(f"{where}.{key}: {raw!r} is not valid; allowed: true or false")
    return raw


def _api(api: dict) -> ApiSettings:
    d = ApiSettings()
    _unknown(api, "api", set(ApiSettings.__dataclass_fields__))
    enabled = _bool(api, "api", "enabled", d.enabled)
    host = _string(api, "api", "host", d.host)
    import ipaddress

    try:
        ipaddress.ip_address(host)
    except ValueError:
        if host != "localhost":
            raise ConfigError(
                f"api.host: {host!r} is not valid; allowed: an IP address or localhost"
            ) from None
    origins = api.get("cors_origins", [])
    if not isinstance(origins, list):
        raise ConfigError(f"api.cors_origins: {origins!r} is not valid; allowed: a list of origins")
    domain = _string(api, "api", "signin_domain", d.signin_domain)
    if not domain.isascii() or len(domain) > 64:
        raise ConfigError(
            f"api.signin_domain: {domain!r} is not valid; allowed: up to 64 ASCII characters"
        )
    n = _number
    return ApiSettings(
        enabled=enabled,
        host=host,
        port=n(api, "api", "port", d.port, 0, 65535, int),
        cors_origins=tuple(_origin(o) for o in origins),
        max_body_bytes=n(api, "api", "max_body_bytes", d.max_body_bytes, 256, 1_048_576, int),
        quotes_per_minute_principal=n(api, "api", "quotes_per_minute_principal",
                                      d.quotes_per_minute_principal, 1, 100_000, int),
        quotes_per_minute_address=n(api, "api", "quotes_per_minute_address",
                                    d.quotes_per_minute_address, 1, 1_000_000, int),
        session_ttl_seconds=n(api, "api", "session_ttl_seconds", d.session_ttl_seconds, 60, 86400),
        challenge_ttl_seconds=n(api, "api", "challenge_ttl_seconds", d.challenge_ttl_seconds,
                                10, 3600),
        signin_domain=domain,
        ready_price_age_seconds=n(api, "api", "ready_price_age_seconds",
                                  d.ready_price_age_seconds, 1, 86400),
        ready_onchain_age_blocks=n(api, "api", "ready_onchain_age_blocks",
                                   d.ready_onchain_age_blocks, 1, 10_000, int),
        ready_min_signer_ustx=n(api, "api", "ready_min_signer_ustx", d.ready_min_signer_ustx,
                                0, 10**15, int),
        ready_outbox_age_seconds=n(api, "api", "ready_outbox_age_seconds",
                                   d.ready_outbox_age_seconds, 1, 86400),
    )  # fmt: skip


def load(path: str | Path) -> LiveConfig:
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror}") from None
    except ValueError as exc:  # not UTF-8
        raise ConfigError(f"--config: {path} is not valid TOML: {exc}") from None
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"--config: {path} is not valid TOML: {exc}") from None
    return parse(doc, path.parent)
