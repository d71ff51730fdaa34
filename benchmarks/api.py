"""The engine's API under load: quotes per second and latency through a real uvicorn on
loopback, in front of `run.py live` on the devnet.

    python benchmarks/api.py [--clients 32] [--seconds 20]

The engine runs as production runs it (`run.py live`, its own process: actors, signer, store,
API); this process hosts the devnet (mining on the wall clock) and the loopback exchanges, and
drives `--clients` concurrent HTTP clients, each asking for quotes back to back. Quote limits
are raised in the config so the rate limiter does not decide the figure. Prints the counts by
status, the CPU time each process spent per signed quote (`engine_cpu_ms_per_quote`: the
engine's, read from /proc; `bench_cpu_ms_per_quote`: this process's clients and devnet), which
a loaded shared machine changes far less than the rate, the load average around the run, and,
last, `quotes_per_s= p50_ms= p99_ms=` (200 answers only, signed quotes).

`Harness` and `load` are also what tests/live/test_api_concurrency.py runs for a minute.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from json import dumps as _dumps
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from chain import sip018  # noqa: E402
from chain.clarity import deserialize  # noqa: E402
from chain.keys import PrivateKey  # noqa: E402
from chain.protocol import PRICE_SCALE, SATS  # noqa: E402
from sim.devnet import Devnet, DevnetServer  # noqa: E402
from sim.devnet_config import live_toml  # noqa: E402
from sim.feed import ExchangeServer  # noqa: E402

USD = PRICE_SCALE  # one USD in price units

API_SECTION = """
[api]
host = "127.0.0.1"
port = {port}
quotes_per_minute_principal = {per_principal}
quotes_per_minute_address = {per_address}
# devnet burn blocks come every few seconds, not every ten minutes
ready_onchain_age_blocks = 1000
"""


class Harness:
    """Devnet + exchanges in this process, `run.py live` (engine and API) in another."""

    def __init__(
        self,
        work: Path,
        *,
        block_seconds: float = 0.5,
        burn_seconds: float = 5.0,
        users: int = 6,
        per_principal: int = 100_000,
        per_address: int = 1_000_000,
        port: int = 0,
        oracle_poll: float = 5.0,
    ):
        self.work = work
        self.devnet = Devnet(users=users, block_seconds=block_seconds, burn_seconds=burn_seconds)
        self.server = DevnetServer(self.devnet)
        self.server.start()
        self.devnet.server_url = self.server.url
        self.exchanges = ExchangeServer()
        self.exchanges.set_price("BTC-USD", "65000.00")
        self.exchanges.set_price("STX-USD", "1.50")
        api = API_SECTION.format(per_principal=per_principal, per_address=per_address, port=port)
        self.config = live_toml(work, self.devnet, self.exchanges, api=api)
        text = self.config.read_text()
        # the oracle ticks every `oracle_poll` s (production: 60); each tick builds a new TLS
        # context in live/exchanges.py, which at 1 s took half the engine's CPU
        text = text.replace("poll_seconds = 60", f"poll_seconds = {oracle_poll:g}")
        text = text.replace("min_interval_seconds = 30", "min_interval_seconds = 1")
        self.config.write_text(text)
        self.proc: subprocess.Popen | None = None
        self.url = ""
        self.stderr: list[str] = []

    def spawn(self, *flags: str) -> Engine:
        """`run.py live` on this harness's config, its stderr followed on a thread."""
        env = {**os.environ, "PYTHONPATH": str(ROOT)}
        proc = subprocess.Popen(
            [sys.executable, "run.py", "live", "--config", str(self.config), *flags],
            cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        return Engine(proc)

    def start_engine(self, timeout: float = 120) -> str:
        engine = self.spawn()
        self.proc, self.stderr = engine.proc, engine.lines
        line = engine.wait_for(r"API on (\S+);", timeout)
        self.url = re.search(r"API on (\S+);", line).group(1)
        return self.url

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                r = httpx.get(f"{self.url}/readyz", timeout=5)
                if r.status_code == 200:
                    return
                last = r.text
            except httpx.HTTPError as exc:
                last = str(exc)
            time.sleep(0.5)
        raise RuntimeError(f"the engine never became ready: {last}")

    def engine_cpu_seconds(self) -> float:
        """User + system CPU time the engine process has used so far (Linux /proc)."""
        assert self.proc is not None
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rpartition(")")[2].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop_engine(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self.proc.wait(60)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)
        self.server.shutdown()
        self.exchanges.close()
        self.devnet.close()


class Engine:
    """One `run.py live` process and the stderr lines it has printed so far."""

    def __init__(self, proc: subprocess.Popen):
        self.proc = proc
        self.lines: list[str] = []
        self._new = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._new:
                self.lines.append(line)
                self._new.notify_all()

    def wait_for(self, pattern: str, timeout: float = 120) -> str:
        """The first line matching `pattern`, waiting for it; RuntimeError after `timeout`."""
        deadline = time.monotonic() + timeout
        with self._new:
            while True:
                for line in self.lines:
                    if re.search(pattern, line):
                        return line
                left = deadline - time.monotonic()
                seen = len(self.lines)
                if left > 0:
                    self._new.wait(min(left, 0.5))
                if left <= 0 or (self.proc.poll() is not None and len(self.lines) == seen):
                    raise RuntimeError(f"no {pattern!r}: " + "".join(self.lines[-5:]))


@dataclass
class Stats:
    statuses: Counter = field(default_factory=Counter)  # (kind, status) -> count
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)  # transport errors and unexpected answers
    seconds: float = 0.0

    def add(self, kind: str, status: int, seconds: float) -> None:
        self.statuses[(kind, status)] += 1
        if status == 200:
            self.latencies.setdefault(kind, []).append(seconds)


