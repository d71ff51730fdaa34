"""Repositories: one class per concern, all writing through one shared `WriteBuffer`.

Writes are buffered because the store sits on the hot path of a simulation: a row written
through its own statement costs tens of microseconds in SQLAlchemy, one row inside an
executemany costs a few. Every write method only appends to the buffer; `WriteBuffer.flush`
sends everything in one transaction, and every read method flushes first, so callers always
read their own writes.

Ordering. The buffer is one ordered list for all repositories, so a flush is equivalent to
running every write in the order it was made, across repositories. To keep executemany
batches large it is a list of batches, one statement each, and a new write joins the latest
batch of its statement unless a later batch touched one of the same rows (a row is named by
table and primary key). Writes to different rows of tables without foreign keys or triggers
commute, and every table's inserts keep their relative order (so autoincrement ids are
assigned as if nothing had been regrouped); hence the database after a flush is exactly what
op-by-op execution would have left, and a transaction hides the intermediate states anyway.
A `finished` made after a not yet flushed `purchased` of the same policy therefore always runs
after that insert.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import (
    Connection,
    Engine,
    Executable,
    Row,
    Table,
    bindparam,
    delete,
    func,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite

from store.schema import (
    FlowKind,
    Outbox,
    OutboxStatus,
    PendingWithdrawal,
    Policy,
    PolicyStatus,
    Price,
    PriceRaw,
    ProviderFlow,
    ProviderShare,
    Quote,
    TrancheSnapshot,
)

__all__ = [
    "Flow",
    "FlowRepo",
    "OutboxRepo",
    "Pending",
    "PendingRepo",
    "PolicyRepo",
    "PriceRepo",
    "QuoteRepo",
    "ShareRepo",
    "TrancheRepo",
    "Write",
    "WriteBuffer",
]

Params = dict[str, Any]
Runner = Callable[[Connection, list[Params]], None]


def _table(model: type) -> Table:
    return cast(Table, model.__table__)  # type: ignore[attr-defined]


PRICES_RAW = _table(PriceRaw)
PRICES = _table(Price)
QUOTES = _table(Quote)
POLICIES = _table(Policy)
SHARES = _table(ProviderShare)
FLOWS = _table(ProviderFlow)
PENDING = _table(PendingWithdrawal)
TRANCHES = _table(TrancheSnapshot)
OUTBOX = _table(Outbox)


# -- buffered writes ----------------------------------------------------------------------------


class Write:
    """One kind of buffered write: a statement run once per flush with all its rows.

    `upsert_key` names the parameters that identify a row for writes where only the last value
    per row matters (upserts); the buffer then keeps one row per key, which also keeps a
    multi-row `INSERT .. ON CONFLICT` from hitting the same row twice.
    """

    __slots__ = ("name", "run", "upsert_key")

    def __init__(self, name: str, run: Runner, upsert_key: tuple[str, ...] = ()) -> None:
        self.name = name
        self.run = run
        self.upsert_key = upsert_key

    def __repr__(self) -> str:
        return f"Write({self.name!r})"


def _executemany(stmt: Executable) -> Runner:
    def run(conn: Connection, rows: list[Params]) -> None:
        conn.execute(stmt, rows)

    return run


def _upsert(table: Table) -> Runner:
    """Insert-or-replace by primary key, with the native statement where the dialect has one
    (SQLite and PostgreSQL share the `ON CONFLICT DO UPDATE` form) and delete + insert elsewhere.
    """
    keys = [c.name for c in table.primary_key.columns]
    values = [c.name for c in table.columns if c.name not in keys]
    statements: dict[str, list[Executable]] = {}

    def build(dialect: str) -> list[Executable]:
        if dialect in ("sqlite", "postgresql"):
            ins = (sqlite.insert if dialect == "sqlite" else postgresql.insert)(table)
            excluded = {name: ins.excluded[name] for name in values}
            return [ins.on_conflict_do_update(index_elements=keys, set_=excluded)]
        match = [table.c[k] == bindparam(f"_{k}") for k in keys]
        return [delete(table).where(*match), insert(table)]

    def run(conn: Connection, rows: list[Params]) -> None:
        name = conn.dialect.name
        if name not in statements:
            statements[name] = build(name)
        stmts = statements[name]
        if len(stmts) == 1:
            conn.execute(stmts[0], rows)
        else:
            conn.execute(stmts[0], [{f"_{k}": row[k] for k in keys} for row in rows])
            conn.execute(stmts[1], rows)

    return run


def _insert_new(table: Table, keys: tuple[str, ...]) -> Runner:
    """Insert rows whose `keys` (a unique constraint) are not there yet, and skip the others:
    for records that never change once made, so writing one twice is writing it once."""
    statements: dict[str, Executable] = {}

    def run(conn: Connection, rows: list[Params]) -> None:
        name = conn.dialect.name
        if name not in statements:
            if name not in ("sqlite", "postgresql"):
                raise NotImplementedError(f"{table.name}: insert-if-new on {name}")
            ins = (sqlite.insert if name == "sqlite" else postgresql.insert)(table)
            statements[name] = ins.on_conflict_do_nothing(index_elements=list(keys))
        conn.execute(statements[name], rows)

    return run


class _Batch:
    __slots__ = ("index", "rows", "write")

    def __init__(self, write: Write) -> None:
        self.write = write
        self.rows: list[Params] = []
        self.index: dict[tuple[Any, ...], int] = {}

    def add(self, row: Params) -> None:
        if not self.write.upsert_key:
            self.rows.append(row)
            return
        key = tuple(row[k] for k in self.write.upsert_key)
        at = self.index.get(key)
        if at is None:
            self.index[key] = len(self.rows)
            self.rows.append(row)
        else:
            self.rows[at] = row


class WriteBuffer:
    """The ordered write buffer shared by all repositories of one store, and their read path.

    A re-entrant lock makes one store usable from several threads (live actors run on
    threads); a flush and the read that follows it happen under the lock, so a read sees
    every write made before it.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._lock = threading.RLock()
        self._reset()

    def _reset(self) -> None:
        self._batches: list[_Batch] = []
        self._latest: dict[Write, int] = {}  # write kind -> index of its latest batch
        self._touched: dict[Hashable, int] = {}  # (table, pk) -> index of the last batch
        self._count = 0

    def __len__(self) -> int:
        """The number of buffered write calls (before any upsert de-duplication)."""
        return self._count

    def add(self, write: Write, row: Params, rows_touched: Sequence[Hashable] = ()) -> None:
        """Buffer one write; `rows_touched` names the rows it reads or writes as (table, pk)."""
        with self._lock:
            touched = self._touched
            at = self._latest.get(write, -1)
            for r in rows_touched:
                if touched.get(r, -1) > at:
                    at = -1
                    break
            if at < 0:
                at = len(self._batches)
                self._batches.append(_Batch(write))
                self._latest[write] = at
            self._batches[at].add(row)
            for r in rows_touched:
                touched[r] = at
            self._count += 1

    def flush(self) -> None:
        """Write every buffered op in one transaction. On failure the transaction rolls back
        and the buffer is kept intact, so a later flush retries all of it exactly once."""
        with self._lock:
            if not self._batches:
                return
            with self.engine.begin() as conn:
                for batch in self._batches:
                    batch.write.run(conn, batch.rows)
            self._reset()

    def discard(self) -> int:
        """Drop every buffered write unwritten and return how many there were: the way out
        after a flush that fails for good (a retried flush would fail the same way)."""
        with self._lock:
            dropped = self._count
            self._reset()
            return dropped

    def all(self, stmt: Executable) -> Sequence[Row[Any]]:
        """Flush, then run a query and return all its rows."""
        with self._lock:
            self.flush()
            with self.engine.connect() as conn:
                return conn.execute(stmt).all()

    def first(self, stmt: Executable) -> Row[Any] | None:
        """Flush, then run a query and return its first row, if any."""
        with self._lock:
            self.flush()
            with self.engine.connect() as conn:
                return conn.execute(stmt).first()


