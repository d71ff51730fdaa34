"""The `Store`: one engine, one write buffer, and the repositories that share them.

The same code runs a simulation on in-memory SQLite and the live engine on a SQLite file or
PostgreSQL; only the URL differs (and how the schema is made: see `open_store`). For the
in-memory database a `StaticPool` hands the one connection to every checkout, because each new
connection to `sqlite://` would be a new, empty database.

Writes are buffered (see `store.repositories`): nothing reaches the database until `flush()`,
which any read also does first. Effects outside the database that depend on a write being
durable, above all broadcasting a transaction recorded in the outbox, must come after an
explicit `flush()`; a crash before it loses the buffered writes, which is safe only because
nothing was done on their strength yet.
"""

from __future__ import annotations

from types import TracebackType

from sqlalchemy import URL, Engine, create_engine, make_url
from sqlalchemy.pool import StaticPool

from store.repositories import (
    FlowRepo,
    OutboxRepo,
    PendingRepo,
    PolicyRepo,
    PriceRepo,
    QuoteRepo,
    ShareRepo,
    TrancheRepo,
    WriteBuffer,
)
from store.schema import metadata

__all__ = ["Store", "database_url", "open_store"]


class Store:
    """The engine's off-chain database: repositories as attributes, one shared write buffer.

    Flushing writes every buffered op of every repository in one transaction, in an order
    equivalent to the order the ops were made across repositories.
    """

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._buffer = WriteBuffer(engine)
        self.prices = PriceRepo(self._buffer)
        self.quotes = QuoteRepo(self._buffer)
        self.policies = PolicyRepo(self._buffer)
        self.shares = ShareRepo(self._buffer)
        self.tranches = TrancheRepo(self._buffer)
        self.flows = FlowRepo(self._buffer)
        self.withdrawals = PendingRepo(self._buffer)
        self.outbox = OutboxRepo(self._buffer)

    @property
    def pending(self) -> int:
        """How many write calls are buffered, for callers that flush every N operations."""
        return len(self._buffer)

    def flush(self) -> None:
        """Make every buffered write durable, in one transaction (a no-op when none are)."""
        self._buffer.flush()

    def discard(self) -> int:
        """Drop the buffered writes without writing them; returns how many were dropped. A
        failed flush keeps the buffer so a transient error can be retried; this is for errors
        that a retry cannot fix."""
        return self._buffer.discard()

    def close(self) -> None:
        """Flush, then release the engine's connections (an in-memory database is gone)."""
        try:
            self.flush()
        finally:
            self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def database_url(url: str) -> URL:
    """Parse a database URL; a bare `postgresql://` means psycopg 3, the driver this project
    installs, rather than SQLAlchemy's default psycopg2."""
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def open_store(url: str = "sqlite://") -> Store:
    """Open the database at `url`, bringing its schema up to date; the default is a fresh
    in-memory SQLite database for a simulation run.

    A database that outlives the process (a SQLite file, PostgreSQL) is migrated with Alembic
    (`store.migrations`), so a live engine's data survives schema changes. An in-memory one is
    new every time and gets `metadata.create_all`, which builds the same schema (a test
    compares the two) in a fraction of the time. For the URL see `database_url`.
    """
    parsed = database_url(url)
    if parsed.get_backend_name() == "sqlite" and parsed.database in (None, "", ":memory:"):
        engine = create_engine(
            parsed, poolclass=StaticPool, connect_args={"check_same_thread": False}
        )
        metadata.create_all(engine)
    else:
        from store.migrations import upgrade  # Alembic takes ~0.2 s to import; runs never need it

        engine = create_engine(parsed)
        try:
            upgrade(engine)
        except BaseException:
            engine.dispose()
            raise
    return Store(engine)