@dataclass(frozen=True)
class Reply:
    status_code: int
    content: bytes

    @property
    def text(self) -> str:
        return self.content.decode(errors="replace")

    def json(self) -> Any:
        return json.loads(self.content)


class Http1:
    """One keep-alive HTTP/1.1 connection that posts JSON: the quote load's client.

    httpx's async client spent about 4.3 ms of CPU per quote here against the engine's 2 ms
    (benchmarks/api.py's `*_cpu_ms_per_quote`), so on 2 cores the load generator, not the
    engine, set the rate. This speaks just enough HTTP/1.1 for uvicorn's answers (a status
    line, headers, a Content-Length body); a broken connection raises OSError and is reopened
    on the next request.
    """

    def __init__(self, url: str):
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def post_json(self, path: str, json: dict[str, Any]) -> Reply:
        return await self.request("POST", path, _dumps(json).encode())

    async def request(self, method: str, path: str, data: bytes | None = None) -> Reply:
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
        if data is not None:
            head += f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        try:
            if self._streams is None:
                self._streams = await asyncio.open_connection(self.host, self.port)
            reader, writer = self._streams
            writer.write(head.encode() + b"\r\n" + (data or b""))
            status_line = await reader.readuntil(b"\r\n")
            length, keep = 0, True
            while (line := await reader.readuntil(b"\r\n")) != b"\r\n":
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"connection" and value.strip().lower() == b"close":
                    keep = False
            content = await reader.readexactly(length)
        except (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError) as exc:
            await self.close()
            raise OSError(f"{type(exc).__name__}: {exc}"[:200]) from None
        if not keep:
            await self.close()
        return Reply(int(status_line.split()[1]), content)

    async def close(self) -> None:
        if self._streams is not None:
            writer = self._streams[1]
            self._streams = None
            writer.close()
            with contextlib.suppress(OSError):
                await writer.wait_closed()


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, int(q * len(s)))]


