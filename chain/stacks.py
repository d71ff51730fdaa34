"""StacksChain: the chain port on a Stacks node and its API (`chain/node.py`).

The same questions SimChain answers, asked over HTTP. One thing a real node cannot do is call
the engine back after each block, so `poll()` assembles blocks: it pages the prints of the
engine's contracts since the last one seen, looks up the transactions they came from and the
engine's own unconfirmed ones, and returns what became final as `Block`s in chain order.

A cursor only moves past what has been delivered: `poll()` either returns every block it
assembled and then moves its cursors, or raises (a 429, a 5xx, a 410 after the client's own
retries) having moved nothing, and the next poll catches up. A contract event whose
transaction the API cannot show yet (its indexer lags) holds that contract's cursor before
it; transactions already delivered are remembered so that the catch-up never repeats them.

The first poll catches up on the contracts' whole history in one block at the current tip.
Actors rebuild their mirrors from events (pool tranches, active policies), and one block
means they act once, on the end state, instead of re-living old blocks (e.g. asking to settle
a policy that a later event settled). That is also why the cursor is not persisted: the
replay is how a restarted engine rebuilds what its actors hold only in memory (the Registry's
active and due policies, the Pool's per-policy cover), so a start that skipped it would leave
policies bought before the restart unsettled. Its cost is one read of the four contracts'
prints and of each transaction behind them per start.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace

from chain.clarity import (
    ClarityValue,
    ContractPrincipal,
    Ok,
    Principal,
    StandardPrincipal,
    UInt,
    deserialize,
)
from chain.contracts import Contracts
from chain.node import ContractEvent, CursorNotFound, NodeClient, TxEvent, TxInfo
from chain.port import Balances, Block, ChainEvent, Event, Tip, TxReceipt, TxStatus

# How long after our own broadcast a 404 from the API means "its indexer has not seen it yet"
# rather than "unknown": Hiro's indexer follows the node within a block or two.
INDEXER_LAG_SECONDS = 120.0


def _event(e: TxEvent) -> Event | None:
    if e.event_type == "contract_log":
        return Event("print", e.contract_id, deserialize(e.value) if e.value else None)
    if e.event_type == "stx_asset" and e.asset_event_type == "transfer":
        return Event("stx_transfer", "", None, e.sender, e.recipient, e.amount)
    if e.event_type == "ft_asset" and e.asset_event_type in ("transfer", "mint"):
        kind = "ft_transfer" if e.asset_event_type == "transfer" else "ft_mint"
        return Event(kind, e.asset_id, None, e.sender, e.recipient, e.amount)
    return None


def receipt(info: TxInfo) -> TxReceipt:
    call = ""
    if info.contract_call is not None:
        call = (
            f"{info.contract_call.contract_id.split('.', 1)[1]}.{info.contract_call.function_name}"
        )
    elif info.tx_type == "token_transfer":
        call = "stx-transfer"
    return TxReceipt(
        txid=info.tx_id,
        status=info.status,
        sender=info.sender_address,
        nonce=info.nonce or 0,
        fee=info.fee_rate,
        result=deserialize(info.result) if info.result else None,
        block_height=info.block_height or 0,
        burn_height=info.burn_block_height or 0,
        reason=info.reason,
        call=call,
    )


class StacksChain:
    """`Chain` over HTTP. Thread-safe: actors on threads share one instance."""

    def __init__(self, client: NodeClient, contracts: Contracts, clock=time.time):
        self.client = client
        self.contracts = contracts
        self.clock = clock
        self.followed = (contracts.parameters, contracts.oracle, contracts.pool, contracts.registry)
        self._lock = threading.Lock()
        self._watch: set[str] = set()  # txids we sent or were asked about, not yet final
        self._sent: dict[str, float] = {}  # txid -> when the node accepted it from us
        self._delivered: set[str] = set()  # final txids already handed out in a block
        self._last_seen: dict[str, tuple[str, int] | None] = {
            c.address: None for c in self.followed
        }
        self._log: list[ChainEvent] = []
        self._tip: tuple[int, int] | None = None
        self._tip_hash = ""  # the node's tip block hash at the last poll (`stacks_tip`)
        self._behind = False  # a contract event's transaction was not yet visible

    # -- the Chain port ----------------------------------------------------------------------

    def submit(self, raw: bytes) -> str:
        txid = self.client.broadcast(raw)
        with self._lock:
            self._watch.add(txid)
            self._sent[txid] = self.clock()
        return txid

    def status(self, txid: str) -> TxReceipt:
        info = self.client.tx(txid)
        if info is None:
            with self._lock:
                sent = self._sent.get(txid)
            if sent is not None and self.clock() - sent < INDEXER_LAG_SECONDS:
                return TxReceipt(txid, TxStatus.PENDING)  # the node has it; the API not yet
            raise KeyError(txid)
        if not info.status.final:
            with self._lock:
                self._watch.add(info.tx_id)
        return receipt(info)

    def read_only(
        self,
        contract: ContractPrincipal,
        function: str,
        args: Sequence[ClarityValue],
        sender: Principal | None = None,
    ) -> ClarityValue:
        who = sender or self.contracts.deployer
        got = self.client.call_read_only(
            contract.address, function, [a.serialize() for a in args], who.address
        )
        return deserialize(got)

    def events_since(self, cursor: int, limit: int = 1000) -> list[ChainEvent]:
        with self._lock:
            return self._log[cursor : cursor + limit]

    def tip(self) -> Tip:
        info = self.client.info()
        return Tip(info.stacks_tip_height, info.burn_block_height)

    def nonce(self, principal: StandardPrincipal) -> int:
        return self.client.account(principal.address).nonce

    def balances(self, principal: Principal) -> Balances:
        stx = self.client.account(principal.address).balance
        got = self.read_only(self.contracts.sbtc, "get-balance", [principal])
        sbtc = got.value.value if isinstance(got, Ok) and isinstance(got.value, UInt) else 0
        return Balances(stx, sbtc)

    def estimate_fee(self, raw: bytes) -> int | None:
        from chain import transactions as txs
        from chain.node import NodeError

        try:
            return self.client.estimate_fee(txs.payload_bytes(txs.decode(raw)), len(raw)).medium
        except NodeError:  # e.g. the node's estimator has no data yet
            return None

    # -- following the chain -----------------------------------------------------------------

    def poll(self) -> list[Block]:
        """The blocks that became visible since the last poll (none when the tip is the same).

        Order matters for a block's contents: transactions by (height, index in block), each
        transaction's events in their own order, which is how a node applied them. Nothing
        moves until everything is fetched: a failure raises with every cursor where it was."""
        info = self.client.info()
        tip = (info.stacks_tip_height, info.burn_block_height)
        # the same heights under another tip hash: a fork replaced the tip block, look again
        if tip == self._tip and info.stacks_tip == self._tip_hash and not self._behind:
            return []
        first = self._tip is None
        new: dict[str, list[ContractEvent]] = {}
        for contract in self.followed:
            address = contract.address
            try:
                new[address] = self.client.contract_events_since(address, self._last_seen[address])
            except CursorNotFound:
                # A reorg dropped the last event seen: read the whole history again (the fork
                # point is wherever the history stops matching what was delivered); what was
                # delivered already is skipped below, so nothing is handed out twice, and what
                # the fork dropped and a later block re-mines is not handed out again either.
                new[address] = self.client.contract_events_since(address, None)
        txids = {e.tx_id for events in new.values() for e in events}
        with self._lock:
            txids |= self._watch
        final: list[TxInfo] = []
        for txid in sorted(txids - self._delivered):
            got = self._tx(txid)
            if got is not None and got.status.final:
                final.append(got)
        final.sort(key=lambda t: (t.block_height or 0, t.tx_index or 0))
        done = self._delivered | {t.tx_id for t in final}
        blocks = self._blocks(final, tip, first)
        behind = False
        with self._lock:
            for address, events in new.items():
                for e in events:  # oldest first: stop at the first one not yet delivered
                    if e.tx_id not in done:
                        behind = True
                        break
                    self._last_seen[address] = (e.tx_id, e.event_index)
            for t in final:
                self._delivered.add(t.tx_id)
                self._watch.discard(t.tx_id)
                self._sent.pop(t.tx_id, None)
            self._tip, self._tip_hash = tip, info.stacks_tip
            self._behind = behind
        return blocks

    def _tx(self, txid: str) -> TxInfo | None:
        """A transaction with all its events (the API lists them apart, a page at a time)."""
        info = self.client.tx(txid)
        if info is None or info.block_height is None or not info.event_count:
            return info
        return replace(info, events=self.client.all_tx_events(txid, info.event_count))

    def _blocks(self, final: list[TxInfo], tip: tuple[int, int], catch_up: bool) -> list[Block]:
        now = self.clock()
        groups: dict[tuple[int, int], list[TxInfo]] = {}
        for t in final:
            at = tip if catch_up else (t.block_height or tip[0], t.burn_block_height or tip[1])
            groups.setdefault(at, []).append(t)
        if not groups or max(groups)[1] < tip[1] or max(groups)[0] < tip[0]:
            groups.setdefault(tip, [])  # actors must see the tip's heights, even with no txs
        blocks = []
        for height, burn in sorted(groups):
            receipts, events = [], []
            for t in groups[(height, burn)]:
                receipts.append(receipt(t))
                for e in t.events:
                    ev = _event(e)
                    if ev is not None:
                        events.append((t.tx_id, e.event_index, ev))
            with self._lock:
                base = len(self._log)
                chained = [
                    ChainEvent(base + i, txid, height, burn, ev, index)
                    for i, (txid, index, ev) in enumerate(events)
                ]
                self._log.extend(chained)
            blocks.append(Block(height, burn, now, tuple(receipts), tuple(chained)))
        return blocks
