"""Outbox tags come back exactly as they went in: through their text, and through a restart."""

from __future__ import annotations

import numpy as np
import pytest
import simpy
from hypothesis import given
from hypothesis import strategies as st

from actors.events import decode_prints
from actors.messages import Connect, NewBlock, Recovered, Submit, TxDone
from actors.signer import SignerActor
from actors.tags import FixTag, PriceTag, SettleTag, Tag, decode
from chain.clarity import StringAscii, UInt
from chain.port import OutboxStatus
from sim.genesis import deploy
from sim.runtime import SimRuntime
from store import open_store
from tests.doubles import NoLog, Sink

uints = st.integers(min_value=0, max_value=2**128 - 1)
assets = st.text(min_size=1, max_size=12).filter(lambda a: ":" not in a)
tags = st.one_of(
    st.builds(SettleTag, st.lists(uints, min_size=1, max_size=8).map(tuple)),
    st.builds(FixTag, assets, uints),
    st.builds(PriceTag, assets, uints),
)


@given(tags)
def test_every_tag_decodes_to_itself(tag: Tag) -> None:
    text = tag.encode()
    assert decode(text) == tag
    assert text.split(":")[0] == tag.kind


def test_the_stored_text_is_what_earlier_versions_wrote() -> None:
    """Outboxes written before typed tags still decode: the text format did not change."""
    assert decode("settle:4,5,6") == SettleTag((4, 5, 6))
    assert decode("fix:BTC-USD:1200") == FixTag("BTC-USD", 1200)
    assert decode("price:BTC-USD:6500000000000") == PriceTag("BTC-USD", 6_500_000_000_000)


@pytest.mark.parametrize(
    "text", ["", "settle", "settle:", "settle:4,,5", "settle:-1", "fix:BTC-USD", "price::5",
             "price:BTC-USD:1:2", "price:BTC-USD:x", "job:1", "settle:٣"],
)  # fmt: skip
def test_text_no_tag_encodes_to_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="tag"):
        decode(text)


@pytest.mark.parametrize(
    "tag", [SettleTag(()), SettleTag((-1,)), FixTag("A:B", 1), PriceTag("", 1), PriceTag("A", -1)]
)
def test_a_tag_that_would_not_decode_is_not_encoded(tag: Tag) -> None:
    with pytest.raises(ValueError, match="tag"):
        tag.encode()


def test_a_restarted_signer_tells_each_owner_its_recovered_tags_then_their_outcome() -> None:
    """A signer stops with three transactions in the mempool; the one started on the same store
    hands each owner back the very tag it sent (typed, not text), stamps the outbox with the
    runtime's clock, and answers the owner when the transaction confirms."""
    env = simpy.Environment()
    d = deploy(1, env=env, rng=np.random.default_rng(0))
    store = open_store()
    keys = (d.accounts.deployer, d.accounts.quote)
    oracle = d.contract("oracle")
    sent = [SettleTag((4, 5, 6)), FixTag("BTC-USD", 1200), PriceTag("A-2", 1_002)]

    first = SimRuntime(env)
    signer = first.start(SignerActor, d.chain, store, NoLog(), *keys, None, first.now)
    env.run(until=7.0)  # rows are stamped with virtual time, not 0
    original = Sink()
    for i, tag in enumerate(sent):
        args = (StringAscii(f"A-{i}"), UInt(1_000 + i))
        signer.tell(Submit(oracle, "set-price", args, tag, original))
    first.deliver_all()
    rows = store.outbox.pending()
    assert [decode(r["tag"]) for r in rows] == sent
    assert {(r["created"], r["updated"]) for r in rows} == {(7.0, 7.0)}
    first.stop_all()  # the crash: nothing of the first signer remains but the outbox

    second = SimRuntime(env)
    signer = second.start(SignerActor, d.chain, store, NoLog(), *keys, None, second.now)
    d.chain.subscribe(lambda b: signer.tell(NewBlock(b, decode_prints(b.events))))
    registry, oracle_actor = Sink(), Sink()
    signer.tell(Connect(oracle_actor, registry, Sink(), signer))  # type: ignore[arg-type]
    second.deliver_all()
    txids = [r["txid"] for r in rows]
    assert registry.got == [Recovered(sent[0], txids[0]), Recovered(sent[1], txids[1])]
    assert oracle_actor.got == [Recovered(sent[2], txids[2])]

    env.run(until=120.0)
    done = [m for m in registry.got + oracle_actor.got if isinstance(m, TxDone)]
    assert sorted((m.txid, m.tag, m.status) for m in done) == sorted(
        (txid, tag, OutboxStatus.SUCCESS) for txid, tag in zip(txids, sent, strict=True)
    )
    assert original.got == []  # the first run's mailbox is gone with it
    assert store.outbox.pending() == []
    finished = [store.outbox.get(t) for t in txids]
    assert all(r is not None and 7.0 < r["updated"] <= env.now for r in finished)
