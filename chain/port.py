"""The chain port: what the actors may ask of a chain, simulated or real.

`SimChain` (sim/chain.py) and `StacksChain` (the live node client) both implement `Chain`;
nothing above this line knows which one it holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from chain.clarity import ClarityValue, ContractPrincipal, Principal, StandardPrincipal


class TxStatus(StrEnum):
    """Where a transaction stands. DROPPED: it left without running, whatever the node's
    words (`TxReceipt.reason`): replaced by fee, expired from the mempool, or (Hiro's API
    9.0.2 `problematic_skipped`) included in a block that skipped it."""

    PENDING = "pending"
    SUCCESS = "success"
    ABORT_BY_RESPONSE = "abort_by_response"
    ABORT_BY_POST_CONDITION = "abort_by_post_condition"
    DROPPED = "dropped"

    @property
    def final(self) -> bool:
        return self is not TxStatus.PENDING


@dataclass(frozen=True, slots=True)
class Event:
    """What a transaction emitted: a contract `print`, or an asset movement.

    `kind` is `print`, `stx_transfer`, `ft_transfer` or `ft_mint`; `contract` is the printing
    contract for a print and the asset identifier (`contract::name`) for a token event.
    """

    kind: str
    contract: str = ""
    value: ClarityValue | None = None
    sender: str = ""
    recipient: str = ""
    amount: int = 0


@dataclass(frozen=True, slots=True)
class ChainEvent:
    """An event at its place in the chain; `cursor` counts every event from genesis (in this
    process: a restart counts again), `index` is the event's place in its transaction (the
    node's `event_index`), so `(txid, index)` names it for good."""

    cursor: int
    txid: str
    block_height: int
    burn_height: int
    event: Event
    index: int


@dataclass(frozen=True, slots=True)
class TxReceipt:
    txid: str
    status: TxStatus
    sender: str = ""
    nonce: int = 0
    fee: int = 0
    result: ClarityValue | None = None  # the call's (ok …) / (err …) once mined
    block_height: int = 0
    burn_height: int = 0
    reason: str = ""  # why it was dropped, or the runtime error
    call: str = ""  # "contract-name.function" or "stx-transfer"


@dataclass(frozen=True, slots=True)
class Block:
    """A Stacks block as the engine follows it: its receipts and events, in chain order.

    SimChain hands every block to its subscribers; StacksChain's `poll` assembles them from the
    node API, where a block's transactions can be seen in more than one poll, so a live block
    may arrive in parts (the same height twice, each part in order)."""

    height: int
    burn_height: int
    time: float
    receipts: tuple[TxReceipt, ...]
    events: tuple[ChainEvent, ...]


@dataclass(frozen=True, slots=True)
class Tip:
    stacks_height: int
    burn_height: int


@dataclass(frozen=True, slots=True)
class Balances:
    stx: int
    sbtc: int


class Chain(Protocol):
    def submit(self, raw: bytes) -> str:
        """Broadcasts signed transaction bytes; returns the txid (hex) or raises Rejected."""

    def status(self, txid: str) -> TxReceipt:
        """Where a transaction stands; unknown txids raise KeyError."""

    def read_only(
        self,
        contract: ContractPrincipal,
        function: str,
        args: Sequence[ClarityValue],
        sender: Principal | None = None,
    ) -> ClarityValue: ...

    def events_since(self, cursor: int, limit: int = 1000) -> list[ChainEvent]:
        """Events with `cursor` greater than or equal to the given one, oldest first."""

    def tip(self) -> Tip: ...

    def nonce(self, principal: StandardPrincipal) -> int:
        """The next nonce the chain expects from this account (confirmed state)."""

    def balances(self, principal: Principal) -> Balances: ...

    def estimate_fee(self, raw: bytes) -> int | None:
        """The node's fee for these signed bytes at a medium priority (micro-STX), or None
        when it cannot say; the Signer never pays less than its configured fee."""
