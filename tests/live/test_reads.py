"""The API's reads: async, on connections the database itself keeps read-only, on SQLite and
PostgreSQL, returning what the actors wrote."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from live.reads import Reads, read_only_engine
from store import open_store


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'live.db'}"
    return request.getfixturevalue("postgres_url")


def test_reads_see_the_writes_and_cannot_write(store_url):
    with open_store(store_url) as store:
        store.tranches.snapshot(10, 0, 1, 2**100 + 1, 2**100, 5)  # beyond 64 bits, exact
        store.tranches.snapshot(12, 0, 1, 900, 800, 7)
        store.policies.purchased(1, "ST1ABC", 10_000_000, 6_000_000_000_000, 300, 66, 4_000,
                                 0, 1, 77, 11)  # fmt: skip
        store.shares.set(0, 1, "ST1ABC", 2**90)
        store.prices.add_aggregated("BTC-USD", 6_500_000_000_000, 100.0, 7)
        store.prices.add_aggregated("BTC-USD", 6_400_000_000_000, 200.0, 5)

    async def go():
        reads = Reads(read_only_engine(store_url))
        try:
            (t,) = await reads.tranches()
            assert (t.block, t.assets, t.shares, t.locked) == (12, 900, 800, 7)
            (p,) = await reads.policies("ST1ABC", 0, 10)
            assert (p["id"], p["premium"], p["quote_id"]) == (1, 66, 77)
            assert await reads.policies("ST1XYZ", None, 10) == []
            assert await reads.shares("ST1ABC") == {(0, 1): 2**90}
            assert await reads.latest_price("BTC-USD") == (200.0, 6_400_000_000_000, 5)
            assert [h[0] for h in await reads.price_history("BTC-USD", 0, 150)] == [100.0]
            assert await reads.premiums_since(11) == {(0, 1): 66}
            assert await reads.pending_txids() == []
            with pytest.raises(DBAPIError):
                async with reads.engine.begin() as conn:
                    await conn.execute(text("DELETE FROM policies"))
        finally:
            await reads.close()

    asyncio.run(go())
    with open_store(store_url) as store:
        assert store.policies.get(1) is not None  # the refused delete deleted nothing
