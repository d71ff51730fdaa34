"""Schema migrations (Alembic): this package holds the environment and the revisions, and
`upgrade` runs them from code, as `open_store` does for every database that outlives its
process.

A schema change is a new revision in `versions/`, made against a database at the current head
(any SQLite file `open_store` has opened will do) and then read and edited by hand:

    alembic -c store/migrations/alembic.ini -x url=sqlite:///head.db \\
        revision --autogenerate --rev-id 0002 -m "what changed"

A revision spells column types out in SQLAlchemy's own types (`ExactInt` is `sa.String()`), so
it keeps meaning what it meant when it was written, whatever `store.schema` becomes later.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, inspect, text

__all__ = ["HERE", "alembic_config", "lock_for_upgrade", "upgrade"]

HERE = Path(__file__).parent
# any fixed 64-bit key: the advisory lock that serialises upgrades on one PostgreSQL database
_PG_LOCK_KEY = 0x42_48_45_44_47_45  # "BHEDGE"
# What `open_store` built with `create_all` before migrations existed: revision 0001 exactly.
_INITIAL = "0001"
_INITIAL_TABLES = frozenset(
    {
        "prices_raw",
        "prices",
        "volatility",
        "quotes",
        "policies",
        "provider_shares",
        "tranche_snapshots",
        "outbox",
        "cursors",
    }
)


def alembic_config(conn: Connection) -> Config:
    """An Alembic configuration that runs this package's revisions on `conn`."""
    config = Config()
    config.set_main_option("script_location", str(HERE).replace("%", "%%"))
    config.attributes["connection"] = conn
    return config


def upgrade(engine: Engine) -> None:
    """Bring the database up to the newest revision (a no-op when it is there already).

    The whole upgrade is one transaction, DDL included (SQLite and PostgreSQL both have
    transactional DDL), so a crash in the middle leaves the database as it was; and one process
    at a time runs it, so two engines starting together on a new database cannot both create it.
    """
    with engine.connect() as conn:
        lock_for_upgrade(conn)
        config = alembic_config(conn)
        tables = set(inspect(conn).get_table_names())
        if "alembic_version" not in tables and tables >= _INITIAL_TABLES:
            # a database made before migrations existed: it holds revision 0001's schema
            command.stamp(config, _INITIAL)
        command.upgrade(config, "head")
        conn.commit()


def lock_for_upgrade(conn: Connection) -> None:
    """Begin the upgrade's transaction holding the database's one upgrade lock.

    On SQLite `BEGIN IMMEDIATE` takes the write lock at once (the sqlite3 module would
    otherwise begin no transaction before DDL, and the tables would be created one commit at a
    time); on PostgreSQL a transaction-scoped advisory lock queues concurrent upgraders.
    """
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_LOCK_KEY})
