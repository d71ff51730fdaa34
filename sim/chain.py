"""SimChain: a Stacks chain in virtual time, on SimPy.

It behaves like a node and its miners as far as the engine can tell: transactions arrive as
signed bytes and are admitted or refused by the node's rules (decoding, signature, nonce, fee,
the 25-per-sender chaining limit, contract interface); Stacks blocks take the best-paying
transactions each sender can run next, up to a capacity; Bitcoin burn blocks advance the height
that contracts read; every event lands in one ordered log that subscribers receive block by
block and that `events_since` pages through.

Ordering rule (the one rule that makes runs reproducible): inside a block, transactions run by
fee, highest first, ties by arrival order, each sender's in nonce order. Randomness (block
intervals, injected drops) comes only from the generator handed in.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import numpy as np
import simpy

from chain import errors, keys
from chain import transactions as txs
from chain.clarity import ClarityValue, ContractPrincipal, Principal, StandardPrincipal
from chain.port import Balances, Block, ChainEvent, Event, Tip, TxReceipt, TxStatus
from sim.models.base import ArgumentError
from sim.models.world import ExecResult


@dataclass(frozen=True)
class ChainConfig:
    """How the simulated chain behaves. Intervals are in seconds of virtual time; a `shape` of
    0 gives fixed intervals, otherwise a gamma distribution with that shape (1 = exponential)."""

    network: txs.Network = txs.Network.TESTNET
    stacks_block_seconds: float = 5.0  # the Nakamoto target; mainnet has averaged slower
    stacks_block_shape: float = 0.0
    burn_block_seconds: float = 600.0
    burn_block_shape: float = 1.0  # Bitcoin blocks arrive as a Poisson process
    block_capacity: int = 1000  # transactions per Stacks block
    max_chain: int = 25  # unconfirmed transactions per sender
    min_fee: int = 0
    drop_probability: float = 0.0  # injected fault: a mined candidate vanishes instead
    keep_events: int = 0  # events_since serves at least this many latest events; 0 = all


class _Pending(NamedTuple):  # a tuple: built once per admitted transaction
    tx: txs.Transaction
    sender: StandardPrincipal
    txid: str
    seq: int  # arrival order
    call: Any  # the executor's prepared contract call; None for an STX transfer

    def receipt(self) -> TxReceipt:
        """What `status` answers while the transaction waits in the mempool."""
        auth = self.tx.auth
        return TxReceipt(self.txid, TxStatus.PENDING, self.sender.address, auth.nonce, auth.fee)


@dataclass
class _Ledger:
    """Everything snapshot/restore must capture besides the executor's state."""

    stacks_height: int = 0
    burn_height: int = 0
    nonces: dict[StandardPrincipal, int] = field(default_factory=dict)
    mempool: dict[StandardPrincipal, dict[int, _Pending]] = field(default_factory=dict)
    # a final receipt, or the waiting transaction itself (its receipt is made when asked for)
    receipts: dict[str, TxReceipt | _Pending] = field(default_factory=dict)
    events: list[ChainEvent] = field(default_factory=list)
    seq: int = 0
    pending_fees: dict[StandardPrincipal, int] = field(default_factory=dict)
    events_base: int = 0  # cursor of events[0]; older events were let go (keep_events)

    def copy(self) -> _Ledger:
        return _Ledger(
            self.stacks_height,
            self.burn_height,
            dict(self.nonces),
            {s: dict(q) for s, q in self.mempool.items()},
            dict(self.receipts),
            list(self.events),
            self.seq,
            dict(self.pending_fees),
            self.events_base,
        )


