"""A live config for a devnet started in this process, and the strict Hiro double's settings:
what the live tests and the benchmarks that run the real engine against a devnet share.

Here, not in tests/, because benchmarks import no tests (pyproject.toml's import contracts).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

from sim.devnet import Devnet, StrictHiro
from sim.feed import ExchangeServer

SOURCES = ("coinbase", "kraken", "bitstamp", "binance", "gemini", "bitfinex", "okx")
# Hiro's API past the v1 sunset, with its per-minute rate limit scaled to a one-second window so
# that a test meets 429s and waits them out without waiting minutes.
STRICT = StrictHiro(limit=40, window=1.0)


def write_key(path: Path, key) -> Path:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.secret_hex())
    return path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def live_toml(
    tmp_path: Path,
    devnet: Devnet,
    exchanges: ExchangeServer,
    api: str | None = None,
    **extra: str,
) -> Path:
    """The live config a user would write for this devnet and these exchanges.

    `api` is the config's [api] section; by default one on a free loopback port, so that two
    engines started by tests (or a test and a user's engine) never both take 8080.
    """
    if api is None:
        api = f'\n[api]\nhost = "127.0.0.1"\nport = {free_port()}\n'
    accounts = devnet.deployment.accounts
    keys = tmp_path / "keys"
    keys.mkdir(exist_ok=True)
    backend = write_key(keys / "backend.key", accounts.deployer)
    quote = write_key(keys / "quote.key", accounts.quote)
    urls = exchanges.base_urls()
    base_urls = "\n".join(f'{s} = "{urls[s]}"' for s in SOURCES)
    sources = ", ".join(f'"{s}"' for s in SOURCES)
    text = f"""
[network]
name = "devnet"
url = "{devnet.server_url}"
timeout_seconds = {extra.get("timeout", "5")}

[contracts]
deployer = "{accounts.deployer.principal().address}"

[keys]
backend = "file:{backend}"
quote = "file:{quote}"

[store]
url = "{extra.get("store", f"sqlite:///{tmp_path / 'live.db'}")}"

[oracle]
sources = [{sources}]
poll_seconds = 60
min_interval_seconds = 30
heartbeat_seconds = 1800
timeout_seconds = 2

[oracle.base_urls]
{base_urls}

[engine]
block_poll_seconds = 0.1
log = "{tmp_path / "live-events.jsonl"}"
{api}"""
    path = tmp_path / "live.toml"
    path.write_text(text)
    return path
