"""What the API reads from the store: async, on read-only connections, never through an actor.

The actors write the store (each through its own repositories and one write buffer); the API
only reads it, through SQLAlchemy's asyncio engine (aiosqlite, or psycopg's async driver), so a
slow query waits on the event loop's I/O and never holds an actor's thread or the write lock.
Read-only is enforced by the database, not by good manners: SQLite opens the file with
`mode=ro`, PostgreSQL sessions start with `default_transaction_read_only=on`.

Money columns are `ExactInt` (decimal text), so sums and comparisons are done here in Python.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from store.db import database_url
from store.repositories import (
    FLOWS,
    OUTBOX,
    PENDING,
    POLICIES,
    PRICES,
    SHARES,
    TRANCHES,
    Flow,
    Pending,
    flow_of,
    pending_of,
)
from store.schema import FlowKind, OutboxStatus

HISTORY_LIMIT = 2000  # the most price points one response carries


def read_only_engine(store_url: str) -> AsyncEngine:
    """An async engine that cannot write, on the database `store_url` names."""
    url = database_url(store_url)
    if url.get_backend_name() == "sqlite":
        path = Path(url.database or "").expanduser().resolve()
        return create_async_engine(
            f"sqlite+aiosqlite:///file:{path}?mode=ro&uri=true", pool_pre_ping=False
        )
    url = url.set(drivername="postgresql+psycopg_async")
    return create_async_engine(
        url,
        connect_args={"options": "-c default_transaction_read_only=on"},
        pool_size=5,
        max_overflow=5,
    )


@dataclass(frozen=True)
class TrancheRow:
    token: int
    tier: int
    block: int
    assets: int
    shares: int
    locked: int


class Reads:
    def __init__(self, engine: AsyncEngine):
        self.engine = engine

    async def _all(self, stmt) -> list[Any]:
        async with self.engine.connect() as conn:
            return list((await conn.execute(stmt)).all())

    async def tranches(self) -> list[TrancheRow]:
        t = TRANCHES.c
        rank = func.row_number().over(
            partition_by=(t.token, t.tier), order_by=(t.block.desc(), t.id.desc())
        )
        ranked = select(
            t.token, t.tier, t.block, t.total_assets, t.total_shares, t.locked, rank.label("r")
        ).subquery()
        r = ranked.c
        stmt = select(ranked).where(r.r == 1).order_by(r.token, r.tier)
        return [
            TrancheRow(
                x.token, x.tier, x.block, int(x.total_assets), int(x.total_shares), int(x.locked)
            )
            for x in await self._all(stmt)
        ]

    async def tranche_history(
        self, token: int, tier: int, limit: int = HISTORY_LIMIT
    ) -> list[TrancheRow]:
        """The tranche's snapshots, oldest first: the last `limit` of them."""
        t = TRANCHES.c
        stmt = (
            select(t.block, t.total_assets, t.total_shares, t.locked)
            .where(t.token == token, t.tier == tier)
            .order_by(t.block.desc(), t.id.desc())
            .limit(limit)
        )
        rows = await self._all(stmt)
        return [
            TrancheRow(
                token, tier, r.block, int(r.total_assets), int(r.total_shares), int(r.locked)
            )
            for r in reversed(rows)
        ]

    async def premiums_since(self, burn_height: int) -> dict[tuple[int, int], int]:
        """Premiums of the policies bought at or after `burn_height`, per tranche."""
        p = POLICIES.c
        stmt = select(p.token, p.tier, p.premium).where(p.purchased_block >= burn_height)
        out: dict[tuple[int, int], int] = {}
        for row in await self._all(stmt):
            key = (row.token, row.tier)
            out[key] = out.get(key, 0) + int(row.premium)
        return out

    async def policies(
        self, owner: str | None, status: int | None, limit: int, after_id: int | None = None
    ) -> list[dict[str, Any]]:
        p = POLICIES.c
        stmt = select(POLICIES).order_by(p.id).limit(limit)
        if owner is not None:
            stmt = stmt.where(p.owner == owner)
        if status is not None:
            stmt = stmt.where(p.status == status)
        if after_id is not None:
            stmt = stmt.where(p.id > after_id)
        return [dict(row._mapping) for row in await self._all(stmt)]

    async def policy(self, policy_id: int) -> dict[str, Any] | None:
        rows = await self._all(select(POLICIES).where(POLICIES.c.id == policy_id))
        return dict(rows[0]._mapping) if rows else None

    async def shares(self, provider: str) -> dict[tuple[int, int], int]:
        s = SHARES.c
        stmt = select(s.token, s.tier, s.shares).where(s.provider == provider)
        return {(r.token, r.tier): int(r.shares) for r in await self._all(stmt)}

    async def flows(self, providers: list[str]) -> list[Flow]:
        """These providers' deposits and withdrawals, oldest first."""
        f = FLOWS.c
        stmt = select(FLOWS).where(f.provider.in_(providers)).order_by(f.id)
        return [flow_of(r._mapping) for r in await self._all(stmt)]

    async def epochs(self) -> dict[tuple[int, int], int]:
        """Each tranche's share epoch: only a deposit opens a new one, so it is the latest
        deposit's (tranches with no deposit recorded are absent: epoch 0)."""
        f = FLOWS.c
        stmt = (
            select(f.token, f.tier, func.max(f.epoch).label("epoch"))
            .where(f.kind == FlowKind.DEPOSIT.value)
            .group_by(f.token, f.tier)
        )
        return {(r.token, r.tier): r.epoch for r in await self._all(stmt)}

    async def pending(self, provider: str | None = None) -> list[Pending]:
        """Pending withdrawals (shares > 0), one provider's or everyone's, by tranche and
        provider."""
        w = PENDING.c
        stmt = select(PENDING).order_by(w.token, w.tier, w.provider)
        if provider is not None:
            stmt = stmt.where(w.provider == provider)
        return [p for p in (pending_of(r._mapping) for r in await self._all(stmt)) if p.shares]

    async def price_history(
        self, asset: str, since: float, until: float
    ) -> list[tuple[float, int, int]]:
        p = PRICES.c
        stmt = (
            select(p.ts, p.price, p.sources)
            .where(p.asset == asset, p.ts >= since, p.ts <= until)
            .order_by(p.ts.desc(), p.id.desc())
            .limit(HISTORY_LIMIT)
        )
        rows = await self._all(stmt)
        return [(r.ts, int(r.price), r.sources) for r in reversed(rows)]

    async def latest_price(self, asset: str) -> tuple[float, int, int] | None:
        p = PRICES.c
        stmt = (
            select(p.ts, p.price, p.sources)
            .where(p.asset == asset)
            .order_by(p.ts.desc(), p.id.desc())
            .limit(1)
        )
        rows = await self._all(stmt)
        return (rows[0].ts, int(rows[0].price), rows[0].sources) if rows else None

    async def pending_txids(self) -> list[str]:
        """The outbox's pending transactions (how long each has been pending is tracked by
        whoever asks, live/service.py: `updated` moves with each rebroadcast)."""
        o = OUTBOX.c
        stmt = select(o.txid).where(o.status == OutboxStatus.PENDING.value)
        return [r.txid for r in await self._all(stmt)]

    async def close(self) -> None:
        await self.engine.dispose()