class SimChain:
    """The `Chain` port on a simulated Stacks network.

    `executor` runs contract calls: `PythonContracts` or the Clarity VM bridge. With an `env`,
    blocks are produced by SimPy processes as virtual time passes (`advance`); `mine` and
    `mine_burn` produce blocks on demand, for tests.
    """

    def __init__(
        self,
        executor: Any,
        config: ChainConfig | None = None,
        *,
        rng: np.random.Generator | None = None,
        env: simpy.Environment | None = None,
        autostart: bool = True,
    ):
        self.executor = executor
        self.config = config or ChainConfig()
        self.rng = rng if rng is not None else np.random.default_rng(0)
        self.env = env if env is not None else simpy.Environment()
        self.ledger = _Ledger(burn_height=getattr(executor, "genesis_burn_height", 0))
        self._subscribers: list[Callable[[Block], None]] = []
        if autostart:
            self.env.process(self._stacks_blocks())
            self.env.process(self._burn_blocks())

    # -- the Chain port ----------------------------------------------------------------------

    def submit(self, raw: bytes) -> str:
        try:
            tx = txs.decode(raw)
        except txs.TransactionError as exc:
            raise errors.SerializationError(str(exc)) from None
        cfg = self.config
        if tx.network != cfg.network or tx.chain_id != cfg.network.chain_id:
            raise errors.BadTransactionVersion("wrong network or chain id")
        if not txs.verify(tx, raw):
            raise errors.SignatureValidation("signature does not match the signer")
        payload = tx.payload
        call = None
        if isinstance(payload, txs.ContractCall):
            try:
                call = self.executor.prepare(payload.contract, payload.function, payload.args)
            except ArgumentError as exc:
                cls = errors.NoSuchContract if "no such contract" in str(exc) else None
                raise (cls or errors.BadFunctionArgument)(str(exc)) from None
        sender, nonce, fee = tx.sender, tx.auth.nonce, tx.auth.fee
        led = self.ledger
        expected = led.nonces.get(sender, 0)
        if nonce < expected:
            raise errors.BadNonce(f"expected nonce {expected}, got {nonce}")
        if fee < cfg.min_fee:
            raise errors.FeeTooLow(f"fee {fee} below {cfg.min_fee}")
        queue = led.mempool.get(sender, {})
        txid = keys.sha512_256(raw).hex()
        old = queue.get(nonce)
        if old is not None:
            if fee <= old.tx.auth.fee:
                raise errors.ConflictingNonceInMempool(f"nonce {nonce} is already pending")
        elif len(queue) >= cfg.max_chain:
            raise errors.TooMuchChaining(f"{len(queue)} transactions already pending")
        pending_fees = led.pending_fees.get(sender, 0) - (old.tx.auth.fee if old else 0)
        if self.executor.stx_balance(sender) < pending_fees + fee:
            raise errors.NotEnoughFunds("balance does not cover the fees")
        if old is not None:  # replace-by-fee
            self._drop(old, "ReplaceByFee")
        led.seq += 1
        pending = _Pending(tx, sender, txid, led.seq, call)
        led.mempool.setdefault(sender, {})[nonce] = pending
        led.pending_fees[sender] = pending_fees + fee
        led.receipts[txid] = pending
        return txid

    def status(self, txid: str) -> TxReceipt:
        found = self.ledger.receipts[txid]
        return found.receipt() if isinstance(found, _Pending) else found

    def read_only(
        self,
        contract: ContractPrincipal,
        function: str,
        args: Sequence[ClarityValue],
        sender: Principal | None = None,
    ) -> ClarityValue:
        return self.executor.read_only(contract, function, args, self.ledger.burn_height)

    def events_since(self, cursor: int, limit: int = 1000) -> list[ChainEvent]:
        base = self.ledger.events_base
        if cursor < base:
            raise LookupError(f"events before cursor {base} are no longer kept")
        return self.ledger.events[cursor - base : cursor - base + limit]

    def tip(self) -> Tip:
        return Tip(self.ledger.stacks_height, self.ledger.burn_height)

    def nonce(self, principal: StandardPrincipal) -> int:
        return self.ledger.nonces.get(principal, 0)

    def balances(self, principal: Principal) -> Balances:
        return Balances(self.executor.stx_balance(principal), self.executor.sbtc_balance(principal))

    def estimate_fee(self, raw: bytes) -> int | None:
        return self.config.min_fee  # no fee market here: the floor is the estimate

    # -- observers ---------------------------------------------------------------------------

    def subscribe(self, listener: Callable[[Block], None]) -> None:
        """`listener(block)` after every Stacks block, in height order."""
        self._subscribers.append(listener)

    @property
    def pending(self) -> int:
        return sum(len(q) for q in self.ledger.mempool.values())

    # -- test controls (the test backend's mine / advance / snapshot / restore) ----------------

    def mine(self, blocks: int = 1) -> list[Block]:
        return [self._mine_block() for _ in range(blocks)]

    def mine_burn(self, blocks: int = 1) -> int:
        for _ in range(blocks):
            self._burn_block()
        return self.ledger.burn_height

    def advance(self, seconds: float) -> None:
        self.env.run(until=self.env.now + seconds)

    def snapshot(self) -> tuple[_Ledger, Any, dict]:
        return (self.ledger.copy(), self.executor.snapshot(), self.rng.bit_generator.state)

    def restore(self, snap: tuple[_Ledger, Any, dict]) -> None:
        ledger, state, rng_state = snap
        self.ledger = ledger.copy()
        self.executor.restore(state)
        self.rng.bit_generator.state = rng_state

    # -- block production --------------------------------------------------------------------

    def _interval(self, mean: float, shape: float) -> float:
        if shape <= 0:
            return mean
        return float(self.rng.gamma(shape, mean / shape))

    def _stacks_blocks(self):
        cfg = self.config
        while True:
            yield self.env.timeout(self._interval(cfg.stacks_block_seconds, cfg.stacks_block_shape))
            self._mine_block()

    def _burn_blocks(self):
        cfg = self.config
        while True:
            yield self.env.timeout(self._interval(cfg.burn_block_seconds, cfg.burn_block_shape))
            self._burn_block()

    def _burn_block(self) -> None:
        self.ledger.burn_height += 1

    def _candidates(self) -> list[tuple[int, int, StandardPrincipal]]:
        led = self.ledger
        heap = []
        for sender, queue in led.mempool.items():
            p = queue.get(led.nonces.get(sender, 0))
            if p is not None:
                heap.append((-p.tx.auth.fee, p.seq, sender))
        heapq.heapify(heap)
        return heap

    def _mine_block(self) -> Block:
        led = self.ledger
        led.stacks_height += 1
        height, burn = led.stacks_height, led.burn_height
        heap = self._candidates()
        receipts: list[TxReceipt] = []
        first_event = len(led.events)
        while heap and len(receipts) < self.config.block_capacity:
            _, _, sender = heapq.heappop(heap)
            queue = led.mempool[sender]
            nonce = led.nonces.get(sender, 0)
            p = queue.pop(nonce)
            led.pending_fees[sender] -= p.tx.auth.fee
            receipt = self._include(p, height, burn)
            receipts.append(receipt)
            if receipt.status is not TxStatus.DROPPED:
                led.nonces[sender] = nonce + 1
                nxt = queue.get(nonce + 1)
                if nxt is not None:
                    heapq.heappush(heap, (-nxt.tx.auth.fee, nxt.seq, sender))
            if not queue:
                del led.mempool[sender]
        block = Block(height, burn, self.env.now, tuple(receipts), tuple(led.events[first_event:]))
        keep = self.config.keep_events
        if keep and len(led.events) > 2 * keep:
            drop = len(led.events) - keep
            del led.events[:drop]
            led.events_base += drop
        for listener in self._subscribers:
            listener(block)
        return block

    def _include(self, p: _Pending, height: int, burn: int) -> TxReceipt:
        tx = p.tx
        cfg = self.config
        if cfg.drop_probability and self.rng.random() < cfg.drop_probability:
            return self._drop(p, "InjectedDrop")
        sender = p.sender
        if not self.executor.pay_fee(sender, tx.auth.fee):
            return self._drop(p, "NotEnoughFunds")
        payload = tx.payload
        if p.call is not None:
            check = _post_condition_check(tx, sender)
            res: ExecResult = self.executor.execute(sender, p.call, burn, check)
        else:  # a node does not evaluate post-conditions on a plain STX transfer
            res = self.executor.transfer_stx(sender, payload.recipient, payload.amount, burn)
        events, base = self.ledger.events, self.ledger.events_base
        for i, ev in enumerate(res.events):
            events.append(ChainEvent(base + len(events), p.txid, height, burn, ev, i))
        return self._final(p, TxStatus(res.outcome), res.value, height, burn, res.error)

    def _drop(self, p: _Pending, reason: str) -> TxReceipt:
        return self._final(p, TxStatus.DROPPED, None, 0, 0, reason)

    def _final(self, p: _Pending, status: TxStatus, result, height: int, burn: int, reason: str):
        a, payload = p.tx.auth, p.tx.payload
        call = (
            f"{payload.contract.name}.{payload.function}"
            if isinstance(payload, txs.ContractCall)
            else "stx-transfer"
        )
        receipt = TxReceipt(
            p.txid, status, p.sender.address, a.nonce, a.fee, result, height, burn, reason, call
        )
        self.ledger.receipts[p.txid] = receipt
        return receipt


