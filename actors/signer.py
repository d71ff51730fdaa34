"""SignerActor: the only holder of the backend and quote keys.

It turns `Submit` requests into signed system transactions and sees each confirmed exactly
once: a local nonce counter, resynchronised from the chain when the node disagrees; at most
`max_chain` unconfirmed at a time (the node's per-sender limit); the outbox row written and
flushed before the bytes leave; a dropped transaction re-sent with the same nonce, so that at
most one of its versions can ever confirm.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from actors.base import EngineActor, handles
from actors.messages import NewBlock, QuoteOffer, SignQuote, Submit, TxDone
from actors.ports import EventLog
from chain import errors
from chain import transactions as txs
from chain.keys import PrivateKey
from chain.port import Chain, TxStatus
from chain.quotes import sign_quote
from store import Store


@dataclass(frozen=True)
class SignerConfig:
    fee: int = 2_000  # micro-STX per system transaction
    max_chain: int = 25
    max_fee: int = 1_000_000
    network: txs.Network = txs.Network.TESTNET


@dataclass
class _InFlight:
    request: Submit
    nonce: int
    fee: int
    txid: str


class SignerActor(EngineActor):
    def __init__(
        self,
        chain: Chain,
        store: Store,
        log: EventLog,
        backend_key: PrivateKey,
        quote_key: PrivateKey,
        config: SignerConfig | None = None,
    ):
        super().__init__()
        self.chain, self.store, self.log = chain, store, log
        self._backend_key, self._quote_key = backend_key, quote_key
        self.config = config or SignerConfig()
        self.address = backend_key.principal(mainnet=self.config.network is txs.Network.MAINNET)
        self.waiting: deque[Submit] = deque()
        self.in_flight: dict[str, _InFlight] = {}
        self.next_nonce = 0
        self.blocked = False  # the node said TooMuchChaining: wait for a block

    def __repr__(self) -> str:
        return f"SignerActor({self.address.address})"

    def on_start(self) -> None:
        self.next_nonce = self.chain.nonce(self.address)

    # -- requests --

    @handles(Submit)
    def submit(self, msg: Submit) -> None:
        self.waiting.append(msg)
        self._pump()

    @handles(SignQuote)
    def sign(self, msg: SignQuote) -> None:
        msg.reply_to.tell(QuoteOffer(msg.quote, sign_quote(msg.quote, self._quote_key)))

    def _pump(self) -> None:
        while self.waiting and not self.blocked and len(self.in_flight) < self.config.max_chain:
            request = self.waiting.popleft()
            self._send(request, self.next_nonce, self.config.fee)

    def _send(
        self, request: Submit, nonce: int, fee: int, attempt: int = 0, replaces: str = ""
    ) -> None:
        tx = txs.contract_call(
            self._backend_key,
            request.contract,
            request.function,
            request.args,
            nonce=nonce,
            fee=fee,
            network=self.config.network,
            post_condition_mode=txs.PostConditionMode.ALLOW,
        )
        raw = tx.serialize()
        txid = tx.txid.hex()
        tag = "/".join(str(t) for t in request.tag[:1])
        if replaces:
            self.store.outbox.replace(replaces, txid, raw.hex(), fee, 0.0)
        else:
            self.store.outbox.add(txid, self.address.address, nonce, raw.hex(), tag, fee, 0.0)
        self.store.flush()  # durable before the bytes leave
        try:
            self.chain.submit(raw)
        except (errors.BadNonce, errors.ConflictingNonceInMempool) as exc:
            self.store.outbox.set_status(txid, "rejected", 0.0)
            fresh = self.chain.nonce(self.address)
            # BadNonce: the chain is ahead of us. Conflicting: a transaction of ours that we no
            # longer track holds this nonce (a restart); it will confirm or drop on its own.
            retry = fresh if isinstance(exc, errors.BadNonce) else nonce + 1
            self.log.record("tx-resync", reason=exc.reason, nonce=nonce, retry_nonce=retry)
            if attempt < 3:
                self.next_nonce = retry
                self._send(request, retry, fee, attempt + 1)
            else:
                self.waiting.appendleft(request)
                self.blocked = True
            return
        except errors.TooMuchChaining:
            self.store.outbox.set_status(txid, "rejected", 0.0)
            self.waiting.appendleft(request)
            self.blocked = True
            return
        except errors.FeeTooLow:
            self.store.outbox.set_status(txid, "rejected", 0.0)
            if fee * 2 <= self.config.max_fee:
                self._send(request, nonce, fee * 2, attempt + 1)
            else:
                self._fail(request, txid, "FeeTooLow")
            return
        except errors.Rejected as exc:
            self.store.outbox.set_status(txid, "rejected", 0.0)
            self._fail(request, txid, exc.reason)
            return
        self.in_flight[txid] = _InFlight(request, nonce, fee, txid)
        self.next_nonce = max(self.next_nonce, nonce + 1)
        self.log.record("tx-sent", txid=txid, function=request.function, nonce=nonce, fee=fee)

    def _fail(self, request: Submit, txid: str, reason: str) -> None:
        self.log.record("tx-rejected", txid=txid, function=request.function, reason=reason)
        if request.reply_to is not None:
            request.reply_to.tell(TxDone(request.tag, txid, "rejected", None, 0))

    # -- confirmations --

    @handles(NewBlock)
    def block(self, msg: NewBlock) -> None:
        for receipt in msg.receipts:
            flight = self.in_flight.pop(receipt.txid, None)
            if flight is None:
                continue
            if receipt.status is TxStatus.DROPPED:
                self._rebroadcast(flight, receipt.reason)
                continue
            self.store.outbox.set_status(receipt.txid, receipt.status.value, msg.time)
            request = flight.request
            if request.reply_to is not None:
                request.reply_to.tell(
                    TxDone(
                        request.tag,
                        receipt.txid,
                        receipt.status.value,
                        receipt.result,
                        receipt.burn_height,
                    )
                )
        self.blocked = False
        self._pump()

    def _rebroadcast(self, flight: _InFlight, reason: str) -> None:
        """Same request, same nonce, a higher fee: whichever version confirms, only one can."""
        self.log.record("tx-rebroadcast", txid=flight.txid, nonce=flight.nonce, reason=reason)
        if self.chain.nonce(self.address) > flight.nonce:  # that nonce is spent elsewhere
            self.store.outbox.set_status(flight.txid, "dropped", 0.0)
            self.waiting.appendleft(flight.request)
            return
        fee = min(flight.fee + flight.fee // 10 + 1, self.config.max_fee)
        self._send(flight.request, flight.nonce, fee, replaces=flight.txid)
