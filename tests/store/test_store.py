"""Store tests: every repository method on in-memory SQLite, a SQLite file and PostgreSQL,
buffering and ordering, exact big integers, the outbox lifecycle, durability across instances,
and the async path."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from dataclasses import astuple
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError, StatementError

from store import Store, open_store
from store.repositories import POLICIES, PRICES_RAW, SHARES, Flow, Pending, _upsert
from store.schema import FlowKind, OutboxStatus, Policy, PolicyStatus, metadata
from tests.conftest import examples

BIG = 2**100
HUGE = 2**128 - 1  # the largest Clarity uint
ACTIVE, SETTLED, EXPIRED = PolicyStatus


def backend_url(kind: str, request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database of one kind: in-memory SQLite, a SQLite file, or PostgreSQL."""
    if kind == "memory":
        return "sqlite://"
    if kind == "file":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture(params=["memory", "file", "postgres"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Store]:
    s = open_store(backend_url(request.param, request, tmp_path))
    yield s
    s.close()


def buy(s: Store, pid: int, expiration: int = 100, amount: int = 10**8, **kw: Any) -> None:
    args: dict[str, Any] = {
        "id": pid,
        "owner": f"SP{pid}",
        "amount": amount,
        "strike": 60_000 * 10**8,
        "expiration": expiration,
        "premium": 10**6,
        "collateral": 10**8,
        "token": 0,
        "tier": 1,
        "quote_id": 1000 + pid,
        "block": 7,
    }
    args.update(kw)
    s.policies.purchased(**args)


def count_statements(s: Store) -> list[str]:
    """Record the SQL statements the engine runs from now on (one entry per executemany)."""
    seen: list[str] = []

    @event.listens_for(s.engine, "before_cursor_execute")
    def _record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement.split()[0].upper())

    return seen


# -- prices and volatility ----------------------------------------------------------------------


def test_prices(store: Store) -> None:
    assert store.prices.latest("BTC") is None
    assert store.prices.history("BTC", 0.0) == []
    store.prices.add_raw("binance", "BTC", 60_000 * 10**8, 1.0)
    store.prices.add_raw("kraken", "BTC", 60_010 * 10**8, 1.5)
    store.prices.add_aggregated("BTC", 100, 10.0, 3)
    store.prices.add_aggregated("ETH", 5, 15.0, 3)
    store.prices.add_aggregated("BTC", 200, 20.0, 4)
    store.prices.add_aggregated("BTC", 300, 30.0, 5)
    assert store.prices.latest("BTC") == (300, 30.0)
    assert store.prices.latest("ETH") == (5, 15.0)
    assert store.prices.history("BTC", 20.0) == [(20.0, 200), (30.0, 300)]  # since is inclusive
    assert store.prices.history("BTC", 0.0) == [(10.0, 100), (20.0, 200), (30.0, 300)]
    with store.engine.connect() as conn:
        raw = conn.execute(select(PRICES_RAW).order_by(PRICES_RAW.c.id)).all()
    assert [(r.source, r.asset, r.price, r.ts) for r in raw] == [
        ("binance", "BTC", 60_000 * 10**8, 1.0),
        ("kraken", "BTC", 60_010 * 10**8, 1.5),
    ]


def test_price_ties_on_ts_go_to_the_later_insert(store: Store) -> None:
    store.prices.add_aggregated("BTC", 1, 5.0, 3)
    store.shares.set(0, 0, "alice", 1)  # another table's write in between
    store.prices.add_aggregated("BTC", 2, 5.0, 3)
    assert store.prices.latest("BTC") == (2, 5.0)
    assert store.prices.history("BTC", 5.0) == [(5.0, 1), (5.0, 2)]


# -- quotes and policies ------------------------------------------------------------------------


def test_quotes(store: Store) -> None:
    assert store.quotes.get(1) is None
    store.quotes.add(1, "SPBUYER", BIG, 60_000, 500, 10**6, HUGE, 0, 2, 480, 12.5)
    assert store.quotes.get(1) == {
        "quote_id": 1,
        "buyer": "SPBUYER",
        "amount": BIG,
        "strike": 60_000,
        "expiration": 500,
        "premium": 10**6,
        "collateral": HUGE,
        "token": 0,
        "tier": 2,
        "quote_expiry": 480,
        "ts": 12.5,
    }


