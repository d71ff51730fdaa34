"""`run.py live`, `run.py devnet` and `run.py quote`: the live side's command-line verbs."""

from __future__ import annotations

import json
import os
import queue
import signal
import sys
import threading
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

from scenarios.config import ConfigError


class NodeDown(RuntimeError):
    """The node could not be reached: one line for the user, exit 3."""


def _connect(engine) -> None:
    from chain.node import NodeError, NodeUnavailable

    try:
        engine.start()
    except (NodeUnavailable, NodeError) as exc:
        engine.stop()
        raise NodeDown(str(exc)) from None


# -- live ---------------------------------------------------------------------------------


def live(args) -> int:
    from live.config import load
    from live.engine import LiveEngine

    config = load(args.config)
    if args.dry_run:  # nothing signed in a dry run may ever reach the real outbox
        from dataclasses import replace

        config = replace(config, store_url="sqlite://")
    engine = LiveEngine(config, dry_run=args.dry_run)
    _connect(engine)
    if args.dry_run:
        try:
            engine.step()
            engine.sync()
            engine.step()
            engine.sync()
        finally:
            engine.stop()
        print(f"dry run: {len(engine.chain.would_send)} transaction(s) built and signed, none sent")
        return 0
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    print(f"live on {config.network} ({config.node_url}); Ctrl-C stops cleanly", file=sys.stderr)
    try:
        engine.run(stop)
    finally:
        engine.stop()
    print("stopped: every signed transaction is recorded in the outbox", file=sys.stderr)
    return 0


# -- devnet -------------------------------------------------------------------------------


def _write_key(path: Path, key) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.secret_hex() + "\n")
    os.chmod(path, 0o600)


def devnet_config(url: str, deployer: str, keys_dir: Path, sources: list[str]) -> str:
    """A live config for this devnet: the way a user tries `run.py live` without funds."""
    lines = [
        "# written by `python run.py devnet`; keys are in the files named below",
        "[network]",
        'name = "devnet"',
        f'url = "{url}"',
        "",
        "[contracts]",
        f'deployer = "{deployer}"',
        "",
        "[keys]",
        f'backend = "file:{keys_dir / "backend.key"}"',
        f'quote = "file:{keys_dir / "quote.key"}"',
        "",
        "[store]",
        f'url = "sqlite:///{keys_dir.parent / "live.db"}"',
        "",
        "[oracle]",
        f"sources = {json.dumps(sources)}",
        "poll_seconds = 5",
        "min_interval_seconds = 5",
        "heartbeat_seconds = 60",
        "",
        "[engine]",
        "block_poll_seconds = 1",
        f'log = "{keys_dir.parent / "live-events.jsonl"}"',
    ]
    return "\n".join(lines) + "\n"


def devnet(args) -> int:
    from sim.devnet import Devnet, DevnetServer

    folder = Path(args.dir)
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"--dir: {folder} exists and is not empty; choose another folder")
    for name, value, lo, hi in (("--block-seconds", args.block_seconds, 0.05, 600),
                                ("--burn-seconds", args.burn_seconds, 0.1, 7200)):  # fmt: skip
        if not lo <= value <= hi:
            raise ConfigError(f"{name}: {value:g} is out of range; allowed: {lo:g} to {hi:g}")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port: {args.port} is out of range; allowed: 0 to 65535")
    print("starting the Clarity VM (a few seconds)...", file=sys.stderr)
    node = Devnet(users=args.users, block_seconds=args.block_seconds,
                  burn_seconds=args.burn_seconds)  # fmt: skip
    try:
        server = DevnetServer(node, args.host, args.port)
    except OSError as exc:
        node.close()
        where = f"{args.host}:{args.port}"
        raise ConfigError(f"--port: cannot listen on {where}: {exc.strerror}") from None
    accounts = node.deployment.accounts
    keys_dir = folder / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    _write_key(keys_dir / "backend.key", accounts.deployer)
    _write_key(keys_dir / "quote.key", accounts.quote)
    for i, user in enumerate(accounts.users):
        _write_key(keys_dir / f"user-{i}.key", user)
    from chain.exchanges import SOURCES

    deployer = accounts.deployer.principal().address
    (folder / "live.toml").write_text(
        devnet_config(server.url, deployer, keys_dir.resolve(), list(SOURCES))
    )
    server.start()
    node.start()
    print(f"devnet listening on {server.url}")
    print(f"contracts deployed by {deployer}")
    for i, user in enumerate(accounts.users):
        print(f"user-{i} {user.principal().address}  key file {keys_dir / f'user-{i}.key'}")
    print(f"try: python run.py live --config {folder / 'live.toml'}")
    sys.stdout.flush()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    server.shutdown()
    node.close()
    return 0


