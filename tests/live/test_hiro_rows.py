"""Issue 12, row by row: live mode against the node and Hiro's API as they answer, not as the
client expected. Each test failed on the code before the fix; its docstring gives the old result
(run against a devnet that answers as the node and Hiro's API do, or, where the old devnet hid
nothing, against the old devnet itself).

The devnet runs on the contract models (`executor="python"`): these are HTTP tests, and the
Clarity VM adds nothing to them but time; tests/live/test_end_to_end.py runs the VM.
"""

from __future__ import annotations

from collections import Counter

import pytest

from actors.base import ThreadingRuntime
from actors.messages import NewBlock, Submit, Sync, TxDone
from actors.signer import SignerActor, SignerConfig
from actors.tags import PriceTag
from chain import errors
from chain import transactions as txs
from chain.clarity import StringAscii, UInt
from chain.contracts import Contracts
from chain.node import NodeClient, NodeError, NodeUnavailable
from chain.port import TxStatus
from chain.stacks import StacksChain
from chain.wallet import Wallet
from live.engine import LiveLog
from sim.devnet import Devnet, DevnetTransport, StrictHiro
from store import open_store
from tests.doubles import CONTRACT_LOGS, TX_EVENTS, TX_LOOKUP, FaultyNode, Mailbox, Sleeps

pytestmark = [pytest.mark.live]

USD = 100_000_000


@pytest.fixture(params=["devnet", "strict"])
def hiro(request):
    """The devnet on the models, as a node with Hiro's API; `strict`: past the v1 sunset."""
    node = Devnet(users=3, executor="python", block_seconds=3600, burn_seconds=36000)
    strict = StrictHiro(limit=100_000, window=60.0) if request.param == "strict" else None
    # in process: the faulty node's transport in front of the devnet's (test_devnet_transport.py)
    proxy = FaultyNode(DevnetTransport(node, strict=strict), listen=False)
    node.proxy = proxy
    yield node
    proxy.close()
    node.close()


def engine_chain(node: Devnet, **kw) -> tuple[StacksChain, Sleeps]:
    sleeps = Sleeps()
    kw.setdefault("retries", 1)
    client = NodeClient("http://devnet", sleep=sleeps, backoff=0.0, timeout=10,
                        transport=node.proxy.transport, **kw)  # fmt: skip
    contracts = Contracts.of(node.deployment.accounts.deployer.principal())
    return StacksChain(client, contracts), sleeps


def set_price(node: Devnet, price: int, mine: bool = True, asset: str = "BTC-USD") -> str:
    """A print on chain from outside the engine (a keeper, a user): the oracle's set-price."""
    accounts = node.deployment.accounts
    contracts = Contracts.of(accounts.deployer.principal())
    with node.lock:
        if not hasattr(node, "wallet"):
            node.wallet = Wallet(accounts.deployer, node.chain)
        txid = node.wallet.call(contracts.oracle, "set-price", StringAscii(asset), UInt(price))
        if mine:
            node.chain.mine()
    return txid


def signed_set_price(node: Devnet, price: int, fee: int = 1000) -> bytes:
    accounts = node.deployment.accounts
    contracts = Contracts.of(accounts.deployer.principal())
    key = accounts.deployer
    with node.lock:
        nonce = node.chain.nonce(key.principal())
    args = [StringAscii("BTC-USD"), UInt(price)]
    call = txs.contract_call(key, contracts.oracle, "set-price", args, nonce=nonce, fee=fee)
    return call.serialize()


def delivered(blocks) -> list[tuple[str, int]]:
    """(txid, n-th event of that txid in the block) for every print delivered."""
    out = []
    for b in blocks:
        per_tx: Counter = Counter()
        for ev in b.events:
            if ev.event.kind == "print":
                out.append((ev.txid, per_tx[ev.txid]))
                per_tx[ev.txid] += 1
    return out


def on_chain(node: Devnet) -> list[tuple[str, int]]:
    with node.lock:
        return [(txid, at[2]) for rows in node.contract_events.values() for at, txid, _ in rows]


# --- row 1 ------------------------------------------------------------------------------------


def test_row1_a_mined_transaction_is_read_within_hiros_event_page_limit(hiro):
    """Row 1: `event_limit=200` is a 400 from Hiro (at most 100).

    Before the fix: `NodeError: /extended/v1/tx/0x…: HTTP 400: {"statusCode": 400, "error":
    "Bad Request", "message": "querystring/limit must be <= 100"}` from `status()` (and 410
    Gone on the strict double), so every status and every poll failed."""
    chain, _ = engine_chain(hiro)
    chain.poll()
    txid = set_price(hiro, 65_000 * USD)
    receipt = chain.status(txid)
    assert (receipt.status, receipt.call) == (TxStatus.SUCCESS, "oracle.set-price")
    blocks = chain.poll()
    assert [r.txid for b in blocks for r in b.receipts] == [txid]
    assert delivered(blocks) == [(txid, 0)]