def test_policy_purchase_and_finish(store: Store) -> None:
    assert store.policies.get(1) is None
    buy(store, 1, expiration=150, block=9)
    row = store.policies.get(1)
    assert row is not None
    assert row["status"] == ACTIVE
    assert (row["payout"], row["paid"], row["price"], row["settled_block"]) == (0, 0, 0, None)
    assert (row["owner"], row["expiration"], row["quote_id"], row["purchased_block"]) == (
        "SP1",
        150,
        1001,
        9,
    )
    store.policies.finished(1, PolicyStatus.SETTLED, 500, 400, 55_000 * 10**8, 151)
    row = store.policies.get(1)
    assert row is not None
    assert (row["status"], row["payout"], row["paid"], row["price"], row["settled_block"]) == (
        SETTLED,
        500,
        400,
        55_000 * 10**8,
        151,
    )


def test_expired_active_filters_and_orders(store: Store) -> None:
    for pid, expiration in [(5, 100), (2, 90), (9, 101), (1, 100), (7, 50), (3, 200)]:
        buy(store, pid, expiration=expiration)
    store.policies.finished(7, EXPIRED, 0, 0, 1, 60)  # expired already: not active
    assert store.policies.expired_active(49) == []
    assert store.policies.expired_active(100) == [1, 2, 5]
    assert store.policies.expired_active(101) == [1, 2, 5, 9]
    store.policies.finished(2, SETTLED, 1, 1, 1, 101)
    assert store.policies.expired_active(10**6) == [1, 3, 5, 9]


def test_active_and_count_by_status(store: Store) -> None:
    assert store.policies.active() == []
    assert store.policies.count_by_status() == {ACTIVE: 0, SETTLED: 0, EXPIRED: 0}
    for pid in (3, 1, 2, 4):
        buy(store, pid)
    store.policies.finished(2, SETTLED, 10, 10, 1, 101)
    store.policies.finished(4, EXPIRED, 0, 0, 1, 101)
    assert [p["id"] for p in store.policies.active()] == [1, 3]
    assert all(p["status"] == ACTIVE for p in store.policies.active())
    assert store.policies.count_by_status() == {ACTIVE: 2, SETTLED: 1, EXPIRED: 1}


# -- buffering and ordering ---------------------------------------------------------------------


def test_writes_are_buffered_until_flush_or_read(store: Store) -> None:
    buy(store, 1)
    store.shares.set(0, 0, "alice", 4)
    assert store.pending == 2
    with store.engine.connect() as conn:  # straight to the database: nothing there yet
        assert conn.execute(select(func.count()).select_from(POLICIES)).scalar_one() == 0
    assert store.policies.get(1) is not None  # a read flushes first
    assert store.pending == 0
    store.shares.set(0, 0, "alice", 5)
    store.flush()
    with store.engine.connect() as conn:
        assert conn.execute(select(SHARES.c.shares)).scalar_one() == 5


def test_finished_before_flush_follows_its_purchase(store: Store) -> None:
    store.policies.finished(99, SETTLED, 1, 1, 1, 5)  # unknown policy: updates nothing
    buy(store, 1)
    store.policies.finished(1, SETTLED, 7, 7, 3, 10)
    buy(store, 2)
    store.policies.finished(1, EXPIRED, 0, 0, 4, 11)  # a second update of the same row wins
    assert store.pending == 5
    store.flush()
    one, two = store.policies.get(1), store.policies.get(2)
    assert one is not None and two is not None
    assert (one["status"], one["payout"], one["price"], one["settled_block"]) == (EXPIRED, 0, 4, 11)
    assert two["status"] == ACTIVE
    assert store.policies.get(99) is None


def test_interleaved_writes_coalesce_into_few_statements(store: Store) -> None:
    """The simulation's shape (buy one, finish another, across repositories) must run as a
    handful of executemany statements per flush, not one statement per write."""
    for pid in range(50):
        buy(store, pid)
    store.flush()
    seen = count_statements(store)
    for pid in range(50, 100):
        buy(store, pid)
        store.policies.finished(pid - 50, SETTLED, 1, 1, 1, 8)
        store.policies.finished(pid, EXPIRED, 0, 0, 1, 8)  # same row as the insert just made
        store.prices.add_aggregated("BTC", pid, float(pid), 3)
    store.flush()
    assert len([s for s in seen if s in ("INSERT", "UPDATE")]) <= 4
    assert store.policies.count_by_status() == {ACTIVE: 0, SETTLED: 50, EXPIRED: 50}
    assert [price for _, price in store.prices.history("BTC", 0.0)] == list(range(50, 100))