# -- quote --------------------------------------------------------------------------------


def _decimal(name: str, text: str, lo: Decimal, hi: Decimal) -> Decimal:
    try:
        value = Decimal(text)
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite() or not lo <= value <= hi:
        raise ConfigError(f"{name}: {text!r} is not valid; allowed: a number from {lo} to {hi}")
    return value


def _token(text: str) -> int:
    from chain.contracts import SBTC, STX

    tokens = {"stx": STX, "sbtc": SBTC}
    if text.lower() not in tokens:
        raise ConfigError(f"--token: {text!r} is not valid; allowed: stx, sbtc")
    return tokens[text.lower()]


def _principal(name: str, text: str):
    from chain.clarity import StandardPrincipal, principal

    try:
        p = principal(text)
    except ValueError:
        p = None
    if not isinstance(p, StandardPrincipal):
        raise ConfigError(f"{name}: {text!r} is not valid; allowed: a Stacks address (ST…/SP…)")
    return p


class _Mailbox:
    def __init__(self) -> None:
        self.q: queue.Queue = queue.Queue()

    def tell(self, message: Any) -> None:
        self.q.put(message)


def quote(args) -> int:
    from chain import payloads
    from chain.contracts import PRICE_SCALE, SATS, TOKEN_UNIT
    from live.config import load

    config = load(args.config)
    token = _token(args.token)
    if args.tier is not None and args.tier not in (0, 1, 2):
        raise ConfigError(f"--tier: {args.tier} is not valid; allowed: 0, 1, 2")
    if args.action == "purchase":
        buyer = _principal("--sender", args.sender)
        btc = _decimal("--btc", args.btc or "", Decimal("0.00000001"), Decimal(1000))
        strike = _decimal("--strike", args.strike or "", Decimal("0.01"), Decimal(10_000_000))
        days = _decimal("--days", args.days or "", Decimal(1), Decimal(365))
        payload = _purchase(config, buyer, int(btc * SATS), int(strike * PRICE_SCALE),
                            int(days * 144), token, args.tier)  # fmt: skip
    else:
        sender = _principal("--sender", args.sender)
        if args.tier is None:
            raise ConfigError("--tier: missing; allowed: 0, 1, 2")
        from chain.node import NodeClient

        if args.action == "deposit":
            amount = _decimal("--amount", args.amount or "", Decimal("0.000001"), Decimal(10**12))
            units = int(amount * TOKEN_UNIT[token])
            payload = payloads.deposit(config.contracts, sender, token, args.tier, units)
        else:
            shares = _decimal("--shares", args.shares or "", Decimal(1), Decimal(10**30))
            from chain.stacks import StacksChain

            client = NodeClient(config.node_url, timeout=config.timeout_seconds)
            try:
                chain = StacksChain(client, config.contracts)
                payload = payloads.withdraw(chain, config.contracts, sender, token, args.tier,
                                            int(shares))  # fmt: skip
            finally:
                client.close()
    body = payload.to_json(config.tx_network)
    print(json.dumps(body, indent=2))
    return 0


def _purchase(config, buyer, sats: int, strike: int, blocks: int, token: int, tier):
    """Runs the engine's own quoting once: a price from the exchanges, the pool's state from
    the chain, the registry's pricing, the signer's quote signature. Nothing is broadcast."""
    from actors.messages import QuoteOffer, QuoteRequest
    from chain import payloads
    from live.engine import LiveEngine

    engine = LiveEngine(config, dry_run=True, out=sys.stderr)
    _connect(engine)
    try:
        engine.step()
        engine.sync()
        tip = engine.chain.tip()
        box = _Mailbox()
        request = QuoteRequest(buyer, sats, strike, tip.burn_height + blocks, token, box, tier)
        engine.registry.tell(request)
        engine.sync()
        try:
            answer = box.q.get(timeout=30)
        except queue.Empty:
            answer = None
    finally:
        engine.stop()
    if not isinstance(answer, QuoteOffer):
        reason = getattr(answer, "reason", "no answer")
        raise ConfigError(f"quote refused: {reason}")
    return payloads.purchase(config.contracts, answer.quote, answer.signature)
