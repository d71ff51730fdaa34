"""A local devnet (the Clarity VM behind the node's HTTP API) and loopback exchanges."""

from __future__ import annotations

import pytest

from sim.devnet import Devnet, DevnetServer, DevnetTransport, StrictHiro
from sim.devnet_config import SOURCES, STRICT, free_port, live_toml, write_key
from sim.feed import ExchangeServer

__all__ = ["LOCAL", "SOURCES", "STRICT", "free_port", "live_toml", "write_key"]


def serve_devnet(strict: StrictHiro | None = None):
    """The devnet on the Clarity VM behind its HTTP front (tests mine by hand)."""
    node = Devnet(users=4, block_seconds=3600, burn_seconds=36000)
    server = DevnetServer(node, strict=strict)
    server.start()
    node.server_url = server.url
    node.server = server
    yield node
    server.shutdown()
    node.close()


@pytest.fixture
def devnet():
    yield from serve_devnet()


@pytest.fixture
def devnet_local():
    """The devnet on the Clarity VM with no socket: a client reaches it in this process through
    `node.transport` (a DevnetTransport; base URL `LOCAL`). For tests that need the node's
    answers but not a network; the engine and API tests keep the loopback `devnet`."""
    node = Devnet(users=4, block_seconds=3600, burn_seconds=36000)
    node.transport = DevnetTransport(node)
    yield node
    node.close()


LOCAL = "http://devnet"  # the base URL of an in-process client (any: the transport answers)


@pytest.fixture
def exchanges():
    with ExchangeServer() as server:
        server.set_price("BTC-USD", "65000.00")
        server.set_price("STX-USD", "1.50")
        yield server
