"""The Signer against a node that refuses, goes down and loses answers: nothing lost, nothing
twice. Every request must end in exactly one confirmed transaction, and the backend's nonce
must count exactly those (a duplicate would have spent one more)."""

from __future__ import annotations

import pytest

from actors.base import ThreadingRuntime
from actors.events import decode_prints
from actors.messages import NewBlock, Submit, Sync, TxDone
from actors.signer import SignerActor, SignerConfig
from actors.tags import PriceTag
from chain.clarity import StringAscii, UInt
from chain.contracts import Contracts
from chain.node import NodeClient, NodeUnavailable
from chain.stacks import StacksChain
from live.engine import LiveLog
from store import open_store
from tests.doubles import FaultyNode, Mailbox
from tests.live.conftest import LOCAL

pytestmark = [pytest.mark.live, pytest.mark.clarity]

REASONS = (
    "BadNonce",
    "ConflictingNonceInMempool",
    "TooMuchChaining",
    "NotEnoughFunds",
    "FeeTooLow",
    "ServerFailureDatabase",
    "TemporarilyBlacklisted",
)


def test_the_signer_loses_and_doubles_nothing_through_refusals_outages_and_lost_answers(
    tmp_path, devnet_local
):
    devnet = devnet_local
    faulty = FaultyNode(devnet.transport, listen=False)
    client = NodeClient(LOCAL, retries=1, backoff=0.01, max_backoff=0.02, timeout=5,
                        transport=faulty.transport)  # fmt: skip
    accounts = devnet.deployment.accounts
    contracts = Contracts.of(accounts.deployer.principal())
    chain = StacksChain(client, contracts)
    store = open_store(f"sqlite:///{tmp_path / 'signer.db'}")
    log = LiveLog(tmp_path / "events.jsonl")
    config = SignerConfig(fee=1000, resend_blocks=2)
    signer = ThreadingRuntime().start(
        SignerActor, chain, store, log, accounts.deployer, accounts.quote, config
    )
    box = Mailbox()

    def request(i: int) -> None:
        # a feed per job: the oracle keeps one observation per asset per burn block
        args = (StringAscii(f"JOB-{i}"), UInt(65_000 * 100_000_000))
        signer.tell(Submit(contracts.oracle, "set-price", args, PriceTag("J", i), box))

    def block() -> None:
        devnet.mine()
        try:
            blocks = chain.poll()
        except NodeUnavailable:
            return  # the engine's loop logs it and polls again later
        for b in blocks:
            prints = decode_prints(b.events)
            signer.tell(NewBlock(b, prints))
        signer.ask(Sync())

    try:
        faulty.rejections.extend(REASONS)  # the next broadcasts are refused, one reason each
        for i in range(6):
            request(i)
        signer.ask(Sync())
        for round_ in range(40):
            if round_ == 3:
                faulty.down = True  # no answers at all for a while
                request(6)
                request(7)
            if round_ == 6:
                faulty.down = False
            if round_ == 9:
                faulty.lose_responses = 4  # reached the mempool, but the answer is lost
                request(8)
                request(9)
            block()
            if box.q.qsize() >= 10 and round_ > 12:
                break
        done = [box.q.get_nowait() for _ in range(box.q.qsize())]
    finally:
        signer.stop()
        faulty_refused = list(faulty.refused)
        faulty.close()

    assert faulty_refused == list(REASONS)  # every kind was injected
    assert all(isinstance(d, TxDone) for d in done)
    assert sorted(d.tag.price for d in done) == list(range(10))  # each request answered once
    assert {d.status for d in done} == {"success"}
    # exactly ten transactions of the backend ever confirmed: none lost, none doubled
    with NodeClient(LOCAL, transport=devnet.transport) as direct:
        assert direct.account(accounts.deployer.principal().address).nonce == 10
    rows = store.outbox.pending()
    assert rows == []
    store.close()
    log.close()
    text = (tmp_path / "events.jsonl").read_text()
    assert "tx-send-unanswered" in text and "tx-resent" in text
    assert accounts.deployer.secret_hex()[:16] not in text


def test_the_signer_pays_the_node_estimate_when_it_is_above_its_own_fee(tmp_path, devnet_local):
    devnet = devnet_local
    client = NodeClient(LOCAL, transport=devnet.transport)
    accounts = devnet.deployment.accounts
    contracts = Contracts.of(accounts.deployer.principal())
    chain = StacksChain(client, contracts)
    store = open_store(f"sqlite:///{tmp_path / 'signer.db'}")
    runtime = ThreadingRuntime()
    box = Mailbox()
    fees, sizes = [], []
    for floor in (100, 5000):  # below and above the devnet's medium estimate (2 uSTX a byte)
        config = SignerConfig(fee=floor, estimate_fees=True)
        signer = runtime.start(SignerActor, chain, store, LiveLog(None), accounts.deployer,
                               accounts.quote, config)  # fmt: skip
        args = (StringAscii(f"FEE-{floor}"), UInt(65_000 * 100_000_000))  # a feed per job
        signer.tell(Submit(contracts.oracle, "set-price", args, PriceTag("J", floor), box))
        signer.ask(Sync())
        devnet.mine()
        for b in chain.poll():
            signer.tell(NewBlock(b))
        signer.ask(Sync())
        done = box.q.get(timeout=10)
        assert done.status == "success"
        fees.append(chain.status(done.txid).fee)
        sizes.append(len(bytes.fromhex(store.outbox.get(done.txid)["raw_hex"])))
        signer.stop()
    assert fees == [2 * sizes[0], 5000] and 2 * sizes[0] > 100
    store.close()
    client.close()
