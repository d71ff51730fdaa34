"""SimChain as a node: admission rules, mempool, block building, events, test controls."""

from __future__ import annotations

import numpy as np
import pytest

from chain import errors
from chain import transactions as txs
from chain.clarity import Buffer, List, StringAscii, UInt
from chain.keys import PrivateKey
from chain.port import TxStatus
from chain.wallet import Wallet
from sim.chain import ChainConfig
from sim.genesis import deploy
from tests.sim.harness import STX, USD, Harness


def price_call(h: Harness, wallet: Wallet, price: int, asset: str = "BTC-USD", **kw) -> str:
    """An oracle push (one per asset per burn block: calls in one block take distinct assets)."""
    return wallet.call(h.oracle, "set-price", StringAscii(asset), UInt(price), **kw)


def test_26th_unconfirmed_transaction_of_a_sender_is_refused():
    h = Harness()
    for i in range(25):
        price_call(h, h.admin, 65_000 * USD + i)
    with pytest.raises(errors.TooMuchChaining):
        price_call(h, h.admin, 70_000 * USD)
    assert h.chain.pending == 25
    h.chain.mine()
    assert h.chain.nonce(h.admin.address) == 25
    price_call(h, h.admin, 65_000 * USD, nonce=25)  # room again once they confirm


def test_block_never_exceeds_capacity_and_orders_by_fee():
    h = Harness(config=ChainConfig(block_capacity=7))
    submitted = []
    for i, user in enumerate(h.users):
        for j in range(3):
            fee = 1000 + 100 * i
            submitted.append(user.transfer(h.admin.address, STX + j, fee=fee))
    blocks = h.chain.mine(3)
    assert [len(b.receipts) for b in blocks] == [7, 7, 1]
    fees = [r.fee for r in blocks[0].receipts]
    assert fees == sorted(fees, reverse=True)
    first = blocks[0].receipts
    assert [r.nonce for r in first if r.sender == h.users[4].address.address] == [0, 1, 2]
    assert all(h.chain.status(t).status is TxStatus.SUCCESS for t in submitted)


def test_admission_rules():
    h = Harness()
    a = h.users[0]
    price_call(h, h.admin, 65_000 * USD)
    h.chain.mine()
    raw = h.admin.sign_call(h.oracle, "set-price", [StringAscii("BTC-USD"), UInt(1)], nonce=0)
    with pytest.raises(errors.BadNonce):
        h.chain.submit(raw)
    with pytest.raises(errors.SerializationError):
        h.chain.submit(b"\x80garbage")
    tampered = bytearray(h.admin.sign_call(h.oracle, "set-price", [StringAscii("X"), UInt(1)]))
    tampered[-1] ^= 1
    with pytest.raises(errors.SignatureValidation):
        h.chain.submit(bytes(tampered))
    with pytest.raises(errors.BadFunctionArgument):
        h.chain.submit(a.sign_call(h.oracle, "set-price", [UInt(1), UInt(1)]))
    with pytest.raises(errors.BadFunctionArgument):
        h.chain.submit(a.sign_call(h.oracle, "no-such-function", []))
    with pytest.raises(errors.NoSuchContract):
        h.chain.submit(a.sign_call(a.address.contract("nothing"), "f", []))
    poor = Wallet(PrivateKey.from_seed(b"poor"), h.chain)
    with pytest.raises(errors.NotEnoughFunds):
        poor.call(h.oracle, "set-price", StringAscii("BTC-USD"), UInt(1), fee=1)
    mainnet = Wallet(h.d.accounts.users[1], h.chain, network=txs.Network.MAINNET)
    with pytest.raises(errors.BadTransactionVersion):
        mainnet.call(h.oracle, "set-price", StringAscii("BTC-USD"), UInt(1))
    strict = Harness(config=ChainConfig(min_fee=500))
    with pytest.raises(errors.FeeTooLow):
        strict.users[0].transfer(strict.admin.address, STX, fee=499)


def test_replace_by_fee_and_conflicting_nonce():
    h = Harness()
    first = price_call(h, h.admin, 65_000 * USD, fee=1000, nonce=0)
    with pytest.raises(errors.ConflictingNonceInMempool):
        price_call(h, h.admin, 66_000 * USD, fee=1000, nonce=0)
    second = price_call(h, h.admin, 66_000 * USD, fee=2000, nonce=0)
    h.chain.mine()
    assert h.chain.status(first).status is TxStatus.DROPPED
    assert h.chain.status(second).status is TxStatus.SUCCESS
    got = h.chain.read_only(h.oracle, "get-price", [StringAscii("BTC-USD")])
    assert got.value["price"] == UInt(66_000 * USD)


def test_failed_calls_pay_fees_and_advance_nonces_but_change_nothing():
    h = Harness()
    a = h.users[0]
    before = h.chain.balances(a.address)
    r = h.send(a, h.oracle, "set-price", StringAscii("BTC-USD"), UInt(1), fee=777)
    assert r.status is TxStatus.ABORT_BY_RESPONSE
    assert h.chain.balances(a.address).stx == before.stx - 777
    assert h.chain.nonce(a.address) == 1
    assert h.chain.read_only(h.oracle, "get-price", [StringAscii("BTC-USD")]).value == UInt(104)


