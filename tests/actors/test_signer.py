"""The Signer gets every request confirmed exactly once through the node's refusals and drops."""

from __future__ import annotations

import numpy as np
import simpy

from actors.events import decode_prints
from actors.messages import NewBlock, Submit, TxDone
from actors.signer import SignerActor, SignerConfig
from actors.tags import PriceTag
from chain import errors
from chain.clarity import StringAscii, UInt
from chain.wallet import Wallet
from sim.chain import ChainConfig
from sim.genesis import deploy
from sim.runtime import SimRuntime
from store import open_store


class Log:
    def __init__(self):
        self.lines = []

    def record(self, kind, **fields):
        self.lines.append((kind, fields))


class Replies:
    def __init__(self):
        self.done: list[TxDone] = []

    def tell(self, msg):
        self.done.append(msg)


class Flaky:
    """A chain port that refuses the first submissions with the given errors."""

    def __init__(self, chain, refusals):
        self.chain, self.refusals = chain, list(refusals)

    def submit(self, raw):
        if self.refusals:
            raise self.refusals.pop(0)
        return self.chain.submit(raw)

    def __getattr__(self, name):
        return getattr(self.chain, name)


def world(refusals=(), config=None, signer_config=None, seed=0):
    env = simpy.Environment()
    d = deploy(1, env=env, config=config, rng=np.random.default_rng(seed))
    chain = Flaky(d.chain, refusals)
    runtime = SimRuntime(env)
    log, replies = Log(), Replies()
    signer = runtime.start(
        SignerActor, chain, open_store(), log, d.accounts.deployer, d.accounts.quote,
        signer_config or SignerConfig(),
    )  # fmt: skip

    def on_block(b):
        signer.tell(NewBlock(b, decode_prints(b.events)))

    d.chain.subscribe(on_block)
    oracle = d.contract("oracle")

    def ask(n):
        for i in range(n):
            args = (StringAscii(f"A-{i}"), UInt(1_000 + i))
            signer.tell(Submit(oracle, "set-price", args, PriceTag(f"A-{i}", i), replies))

    return env, d, runtime, log, replies, ask


def confirmed_once(d, replies, n):
    tags = sorted(r.tag.price for r in replies.done)
    assert tags == list(range(n)), tags
    assert all(r.status == "success" for r in replies.done)
    prices = {
        i: d.chain.read_only(d.contract("oracle"), "get-price", [StringAscii(f"A-{i}")])
        for i in range(n)
    }
    assert all(p.value["price"] == UInt(1_000 + i) for i, p in prices.items())


def test_chaining_limit_is_respected_and_the_rest_waits():
    env, d, runtime, _log, replies, ask = world()
    ask(60)
    runtime.deliver_all()
    assert d.chain.pending == 25
    env.run(until=60)
    confirmed_once(d, replies, 60)


def test_every_refusal_kind_is_survived():
    refusals = [
        errors.BadNonce("x"),
        errors.ConflictingNonceInMempool("x"),
        errors.TooMuchChaining("x"),
        errors.FeeTooLow("x"),
    ]
    env, d, _runtime, log, replies, ask = world(refusals)
    ask(10)
    env.run(until=120)
    confirmed_once(d, replies, 10)
    refused = [f["reason"] for k, f in log.lines if k == "tx-refused"]
    assert refused == ["BadNonce", "ConflictingNonceInMempool", "TooMuchChaining", "FeeTooLow"]


def test_another_sender_using_our_nonce_is_resynced():
    env, d, _runtime, _log, replies, ask = world()
    rogue = Wallet(d.accounts.deployer, d.chain)  # the same key, used elsewhere
    rogue.call(d.contract("oracle"), "set-price", StringAscii("X"), UInt(1))
    d.chain.mine()
    ask(3)
    env.run(until=60)
    confirmed_once(d, replies, 3)


def test_dropped_transactions_are_rebroadcast_and_confirm_once():
    config = ChainConfig(drop_probability=0.3)
    env, d, _runtime, log, replies, ask = world(config=config, seed=3)
    ask(40)
    env.run(until=600)
    confirmed_once(d, replies, 40)
    assert any(k == "tx-rebroadcast" for k, _ in log.lines)


def test_hopeless_refusals_are_reported_not_retried_forever():
    env, _d, _runtime, _log, replies, ask = world([errors.BadFunctionArgument("no such arg")])
    ask(1)
    env.run(until=30)
    assert [r.status for r in replies.done] == ["rejected"]


def test_not_enough_funds_waits_for_a_block_and_tries_again():
    env, d, _runtime, log, replies, ask = world([errors.NotEnoughFunds("broke")])
    ask(1)
    env.run(until=30)
    confirmed_once(d, replies, 1)
    assert [f["reason"] for k, f in log.lines if k == "tx-refused"] == ["NotEnoughFunds"]
