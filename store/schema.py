"""The off-chain database schema: SQLAlchemy 2 declarative models, one per table.

The repositories never use these classes as ORM objects; they run Core statements on the
`Model.__table__` objects, because the hot path is bulk executemany and the unit-of-work
machinery would cost more than the writes themselves. The declarative form is kept because it
gives the schema one typed, readable definition that `metadata.create_all` can build.

Money, prices and share counts are Clarity `uint`s (up to 2**128 - 1), so they do not fit a
64-bit SQL integer. They are stored with `ExactInt`, a TEXT column holding the decimal digits,
rather than `Numeric(40, 0)`: SQLite has no arbitrary-precision numeric type, and a NUMERIC
column there turns any value beyond 2**63 into an 8-byte REAL (2**100 + 1 reads back as 2**100),
so `Numeric` would be exact on PostgreSQL and silently wrong in every simulation. The price of
TEXT is that SQL cannot compare or sum money columns; no query does, because every filter and
ordering is on heights, ids, statuses or timestamps, which are ordinary 64-bit integers or floats.
"""

from __future__ import annotations

import operator
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, Dialect, Float, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

from store.statuses import OutboxStatus, PolicyStatus

__all__ = [
    "Base",
    "Cursor",
    "ExactInt",
    "FlowKind",
    "Outbox",
    "OutboxStatus",
    "PendingWithdrawal",
    "Policy",
    "PolicyStatus",
    "Price",
    "PriceRaw",
    "ProviderFlow",
    "ProviderShare",
    "Quote",
    "TrancheSnapshot",
    "Volatility",
    "metadata",
]


class ExactInt(TypeDecorator[int]):
    """A Python int of any size, stored as its decimal digits in a TEXT column.

    Binding goes through `operator.index` so numpy integers are accepted but a float (which
    would already have lost digits) is refused instead of being stored rounded.
    """

    impl = String
    cache_ok = True

    def process_bind_param(self, value: Any, dialect: Dialect) -> str | None:
        return None if value is None else str(operator.index(value))

    def process_result_value(self, value: Any, dialect: Dialect) -> int | None:
        return None if value is None else int(value)

    @property
    def python_type(self) -> type[int]:
        return int


class FlowKind(StrEnum):
    """Values of `provider_flows.kind`: the pool contract's print names. Withdrawals take two
    steps (protocol v2): a request moves no token, the completion pays."""

    DEPOSIT = "deposit"
    REQUEST = "withdraw-requested"
    WITHDRAW = "withdraw"


class Base(DeclarativeBase):
    """Declarative base; `Mapped[str]` maps to an unbounded VARCHAR (valid on SQLite and PG)."""

    type_annotation_map = {str: String()}  # noqa: RUF012 - SQLAlchemy reads it as a class attr


metadata = Base.metadata


class PriceRaw(Base):
    """One price observation from one source, before aggregation (kept for audit)."""

    __tablename__ = "prices_raw"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str]
    asset: Mapped[str]
    price: Mapped[int] = mapped_column(ExactInt)
    ts: Mapped[float] = mapped_column(Float)