def test_failed_flush_writes_nothing_and_keeps_the_buffer(store: Store) -> None:
    buy(store, 1)
    store.outbox.add("t1", "SPA", 3, "r1", "tag", 10, 1.0)
    store.flush()
    store.shares.set(0, 0, "bob", 1)
    buy(store, 2)
    store.outbox.add("t1", "SPA", 3, "r1", "tag", 10, 1.0)  # duplicate key: all rolls back
    with pytest.raises(IntegrityError):
        store.flush()
    with store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(POLICIES)).scalar_one() == 1
        assert conn.execute(select(func.count()).select_from(SHARES)).scalar_one() == 0
    assert store.pending == 3  # kept for a retry
    assert store.discard() == 3
    assert store.pending == 0
    assert [p["id"] for p in store.policies.active()] == [1]


OPS = st.lists(
    st.one_of(
        st.tuples(st.just("buy"), st.integers(0, 7)),
        st.tuples(st.just("finish"), st.integers(0, 7), st.sampled_from([SETTLED, EXPIRED])),
        st.tuples(st.just("share"), st.integers(0, 2), st.integers(0, 10**30)),
        st.tuples(st.just("snapshot"), st.sampled_from((1, 2)), st.integers(0, 100)),
        st.tuples(st.just("bump"), st.integers(0, 3)),
        st.tuples(
            st.just("flush"),
        ),
    ),
    max_size=60,
)


@pytest.fixture(params=["memory", "postgres"])
def new_store(request: pytest.FixtureRequest) -> Callable[[], Store]:
    """A maker of empty stores, for property tests that need one per example: a new in-memory
    database, or the test's PostgreSQL database emptied."""
    if request.param == "memory":
        return open_store
    engine = open_store(str(request.getfixturevalue("postgres_url"))).engine  # migrated once

    def emptied() -> Store:
        with engine.begin() as conn:
            for table in reversed(metadata.sorted_tables):
                conn.execute(table.delete())
        return Store(engine)  # closing it disposes the pool, which the next use refills

    return emptied


