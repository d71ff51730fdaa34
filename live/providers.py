"""Liquidity providers' deposits and withdrawals, as the pool contract printed them on chain.

Withdrawals are two-step (protocol v2): `request-withdraw` prints `withdraw-requested` and moves
nothing (a flow of amount 0 with the shares requested and their `ready-at`), and
`complete-withdraw` prints `withdraw` with what it paid and the shares it burned.

The store keeps each provider's current shares and each tranche's totals per block, not the
flows that led there, and the actors that write it are not the API's to change; the chain has
every flow. `ProviderFlows` follows the pool contract's prints through the API's own node
client, from its last seen event onwards (one page per call once it has caught up), and keeps
them per provider in memory: a restart reads the history again, a reorganisation that removes
the last seen event starts it over. The block of each flow is looked up once per transaction.
Reads are not rate limited, and the node (a Hiro API with its own limits, shared with the
engine's key) must not see one request per read: the chain is asked at most once every
`MIN_INTERVAL` seconds, so a flow can show up that much later than the block that made it.

P&L per tranche is `value now + withdrawn - deposited`, integers in the tranche's token units:
what the provider would have if they withdrew everything now, against what they paid in.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any

from actors.events import plain
from chain.clarity import Tuple, deserialize
from chain.node import CursorNotFound

MIN_INTERVAL = 2.0  # seconds between two reads of the pool's prints


class FlowKind(Enum):
    DEPOSIT = "deposit"
    REQUEST = "withdraw-requested"  # step 1: shares become pending, no tokens move
    WITHDRAW = "withdraw"  # step 2: the provider is paid


@dataclass(frozen=True)
class Flow:
    kind: FlowKind
    provider: str
    token: int
    tier: int
    amount: int  # token units paid in or out (0 for a request: it moves nothing)
    shares: int  # shares minted or burned (for a request: the shares asked for)
    txid: str
    ready_at: int | None = None  # a request's burn height from which it can complete


@dataclass(frozen=True)
class Pnl:
    token: int
    tier: int
    deposited: int
    withdrawn: int
    value: int

    @property
    def pnl(self) -> int:
        return self.value + self.withdrawn - self.deposited


class ProviderFlows:
    """Every provider's flows from the pool's prints; `update` and `of` are thread-safe and
    blocking (call them off the event loop)."""

    def __init__(
        self,
        client: Any,
        pool_contract: str,
        clock: Callable[[], float] = time.monotonic,
        min_interval: float = MIN_INTERVAL,
    ):
        self.client, self.pool = client, pool_contract
        self.clock, self.min_interval = clock, min_interval
        self._read_at: float | None = None
        self._lock = threading.Lock()
        self._last: tuple[str, int] | None = None
        self._flows: dict[str, list[Flow]] = {}
        self._heights: dict[str, tuple[int | None, int | None]] = {}

    def update(self) -> None:
        """Reads the pool's prints since the last one seen (unless it did so very recently)."""
        with self._lock:
            now = self.clock()
            if self._read_at is not None and now - self._read_at < self.min_interval:
                return
            try:
                events = self.client.contract_events_since(self.pool, self._last)
            except CursorNotFound:  # the chain reorganised below what we read: read it again
                self._last, self._flows = None, {}
                events = self.client.contract_events_since(self.pool, None)
            for e in events:
                flow = _flow(e.value, e.tx_id)
                if flow is not None:
                    self._flows.setdefault(flow.provider, []).append(flow)
                self._last = (e.tx_id, e.event_index)
            self._read_at = now

    def of(self, provider: str) -> list[Flow]:
        with self._lock:
            return list(self._flows.get(provider, ()))

    def heights(self, txid: str) -> tuple[int | None, int | None]:
        """(block height, burn height) of a mined transaction; (None, None) while the API
        has not indexed it (asked again next time)."""
        with self._lock:
            known = self._heights.get(txid)
        if known is not None:
            return known
        tx = self.client.tx(txid)
        got = (None, None) if tx is None else (tx.block_height, tx.burn_block_height)
        if got[0] is not None:
            with self._lock:
                self._heights[txid] = got
        return got


def _flow(value: bytes, txid: str) -> Flow | None:
    """The flow a print describes, or None for the pool's other events."""
    try:
        v = deserialize(value)
    except ValueError:
        return None
    if type(v) is not Tuple:
        return None
    e = {k: plain(x) for k, x in v.data.items()}
    try:
        kind = FlowKind(e.get("event"))
    except ValueError:
        return None
    if kind is FlowKind.REQUEST:
        return Flow(kind, e["provider"], e["token"], e["tier"], 0, e["shares"], txid,
                    e["ready-at"])  # fmt: skip
    return Flow(kind, e["provider"], e["token"], e["tier"], e["amount"], e["shares"], txid)


def pnl(flows: list[Flow], values: dict[tuple[int, int], int]) -> list[Pnl]:
    """P&L per tranche the provider has flows in or holds shares of, by (token, tier)."""
    paid_in: dict[tuple[int, int], int] = {}
    paid_out: dict[tuple[int, int], int] = {}
    for f in flows:
        if f.kind is FlowKind.REQUEST:
            continue  # moves nothing: the shares are paid out (a `withdraw`) later
        side = paid_in if f.kind is FlowKind.DEPOSIT else paid_out
        side[(f.token, f.tier)] = side.get((f.token, f.tier), 0) + f.amount
    keys = sorted(set(paid_in) | set(paid_out) | set(values))
    return [Pnl(k[0], k[1], paid_in.get(k, 0), paid_out.get(k, 0), values.get(k, 0)) for k in keys]