class Price(Base):
    """An aggregated price (median of `sources` observations) as the oracle computed it."""

    __tablename__ = "prices"
    __table_args__ = (Index("ix_prices_asset_ts", "asset", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset: Mapped[str]
    price: Mapped[int] = mapped_column(ExactInt)
    ts: Mapped[float] = mapped_column(Float)
    sources: Mapped[int] = mapped_column(Integer)


class Volatility(Base):
    """A realised-volatility estimate for an asset at a time."""

    __tablename__ = "volatility"
    __table_args__ = (Index("ix_volatility_asset_ts", "asset", "ts"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    asset: Mapped[str]
    ts: Mapped[float] = mapped_column(Float)
    vol: Mapped[float] = mapped_column(Float)


class Quote(Base):
    """A signed quote handed to a buyer; kept so a purchase can be matched to its terms."""

    __tablename__ = "quotes"

    quote_id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    buyer: Mapped[str]
    amount: Mapped[int] = mapped_column(ExactInt)
    strike: Mapped[int] = mapped_column(ExactInt)
    expiration: Mapped[int] = mapped_column(BigInteger)
    premium: Mapped[int] = mapped_column(ExactInt)
    collateral: Mapped[int] = mapped_column(ExactInt)
    token: Mapped[int] = mapped_column(Integer)
    tier: Mapped[int] = mapped_column(Integer)
    quote_expiry: Mapped[int] = mapped_column(BigInteger)
    ts: Mapped[float] = mapped_column(Float)


class Policy(Base):
    """A purchased policy as followed from chain events; `payout`, `paid`, `price` are 0 and
    `settled_block` is NULL until the policy is finished (settled or expired)."""

    __tablename__ = "policies"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    owner: Mapped[str]
    amount: Mapped[int] = mapped_column(ExactInt)
    strike: Mapped[int] = mapped_column(ExactInt)
    expiration: Mapped[int] = mapped_column(BigInteger, index=True)
    premium: Mapped[int] = mapped_column(ExactInt)
    collateral: Mapped[int] = mapped_column(ExactInt)
    token: Mapped[int] = mapped_column(Integer)
    tier: Mapped[int] = mapped_column(Integer)
    quote_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[int] = mapped_column(Integer, index=True)
    payout: Mapped[int] = mapped_column(ExactInt)
    paid: Mapped[int] = mapped_column(ExactInt)
    price: Mapped[int] = mapped_column(ExactInt)
    purchased_block: Mapped[int] = mapped_column(BigInteger)
    settled_block: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class ProviderShare(Base):
    """A liquidity provider's current share balance in one tranche (token, tier)."""

    __tablename__ = "provider_shares"

    token: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tier: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    provider: Mapped[str] = mapped_column(String, primary_key=True)
    shares: Mapped[int] = mapped_column(ExactInt)


class ProviderFlow(Base):
    """A provider's deposit, withdrawal request or withdrawal, as the pool contract printed it.

    `(txid, event_index)` names the print on chain, so a restarted engine that is handed the
    same blocks again records nothing twice; `id` keeps the order the engine saw them in, which
    is the chain's. `kind` is the print's `event`: `deposit`, `withdraw-requested` (moves no
    token: `amount` 0, `shares` asked for, `ready_at` set) or `withdraw` (`amount` paid).
    """

    __tablename__ = "provider_flows"
    __table_args__ = (UniqueConstraint("txid", "event_index", name="uq_provider_flows_event"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    txid: Mapped[str]
    event_index: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str]
    provider: Mapped[str] = mapped_column(String, index=True)
    token: Mapped[int] = mapped_column(Integer)
    tier: Mapped[int] = mapped_column(Integer)
    amount: Mapped[int] = mapped_column(ExactInt)
    shares: Mapped[int] = mapped_column(ExactInt)
    epoch: Mapped[int] = mapped_column(BigInteger)
    ready_at: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    block: Mapped[int] = mapped_column(BigInteger)
    burn_height: Mapped[int] = mapped_column(BigInteger)


class PendingWithdrawal(Base):
    """A provider's pending two-step withdrawal in one tranche, as the pool contract holds it
    (`get-pending`); `shares` 0 once it is completed. `value` is what the shares were worth
    when requested, the most `complete-withdraw` pays (protocol v2)."""

    __tablename__ = "pending_withdrawals"

    token: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    tier: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    provider: Mapped[str] = mapped_column(String, primary_key=True)
    shares: Mapped[int] = mapped_column(ExactInt)
    value: Mapped[int] = mapped_column(ExactInt)
    ready_at: Mapped[int] = mapped_column(BigInteger)
    epoch: Mapped[int] = mapped_column(BigInteger)


class TrancheSnapshot(Base):
    """A tranche's totals as mirrored at a block; the latest per tranche is its current state."""

    __tablename__ = "tranche_snapshots"
    __table_args__ = (Index("ix_tranche_snapshots_tranche_block", "token", "tier", "block"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    block: Mapped[int] = mapped_column(BigInteger)
    token: Mapped[int] = mapped_column(Integer)
    tier: Mapped[int] = mapped_column(Integer)
    total_assets: Mapped[int] = mapped_column(ExactInt)
    total_shares: Mapped[int] = mapped_column(ExactInt)
    locked: Mapped[int] = mapped_column(ExactInt)


class Outbox(Base):
    """A signed transaction the signer has broadcast or will broadcast; a restart replays the
    pending rows instead of signing again, so nothing is lost or sent twice."""

    __tablename__ = "outbox"

    txid: Mapped[str] = mapped_column(String, primary_key=True)
    sender: Mapped[str]
    nonce: Mapped[int] = mapped_column(BigInteger)
    raw_hex: Mapped[str] = mapped_column(Text)
    tag: Mapped[str]
    status: Mapped[str] = mapped_column(String, index=True)
    fee: Mapped[int] = mapped_column(ExactInt)
    attempts: Mapped[int] = mapped_column(Integer)
    created: Mapped[float] = mapped_column(Float)
    updated: Mapped[float] = mapped_column(Float)


class Cursor(Base):
    """A named position, e.g. the index of the last chain event an actor has handled."""

    __tablename__ = "cursors"

    name: Mapped[str] = mapped_column(String, primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)
