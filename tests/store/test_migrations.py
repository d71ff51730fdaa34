"""Migrations: the Alembic head is exactly `store.schema`, on SQLite and PostgreSQL; the
in-memory shortcut (`create_all`) builds the same schema; upgrades are idempotent, atomic
with respect to concurrent openers, reversible, and adopt databases made before migrations."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect, text

from store import open_store
from store.migrations import _INITIAL_TABLES, HERE, alembic_config
from store.schema import metadata
from tests.pg_server import PostgresServer
from tests.store.test_store import buy

HEAD = ScriptDirectory(str(HERE)).get_current_head()
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(params=["file", "postgres"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A new database that outlives its process, so `open_store` migrates it."""
    if request.param == "file":
        return f"sqlite:///{tmp_path / 'store.db'}"
    return str(request.getfixturevalue("postgres_url"))


def versions(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return list(conn.execute(text("SELECT version_num FROM alembic_version")).scalars())
    finally:
        engine.dispose()


def test_there_is_one_head_and_it_is_the_newest_revision() -> None:
    assert HEAD == "0002"


def test_the_migrated_schema_is_the_metadata(url: str) -> None:
    with open_store(url) as store, store.engine.connect() as conn:
        assert compare_metadata(MigrationContext.configure(conn), metadata) == []
        assert set(inspect(conn).get_table_names()) == set(metadata.tables) | {"alembic_version"}
    assert versions(url) == [HEAD]


def sqlite_schema(url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT type, name, sql FROM sqlite_master "
                    "WHERE tbl_name != 'alembic_version' ORDER BY type, name"
                )
            )
            return [tuple(row) for row in rows]  # type: ignore[misc]
    finally:
        engine.dispose()


def test_create_all_and_the_migrations_build_the_same_sqlite_schema(tmp_path: Path) -> None:
    """In-memory stores skip Alembic for speed; this is what makes that honest: the DDL that
    SQLite stored, statement for statement, is identical either way."""
    made = f"sqlite:///{tmp_path / 'create_all.db'}"
    engine = create_engine(made)
    metadata.create_all(engine)
    engine.dispose()
    migrated = f"sqlite:///{tmp_path / 'migrated.db'}"
    open_store(migrated).close()
    schema = sqlite_schema(made)
    assert len([kind for kind, _, _ in schema if kind == "table"]) == len(metadata.tables)
    assert sqlite_schema(migrated) == schema


def test_create_all_and_the_migrations_build_the_same_postgres_schema(
    postgres_server: PostgresServer,
) -> None:
    """Stronger than compare_metadata, which ignores e.g. a SERIAL default on a key that
    must not autoincrement: pg_dump's DDL must be identical."""
    made, migrated = postgres_server.create_database(), postgres_server.create_database()
    try:
        engine = create_engine(postgres_server.url(made))
        metadata.create_all(engine)
        engine.dispose()
        open_store(postgres_server.url(migrated)).close()
        dump = postgres_server.dump_schema(made)
        assert "CREATE TABLE public.policies" in dump and "ix_policies_status" in dump
        assert postgres_server.dump_schema(migrated) == dump
    finally:
        postgres_server.drop_database(made)
        postgres_server.drop_database(migrated)


def test_reopening_keeps_the_data_and_the_version(url: str) -> None:
    with open_store(url) as store:
        buy(store, 1)
    with open_store(url) as store:
        assert store.policies.get(1) is not None
    assert versions(url) == [HEAD]


OPENER = """
import sys, time
from pathlib import Path
from store import open_store
url, ready, go = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3])
ready.touch()
while not go.exists():
    time.sleep(0.001)
open_store(url).close()
"""


def test_concurrent_openers_of_a_new_database_all_succeed(url: str, tmp_path: Path) -> None:
    """Engines starting together on a new database: without the upgrade lock, each would
    try to create the tables. The processes import first, then start together."""
    go = tmp_path / "go"
    ready = [tmp_path / f"ready{i}" for i in range(4)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", OPENER, url, str(r), str(go)],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for r in ready
    ]
    try:
        deadline = time.monotonic() + 60
        while not all(r.exists() for r in ready) and time.monotonic() < deadline:
            time.sleep(0.01)
        go.touch()
        outputs = [p.communicate(timeout=60)[0] for p in procs]
    finally:
        for p in procs:
            p.kill()
    assert [p.returncode for p in procs] == [0] * 4, "\n".join(outputs)
    assert versions(url) == [HEAD]


def test_downgrade_to_base_and_back(url: str) -> None:
    open_store(url).close()
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            command.downgrade(alembic_config(conn), "base")
            conn.commit()
            assert set(inspect(conn).get_table_names()) == {"alembic_version"}
    finally:
        engine.dispose()
    with open_store(url) as store:
        assert store.policies.count_by_status() == {0: 0, 1: 0, 2: 0}
    assert versions(url) == [HEAD]


def test_a_database_made_before_migrations_is_adopted(url: str) -> None:
    """Live stores made by `create_all` before Alembic came in hold revision 0001's schema:
    they are stamped, not created again (which would fail on the existing tables)."""
    engine = create_engine(url)
    metadata.create_all(engine, tables=[metadata.tables[name] for name in _INITIAL_TABLES])
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO provider_shares (token, tier, provider, shares) "
                          "VALUES (0, 1, 'alice', 7)"))  # fmt: skip
    engine.dispose()
    with open_store(url) as store:
        assert store.shares.all() == {(0, 1, "alice"): 7}
    assert versions(url) == [HEAD]


def test_a_bare_postgresql_url_uses_psycopg_3(postgres_url: str) -> None:
    bare = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with open_store(bare) as store:
        assert store.engine.dialect.driver == "psycopg"
        store.shares.set(0, 1, "a", 1)
        assert store.shares.all() == {(0, 1, "a"): 1}
