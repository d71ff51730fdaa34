"""The messages the actors exchange. Immutable; an actor never shares its own state."""

from __future__ import annotations

from dataclasses import dataclass

from actors.tags import Tag
from chain.clarity import ClarityValue, ContractPrincipal, Principal
from chain.port import Block, ChainEvent, Mailbox, OutboxStatus, TxReceipt
from chain.protocol import lock_fits
from chain.quotes import Quote


@dataclass(frozen=True, slots=True)
class Connect:
    """Sent once after all actors started: who the peers are."""

    oracle: Mailbox
    registry: Mailbox
    pool: Mailbox
    signer: Mailbox
    observer: Mailbox | None = None  # receives PoolState too (the simulation's metrics)


@dataclass(frozen=True, slots=True)
class Sync:
    """A barrier: an actor answers it (with `ask`) once it has handled everything sent before.
    Live and tests use it; simulations never wait on an actor."""


@dataclass(frozen=True, slots=True)
class Tick:
    """The clock's periodic poke (oracle polling); `now` in seconds."""

    now: float


@dataclass(frozen=True, slots=True)
class NewBlock:
    """A block for the actors (actors/engine.py builds it): the chain's `Block` and its print
    tuples decoded once (actors/events.py), so four actors do not decode them four times."""

    block: Block
    prints: tuple[dict, ...] = ()

    @property
    def height(self) -> int:
        return self.block.height

    @property
    def burn_height(self) -> int:
        return self.block.burn_height

    @property
    def time(self) -> float:
        return self.block.time

    @property
    def receipts(self) -> tuple[TxReceipt, ...]:
        return self.block.receipts

    @property
    def events(self) -> tuple[ChainEvent, ...]:
        return self.block.events


@dataclass(frozen=True, slots=True)
class PriceUpdate:
    """The oracle's aggregated off-chain price (not the on-chain one)."""

    asset: str
    price: int
    time: float
    vol: float  # annualised realised volatility


@dataclass(frozen=True, slots=True)
class PushNow:
    """Registry to oracle: policies wait for a fresh on-chain price of this asset."""

    asset: str


@dataclass(frozen=True, slots=True)
class Submit:
    """To the signer: build, sign, broadcast and see confirmed one system call."""

    contract: ContractPrincipal
    function: str
    args: tuple[ClarityValue, ...]
    tag: Tag  # what it is for (actors/tags.py): kept in the outbox, handed back in TxDone
    reply_to: Mailbox | None = None


@dataclass(frozen=True, slots=True)
class TxDone:
    """From the signer: a submitted call reached a final status."""

    tag: Tag
    txid: str
    status: OutboxStatus  # the receipt's TxStatus, or REJECTED when no node would take it
    result: ClarityValue | None
    burn_height: int

    @property
    def succeeded(self) -> bool:
        return self.status == OutboxStatus.SUCCESS  # a plain "success" from a test double too


@dataclass(frozen=True, slots=True)
class Recovered:
    """From the signer, once connected, to the owner of a transaction a previous run left
    pending (`tag.owner`): it is on its way again, and a `TxDone` follows when it finishes."""

    tag: Tag
    txid: str


@dataclass(frozen=True, slots=True)
class QuoteRequest:
    buyer: Principal
    amount: int  # sats
    strike: int  # price units
    expiration: int  # burn height
    token: int
    reply_to: Mailbox
    tier: int | None = None  # None: the tier that backs this strike


@dataclass(frozen=True, slots=True)
class QuoteBreaker:
    """To the registry: stop (`open`) or resume quoting one tranche (live shadow risk's
    circuit breaker, live/risk.py)."""

    token: int
    tier: int
    open: bool


@dataclass(frozen=True, slots=True)
class SignQuote:
    quote: Quote
    reply_to: Mailbox


@dataclass(frozen=True, slots=True)
class QuoteOffer:
    quote: Quote
    signature: bytes


@dataclass(frozen=True, slots=True)
class QuoteRefused:
    reason: str


@dataclass(frozen=True, slots=True)
class TrancheView:
    token: int
    tier: int
    assets: int
    shares: int
    locked: int
    required: int  # collateral needed at current prices, token units
    pending: int = 0  # pending withdrawals' shares: their value is not for purchases (u415)

    @property
    def utilisation(self) -> float:
        return self.locked / self.assets if self.assets else 0.0

    @property
    def pending_value(self) -> int:
        """What the pending shares are worth now, token units (the chain's rounding)."""
        return self.pending * self.assets // self.shares if self.shares else 0

    def fits(self, collateral: int, max_utilisation_bps: int) -> bool:
        """Whether the chain would lock `collateral` more here: within the tier's utilisation
        cap and leaving the pending withdrawals' value free (lock-for-policy's u413, u415)."""
        return lock_fits(
            self.assets, self.locked, collateral, max_utilisation_bps, self.pending_value
        )

    @property
    def coverage(self) -> float:
        return self.assets / self.required if self.required else float("inf")


@dataclass(frozen=True, slots=True)
class PoolState:
    burn_height: int
    tranches: tuple[TrancheView, ...]