class _Repo:
    """Base of the repositories: they hold nothing but the shared buffer."""

    __slots__ = ("_buf",)

    def __init__(self, buffer: WriteBuffer) -> None:
        self._buf = buffer


def _row_dict(row: Row[Any] | None) -> dict[str, Any] | None:
    return None if row is None else dict(row._mapping)


# -- prices and volatility ----------------------------------------------------------------------

_ADD_RAW = Write("prices_raw.add", _executemany(insert(PRICES_RAW)))
_ADD_PRICE = Write("prices.add", _executemany(insert(PRICES)))


class PriceRepo(_Repo):
    """Raw per-source observations and the aggregated prices the oracle derives from them."""

    __slots__ = ()

    def add_raw(self, source: str, asset: str, price: int, ts: float) -> None:
        self._buf.add(_ADD_RAW, {"source": source, "asset": asset, "price": price, "ts": ts})

    def add_aggregated(self, asset: str, price: int, ts: float, sources: int) -> None:
        row = {"asset": asset, "price": price, "ts": ts, "sources": sources}
        self._buf.add(_ADD_PRICE, row)

    def latest(self, asset: str) -> tuple[int, float] | None:
        """The most recent aggregated (price, ts); ties on ts go to the later insert."""
        p = PRICES.c
        stmt = (
            select(p.price, p.ts)
            .where(p.asset == asset)
            .order_by(p.ts.desc(), p.id.desc())
            .limit(1)
        )
        row = self._buf.first(stmt)
        return None if row is None else (row.price, row.ts)

    def history(self, asset: str, since_ts: float) -> list[tuple[float, int]]:
        """Aggregated (ts, price) pairs with ts >= since_ts, oldest first."""
        p = PRICES.c
        stmt = select(p.ts, p.price).where(p.asset == asset, p.ts >= since_ts).order_by(p.ts, p.id)
        return [(row.ts, row.price) for row in self._buf.all(stmt)]