# --- row 2 ------------------------------------------------------------------------------------


def test_row2_a_failed_transaction_lookup_loses_no_event(hiro):
    """Row 2: the cursor moved before the transactions were looked up.

    Before the fix (on the old devnet, which served the old endpoints): the poll that met the
    429 raised NodeUnavailable, and the next poll returned `[]` for the mined set-price: the
    print was lost for good."""
    chain, _ = engine_chain(hiro)
    chain.poll()
    txid = set_price(hiro, 66_000 * USD)
    hiro.proxy.fail(TX_LOOKUP, 429, times=2)  # every attempt of one lookup (retries=1)
    with pytest.raises(NodeUnavailable):
        chain.poll()
    got = chain.poll()
    assert delivered(got) == [(txid, 0)]
    assert chain.poll() == []


@pytest.mark.parametrize("status", [429, 503, 410])
@pytest.mark.parametrize("where", [CONTRACT_LOGS, TX_LOOKUP, TX_EVENTS])
def test_polls_that_meet_failures_deliver_every_event_exactly_once(hiro, status, where):
    """A 429 and a 5xx (after the client's retries) and a 410 (at once), on the contract logs,
    on a transaction lookup or on its events page: the poll raises, moves nothing, and the
    polls after it deliver every print of the chain exactly once, in chain order.

    Before the fix: the old client could not read a transaction within Hiro's limits at all
    (row 1); on the old devnet, a failed lookup lost the events it covered (row 2)."""
    chain, _ = engine_chain(hiro)
    got = delivered(chain.poll())
    for block in range(4):
        for i in range(block % 3 + 1):  # a feed of its own each: one observation per burn block
            set_price(hiro, (60_000 + block * 10 + i) * USD, mine=False, asset=f"FEED-{block}-{i}")
        with hiro.lock:
            hiro.chain.mine()
        hiro.proxy.fail(where, status, times=2 if status != 410 else 1)
        with pytest.raises((NodeUnavailable, NodeError)):
            chain.poll()
        got += delivered(chain.poll())
    for _ in range(3):
        got += delivered(chain.poll())
    assert len(got) == len(set(got)) == len(on_chain(hiro)) == 1 + 2 + 3 + 1
    assert got == on_chain(hiro)


# --- row 3 ------------------------------------------------------------------------------------


def test_row3_the_client_uses_no_deprecated_endpoint(hiro):
    """Row 3: `/extended/v1/tx/{id}` and `/extended/v1/contract/{id}/events` are deprecated
    (`Warning: 299`, 410 Gone at the sunset).

    Before the fix: on the strict double, `NodeError: /extended/v1/tx/0x…: HTTP 410` from
    `status()` (`/extended/v1/contract/…/events` on `poll()`); on the devnet, every poll was
    answered with `Warning: 299 - "Deprecated: …"`."""
    chain, _ = engine_chain(hiro)
    chain.poll()
    txid = set_price(hiro, 67_000 * USD)
    assert chain.status(txid).status is TxStatus.SUCCESS
    assert delivered(chain.poll()) == [(txid, 0)]
    assert not [p for p in hiro.proxy.paths if p.startswith("/extended/v1/")]
    assert hiro.proxy.warnings == [] and chain.client.deprecated == set()


# --- row 4 ------------------------------------------------------------------------------------


def test_row4_problematic_skipped_is_final_and_polls_go_on(hiro):
    """Row 4: API 9.0.2's `problematic_skipped` status.

    Before the fix (on the old devnet): `NodeError: /extended/v1/tx/0x…: unknown tx_status
    'problematic_skipped'` from `status()`, and from every later `poll()` (the transaction
    stayed watched)."""
    chain, _ = engine_chain(hiro)
    chain.poll()
    txid = chain.submit(signed_set_price(hiro, 68_000 * USD))
    hiro.proxy.skipped.add(txid)
    hiro.mine()
    receipt = chain.status(txid)
    assert receipt.status is TxStatus.DROPPED and receipt.reason == "problematic_skipped"
    blocks = chain.poll()
    assert [(r.txid, r.status) for b in blocks for r in b.receipts] == [(txid, TxStatus.DROPPED)]
    hiro.mine()
    assert [r for b in chain.poll() for r in b.receipts] == []


