"""`run.py live`, `run.py devnet` and `run.py quote`: the live side's command-line verbs."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from decimal import Decimal, InvalidOperation
from pathlib import Path

from settings import ConfigError, check_range


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
    """The engine, its API and its writer lock; with --standby, waits for the lock first."""
    from live.config import load
    from live.engine import LiveEngine
    from live.lock import LockHeld, WriterLock

    config = load(args.config)
    if args.dry_run:  # nothing signed in a dry run may ever reach the real outbox
        from dataclasses import replace

        config = replace(config, store_url="sqlite://")
        engine = LiveEngine(config, dry_run=True)
        _connect(engine)
        try:
            engine.step()
            engine.sync()
            engine.step()
            engine.sync()
        finally:
            engine.stop()
        print(f"dry run: {len(engine.chain.would_send)} transaction(s) built and signed, none sent")
        return 0
    from live import console

    console.setup(verbose=getattr(args, "verbose", False))
    # a quote crosses three threads (event loop, Registry, Signer): hand the GIL over sooner
    # than the default 5 ms so each crossing waits less behind the engine's poll
    sys.setswitchinterval(0.001)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    lock = WriterLock(config.store_url)
    try:
        if args.standby and not lock.try_acquire():
            print(f"standby: waiting for the writer lock ({lock.target.where})", file=sys.stderr)
            waited = time.monotonic()
            if not lock.acquire(wait=True, stop=stop, poll_seconds=0.2):
                return 0
            print(f"standby: took over after {time.monotonic() - waited:.1f} s", file=sys.stderr)
        else:
            lock.acquire(wait=False)
    except LockHeld as exc:
        raise ConfigError(str(exc)) from None
    try:
        engine = LiveEngine(config)
        _connect(engine)
        try:
            url = engine.serve_api() if config.api.enabled else None
            where = f"; API on {url}" if url else ""
            print(f"live on {config.network} ({config.node_url}){where}; Ctrl-C stops cleanly",
                  file=sys.stderr, flush=True)  # fmt: skip
            engine.run(stop)
        finally:
            engine.stop()
    finally:
        lock.release()
    print("stopped: every signed transaction is recorded in the outbox", file=sys.stderr)
    return 0


# -- devnet -------------------------------------------------------------------------------


def _write_key(path: Path, key) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key.secret_hex() + "\n")
    os.chmod(path, 0o600)


def devnet_config(url: str, deployer: str, keys_dir: Path, feed: dict[str, str]) -> str:
    """A live config for this devnet, its oracle asking the devnet's feed ({source: base URL}):
    the way a user tries `run.py live` without funds and without the internet."""
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
        f"sources = {json.dumps(list(feed))}",
        "poll_seconds = 2",
        "min_interval_seconds = 1  # a settlement's PushNow is not held back for long",
        "heartbeat_seconds = 60",
        "",
        "[oracle.base_urls]  # the devnet's simulated exchanges on loopback",
        *(f'{source} = "{base}"' for source, base in feed.items()),
        "",
        "[engine]",
        "block_poll_seconds = 1",
        f'log = "{keys_dir.parent / "live-events.jsonl"}"',
    ]
    return "\n".join(lines) + "\n"


def devnet(args) -> int:
    from sim.devnet import Devnet, DevnetServer, StrictHiro

    folder = Path(args.dir)
    if folder.exists() and any(folder.iterdir()):
        raise ConfigError(f"--dir: {folder} exists and is not empty; choose another folder")
    check_range("--block-seconds", args.block_seconds, 0.05, 600)
    check_range("--burn-seconds", args.burn_seconds, 0.1, 7200)
    check_range("--port", args.port, 0, 65535)
    check_range("--feed-port", args.feed_port, 0, 65535)
    check_range("--seed", args.seed, 0, 2**32 - 1)
    from sim.feed import Crash, ExchangeServer, devnet_path, path_quotes

    try:
        crash = Crash.parse(args.crash) if args.crash is not None else None
    except ValueError as exc:
        raise ConfigError(str(exc)) from None
    print("starting the Clarity VM (a few seconds)...", file=sys.stderr)
    node = Devnet(users=args.users, block_seconds=args.block_seconds,
                  burn_seconds=args.burn_seconds)  # fmt: skip
    try:
        server = DevnetServer(
            node, args.host, args.port, strict=StrictHiro() if args.strict else None
        )
    except OSError as exc:
        node.close()
        where = f"{args.host}:{args.port}"
        raise ConfigError(f"--port: cannot listen on {where}: {exc.strerror}") from None
    try:
        feed = ExchangeServer(args.host, args.feed_port, path_quotes(devnet_path(args.seed, crash)))
    except OSError as exc:
        server.shutdown()
        node.close()
        where = f"{args.host}:{args.feed_port}"
        raise ConfigError(f"--feed-port: cannot listen on {where}: {exc.strerror}") from None
    accounts = node.deployment.accounts
    keys_dir = folder / "keys"
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    _write_key(keys_dir / "backend.key", accounts.deployer)
    _write_key(keys_dir / "quote.key", accounts.quote)
    if accounts.guardian is not None:
        _write_key(keys_dir / "guardian.key", accounts.guardian)
    for i, user in enumerate(accounts.users):
        _write_key(keys_dir / f"user-{i}.key", user)
    deployer = accounts.deployer.principal().address
    (folder / "live.toml").write_text(
        devnet_config(server.url, deployer, keys_dir.resolve(), feed.base_urls())
    )
    server.start()
    node.start()
    print(f"devnet listening on {server.url}")
    print(f"contracts deployed by {deployer}")
    fall = f"; crash of {crash.percent:g}% at minute {crash.minutes:g}" if crash else ""
    print(f"exchange feed on http://{args.host}:{feed.port} (seed {args.seed}{fall})")
    for i, user in enumerate(accounts.users):
        print(f"user-{i} {user.principal().address}  key file {keys_dir / f'user-{i}.key'}")
    print(f"try: python run.py live --config {folder / 'live.toml'}")
    sys.stdout.flush()
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    stop.wait()
    feed.close()
    server.shutdown()
    node.close()
    return 0


def demo(args) -> int:
    """Test wallets fund the pool and buy policies through the running engine's API."""
    from live.demo import demo as run_demo

    try:
        return run_demo(args)
    except RuntimeError as exc:  # a transaction refused or not confirmed: one line, not a trace
        print(f"error: demo: {exc}", file=sys.stderr)
        return 1