# -- quotes and policies ------------------------------------------------------------------------

_ADD_QUOTE = Write("quotes.add", _executemany(insert(QUOTES)))
# an upsert: a restarted live engine replays the contracts' events, purchases included
_PURCHASED = Write("policies.purchased", _upsert(POLICIES), ("id",))
_FINISHED = Write(
    "policies.finished",
    _executemany(update(POLICIES).where(POLICIES.c.id == bindparam("_id"))),
)


class QuoteRepo(_Repo):
    """Quotes the registry signed, by quote id."""

    __slots__ = ()

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
    ) -> None:
        row = {
            "quote_id": quote_id,
            "buyer": buyer,
            "amount": amount,
            "strike": strike,
            "expiration": expiration,
            "premium": premium,
            "collateral": collateral,
            "token": token,
            "tier": tier,
            "quote_expiry": quote_expiry,
            "ts": ts,
        }
        self._buf.add(_ADD_QUOTE, row, (("quotes", quote_id),))

    def get(self, quote_id: int) -> dict[str, Any] | None:
        return _row_dict(self._buf.first(select(QUOTES).where(QUOTES.c.quote_id == quote_id)))

    def last_id(self, lo: int, hi: int) -> int | None:
        """The largest quote id in [lo, hi), so a restarted registry never repeats one."""
        q = QUOTES.c.quote_id
        row = self._buf.first(select(func.max(q)).where(q >= lo, q < hi))
        return None if row is None or row[0] is None else int(row[0])


