"""The Alembic environment of the store: the target is `store.schema.metadata`.

`store.migrations.upgrade` hands in a connection that is already inside the upgrade's
transaction and lock. The `alembic` command line (see `store.migrations`) names the database
with `-x url=...` instead; `--sql` writes the DDL out rather than running it.
"""

from __future__ import annotations

from typing import Any

from alembic import context
from sqlalchemy import URL, Connection, create_engine
from sqlalchemy.pool import NullPool

from store.db import database_url
from store.migrations import lock_for_upgrade
from store.schema import ExactInt, metadata

config = context.config


def render_item(kind: str, item: Any, autogen_context: Any) -> str | bool:
    """Autogenerate writes `ExactInt` as the type of its column, so revisions do not import
    the application's code (see store.migrations)."""
    if kind == "type" and isinstance(item, ExactInt):
        return "sa.String()"
    return False


def run(connection: Connection) -> None:
    # batch mode lets autogenerate write ALTERs that SQLite can run (as a table copy)
    context.configure(
        connection=connection,
        target_metadata=metadata,
        render_as_batch=True,
        render_item=render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


def url() -> URL:
    value = context.get_x_argument(as_dictionary=True).get("url")
    value = value or config.get_main_option("sqlalchemy.url")
    if not value:
        raise SystemExit("error: name the database: alembic -x url=<SQLAlchemy URL> ...")
    return database_url(value)


connection = config.attributes.get("connection")
if connection is not None:
    run(connection)
elif context.is_offline_mode():
    context.configure(url=url(), target_metadata=metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()
else:
    engine = create_engine(url(), poolclass=NullPool)
    with engine.connect() as conn:
        lock_for_upgrade(conn)
        run(conn)
        conn.commit()