# -- quote and status: thin clients of the engine's API ------------------------------------------


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


class ApiDown(RuntimeError):
    """The engine's API could not be reached: one line for the user, exit 3."""


def _api_call(config, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
    """One request to the engine's API named by the config; never opens the store or a key."""
    import httpx

    url = config.api.url
    try:
        with httpx.Client(base_url=url, timeout=30) as client:
            r = client.request(method, path, json=body)
    except httpx.HTTPError as exc:
        raise ApiDown(f"{url}: {type(exc).__name__}: {exc}; is `run.py live` running?") from None
    try:
        return r.status_code, r.json()
    except ValueError:
        raise ApiDown(f"{url}{path}: answered {r.status_code} without JSON") from None


def _refusal(answer: dict, burn_height: int | None = None) -> str:
    """`quote refused: duration; allowed: --days 1.0 to 90.0 (expiration 149 to 12962)`."""
    text = answer.get("detail", "refused")
    shown = []
    for k, v in (answer.get("allowed") or {}).items():
        lo, hi = int(v["min"]), int(v["max"])
        if k == "expiration" and burn_height is not None:
            days = f"--days {(lo - burn_height) / 144:.2f} to {(hi - burn_height) / 144:.2f}"
            shown.append(f"{days} (expiration {lo} to {hi})")
        elif k == "strike":
            shown.append(f"--strike {lo / 1e8:.2f} to {hi / 1e8:.2f} USD")
        elif k == "amount_sats":
            shown.append(f"--btc {lo / 1e8:.8f} to {hi / 1e8:.8f}")
        else:
            shown.append(f"{k} {lo} to {hi}")
    if shown:
        text += "; allowed: " + ", ".join(shown)
    return text


def quote(args) -> int:
    from chain.contracts import PRICE_SCALE, SATS, TOKEN_UNIT
    from live.config import load

    config = load(args.config)
    token = _token(args.token)
    if args.tier is not None and args.tier not in (0, 1, 2):
        raise ConfigError(f"--tier: {args.tier} is not valid; allowed: 0, 1, 2")
    token_name = args.token.lower()
    height = None  # the burn height the API reported, for a purchase's duration
    if args.action == "purchase":
        buyer = _principal("--sender", args.sender)
        btc = _decimal("--btc", args.btc or "", Decimal("0.00000001"), Decimal(1000))
        strike = _decimal("--strike", args.strike or "", Decimal("0.01"), Decimal(10_000_000))
        days = _decimal("--days", args.days or "", Decimal(1), Decimal(365))
        status, now = _api_call(config, "GET", "/v1/status")
        if status != 200:
            raise ApiDown(f"/v1/status: {now.get('detail', status)}")
        body = {
            "buyer": buyer.address,
            "amount_sats": int(btc * SATS),
            "strike": int(strike * PRICE_SCALE),
            "expiration": (height := now["burn_height"]) + int(days * 144),
            "token": token_name,
        }
        if args.tier is not None:
            body["tier"] = args.tier
        path = "/v1/quotes"
    else:
        sender = _principal("--sender", args.sender)
        if args.tier is None:
            raise ConfigError("--tier: missing; allowed: 0, 1, 2")
        body = {"sender": sender.address, "token": token_name, "tier": args.tier}
        if args.action == "deposit":
            amount = _decimal("--amount", args.amount or "", Decimal("0.000001"), Decimal(10**12))
            body["amount"] = int(amount * TOKEN_UNIT[token])
            path = "/v1/payloads/deposit"
        elif args.action == "withdraw":  # step 1: the shares become pending
            shares = _decimal("--shares", args.shares or "", Decimal(1), Decimal(10**30))
            body["shares"] = int(shares)
            path = "/v1/payloads/withdraw/request"
        else:  # step 2, once the policies the shares back are settled
            path = "/v1/payloads/withdraw/complete"
    status, answer = _api_call(config, "POST", path, body)
    if status == 503 and answer.get("error") == "node-unavailable":
        raise NodeDown(answer.get("detail", "")) from None
    if status == 422:
        raise ConfigError(_refusal(answer, height))
    if status != 200:
        raise ConfigError(f"{path}: {answer.get('detail', status)}")
    if args.action == "purchase":
        q = answer["quote"]
        print(f"quote {q['quote_id']}: premium {q['premium']}, collateral {q['collateral']} "
              f"({q['token']} units), tier {q['tier']}, valid until stacks-block-time "
              f"{q['valid_until']} (a minute: sign and send it now) and burn block "
              f"{q['quote_expiry']}, at BTC-USD {q['spot']}", file=sys.stderr)  # fmt: skip
    print(json.dumps(answer["payload"], indent=2))
    return 0


def status(args) -> int:
    """What the engine sees now, from its API."""
    from live.config import load

    config = load(args.config)
    code, body = _api_call(config, "GET", "/v1/status")
    if code != 200:
        raise ApiDown(f"/v1/status answered {code}: {body.get('detail', '')}")
    print(render_status(body))
    return 0 if body["ready"]["ready"] else 1


def render_status(body: dict) -> str:
    from live.console import usd

    lines = [f"network {body['network']}  burn height {body['burn_height']}"]
    for asset, p in body["prices"].items():
        agg = usd(int(p["aggregated"])) if p["aggregated"] else "none"
        onchain = usd(int(p["onchain"])) if p["onchain"] else "none"
        vol = f"{p['volatility']:.1%}" if p["volatility"] is not None else "n/a"
        lines.append(f"{asset}: aggregated {agg}, on chain {onchain} "
                     f"(height {p['onchain_height']}), volatility {vol}")  # fmt: skip
    ob = body["outbox"]
    age = ob["oldest_age_seconds"]
    lines.append(f"outbox: {ob['pending']} pending" + (f", oldest {age:.0f} s" if age else ""))
    ready = body["ready"]
    lines.append("ready" if ready["ready"] else "NOT READY")
    for name, check in ready["checks"].items():
        details = ", ".join(f"{k}={v}" for k, v in check.items() if k != "ok")
        lines.append(f"  {'ok  ' if check['ok'] else 'FAIL'} {name}: {details}")
    return "\n".join(lines)