class PolicyRepo(_Repo):
    """Policies as followed from chain events: inserted on purchase, updated once finished."""

    __slots__ = ()

    def purchased(
        self,
        id: int,  # the column's name; callers may pass it by keyword
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
    ) -> None:
        row = {
            "id": id,
            "owner": owner,
            "amount": amount,
            "strike": strike,
            "expiration": expiration,
            "premium": premium,
            "collateral": collateral,
            "token": token,
            "tier": tier,
            "quote_id": quote_id,
            "status": int(PolicyStatus.ACTIVE),
            "payout": 0,
            "paid": 0,
            "price": 0,
            "purchased_block": block,
            "settled_block": None,
        }
        self._buf.add(_PURCHASED, row, (("policies", id),))

    def finished(
        self,
        id: int,
        status: PolicyStatus,
        payout: int,
        paid: int,
        price: int,
        block: int,
    ) -> None:
        """Record a settlement or expiry; `price` is the settlement price used."""
        row = {
            "_id": id,
            "status": int(status),
            "payout": payout,
            "paid": paid,
            "price": price,
            "settled_block": block,
        }
        self._buf.add(_FINISHED, row, (("policies", id),))

    def get(self, id: int) -> dict[str, Any] | None:
        return _row_dict(self._buf.first(select(POLICIES).where(POLICIES.c.id == id)))

    def expired_active(self, burn_height: int) -> list[int]:
        """Ids of active policies whose expiration is at or below `burn_height`, ascending."""
        p = POLICIES.c
        stmt = (
            select(p.id)
            .where(p.status == int(PolicyStatus.ACTIVE), p.expiration <= burn_height)
            .order_by(p.id)
        )
        return [row.id for row in self._buf.all(stmt)]

    def active(self) -> list[dict[str, Any]]:
        """All active policies as dicts, by ascending id."""
        p = POLICIES.c
        stmt = select(POLICIES).where(p.status == int(PolicyStatus.ACTIVE)).order_by(p.id)
        return [dict(row._mapping) for row in self._buf.all(stmt)]

    def count_by_status(self) -> dict[int, int]:
        """Policy counts per status; the three known statuses are always present (maybe 0)."""
        p = POLICIES.c
        counts = {int(s): 0 for s in PolicyStatus}
        for row in self._buf.all(select(p.status, func.count()).group_by(p.status)):
            counts[row[0]] = row[1]
        return counts


# -- liquidity: shares and tranche snapshots ----------------------------------------------------

_SET_SHARES = Write("provider_shares.set", _upsert(SHARES), ("token", "tier", "provider"))
_SNAPSHOT = Write("tranche_snapshots.add", _executemany(insert(TRANCHES)))


class ShareRepo(_Repo):
    """Each provider's current share balance per tranche (an upsert: the last value wins)."""

    __slots__ = ()

    def set(self, token: int, tier: int, provider: str, shares: int) -> None:
        row = {"token": token, "tier": tier, "provider": provider, "shares": shares}
        self._buf.add(_SET_SHARES, row, (("provider_shares", token, tier, provider),))

    def all(self) -> dict[tuple[int, int, str], int]:
        s = SHARES.c
        stmt = select(s.token, s.tier, s.provider, s.shares).order_by(s.token, s.tier, s.provider)
        return {(r.token, r.tier, r.provider): r.shares for r in self._buf.all(stmt)}


@dataclass(frozen=True, slots=True)
class Flow:
    """One deposit, withdrawal request or withdrawal; `(txid, event_index)` is the print's
    place on chain. `amount` is 0 for a request (it moves nothing) and `ready_at` is set only
    for one; `block` and `burn_height` are the heights of the block that included it."""

    kind: FlowKind
    provider: str
    token: int
    tier: int
    amount: int
    shares: int
    epoch: int
    txid: str
    event_index: int
    block: int
    burn_height: int
    ready_at: int | None = None


_FLOW_KEY = ("txid", "event_index")
_ADD_FLOW = Write("provider_flows.add", _insert_new(FLOWS, _FLOW_KEY), _FLOW_KEY)


class FlowRepo(_Repo):
    """Providers' deposits and two-step withdrawals in the order the chain made them. A flow
    already recorded (a restarted engine handed the same block again) is not recorded again."""

    __slots__ = ()

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
        """One flow, in `Flow`'s field order (the actors write through the store port, which
        passes plain values: the store imports nothing of theirs)."""
        row = {
            "txid": txid,
            "event_index": event_index,
            "kind": FlowKind(kind).value,
            "provider": provider,
            "token": token,
            "tier": tier,
            "amount": amount,
            "shares": shares,
            "epoch": epoch,
            "ready_at": ready_at,
            "block": block,
            "burn_height": burn_height,
        }
        self._buf.add(_ADD_FLOW, row, (("provider_flows", txid, event_index),))

    def of(self, provider: str) -> list[Flow]:
        """The provider's flows, oldest first."""
        f = FLOWS.c
        stmt = select(FLOWS).where(f.provider == provider).order_by(f.id)
        return [flow_of(row._mapping) for row in self._buf.all(stmt)]