# --- row 5 ------------------------------------------------------------------------------------


def test_row5_a_text_plain_refusal_is_a_typed_rejection(hiro):
    """Row 5: the node refuses bytes it cannot decode in text/plain.

    Before the fix: `NodeError: /v2/transactions: HTTP 400: body is not JSON: Failed to
    deserialize posted transaction: …`, which is not a `Rejected`."""
    chain, _ = engine_chain(hiro)
    with pytest.raises(errors.Rejected) as info:
        chain.submit(b"\x80\x80\x00\x00\x00\x00not a transaction")
    assert isinstance(info.value, errors.DeserializationError)
    assert "Failed to deserialize posted transaction" in str(info.value)


def test_row5_the_signer_survives_a_text_plain_refusal(hiro, tmp_path):
    """Row 5, the Signer's side: a text/plain 400 must end in its refusal handling (the node
    will never decode those bytes: the request fails, recorded), and the Signer goes on.

    Before the fix: the NodeError escaped the Signer's handler (Unavailable, Rejected,
    KeyError) and killed the actor: `pykka.ActorDeadError` on the next message."""
    chain, _ = engine_chain(hiro)
    accounts = hiro.deployment.accounts
    store = open_store(f"sqlite:///{tmp_path / 'signer.db'}")
    log = LiveLog(tmp_path / "events.jsonl")
    signer = ThreadingRuntime().start(SignerActor, chain, store, log, accounts.deployer,
                                      accounts.quote, SignerConfig(fee=1000))  # fmt: skip
    box = Mailbox()

    def request(job: int) -> TxDone:
        args = (StringAscii("BTC-USD"), UInt((69_000 + job) * USD))
        signer.tell(Submit(chain.contracts.oracle, "set-price", args, PriceTag("J", job), box))
        signer.ask(Sync())
        for _ in range(6):
            if not box.q.empty():
                break
            hiro.mine()
            for b in chain.poll():
                signer.tell(NewBlock(b))
            signer.ask(Sync())
        return box.q.get(timeout=5)

    try:
        hiro.proxy.rejections.append("text:Failed to deserialize posted transaction: eof")
        refused = request(1)
        assert (refused.tag, refused.status) == (PriceTag("J", 1), "rejected")
        done = request(2)
        assert (done.tag, done.status) == (PriceTag("J", 2), TxStatus.SUCCESS.value)
        assert hiro.proxy.refused == ["text:Failed to deserialize posted transaction: eof"]
        assert box.q.empty()
    finally:
        signer.stop()
        store.close()
        log.close()


# --- row 6 ------------------------------------------------------------------------------------


def test_row6_a_429_waits_as_long_as_hiro_says_within_its_minute(hiro):
    """Row 6: Hiro's limits are per minute; `Retry-After` must be honoured beyond 8 s.

    Before the fix: the client slept `[8.0]` (its cap) instead of 30 s, and could give up
    after 32 s in all while the window had not reset."""
    chain, sleeps = engine_chain(hiro)
    hiro.proxy.fail(r"^/v2/info", 429, times=1, **{"Retry-After": "30"})
    chain.tip()
    assert sleeps == [30.0]


def test_row6_an_empty_window_holds_the_next_request_until_it_resets(hiro):
    """Row 6: the rate-limit headers of an answered request say when the window is spent.

    Before the fix: the headers were ignored and the next request went out at once (no sleep),
    to meet a certain 429."""
    chain, sleeps = engine_chain(hiro)
    hiro.proxy.fail(r"^/v2/info", 200, times=1, **{"ratelimit-remaining": "0",
                                                    "ratelimit-reset": "42"})  # fmt: skip
    with pytest.raises(NodeError):  # the injected 200 has no node info in it
        chain.tip()
    chain.tip()
    assert sleeps == [pytest.approx(42.0, abs=1.0)]


def test_row6_a_transaction_the_indexer_has_not_seen_yet_is_pending(hiro):
    """Row 6: the node accepted our broadcast; the API's indexer answers 404 for a while.

    Before the fix: `KeyError` from `status()`, read as "the chain never heard of it"."""
    chain, _ = engine_chain(hiro)
    raw = signed_set_price(hiro, 70_000 * USD)
    txid = chain.submit(raw)
    hiro.proxy.hidden.add(txid)
    assert chain.status(txid).status is TxStatus.PENDING
    hiro.proxy.hidden.clear()
    hiro.mine()
    assert chain.status(txid).status is TxStatus.SUCCESS