def _post_condition_check(
    tx: txs.Transaction, sender: StandardPrincipal
) -> Callable[[Sequence[Event]], bool] | None:
    """The node's post-condition rule over what the call moved: every condition must hold, and
    in deny mode every asset that left any principal must be covered by a condition."""
    if tx.post_condition_mode is txs.PostConditionMode.ALLOW and not tx.post_conditions:
        return None
    origin = sender.address

    def check(events: Sequence[Event]) -> bool:
        sent: dict[tuple[str, str], int] = {}
        for e in events:
            if e.kind == "stx_transfer":
                key = (e.sender, "stx")
            elif e.kind == "ft_transfer":
                key = (e.sender, e.contract)
            else:
                continue
            sent[key] = sent.get(key, 0) + e.amount
        covered = set()
        for pc in tx.post_conditions:
            who = origin if pc.principal is txs.ORIGIN else pc.principal.address
            asset = "stx" if isinstance(pc, txs.STXPostCondition) else str(pc.asset)
            key = (who, asset)
            covered.add(key)
            if isinstance(pc, txs.NFTPostCondition):
                if pc.condition is txs.NonFungibleCondition.SENT:
                    return False  # no contract here moves NFTs
                continue
            if not pc.condition.holds(sent.get(key, 0), pc.amount):
                return False
        if tx.post_condition_mode is txs.PostConditionMode.DENY:
            return all(key in covered for key, amount in sent.items() if amount > 0)
        return True

    return check
