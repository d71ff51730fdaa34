"""The ports: everything the engine's actors see of the world outside them, in one module.

The actors import no implementation of a port, only this module (and `chain.errors`, the
error vocabulary every port raises). `SimChain` (sim/chain.py) and `StacksChain`
(chain/stacks.py) both implement `Chain` and a `BlockSource`; the store (`store.Store`)
implements `StorePort`; the three contract executors (sim/models `PythonContracts`,
sim/clarity_vm `ClarityContracts`, sim/lockstep `Lockstep`) implement `Executor`. Nothing
above this line knows which one it holds. The module lives in `chain` because `chain` is the
lower layer: it imports neither `actors` nor `sim` (pyproject.toml's import contracts), and
both may import it.

Errors (chain/errors.py): a node that gives no usable answer raises `errors.Unavailable`
(`BadAnswer` when it answered with something unusable); a refused transaction a `Rejected`
subclass named for the node's reason; a read-only call that did not run `errors.ReadFailed`;
events lost to a reorganisation `errors.Reorganised` (the live block source handles it
itself: see `StacksChain.poll`); an unknown txid `KeyError`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from chain.clarity import ClarityValue, ContractPrincipal, Principal, StandardPrincipal
from store.statuses import OutboxStatus, PolicyStatus  # the store port's vocabulary, one home

Clock = Callable[[], float]
"""Seconds now, for the store's time columns: the runtime's `now` (virtual time in a
simulation, so runs stay deterministic; wall time live)."""


def no_clock() -> float:
    """The clock of an actor started without one (unit tests): time columns stay 0."""
    return 0.0


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
    """What the actors ask of a chain, and nothing more."""

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

    def tip(self) -> Tip: ...

    def nonce(self, principal: StandardPrincipal) -> int:
        """The next nonce the chain expects from this account (confirmed state)."""

    def estimate_fee(self, raw: bytes) -> int | None:
        """The node's fee for these signed bytes at a medium priority (micro-STX), or None
        when it cannot say; the Signer never pays less than its configured fee."""


class FullChain(Chain, Protocol):
    """A chain with its books open: what simulated agents, the invariant checks and the
    benchmarks also read (balances, the event history). No actor needs it."""

    def events_since(self, cursor: int, limit: int = 1000) -> list[ChainEvent]:
        """Events with `cursor` greater than or equal to the given one, oldest first."""

    def balances(self, principal: Principal) -> Balances: ...


# -- how blocks reach the engine -------------------------------------------------------------


class PushedBlocks(Protocol):
    """A block source that calls back (SimChain): each Stacks block, in height order."""

    def subscribe(self, listener: Callable[[Block], None]) -> None: ...


class PolledBlocks(Protocol):
    """A block source that is asked (StacksChain): the blocks that became visible since the
    last poll, in chain order; a failed poll raises having moved nothing."""

    def poll(self) -> list[Block]: ...


BlockSource = PushedBlocks | PolledBlocks


# -- the other ports an actor sees -----------------------------------------------------------


class PriceFeed(Protocol):
    def fetch(self, asset: str) -> list[tuple[str, int]]:
        """(source name, price in price units) from every source that answered, in a fixed
        source order. Sources that are down, slow or answer garbage are simply absent."""


class EventLog(Protocol):
    def record(self, kind: str, **fields: Any) -> None:
        """One line of the run's decision log (JSON-serialisable fields)."""


class Mailbox(Protocol):
    """Anything a reply can be sent to: an ActorRef, or a simulated user's inbox."""

    def tell(self, message: Any) -> None: ...


# -- the store, as the actors use it (store.Store implements it) -----------------------------

Row = Mapping[str, Any]


class PriceRows(Protocol):
    def add_raw(self, source: str, asset: str, price: int, ts: float) -> None: ...

    def add_aggregated(self, asset: str, price: int, ts: float, sources: int) -> None: ...


class QuoteRows(Protocol):
    def add(
        self,
        quote_id: int,
        buyer: str,
        amount: int,
        strike: int,
        expiration: int,
        premium: int,
        collateral: int,
        token: int,
        tier: int,
        quote_expiry: int,
        ts: float,
    ) -> None: ...

    def last_id(self, lo: int, hi: int) -> int | None:
        """The largest quote id in [lo, hi), so a restarted registry never repeats one."""