async def load(url: str, *, clients: int, seconds: float, mix: dict[str, float],
               wallets: list[PrivateKey], seed: int = 1, lean: bool = False) -> Stats:  # fmt: skip
    """`clients` concurrent clients for `seconds`, each picking an action from `mix` (weights
    of "quote", "pool", "signin") until the time is up. Sign-in signs the challenge with the
    wallet's key (SIP-018, byte-identical to `signStructuredData`) and reads /v1/me/policies.
    `lean`: quotes go through one `Http1` connection per client instead of httpx."""
    rng = random.Random(seed)
    stats = Stats()
    kinds, weights = zip(*mix.items(), strict=True)
    async with httpx.AsyncClient(base_url=url, timeout=30,
                                 limits=httpx.Limits(max_connections=clients)) as http:  # fmt: skip
        height = (await http.get("/v1/status")).json()["burn_height"]
        end = time.monotonic() + seconds

        async def act(kind: str, wallet: PrivateKey, own: Http1 | None) -> None:
            nonlocal height
            t = time.perf_counter()
            if kind == "quote":
                body = {"buyer": wallet.principal().address, "amount_sats": SATS // 1000,
                        "strike": rng.choice((58_000, 60_000, 62_000)) * USD,
                        "expiration": height + 200, "token": "stx"}  # fmt: skip
                r = await (own.post_json if own else http.post)("/v1/quotes", json=body)
                if r.status_code == 422 and r.json().get("reason") == "duration":
                    height = (await http.get("/v1/status")).json()["burn_height"]
                stats.add(kind, r.status_code, time.perf_counter() - t)
                if r.status_code not in (200, 422, 429):
                    stats.errors.append(f"quote {r.status_code} {r.text[:200]}")
            elif kind == "pool":
                r = await http.get("/v1/pool")
                stats.add(kind, r.status_code, time.perf_counter() - t)
                if r.status_code != 200:
                    stats.errors.append(f"pool {r.status_code} {r.text[:200]}")
            else:
                who = wallet.principal().address
                r = await http.post("/v1/auth/challenge", json={"principal": who})
                if r.status_code == 200:
                    c = r.json()
                    domain = sip018.Domain(c["domain"]["name"], c["domain"]["version"],
                                           c["domain"]["chain-id"])  # fmt: skip
                    message = deserialize(bytes.fromhex(c["message_hex"]))
                    sig = sip018.sign(domain, message, wallet).hex()
                    r = await http.post("/v1/auth/session",
                                        json={"nonce": c["nonce"], "signature": sig})  # fmt: skip
                    if r.status_code == 200:
                        auth = {"Authorization": f"Bearer {r.json()['token']}"}
                        r = await http.get("/v1/me/policies", headers=auth)
                stats.add(kind, r.status_code, time.perf_counter() - t)
                if r.status_code not in (200, 429):
                    stats.errors.append(f"signin {r.status_code} {r.text[:200]}")

        async def client(i: int) -> None:
            wallet = wallets[i % len(wallets)]
            own = Http1(url) if lean else None
            while time.monotonic() < end:
                kind = rng.choices(kinds, weights)[0]
                try:
                    await act(kind, wallet, own)
                except (httpx.HTTPError, OSError) as exc:
                    stats.errors.append(f"{kind} {type(exc).__name__}: {exc}")
            if own is not None:
                await own.close()

        start = time.monotonic()
        await asyncio.gather(*(client(i) for i in range(clients)))
        stats.seconds = time.monotonic() - start
    return stats


def fund(harness: Harness, stx_per_tranche: int = 3_000_000 * 1_000_000) -> None:
    """Provider 0 deposits into every STX tranche (its own signed calls, mined at once)."""
    from chain import payloads
    from chain.contracts import Contracts

    accounts = harness.devnet.deployment.accounts
    contracts = Contracts.of(accounts.deployer.principal())
    key = accounts.users[0]
    with harness.devnet.lock:
        nonce = harness.devnet.chain.nonce(key.principal())
        for tier in (0, 1, 2):
            call = payloads.deposit(contracts, key.principal(), 0, tier, stx_per_tranche)
            harness.devnet.chain.submit(call.sign(key, nonce=nonce + tier, fee=1000).serialize())
        harness.devnet.chain.mine()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--clients", type=int, default=32)
    p.add_argument("--seconds", type=float, default=20.0)
    p.add_argument("--client", choices=("lean", "httpx"), default="lean",
                   help="the quote load's HTTP client (Http1, or httpx as before)")  # fmt: skip
    a = p.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        h = Harness(Path(tmp))
        try:
            fund(h)
            h.devnet.start()
            h.start_engine()
            h.wait_ready()
            wallets = [PrivateKey.from_seed(f"bench/{i}".encode()) for i in range(a.clients)]
            load_before = os.getloadavg()
            engine0, bench0 = h.engine_cpu_seconds(), time.process_time()
            stats = asyncio.run(load(h.url, clients=a.clients, seconds=a.seconds,
                                     mix={"quote": 1.0}, wallets=wallets,
                                     lean=a.client == "lean"))  # fmt: skip
            engine_cpu, bench_cpu = h.engine_cpu_seconds() - engine0, time.process_time() - bench0
            load_after = os.getloadavg()
            h.stop_engine()
        finally:
            h.close()
    ok = stats.latencies.get("quote", [])
    print(f"statuses={dict(sorted((f'{k}:{s}', n) for (k, s), n in stats.statuses.items()))}")
    print(f"errors={len(stats.errors)}" + (f" first={stats.errors[0]!r}" if stats.errors else ""))
    print(f"clients={a.clients} seconds={stats.seconds:.1f} quotes={len(ok)}")
    per = 1000 / max(1, len(ok))
    print(f"engine_cpu_ms_per_quote={engine_cpu * per:.2f} "
          f"bench_cpu_ms_per_quote={bench_cpu * per:.2f}")  # fmt: skip
    print(f"loadavg_1m_before={load_before[0]:.2f} loadavg_1m_after={load_after[0]:.2f} "
          f"cores={os.cpu_count()}")  # fmt: skip
    print(f"quotes_per_s={len(ok) / stats.seconds:.0f} p50_ms={percentile(ok, 0.5) * 1000:.1f} "
          f"p99_ms={percentile(ok, 0.99) * 1000:.1f}")  # fmt: skip


if __name__ == "__main__":
    main()