def flow_of(row: Any) -> Flow:
    """A `provider_flows` row (a mapping) as a `Flow`."""
    return Flow(
        FlowKind(row["kind"]), row["provider"], row["token"], row["tier"], int(row["amount"]),
        int(row["shares"]), row["epoch"], row["txid"], row["event_index"], row["block"],
        row["burn_height"], row["ready_at"],
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class Pending:
    """A provider's pending withdrawal in one tranche, as the pool holds it (`get-pending`):
    `value` is what the shares were worth when requested (summed over the requests), the most
    the completion pays; `ready_at` the burn height from which it can complete."""

    token: int
    tier: int
    provider: str
    shares: int
    value: int
    ready_at: int
    epoch: int


_SET_PENDING = Write("pending_withdrawals.set", _upsert(PENDING), ("token", "tier", "provider"))


class PendingRepo(_Repo):
    """Each provider's pending withdrawal per tranche (an upsert; `shares` 0 once completed)."""

    __slots__ = ()

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
        """In `Pending`'s field order."""
        row = {
            "token": token,
            "tier": tier,
            "provider": provider,
            "shares": shares,
            "value": value,
            "ready_at": ready_at,
            "epoch": epoch,
        }
        self._buf.add(_SET_PENDING, row, (("pending_withdrawals", token, tier, provider),))

    def all(self) -> list[Pending]:
        """Every withdrawal still pending (shares > 0), by tranche and provider."""
        w = PENDING.c
        stmt = select(PENDING).order_by(w.token, w.tier, w.provider)
        return [p for p in (pending_of(r._mapping) for r in self._buf.all(stmt)) if p.shares]


def pending_of(row: Any) -> Pending:
    """A `pending_withdrawals` row (a mapping) as a `Pending`."""
    return Pending(row["token"], row["tier"], row["provider"], int(row["shares"]),
                   int(row["value"]), row["ready_at"], row["epoch"])  # fmt: skip


class TrancheRepo(_Repo):
    """Per-block snapshots of tranche totals; history is kept, `latest` gives current state."""

    __slots__ = ()

    def snapshot(
        self, block: int, token: int, tier: int, total_assets: int, total_shares: int, locked: int
    ) -> None:
        row = {
            "block": block,
            "token": token,
            "tier": tier,
            "total_assets": total_assets,
            "total_shares": total_shares,
            "locked": locked,
        }
        self._buf.add(_SNAPSHOT, row)

    def latest(self) -> dict[tuple[int, int], tuple[int, int, int]]:
        """(token, tier) -> (total_assets, total_shares, locked) at its highest block (ties go
        to the later snapshot), via a window function (SQLite >= 3.25, PostgreSQL)."""
        t = TRANCHES.c
        rank = func.row_number().over(
            partition_by=(t.token, t.tier), order_by=(t.block.desc(), t.id.desc())
        )
        ranked = select(
            t.token, t.tier, t.total_assets, t.total_shares, t.locked, rank.label("rank")
        ).subquery()
        r = ranked.c
        stmt = (
            select(r.token, r.tier, r.total_assets, r.total_shares, r.locked)
            .where(r.rank == 1)
            .order_by(r.token, r.tier)
        )
        return {
            (row.token, row.tier): (row.total_assets, row.total_shares, row.locked)
            for row in self._buf.all(stmt)
        }


# -- signer outbox and cursors ------------------------------------------------------------------

_OUTBOX_WHERE = OUTBOX.c.txid == bindparam("_txid")
_OUTBOX_ADD = Write("outbox.add", _executemany(insert(OUTBOX)))
_OUTBOX_UPDATE = Write("outbox.update", _executemany(update(OUTBOX).where(_OUTBOX_WHERE)))
_OUTBOX_BUMP = Write(
    "outbox.bump",
    _executemany(update(OUTBOX).where(_OUTBOX_WHERE).values(attempts=OUTBOX.c.attempts + 1)),
)
# The replacement copies sender, nonce and tag from the old row in SQL, so it works whether or
# not the old row has been flushed yet, and needs no read (and so no flush) at call time.
_TS = bindparam("ts", type_=OUTBOX.c.created.type)
_REPLACEMENT = {
    "txid": bindparam("new_txid", type_=OUTBOX.c.txid.type),
    "sender": OUTBOX.c.sender,
    "nonce": OUTBOX.c.nonce,
    "raw_hex": bindparam("raw_hex", type_=OUTBOX.c.raw_hex.type),
    "tag": OUTBOX.c.tag,
    "status": literal(OutboxStatus.PENDING.value, OUTBOX.c.status.type),
    "fee": bindparam("fee", type_=OUTBOX.c.fee.type),
    "attempts": OUTBOX.c.attempts + 1,
    "created": _TS,
    "updated": _TS,
}
_OUTBOX_REPLACE = Write(
    "outbox.replace",
    _executemany(
        insert(OUTBOX).from_select(
            list(_REPLACEMENT), select(*_REPLACEMENT.values()).where(_OUTBOX_WHERE)
        )
    ),
)


class OutboxRepo(_Repo):
    """The signer's record of signed transactions, so a restart never loses or doubles one.

    A write here is durable only once the store is flushed: a caller must `flush()` after
    recording a transaction and before broadcasting it (or acting on its new status).
    """

    __slots__ = ()

    def add(
        self, txid: str, sender: str, nonce: int, raw_hex: str, tag: str, fee: int, ts: float
    ) -> None:
        """Record a newly signed transaction: status "pending", attempts 1."""
        row = {
            "txid": txid,
            "sender": sender,
            "nonce": nonce,
            "raw_hex": raw_hex,
            "tag": tag,
            "status": OutboxStatus.PENDING.value,
            "fee": fee,
            "attempts": 1,
            "created": ts,
            "updated": ts,
        }
        self._buf.add(_OUTBOX_ADD, row, (("outbox", txid),))

    def set_status(self, txid: str, status: OutboxStatus, ts: float) -> None:
        row = {"_txid": txid, "status": OutboxStatus(status).value, "updated": ts}
        self._buf.add(_OUTBOX_UPDATE, row, (("outbox", txid),))

    def bump(self, txid: str, ts: float) -> None:
        """Count one more broadcast attempt of the same transaction."""
        self._buf.add(_OUTBOX_BUMP, {"_txid": txid, "updated": ts}, (("outbox", txid),))

    def replace(self, old_txid: str, new_txid: str, raw_hex: str, fee: int, ts: float) -> None:
        """Record a rebroadcast with a new fee (same sender and nonce): the old row becomes
        "replaced", the new one is pending with one more attempt than the old had. Nothing is
        written if `old_txid` is unknown at flush time."""
        touched = (("outbox", old_txid), ("outbox", new_txid))
        row = {"_txid": old_txid, "new_txid": new_txid, "raw_hex": raw_hex, "fee": fee, "ts": ts}
        self._buf.add(_OUTBOX_REPLACE, row, touched)
        self.set_status(old_txid, OutboxStatus.REPLACED, ts)

    def pending(self) -> list[dict[str, Any]]:
        """Pending transactions ordered by (sender, nonce): the order to rebroadcast them."""
        o = OUTBOX.c
        stmt = (
            select(OUTBOX).where(o.status == OutboxStatus.PENDING.value).order_by(o.sender, o.nonce)
        )
        return [dict(row._mapping) for row in self._buf.all(stmt)]

    def get(self, txid: str) -> dict[str, Any] | None:
        return _row_dict(self._buf.first(select(OUTBOX).where(OUTBOX.c.txid == txid)))

    def confirmed_nonces(self, sender: str) -> list[int]:
        """Nonces of this sender's transactions that a block included (success or abort)."""
        o = OUTBOX.c
        mined = [s.value for s in OutboxStatus if s.mined]
        stmt = select(o.nonce).where(o.sender == sender, o.status.in_(mined)).order_by(o.nonce)
        return [int(row[0]) for row in self._buf.all(stmt)]
