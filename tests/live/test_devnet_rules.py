"""The devnet answers as a Stacks node and Hiro's API do where the old one answered as the
client expected (issue 12): a client bug that would fail against Hiro fails here too.

Each test's docstring gives what the devnet answered before. The rules come from stacks-core
(`can_include_tx`, `posttransaction.rs`) and Hiro's API (`pagination.ts`); the files and
commits are named in tests/chain/test_schemas.py.
"""

from __future__ import annotations

import httpx
import pytest

from chain import transactions as txs
from chain.clarity import StringAscii, UInt
from chain.contracts import Contracts
from sim.devnet import Devnet, DevnetTransport

pytestmark = [pytest.mark.live]

OCTETS = {"content-type": "application/octet-stream"}


@pytest.fixture
def node():
    """The devnet's HTTP front in this process (DevnetTransport): these tests read answers, and
    tests/live/test_devnet_transport.py holds the front to the loopback server's bytes."""
    devnet = Devnet(users=2, executor="python", block_seconds=3600, burn_seconds=36000)
    http = httpx.Client(base_url="http://devnet", transport=DevnetTransport(devnet), timeout=10)
    devnet.http = http
    yield devnet
    http.close()
    devnet.close()


def call(node: Devnet, *, nonce: int, fee: int = 1000, who: int = 0) -> bytes:
    accounts = node.deployment.accounts
    contracts = Contracts.of(accounts.deployer.principal())
    args = [StringAscii("BTC-USD"), UInt(1)]
    key = accounts.users[who]
    return txs.contract_call(
        key, contracts.oracle, "set-price", args, nonce=nonce, fee=fee
    ).serialize()


def post(node: Devnet, raw: bytes, headers=OCTETS) -> httpx.Response:
    return node.http.post("/v2/transactions", content=raw, headers=headers)


def test_identical_bytes_sent_again_get_200_and_their_txid(node):
    """Before: 400 `ConflictingNonceInMempool` for the very bytes already held."""
    raw = call(node, nonce=0)
    first, again = post(node, raw), post(node, raw)
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == txs.decode(raw).txid.hex()


@pytest.mark.parametrize(
    ("body", "headers", "words"),
    [
        (b"", OCTETS, "expected non-zero-length body"),
        (b"\x00garbage", OCTETS, "Failed to deserialize posted transaction"),
        (b"abcd", {"content-type": "text/plain"}, "Wrong Content-Type"),
        (b'{"tx": "zz"}', {"content-type": "application/json"}, "Failed to parse body"),
    ],
)
def test_undecodable_broadcasts_are_text_plain_400s(node, body, headers, words):
    """Before: a JSON `Serialization` refusal for every one of them."""
    got = post(node, body, headers)
    assert got.status_code == 400 and got.headers["content-type"] == "text/plain"
    assert words in got.text


def test_the_json_tx_form_is_accepted(node):
    """Before: the JSON body was read as transaction bytes and refused as `Serialization`."""
    raw = call(node, nonce=0)
    got = node.http.post("/v2/transactions", json={"tx": raw.hex()})
    assert (got.status_code, got.json()) == (200, txs.decode(raw).txid.hex())


def test_the_fee_floor_is_one_micro_stx_a_byte(node):
    """Before: a flat floor of 180, whatever the size (a 200-byte call paying 180 passed)."""
    raw = call(node, nonce=0, fee=1)
    size = len(raw)
    refused = post(node, call(node, nonce=0, fee=size - 1))
    assert refused.status_code == 400
    assert refused.json()["reason"] == "FeeTooLow"
    assert refused.json()["reason_data"] == {"expected": size, "actual": size - 1}
    assert post(node, call(node, nonce=0, fee=size)).status_code == 200


def test_the_nonce_window_is_the_confirmed_nonce_plus_26(node):
    """Before: a nonce 100 ahead was accepted (only 25 pending per sender were counted)."""
    assert post(node, call(node, nonce=26)).status_code == 200
    refused = post(node, call(node, nonce=27))
    assert refused.status_code == 400 and refused.json()["reason"] == "TooMuchChaining"
    assert refused.json()["reason_data"]["expected"] == 26


def test_a_transfer_the_balance_cannot_cover_is_refused(node):
    """Before: a 2^63 uSTX transfer was accepted into the mempool."""
    accounts = node.deployment.accounts
    key = accounts.users[0]
    raw = txs.stx_transfer(key, accounts.users[1].principal(), 2**63, nonce=0, fee=1000)
    refused = post(node, raw.serialize())
    assert refused.status_code == 400 and refused.json()["reason"] == "NotEnoughFunds"
    assert refused.json()["reason_data"]["expected"] == f"0x{2**63 + 1000:032x}"


@pytest.mark.parametrize(
    ("limit", "status"), [("60", 200), ("100", 200), ("101", 400), ("abc", 400), ("0", 400)]
)
def test_event_pages_are_limited_as_hiro_limits_them(node, limit, status):
    """Before: no v3 events endpoint (404); the v1 pages clamped `limit=60` to 50 silently and
    answered `limit=abc` with a 500."""
    raw = call(node, nonce=0)
    txid = post(node, raw).json()
    node.mine()
    got = node.http.get(f"/extended/v3/transactions/0x{txid}/events", params={"limit": limit})
    assert got.status_code == status
    if status == 400:
        assert got.json()["error"] == "Bad Request" and "limit" in got.json()["message"]


def test_info_carries_every_required_field_and_a_bare_tip_hash(node):
    """Before: ten required fields missing (`pox_consensus`, `stable_*`, ...), `stacks_tip`
    with a `0x` the node does not send."""
    info = node.http.get("/v2/info").json()
    required = (
        "pox_consensus",
        "stable_pox_consensus",
        "stable_burn_block_height",
        "stacks_tip_consensus_hash",
        "genesis_chainstate_hash",
        "tenure_height",
        "is_fully_synced",
        "unanchored_tip",
        "unanchored_seq",
        "exit_at_block_height",
    )
    assert [key for key in required if key not in info] == []
    assert not info["stacks_tip"].startswith("0x") and len(info["stacks_tip"]) == 64