def test_nonce_gap_waits_until_filled():
    h = Harness()
    late = price_call(h, h.admin, 65_000 * USD, "STX-USD", nonce=1)
    h.chain.mine()
    assert h.chain.status(late).status is TxStatus.PENDING
    price_call(h, h.admin, 65_000 * USD, nonce=0)
    h.chain.mine()
    assert h.chain.status(late).status is TxStatus.SUCCESS


def test_events_reach_subscribers_in_order_and_by_cursor():
    h = Harness()
    seen = []
    h.chain.subscribe(lambda b: seen.extend(b.events))
    for i in range(5):
        price_call(h, h.admin, 65_000 * USD + i, f"ASSET-{i}")
    h.chain.mine()
    h.deposit(h.users[0], 0, 0, 10 * STX)
    assert [e.cursor for e in seen] == list(range(len(seen)))
    assert h.chain.events_since(0, 10_000) == seen
    assert h.chain.events_since(3, 2) == seen[3:5]
    prices = [e.event.value["price"].value for e in seen[:5]]
    assert prices == [65_000 * USD + i for i in range(5)]  # nonce order = submission order


def test_snapshot_restore_returns_identical_state():
    h = Harness()
    h.set_price(65_000 * USD, 50_000_000)
    h.deposit(h.users[0], 0, 1, 1_000 * STX)
    snap = h.chain.snapshot()
    state_before = h.chain.executor.state.snapshot()
    tip, events = h.chain.tip(), h.chain.events_since(0, 10**6)
    first = h.deposit(h.users[1], 0, 1, 2_000 * STX)
    h.chain.mine_burn(10)
    price_call(h, h.admin, 60_000 * USD)
    assert h.chain.executor.state.snapshot() != state_before
    h.chain.restore(snap)
    assert h.chain.executor.state.snapshot() == state_before
    assert h.chain.tip() == tip and h.chain.events_since(0, 10**6) == events
    assert h.chain.pending == 0
    # the restored chain replays exactly: same bytes in, same ids, results and events out
    h.users[1].resync()
    h.admin.resync()
    again = h.deposit(h.users[1], 0, 1, 2_000 * STX)
    assert again == first
    assert h.chain.events_since(0, 10**6)[len(events) :] == [
        e for e in h.chain.events_since(0, 10**6) if e.txid == first.txid
    ]


def test_virtual_time_produces_blocks_deterministically():
    def run(seed: int) -> list[tuple]:
        d = deploy(2, rng=np.random.default_rng(seed), config=ChainConfig(stacks_block_shape=2.0))
        heights = []
        d.chain.subscribe(lambda b: heights.append((b.height, b.burn_height, round(b.time, 6))))
        d.chain.advance(3600)
        return heights

    a, b, c = run(1), run(1), run(2)
    assert a == b and a != c
    assert 500 < len(a) < 1000  # one block per ~5 s for an hour
    assert 1 <= a[-1][1] <= 20  # a handful of burn blocks


def test_injected_drops_are_seeded():
    def run(seed: int) -> list[str]:
        d = deploy(1, config=ChainConfig(drop_probability=0.5), rng=np.random.default_rng(seed))
        w = Wallet(d.accounts.users[0], d.chain)
        ids = [w.transfer(d.accounts.deployer.principal(), STX) for _ in range(10)]
        d.chain.advance(60)
        return [d.chain.status(t).status for t in ids]

    first = run(7)
    assert first == run(7)
    assert TxStatus.DROPPED in first  # and the ones after a dropped nonce wait for it
    assert first[first.index(TxStatus.DROPPED) + 1 :] == [TxStatus.PENDING] * (
        len(first) - first.index(TxStatus.DROPPED) - 1
    )


def test_quote_key_signature_verifies_on_chain_read_only():
    h = Harness()
    q = h.quote(h.users[0])
    digest = h.chain.read_only(h.registry, "get-quote-hash", [q.to_clarity()])
    assert isinstance(digest, Buffer) and len(digest.value) == 32
    batch = List(tuple(UInt(i) for i in range(50)))
    r = h.send(h.admin, h.registry, "settle-policies", batch, h.sbtc)
    assert r.status is TxStatus.SUCCESS and r.result.value["skipped"] == UInt(50)


def test_event_retention_keeps_cursors_stable():
    h = Harness(config=ChainConfig(keep_events=4))
    for i in range(12):
        price_call(h, h.admin, 65_000 * USD + i, f"ASSET-{i}")
        h.chain.mine()
    latest = h.chain.events_since(8, 100)
    assert [e.cursor for e in latest] == [8, 9, 10, 11]
    assert latest[-1].event.value["price"] == UInt(65_000 * USD + 11)
    with pytest.raises(LookupError):
        h.chain.events_since(0)
