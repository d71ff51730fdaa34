"""SignerActor: the only holder of the backend and quote keys.

It turns `Submit` requests into signed system transactions and sees each confirmed exactly
once: a local nonce counter, resynchronised from the chain when the node disagrees; at most
`max_chain` unconfirmed at a time (the node's per-sender limit); the outbox row written and
flushed before the bytes leave; a dropped transaction re-sent with the same nonce, so that at
most one of its versions can ever confirm.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, replace

from actors.base import EngineActor, handles
from actors.messages import Connect, NewBlock, QuoteOffer, Recovered, SignQuote, Submit, TxDone
from actors.tags import decode
from chain import errors
from chain import transactions as txs
from chain.keys import PrivateKey
from chain.port import Chain, Clock, EventLog, OutboxStatus, StorePort, TxStatus, no_clock
from chain.quotes import QUOTE_DOMAIN_NAME, network_domain, sign_quote

DROPPED = TxStatus.DROPPED
PENDING, REJECTED = OutboxStatus.PENDING, OutboxStatus.REJECTED


@dataclass(frozen=True)
class SignerConfig:
    fee: int = 2_000  # micro-STX per system transaction
    max_chain: int = 25
    max_fee: int = 1_000_000
    network: txs.Network = txs.Network.TESTNET
    # the registry's SIP-018 domain name, fixed at its deployment (chain/quotes.py)
    quote_domain_name: str = QUOTE_DOMAIN_NAME
    # price a new transaction at the node's medium estimate when that is above `fee`
    estimate_fees: bool = False
    # send an unconfirmed transaction's same bytes again after this many Stacks blocks (a node
    # may forget a mempool transaction without a word); 0: never (SimChain reports drops)
    resend_blocks: int = 0


@dataclass
class _Job:
    request: Submit
    fee: int
    attempts: int = 0
    replaces: str = ""  # the txid this job's next version replaces in the outbox


@dataclass(frozen=True)
class _Prepared:
    job: _Job
    nonce: int
    raw: bytes
    txid: str


@dataclass
class _InFlight:
    job: _Job
    nonce: int
    txid: str
    raw: bytes = b""
    sent_at: int = 0  # Stacks height of the last send; -1: not known to have reached a node


class SignerActor(EngineActor):
    def __init__(
        self,
        chain: Chain,
        store: StorePort,
        log: EventLog,
        backend_key: PrivateKey,
        quote_key: PrivateKey,
        config: SignerConfig | None = None,
        clock: Clock = no_clock,
    ):
        """`clock`: the runtime's time for the outbox's `created`/`updated` (virtual seconds
        in a simulation, wall time live); without one they stay 0."""
        super().__init__()
        self.clock = clock
        self.chain, self.store, self.log = chain, store, log
        self._backend_key, self._quote_key = backend_key, quote_key
        self.config = config or SignerConfig()
        self.address = backend_key.principal(mainnet=self.config.network is txs.Network.MAINNET)
        self.waiting: deque[_Job] = deque()
        self.in_flight: dict[str, _InFlight] = {}
        self.next_nonce = 0
        self.height = 0
        self.blocked = False  # the node said TooMuchChaining: wait for a block
        self._refused: set[str] = set()  # outbox rows of bytes the node did not take
        self._recovered: list[Recovered] = []  # told to their owners once connected

    def __repr__(self) -> str:
        return f"SignerActor({self.address.address})"

    def on_start(self) -> None:
        self.next_nonce = self.chain.nonce(self.address)
        self.height = self.chain.tip().stacks_height
        self._recover()

    def _recover(self) -> None:
        """Takes up what a previous run left pending in the outbox: a transaction the chain
        finished is recorded; one it still holds is tracked again; one it never saw is sent
        again, the same bytes, unless its nonce has been spent since. Nothing is signed anew,
        so nothing can be sent twice."""
        for row in self.store.outbox.pending():
            if row["sender"] != self.address.address:
                continue
            txid, nonce, sent_at = row["txid"], row["nonce"], 0
            try:
                receipt = self.chain.status(txid)
            except KeyError:
                receipt = None
            if receipt is not None and receipt.status.final and receipt.status is not DROPPED:
                self.store.outbox.set_status(txid, OutboxStatus(receipt.status), self.clock())
                continue
            if receipt is None or receipt.status is TxStatus.DROPPED:
                if nonce < self.next_nonce:
                    self.store.outbox.set_status(txid, OutboxStatus.DROPPED, self.clock())
                    continue
                try:
                    self.chain.submit(bytes.fromhex(row["raw_hex"]))
                except errors.Unavailable:
                    sent_at = -1
                except errors.Rejected as exc:
                    self.store.outbox.set_status(txid, REJECTED, self.clock())
                    self.log.record("tx-refused", txid=txid, nonce=nonce, reason=exc.reason)
                    continue
            raw = bytes.fromhex(row["raw_hex"])
            tx = txs.decode(raw)
            payload = tx.payload
            assert isinstance(payload, txs.ContractCall)
            tag = decode(row["tag"])
            request = Submit(payload.contract, payload.function, payload.args, tag)
            self.in_flight[txid] = _InFlight(_Job(request, row["fee"]), nonce, txid, raw, sent_at)
            self._recovered.append(Recovered(tag, txid))
            self.next_nonce = max(self.next_nonce, nonce + 1)
            self.log.record("tx-recovered", txid=txid, function=payload.function, nonce=nonce)
        self.store.flush()

    @handles(Connect)
    def connect(self, msg: Connect) -> None:
        """Tells each recovered transaction's owner what is on its way for it, and answers
        the owner (`TxDone`) when it finishes, as if the owner had just sent it: the owners
        learn what a previous run left pending from the Signer, never from its outbox."""
        for recovered in self._recovered:
            owner = getattr(msg, recovered.tag.owner)
            flight = self.in_flight.get(recovered.txid)
            if flight is not None and flight.job.request.reply_to is None:
                flight.job.request = replace(flight.job.request, reply_to=owner)
            owner.tell(recovered)
        self._recovered.clear()

    # -- requests --

    @handles(Submit)
    def submit(self, msg: Submit) -> None:
        self.waiting.append(_Job(msg, self.config.fee))
        self._pump()

    @handles(SignQuote)
    def sign(self, msg: SignQuote) -> None:
        domain = network_domain(self.config.network, self.config.quote_domain_name)
        msg.reply_to.tell(QuoteOffer(msg.quote, sign_quote(msg.quote, self._quote_key, domain)))

    def _pump(self) -> None:
        """Signs as many waiting jobs as the chaining limit allows, records them all in the
        outbox with one flush, then broadcasts them in nonce order."""
        while self.waiting and not self.blocked and len(self.in_flight) < self.config.max_chain:
            room = self.config.max_chain - len(self.in_flight)
            batch: list[_Prepared] = []
            while self.waiting and len(batch) < room:
                batch.append(self._prepare(self.waiting.popleft(), self.next_nonce + len(batch)))
            self.store.flush()  # durable before the bytes leave
            for i, prepared in enumerate(batch):
                sent = self._broadcast(prepared)
                if sent is None:  # no node answered: all of them go at the next block
                    for later in batch[i + 1 :]:
                        self._track(later, -1)
                    break
                if not sent:
                    for later in reversed(batch[i + 1 :]):  # signed after a refused nonce
                        self.store.outbox.set_status(
                            later.txid, OutboxStatus.WITHDRAWN, self.clock()
                        )
                        self._refused.add(later.txid)
                        self.waiting.appendleft(later.job)
                    break

    def _sign(self, job: _Job, nonce: int) -> txs.Transaction:
        request = job.request
        return txs.contract_call(
            self._backend_key,
            request.contract,
            request.function,
            request.args,
            nonce=nonce,
            fee=job.fee,
            network=self.config.network,
            post_condition_mode=txs.PostConditionMode.ALLOW,
        )

    def _prepare(self, job: _Job, nonce: int) -> _Prepared:
        request = job.request
        tx = self._sign(job, nonce)
        if self.config.estimate_fees and not job.attempts and not job.replaces:
            try:
                estimate = self.chain.estimate_fee(tx.serialize())
            except errors.Unavailable:
                estimate = None
            if estimate is not None and job.fee < estimate:
                job.fee = min(estimate, self.config.max_fee)
                tx = self._sign(job, nonce)
        raw, txid = tx.serialize(), tx.txid.hex()
        if txid in self._refused:  # the same bytes again (same nonce and fee): same row
            self._refused.discard(txid)
            self.store.outbox.bump(txid, self.clock())
            self.store.outbox.set_status(txid, PENDING, self.clock())
        elif job.replaces:
            self.store.outbox.replace(job.replaces, txid, raw.hex(), job.fee, self.clock())
        else:
            tag = request.tag.encode()
            self.store.outbox.add(
                txid, self.address.address, nonce, raw.hex(), tag, job.fee, self.clock()
            )
        return _Prepared(job, nonce, raw, txid)

    def _track(self, p: _Prepared, sent_at: int) -> None:
        self.in_flight[p.txid] = _InFlight(p.job, p.nonce, p.txid, p.raw, sent_at)
        self.next_nonce = max(self.next_nonce, p.nonce + 1)

    def _broadcast(self, p: _Prepared) -> bool | None:
        """Sends one prepared transaction (True). On a refusal it repairs what it can and
        requeues the job, or gives up on it after a few attempts (False). With no answer at
        all (None) the bytes may or may not be in a mempool: they stay in flight and are sent
        again, unchanged, at the next block, so that at most one copy can ever confirm."""
        job = p.job
        try:
            self.chain.submit(p.raw)
        except errors.Unavailable as exc:
            self._track(p, -1)
            self.blocked = True
            self.log.record("tx-send-unanswered", txid=p.txid, function=job.request.function,
                            nonce=p.nonce, error=str(exc)[:200])  # fmt: skip
            return None
        except errors.Rejected as exc:
            self.store.outbox.set_status(p.txid, REJECTED, self.clock())
            self._refused.add(p.txid)
            job.attempts += 1
            retry = True
            if isinstance(exc, errors.BadNonce):
                self._resync()
            elif isinstance(exc, errors.ConflictingNonceInMempool):
                # a transaction of ours we no longer track holds this nonce (a restart):
                # replace it by fee rather than step over it, so no nonce is left as a gap
                self.next_nonce = p.nonce
                job.fee = min(job.fee * 3 // 2 + 1, self.config.max_fee)
            elif isinstance(exc, errors.TooMuchChaining):
                self.blocked = True
                job.attempts -= 1  # waiting for room is not a failed attempt
            elif isinstance(exc, errors.FeeTooLow):
                job.fee = min(job.fee * 2, self.config.max_fee)
            elif isinstance(exc, errors.NotEnoughFunds | errors.TemporarilyBlacklisted):
                self.blocked = True  # funds may arrive, a ban may lift: try after a block
            elif exc.reason.startswith("ServerFailure"):
                self.blocked = True  # the node's own trouble, not the transaction's
            else:
                retry = False
            self.log.record("tx-refused", txid=p.txid, function=job.request.function,
                            nonce=p.nonce, reason=exc.reason)  # fmt: skip
            if retry and job.attempts < 4:
                job.replaces = ""
                self.waiting.appendleft(job)
            else:
                self._fail(job.request, p.txid, exc.reason)
            return False
        self._track(p, self.height)
        self.log.record("tx-sent", txid=p.txid, function=job.request.function, nonce=p.nonce,
                        fee=job.fee)  # fmt: skip
        return True

    def _fail(self, request: Submit, txid: str, reason: str) -> None:
        self.log.record("tx-failed", txid=txid, function=request.function, reason=reason)
        if request.reply_to is not None:
            request.reply_to.tell(TxDone(request.tag, txid, REJECTED, None, 0))

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
            status = OutboxStatus(receipt.status)
            self.store.outbox.set_status(receipt.txid, status, self.clock())
            request = flight.job.request
            if request.reply_to is not None:
                request.reply_to.tell(
                    TxDone(request.tag, receipt.txid, status, receipt.result, receipt.burn_height)
                )
        self.height = msg.height
        self.blocked = False
        self._resend_unconfirmed()
        self._pump()

    def _resync(self) -> None:
        try:
            self.next_nonce = self.chain.nonce(self.address)
        except errors.Unavailable:
            self.blocked = True  # the next block brings another chance

    def _resend_unconfirmed(self) -> None:
        """The same bytes again for what a node may not hold: sends that got no answer, and,
        live, transactions unconfirmed for `resend_blocks`. Same txid, so never a duplicate."""
        every = self.config.resend_blocks
        for f in sorted(self.in_flight.values(), key=lambda f: f.nonce):
            if not f.raw or not (f.sent_at < 0 or (every and self.height - f.sent_at >= every)):
                continue
            try:
                self.chain.submit(f.raw)
            except errors.Unavailable:
                f.sent_at = -1
                self.blocked = True
                return
            except errors.BadNonce:
                self._nonce_spent(f)
                continue
            except errors.Rejected as exc:
                self.log.record("tx-resend-refused", txid=f.txid, nonce=f.nonce, reason=exc.reason)
            f.sent_at = self.height
            self.log.record("tx-resent", txid=f.txid, nonce=f.nonce)

    def _nonce_spent(self, f: _InFlight) -> None:
        """Its nonce is used: by this very transaction (its receipt is on the way) or, if the
        node has never heard of it, it is gone and the request goes round again."""
        try:
            receipt = self.chain.status(f.txid)
        except KeyError:
            receipt = None
        except errors.Unavailable:
            f.sent_at = -1
            return
        f.sent_at = self.height
        if receipt is None:
            del self.in_flight[f.txid]
            self.store.outbox.set_status(f.txid, OutboxStatus.DROPPED, self.clock())
            self.log.record("tx-lost", txid=f.txid, nonce=f.nonce)
            f.job.replaces = ""
            self.waiting.append(f.job)
            self._resync()

    def _rebroadcast(self, flight: _InFlight, reason: str) -> None:
        """Same request, same nonce, a higher fee: whichever version confirms, only one can."""
        self.log.record("tx-rebroadcast", txid=flight.txid, nonce=flight.nonce, reason=reason)
        job = flight.job
        try:
            spent = self.chain.nonce(self.address) > flight.nonce
        except errors.Unavailable:
            flight.sent_at = -1  # decide at the next block
            self.in_flight[flight.txid] = flight
            return
        if spent:  # that nonce is spent elsewhere
            self.store.outbox.set_status(flight.txid, OutboxStatus.DROPPED, self.clock())
            self.waiting.appendleft(job)
            return
        job.fee = min(job.fee + job.fee // 10 + 1, self.config.max_fee)
        job.replaces = flight.txid
        prepared = self._prepare(job, flight.nonce)
        self.store.flush()
        self._broadcast(prepared)