class PolicyRows(Protocol):
    def purchased(
        self,
        id: int,
        owner: str,
        amount: int,
        strike: int,
        expiration: int,
        premium: int,
        collateral: int,
        token: int,
        tier: int,
        quote_id: int,
        block: int,
    ) -> None: ...

    def finished(
        self, id: int, status: PolicyStatus, payout: int, paid: int, price: int, block: int
    ) -> None: ...


class ShareRows(Protocol):
    def set(self, token: int, tier: int, provider: str, shares: int) -> None: ...


class FlowRows(Protocol):
    def add(
        self,
        kind: str,
        provider: str,
        token: int,
        tier: int,
        amount: int,
        shares: int,
        epoch: int,
        txid: str,
        event_index: int,
        block: int,
        burn_height: int,
        ready_at: int | None = None,
    ) -> None:
        """A provider's deposit, withdrawal request or withdrawal (`kind`, the pool's print
        name); one already recorded under (txid, event_index) is not recorded again."""


class PendingRows(Protocol):
    def set(
        self,
        token: int,
        tier: int,
        provider: str,
        shares: int,
        value: int,
        ready_at: int,
        epoch: int,
    ) -> None:
        """A provider's pending withdrawal in a tranche as the pool holds it (shares 0: none)."""


class TrancheRows(Protocol):
    def snapshot(
        self, block: int, token: int, tier: int, total_assets: int, total_shares: int, locked: int
    ) -> None: ...


class OutboxRows(Protocol):
    def add(
        self, txid: str, sender: str, nonce: int, raw_hex: str, tag: str, fee: int, ts: float
    ) -> None: ...

    def set_status(self, txid: str, status: OutboxStatus, ts: float) -> None: ...

    def bump(self, txid: str, ts: float) -> None: ...

    def replace(self, old_txid: str, new_txid: str, raw_hex: str, fee: int, ts: float) -> None: ...

    def pending(self) -> list[dict[str, Any]]: ...

    def get(self, txid: str) -> dict[str, Any] | None: ...


class StorePort(Protocol):
    """The repositories the actors write and read, and `flush` (writes are buffered until it:
    anything done outside the database on a write's strength comes after a flush)."""

    @property
    def prices(self) -> PriceRows: ...

    @property
    def quotes(self) -> QuoteRows: ...

    @property
    def policies(self) -> PolicyRows: ...

    @property
    def shares(self) -> ShareRows: ...

    @property
    def tranches(self) -> TrancheRows: ...

    @property
    def flows(self) -> FlowRows: ...

    @property
    def withdrawals(self) -> PendingRows: ...

    @property
    def outbox(self) -> OutboxRows: ...

    def flush(self) -> None: ...


# -- the contracts' executors behind SimChain ------------------------------------------------


class Outcome(Protocol):
    """How an executed call ended (sim/models `ExecResult`)."""

    @property
    def outcome(self) -> str: ...

    @property
    def value(self) -> ClarityValue | None: ...

    @property
    def events(self) -> tuple[Event, ...]: ...

    @property
    def error(self) -> str: ...


EventCheck = Callable[[Sequence[Event]], bool]


class Executor(Protocol):
    """Runs the contracts for SimChain: the Python models, the Clarity VM, or both in
    lockstep. `prepare` checks a call against the interface (a node's admission) and returns
    the executor's own handle, which only that executor's `execute` reads."""

    name: str
    genesis_burn_height: int

    def prepare(
        self, contract: ContractPrincipal, function: str, args: Sequence[ClarityValue]
    ) -> Any: ...

    def execute(
        self,
        sender: StandardPrincipal,
        call: Any,
        burn_height: int,
        check: EventCheck | None = None,
    ) -> Outcome: ...

    def transfer_stx(
        self,
        sender: StandardPrincipal,
        recipient: Principal,
        amount: int,
        burn_height: int,
        check: EventCheck | None = None,
    ) -> Outcome: ...

    def read_only(
        self,
        contract: ContractPrincipal,
        function: str,
        args: Sequence[ClarityValue],
        burn_height: int = 0,
    ) -> ClarityValue: ...

    def pay_fee(self, sender: StandardPrincipal, fee: int) -> bool: ...

    def stx_balance(self, who: Principal) -> int: ...

    def sbtc_balance(self, who: Principal) -> int: ...

    def genesis_stx(self, who: Principal, amount: int) -> None: ...

    def genesis_sbtc(self, who: Principal, amount: int) -> None: ...

    def snapshot(self) -> Any: ...

    def restore(self, snap: Any) -> None: ...

    def close(self) -> None: ...
