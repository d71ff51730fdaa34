"""An engine with its HTTP API on loopback, in front of the devnet and the loopback exchanges.

The API is the real thing (uvicorn on a free port, on its own thread, the engine's actors
behind it); the clock and the mining are the test's, as in test_end_to_end.py, so a test
decides when prices move and blocks come.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from chain import payloads
from chain.contracts import SATS, SBTC, STX
from chain.node import NodeClient
from chain.stacks import StacksChain
from live.config import load
from live.engine import LiveEngine
from tests.live.conftest import live_toml
from tests.live.test_end_to_end import Clock

CONTRACTS_DIR = Path(__file__).resolve().parents[2] / "contracts"
ORIGIN = "https://app.bithedge.test"
STX_UNIT = 1_000_000


API_TOML = f"""
[api]
host = "127.0.0.1"
port = 0
cors_origins = ["{ORIGIN}"]
quotes_per_minute_principal = 20
quotes_per_minute_address = 1000
max_body_bytes = 4096
"""


@dataclass
class Running:
    engine: LiveEngine
    devnet: object
    exchanges: object
    clock: Clock
    http: httpx.Client
    users: StacksChain
    node: NodeClient
    tmp: Path

    def turn(self, seconds: float = 60.0) -> None:
        """A minute of the engine's life: tick and poll, let the actors act, mine, poll."""
        self.clock.t += seconds
        self.engine.poll()
        self.engine.sync()
        self.devnet.mine()
        self.engine.poll()
        self.engine.sync()
        self.engine.store.flush()

    def close(self) -> None:
        self.http.close()
        self.engine.stop()
        self.node.close()

    def fund(self) -> None:
        """Two providers deposit into every tranche with their own signed transactions."""
        accounts = self.devnet.deployment.accounts
        contracts = self.engine.config.contracts
        for key in accounts.users[:2]:
            nonce = self.users.nonce(key.principal())
            for token, amount in ((STX, 200_000 * STX_UNIT), (SBTC, 5 * SATS)):
                for tier in (0, 1, 2):
                    call = payloads.deposit(contracts, key.principal(), token, tier, amount)
                    self.node.broadcast(call.sign(key, nonce=nonce, fee=1000).serialize())
                    nonce += 1
        self.devnet.mine()


def start_engine(tmp_path: Path, devnet, exchanges, extra: str = API_TOML) -> Running:
    path = live_toml(tmp_path, devnet, exchanges, api=extra)
    clock = Clock()
    engine = LiveEngine(load(path), clock=clock)
    engine.start()
    url = engine.serve_api()
    node = NodeClient(devnet.server_url)
    return Running(engine, devnet, exchanges, clock, httpx.Client(base_url=url, timeout=30),
                   StacksChain(node, engine.config.contracts), node, tmp_path)  # fmt: skip


@contextmanager
def loopback_world(users: int) -> Iterator[tuple[object, object]]:
    """The Clarity devnet (blocks mined by the test only) behind its HTTP server, and the
    loopback exchanges at 65,000 USD a BTC and 1.50 a STX: what `start_engine` runs against."""
    from sim.devnet import Devnet, DevnetServer
    from sim.feed import ExchangeServer

    node = Devnet(users=users, block_seconds=3600, burn_seconds=36000)
    server = DevnetServer(node)
    server.start()
    node.server_url = server.url
    exchanges = ExchangeServer()
    exchanges.set_price("BTC-USD", "65000.00")
    exchanges.set_price("STX-USD", "1.50")
    try:
        yield node, exchanges
    finally:
        exchanges.close()
        server.shutdown()
        node.close()


def wallet_call(payload: dict, post_conditions: tuple) -> payloads.CallPayload:
    """The call a wallet builds from the API's JSON payload (its hex arguments decoded)."""
    from chain.clarity import deserialize, principal

    args = tuple(deserialize(bytes.fromhex(a.removeprefix("0x"))) for a in payload["functionArgs"])
    return payloads.CallPayload(principal(payload["sender"]), principal(payload["contract"]),
                                payload["functionName"], args, post_conditions)  # fmt: skip


def node_sign_structured(domain_hex: str, message_hex: str, private_key: str) -> str:
    """A signature made as a wallet makes it: `@stacks/transactions`' `signStructuredData` in
    Node, over the domain and message the API sent (decoded from their consensus bytes)."""
    script = """
import { readFileSync } from "node:fs";
import { deserializeCV, signStructuredData } from "@stacks/transactions";
const r = JSON.parse(readFileSync(0, "utf8"));
const sig = signStructuredData({
  message: deserializeCV(r.message), domain: deserializeCV(r.domain), privateKey: r.key,
});
process.stdout.write(typeof sig === "string" ? sig : Buffer.from(sig).toString("hex"));
"""
    request = {"domain": domain_hex, "message": message_hex, "key": private_key}
    out = subprocess.run(
        ["node", "--input-type=module", "-e", script],
        input=json.dumps(request),
        capture_output=True,
        text=True,
        cwd=CONTRACTS_DIR,
        timeout=60,
        check=True,
        env={**os.environ, "NODE_NO_WARNINGS": "1"},
    )
    return out.stdout.strip()
