"""One engine, one writer: the lock a live engine holds for as long as it signs and writes.

Two engines on one database would sign with one key from one nonce into one outbox (issue 13:
`UNIQUE constraint failed: outbox.txid`, a dead Signer). So `run.py live` takes this lock before
it loads a key or opens the store, and holds it until it exits. The lock is one that whoever
keeps it cannot forget to give back: the kernel drops it when the holder dies, however it dies.

- SQLite file: `fcntl.flock` on a file beside the database (`live.db.writer-lock`); the kernel
  releases it with the process's last descriptor.
- PostgreSQL: `pg_try_advisory_lock` on a dedicated session that does nothing else; the server
  releases it when that session's connection closes, which the kernel does for a dead process.
- In-memory SQLite (a dry run): nothing is shared, so there is nothing to lock.

A standby (`--standby`) polls for the lock every `poll_seconds` and starts the engine the moment
it has it; the engine then carries on from the outbox (pending rows are re-tracked) and the chain.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from settings import ConfigError
from store.db import database_url

# the advisory lock's key: one per database, the same for every engine of every deployment
PG_LOCK_KEY = int.from_bytes(
    hashlib.sha256(b"bithedge-live-writer").digest()[:8], "big", signed=True
)


class LockHeld(RuntimeError):
    """Another engine holds the writer lock of this store."""


@dataclass(frozen=True)
class LockTarget:
    """What the lock is on, shown in messages (never a password)."""

    kind: str  # "file", "postgresql" or "none"
    where: str


class WriterLock:
    """`acquire()` once; `release()` (or process death) gives it back."""

    def __init__(self, store_url: str):
        url = database_url(store_url)
        self._url = url
        self._fd: int | None = None
        self._conn: Any = None
        if url.get_backend_name() == "sqlite":
            if url.database in (None, "", ":memory:"):
                self.target = LockTarget("none", "in-memory store")
            else:
                path = Path(url.database).expanduser().resolve()
                self.target = LockTarget("file", str(path) + ".writer-lock")
        else:
            shown = make_url(store_url).render_as_string(hide_password=True)
            self.target = LockTarget("postgresql", shown)

    def try_acquire(self) -> bool:
        """True once this process holds the lock (again True if it already does)."""
        if self.held:
            return True
        kind = self.target.kind
        if kind == "none":
            self._fd = -1
            return True
        if kind == "file":
            fd = os.open(self.target.where, os.O_RDWR | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                return False
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
            self._fd = fd
            return True
        return self._try_postgres()

    def _try_postgres(self) -> bool:
        import psycopg

        url = self._url
        try:
            conn = psycopg.connect(
                host=url.host,
                port=url.port,
                user=url.username,
                password=url.password,
                dbname=url.database,
                autocommit=True,
                application_name="bithedge-writer-lock",
                **dict(url.query),
            )
        except psycopg.Error as exc:  # libpq's text names host and port, never the password
            cause = " ".join(str(exc).split())[:200]
            raise ConfigError(f"store.url: cannot open {self.target.where}: {cause}") from None
        try:
            got = conn.execute("SELECT pg_try_advisory_lock(%s)", (PG_LOCK_KEY,)).fetchone()
        except BaseException:
            conn.close()
            raise
        if not got or not got[0]:
            conn.close()
            return False
        self._conn = conn
        return True

    def acquire(self, *, wait: bool, stop: threading.Event | None = None,
                poll_seconds: float = 0.5) -> bool:  # fmt: skip
        """Takes the lock; without `wait` raises `LockHeld` at once if another engine has it.
        With `wait`, polls until it has it (True) or `stop` is set (False)."""
        stop = stop or threading.Event()
        while not self.try_acquire():
            if not wait:
                raise LockHeld(self.message())
            if stop.wait(poll_seconds):
                return False
        return True

    @property
    def held(self) -> bool:
        return self._fd is not None or self._conn is not None

    def message(self) -> str:
        if self.target.kind == "file":
            return (
                f"store.url: another engine holds the writer lock {self.target.where}; "
                "stop it, or start this one with --standby to take over when it dies"
            )
        return (
            f"store.url: another engine holds the writer lock of {self.target.where}; "
            "stop it, or start this one with --standby to take over when it dies"
        )

    def release(self) -> None:
        if self._fd is not None and self._fd >= 0:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
        self._fd = None
        if self._conn is not None:
            try:
                self._conn.close()  # closing the session releases the advisory lock
            finally:
                self._conn = None
