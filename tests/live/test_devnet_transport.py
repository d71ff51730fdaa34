"""DevnetTransport (the devnet's HTTP front in this process) answers as DevnetServer does on a
loopback socket: same status, body, content type and rate-limit headers, request for request.

The in-process tests (test_devnet_rules.py, test_hiro_rows.py, ...) stand on this equality.
"""

from __future__ import annotations

import httpx
import pytest

from chain import transactions as txs
from sim.devnet import Devnet, DevnetServer, DevnetTransport, StrictHiro
from tests.doubles import Clock

pytestmark = [pytest.mark.live]

OCTETS = {"content-type": "application/octet-stream"}
TEXT = {"content-type": "text/plain"}


@pytest.fixture
def fronts():
    """(loopback client, in-process client) on one devnet, each front with its own rate window."""
    node = Devnet(users=2, executor="python", block_seconds=3600, burn_seconds=36000)
    clock = Clock()
    strict = StrictHiro(limit=8, window=60.0)
    server = DevnetServer(node, strict=strict, clock=clock)
    server.start()
    loopback = httpx.Client(base_url=server.url, timeout=10)
    transport = DevnetTransport(node, strict=strict, clock=clock)
    local = httpx.Client(base_url="http://devnet", transport=transport, timeout=10)
    yield node, loopback, local
    local.close()
    loopback.close()
    server.shutdown()
    server.server_close()
    node.close()


def _seen(r: httpx.Response) -> tuple:
    keep = ("content-type", "retry-after", "ratelimit-limit", "ratelimit-remaining",
            "ratelimit-reset", "warning")  # fmt: skip
    return r.status_code, r.content, {k: r.headers.get(k) for k in keep}


def test_the_transport_answers_as_the_loopback_server(fronts):
    node, loopback, local = fronts
    accounts = node.deployment.accounts
    user = accounts.users[0].principal().address
    raw = txs.stx_transfer(accounts.users[0], accounts.users[1].principal(), 5, nonce=0,
                           fee=1000).serialize()  # fmt: skip
    requests = [
        ("GET", "/v2/info", {}),
        ("GET", f"/v2/accounts/{user}", {"params": {"proof": "0"}}),
        ("GET", "/extended/v1/no/such/route", {}),
        ("POST", "/v2/transactions", {"content": b"", "headers": OCTETS}),
        (
            "POST",
            "/v2/transactions",
            {"content": b"abcd", "headers": {"content-type": "text/plain"}},
        ),
        ("GET", f"/extended/v3/transactions/0x{'ab' * 32}/events", {"params": {"limit": "abc"}}),
        ("POST", "/v2/transactions", {"content": raw, "headers": OCTETS}),
        ("POST", "/v2/transactions", {"content": raw, "headers": OCTETS}),  # the same bytes again
    ]
    for method, path, kw in requests:
        got = [_seen(client.request(method, path, **kw)) for client in (loopback, local)]
        assert got[0] == got[1], (method, path)
    # the strict double's window: each front has counted 8 requests of 8, the ninth is a 429
    over = [_seen(client.get("/v2/info")) for client in (loopback, local)]
    assert over[0] == over[1] and over[0][0] == 429 and over[0][2]["retry-after"] == "60"