# the fixture is a maker that gives every example an empty store, as the check asks
@settings(
    deadline=None,
    max_examples=examples(150),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(ops=OPS)
def test_flush_equals_op_by_op_execution(
    new_store: Callable[[], Store], ops: list[tuple[Any, ...]]
) -> None:
    """Whatever the regrouping into batches, the result equals a model that applies each write
    at once, in call order."""
    s = new_store()
    policies: dict[int, tuple[int, int]] = {}  # id -> (status, settled_block)
    shares: dict[tuple[int, int, str], int] = {}
    latest: dict[tuple[int, int], tuple[int, int, tuple[int, int, int]]] = {}  # block, n, row
    attempts: dict[str, int] = {}
    for n, op in enumerate(ops):
        match op:
            case ("buy", pid) if pid not in policies:
                buy(s, pid)
                policies[pid] = (ACTIVE, -1)
            case ("finish", pid, status):
                s.policies.finished(pid, status, 0, 0, 1, n)
                if pid in policies:
                    policies[pid] = (status, n)
            case ("share", provider, value):
                s.shares.set(0, 1, f"p{provider}", value)
                shares[(0, 1, f"p{provider}")] = value
            case ("snapshot", tier, block):
                s.tranches.snapshot(block, 0, tier, block + n, 100, n)
                if (0, tier) not in latest or latest[(0, tier)][:2] <= (block, n):
                    latest[(0, tier)] = (block, n, (block + n, 100, n))
            case ("bump", tx):
                txid = f"tx{tx}"
                if txid in attempts:
                    s.outbox.bump(txid, float(n))
                    attempts[txid] += 1
                else:
                    s.outbox.add(txid, "SPX", tx, "00", "t", 1, float(n))
                    attempts[txid] = 1
            case ("flush",):
                s.flush()
    for pid, (status, block) in policies.items():
        row = s.policies.get(pid)
        assert row is not None
        assert (row["status"], row["settled_block"] or -1) == (status, block)
    assert s.shares.all() == shares
    assert s.tranches.latest() == {key: row for key, (_, _, row) in latest.items()}
    assert {tx["txid"]: tx["attempts"] for tx in s.outbox.pending()} == attempts
    s.close()


# -- exact big integers -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [BIG, BIG + 1, HUGE, 0, -(BIG + 1)])
def test_big_ints_round_trip_exactly(store: Store, value: int) -> None:
    """2**100 + 1 is the value a NUMERIC/REAL column on SQLite would silently round."""
    buy(store, 1, amount=value, strike=value, premium=value, collateral=value)
    store.policies.finished(1, SETTLED, value, value, value, 9)
    store.quotes.add(1, "b", value, value, 1, value, value, 0, 1, 1, 0.0)
    store.prices.add_aggregated("BTC", value, 1.0, 3)
    store.shares.set(0, 1, "p", value)
    store.tranches.snapshot(1, 0, 1, value, value, value)
    store.outbox.add("tx", "s", 0, "00", "t", value, 0.0)
    policy, quote = store.policies.get(1), store.quotes.get(1)
    assert policy is not None and quote is not None
    for column in ("amount", "strike", "premium", "collateral", "payout", "paid", "price"):
        assert policy[column] == value and type(policy[column]) is int
    for column in ("amount", "strike", "premium", "collateral"):
        assert quote[column] == value
    assert store.prices.latest("BTC") == (value, 1.0)
    assert store.shares.all() == {(0, 1, "p"): value}
    assert store.tranches.latest() == {(0, 1): (value, value, value)}
    tx = store.outbox.get("tx")
    assert tx is not None and tx["fee"] == value


def test_a_float_is_refused_rather_than_stored_rounded(store: Store) -> None:
    store.shares.set(0, 1, "p", 1.5)  # type: ignore[arg-type]
    with pytest.raises(StatementError) as failure:
        store.flush()
    assert isinstance(failure.value.orig, TypeError)
    store.discard()


# -- liquidity ----------------------------------------------------------------------------------


def test_shares_upsert_keeps_the_latest_value(store: Store) -> None:
    assert store.shares.all() == {}
    store.shares.set(0, 1, "alice", 10)
    store.shares.set(0, 1, "alice", 20)  # same flush
    store.shares.set(0, 2, "alice", 5)
    store.shares.set(0, 1, "bob", 7)
    assert store.shares.all() == {(0, 1, "alice"): 20, (0, 2, "alice"): 5, (0, 1, "bob"): 7}
    store.shares.set(0, 1, "alice", 0)  # a later flush
    assert store.shares.all()[(0, 1, "alice")] == 0


def test_upsert_without_on_conflict_falls_back_to_delete_insert(store: Store) -> None:
    run = _upsert(SHARES)
    a, b = {"token": 0, "tier": 1, "provider": "a"}, {"token": 0, "tier": 1, "provider": "b"}
    with store.engine.begin() as conn:
        other = SimpleNamespace(dialect=SimpleNamespace(name="generic"), execute=conn.execute)
        run(other, [{**a, "shares": 1}])  # type: ignore[arg-type]
        run(other, [{**a, "shares": 2}, {**b, "shares": 3}])  # type: ignore[arg-type]
    assert store.shares.all() == {(0, 1, "a"): 2, (0, 1, "b"): 3}


def test_tranche_latest_per_tranche(store: Store) -> None:
    assert store.tranches.latest() == {}
    store.tranches.snapshot(10, 0, 1, 100, 100, 0)
    store.tranches.snapshot(12, 0, 1, 120, 100, 30)
    store.tranches.snapshot(11, 0, 1, 110, 100, 20)  # out of order: block 12 stays latest
    store.tranches.snapshot(11, 0, 2, 50, 40, 10)
    store.tranches.snapshot(11, 0, 2, 55, 40, 10)  # same block: the later snapshot wins
    assert store.tranches.latest() == {(0, 1): (120, 100, 30), (0, 2): (55, 40, 10)}


# -- outbox ------------------------------------------------------------------------------------


def test_outbox_lifecycle(store: Store) -> None:
    assert store.outbox.get("a1") is None
    assert store.outbox.pending() == []
    store.outbox.add("b0", "SPB", 0, "b0", "settle", 100, 1.0)
    store.outbox.add("a1", "SPA", 1, "a1", "set-price", 100, 1.0)
    store.outbox.add("a0", "SPA", 0, "a0", "set-price", 100, 1.0)
    assert [(t["sender"], t["nonce"]) for t in store.outbox.pending()] == [
        ("SPA", 0),
        ("SPA", 1),
        ("SPB", 0),
    ]
    tx = store.outbox.get("a0")
    assert tx is not None
    assert (tx["status"], tx["attempts"], tx["created"], tx["updated"]) == ("pending", 1, 1.0, 1.0)

    store.outbox.bump("a0", 2.0)
    store.outbox.bump("a0", 3.0)
    # rebroadcast a0 with a higher fee before anything was flushed
    store.outbox.replace("a0", "a0x", "a0x-raw", 250, 4.0)
    old, new = store.outbox.get("a0"), store.outbox.get("a0x")
    assert old is not None and new is not None
    assert (old["status"], old["attempts"], old["updated"], old["fee"]) == ("replaced", 3, 4.0, 100)
    assert new == {
        "txid": "a0x",
        "sender": "SPA",
        "nonce": 0,
        "raw_hex": "a0x-raw",
        "tag": "set-price",
        "status": "pending",
        "fee": 250,
        "attempts": 4,
        "created": 4.0,
        "updated": 4.0,
    }
    assert [t["txid"] for t in store.outbox.pending()] == ["a0x", "a1", "b0"]

    store.outbox.set_status("a0x", OutboxStatus.SUCCESS, 5.0)
    store.outbox.set_status("b0", OutboxStatus.DROPPED, 5.0)
    assert [t["txid"] for t in store.outbox.pending()] == ["a1"]
    confirmed = store.outbox.get("a0x")
    assert confirmed is not None and (confirmed["status"], confirmed["updated"]) == (
        "success",
        5.0,
    )
    with pytest.raises(ValueError):  # a status no one reads back is refused at the call
        store.outbox.set_status("a1", "confirmed", 5.0)  # type: ignore[arg-type]


def test_outbox_add_and_replace_in_one_flush(store: Store) -> None:
    store.outbox.add("t1", "SPA", 3, "r1", "tag", 10, 1.0)
    store.outbox.replace("t1", "t2", "r2", 20, 2.0)
    store.outbox.replace("t2", "t3", "r3", 30, 3.0)
    assert [(t["txid"], t["attempts"], t["fee"]) for t in store.outbox.pending()] == [("t3", 3, 30)]
    assert [store.outbox.get(t)["status"] for t in ("t1", "t2")] == ["replaced"] * 2  # type: ignore[index]


# -- durability and the async path --------------------------------------------------------------


@pytest.mark.parametrize("kind", ["file", "postgres"])
def test_reopened_store_sees_the_data(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = backend_url(kind, request, tmp_path)
    with open_store(url) as first:
        buy(first, 1, amount=BIG + 1, expiration=10)
        first.outbox.add("tx", "SPA", 0, "00", "t", 1, 0.0)
        first.tranches.snapshot(7, 0, 1, 42, 40, 2)
        first.shares.set(0, 1, "alice", 3)
    # closing flushed the buffer; a new instance (a restart) sees everything
    second = open_store(url)
    try:
        policy = second.policies.get(1)
        assert policy is not None and policy["amount"] == BIG + 1
        assert second.policies.expired_active(10) == [1]
        assert [t["txid"] for t in second.outbox.pending()] == ["tx"]
        assert second.tranches.latest() == {(0, 1): (42, 40, 2)}
        assert second.shares.all() == {(0, 1, "alice"): 3}
    finally:
        second.close()


def test_memory_stores_are_independent() -> None:
    a, b = open_store(), open_store()
    buy(a, 1)
    assert a.policies.get(1) is not None
    assert b.policies.get(1) is None
    a.close()
    b.close()


@pytest.mark.parametrize("kind", ["file", "postgres"])
def test_async_engine_reads_what_the_sync_store_wrote(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    from sqlalchemy.ext.asyncio import create_async_engine

    url = backend_url(kind, request, tmp_path)
    with open_store(url) as s:
        buy(s, 1, amount=BIG + 1)
        buy(s, 2)
        s.policies.finished(2, SETTLED, 5, 5, 9, 11)

    async def read() -> list[tuple[int, int, int]]:
        # the async drivers: aiosqlite, and psycopg 3 (the same package serves both modes)
        engine = create_async_engine(url.replace("sqlite://", "sqlite+aiosqlite://"))
        try:
            async with engine.connect() as conn:
                t = Policy.__table__
                result = await conn.execute(
                    select(t.c.id, t.c.amount, t.c.status).order_by(t.c.id)  # type: ignore[attr-defined]
                )
                return [tuple(row) for row in result.all()]
        finally:
            await engine.dispose()

    assert asyncio.run(read()) == [(1, BIG + 1, ACTIVE), (2, 10**8, SETTLED)]


def test_a_replayed_purchase_overwrites_instead_of_failing(store: Store) -> None:
    """A restarted live engine replays the contracts' events: purchase, then finish, again."""
    buy(store, 7)
    store.policies.finished(7, SETTLED, 5, 5, 1, 8)
    store.flush()
    buy(store, 7)
    store.policies.finished(7, SETTLED, 5, 5, 1, 8)
    store.flush()
    assert store.policies.count_by_status() == {ACTIVE: 0, SETTLED: 1, EXPIRED: 0}


# -- providers' flows and pending withdrawals ---------------------------------------------------


def flow(kind: FlowKind, txid: str, index: int = 0, who: str = "alice", **kw: Any) -> Flow:
    args: dict[str, Any] = {"token": 0, "tier": 1, "amount": 10, "shares": 9, "epoch": 0,
                            "block": 5, "burn_height": 50, "ready_at": None}  # fmt: skip
    args.update(kw)
    return Flow(kind, who, args.pop("token"), args.pop("tier"), args.pop("amount"),
                args.pop("shares"), args.pop("epoch"), txid, index, **args)  # fmt: skip


def test_flows_keep_the_chain_order_and_a_replayed_print_is_recorded_once(store: Store) -> None:
    """A restarted engine is handed blocks it already saw: (txid, event index) names a print,
    so the second sighting adds nothing, in the same flush or a later one."""
    first = [
        flow(FlowKind.DEPOSIT, "t1", amount=BIG, shares=HUGE),
        flow(FlowKind.DEPOSIT, "t2", who="bob", tier=2),
        flow(FlowKind.REQUEST, "t3", amount=0, shares=4, ready_at=144),
        flow(FlowKind.WITHDRAW, "t4", 3, amount=3, shares=4),
    ]
    for f in first:
        store.flows.add(*astuple(f))
    store.flows.add(*astuple(first[0]))  # again before the flush
    store.flush()
    for f in first:  # the restart's replay
        store.flows.add(*astuple(f))
    store.flows.add(*astuple(flow(FlowKind.DEPOSIT, "t4", 4, amount=7)))  # another print of t4: new
    assert store.flows.of("alice") == [
        first[0], first[2], first[3], flow(FlowKind.DEPOSIT, "t4", 4, amount=7)
    ]  # fmt: skip
    assert store.flows.of("bob") == [first[1]]
    assert store.flows.of("carol") == []


def test_pending_withdrawals_upsert_and_hide_completed_ones(store: Store) -> None:
    store.withdrawals.set(*astuple(Pending(0, 1, "alice", 4, BIG, 288, 0)))
    store.withdrawals.set(*astuple(Pending(1, 0, "bob", 2, 7, 144, 3)))
    store.withdrawals.set(*astuple(Pending(0, 1, "alice", 6, BIG + 5, 432, 0)))  # a second request
    assert store.withdrawals.all() == [
        Pending(0, 1, "alice", 6, BIG + 5, 432, 0),
        Pending(1, 0, "bob", 2, 7, 144, 3),
    ]
    store.withdrawals.set(*astuple(Pending(0, 1, "alice", 0, 0, 0, 0)))  # completed
    assert store.withdrawals.all() == [Pending(1, 0, "bob", 2, 7, 144, 3)]


@pytest.mark.parametrize("kind", ["file", "postgres"])
def test_flows_survive_a_restart_without_doubling(
    kind: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    url = backend_url(kind, request, tmp_path)
    made = [flow(FlowKind.DEPOSIT, "a"), flow(FlowKind.REQUEST, "b", 2, amount=0, ready_at=9)]
    with open_store(url) as first:
        for f in made:
            first.flows.add(*astuple(f))
        first.withdrawals.set(*astuple(Pending(0, 1, "alice", 9, 10, 9, 0)))
    with open_store(url) as second:  # the restart replays the same block
        for f in made:
            second.flows.add(*astuple(f))
        assert second.flows.of("alice") == made
        assert second.withdrawals.all() == [Pending(0, 1, "alice", 9, 10, 9, 0)]
