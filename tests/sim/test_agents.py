"""Simulated users (sim/agents.py): a buyer whose purchase failed on a stale quote asks once
more for a fresh one; the deposit split is tested with the study that shares it
(tests/risk/test_book.py)."""

from __future__ import annotations

import numpy as np
import pytest

from actors.messages import QuoteOffer, QuoteRequest
from chain.clarity import Err, Ok, UInt
from chain.contracts import Contracts
from chain.port import Block, TxReceipt, TxStatus
from sim.agents import STALE_RETRIES, Buyers
from tests.sim.harness import Harness


class Sink:
    def __init__(self) -> None:
        self.got: list = []

    def tell(self, message) -> None:
        self.got.append(message)

    def record(self, kind: str, **fields) -> None:
        self.got.append((kind, fields))


def _buyers(h: Harness) -> tuple[Buyers, Sink, Sink]:
    registry, log = Sink(), Sink()
    contracts = Contracts.of(h.d.accounts.deployer.principal())
    buyers = Buyers(h.chain.env, h.chain, contracts, registry, h.users[1:2], log,
                    np.random.default_rng(0), lambda t: 65_000.0, lambda: h.chain.tip().burn_height,
                    {"rate_per_hour": 0}, sign_seconds=0)  # fmt: skip
    return buyers, registry, log


def _failed(txid: str, result) -> Block:
    receipt = TxReceipt(txid, TxStatus.ABORT_BY_RESPONSE, result=result)
    return Block(1, 1, 0.0, (receipt,), ())


@pytest.mark.parametrize(("code", "again"), [(331, True), (333, True), (334, True),
                                              (305, False), (318, False)])  # fmt: skip
def test_a_stale_quote_is_asked_for_again_once_and_nothing_else_is(code, again):
    h = Harness(users=3)
    buyers, registry, log = _buyers(h)
    quote = h.quote(h.users[1])
    buyers._watched["tx-1"] = (quote, 0)
    buyers._on_block(_failed("tx-1", Err(UInt(code))))
    asked = [m for m in registry.got if isinstance(m, QuoteRequest)]
    if not again:
        assert asked == [] and log.got == []
        return
    (req,) = asked
    assert (req.buyer, req.amount, req.strike, req.expiration, req.token, req.tier) == (
        quote.buyer, quote.amount, quote.strike, quote.expiration, quote.token, quote.tier
    )  # fmt: skip
    assert log.got == [("quote-retry", {"buyer": quote.buyer.address, "quote_id": quote.quote_id,
                                        "error": code, "retry": 1})]  # fmt: skip
    buyers._on_block(_failed("tx-1", Err(UInt(code))))  # a receipt is acted on once
    assert len([m for m in registry.got if isinstance(m, QuoteRequest)]) == 1
    assert STALE_RETRIES == 1
    # the fresh quote's purchase is not watched again: its own failure ends there
    req.reply_to.tell(QuoteOffer(quote, bytes(65)))
    assert buyers._watched == {}


def test_a_bought_quote_is_forgotten():
    h = Harness(users=3)
    buyers, registry, _ = _buyers(h)
    buyers._watched["tx-2"] = (h.quote(h.users[1]), 0)
    buyers._on_block(Block(1, 1, 0.0, (TxReceipt("tx-2", TxStatus.SUCCESS, result=Ok(UInt(1))),),
                           ()))  # fmt: skip
    assert buyers._watched == {} and registry.got == []
