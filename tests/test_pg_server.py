"""The test PostgreSQL server itself: it is never silently missing, listens on loopback only,
and never runs as root."""

from __future__ import annotations

import importlib.util
import tempfile
from pathlib import Path

import psycopg
import pytest

from tests import pg_server
from tests.pg_server import PostgresServer, PostgresUnavailable, start_server


def test_a_missing_pgserver_is_an_error_and_leaves_nothing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    made: list[Path] = []
    real_mkdtemp = tempfile.mkdtemp

    def mkdtemp(prefix: str) -> str:
        made.append(Path(real_mkdtemp(prefix=prefix, dir=tmp_path)))
        return str(made[-1])

    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        pg_server.importlib.util,
        "find_spec",
        lambda name: None if name == "pgserver" else real_find_spec(name),
    )
    monkeypatch.setattr(pg_server.tempfile, "mkdtemp", mkdtemp)
    with pytest.raises(PostgresUnavailable, match="pgserver is not installed"):
        start_server()
    assert len(made) == 1 and not made[0].exists()


def test_the_server_is_on_loopback_and_not_root(postgres_server: PostgresServer) -> None:
    dsn = f"host=127.0.0.1 port={postgres_server.port} user=postgres dbname=postgres"
    with psycopg.connect(dsn) as conn:
        settings = {
            name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
            for name in ("listen_addresses", "unix_socket_directories", "server_version")
        }
    assert settings["listen_addresses"] == "127.0.0.1"
    assert settings["unix_socket_directories"] == ""
    assert settings["server_version"].startswith("16.")
    status = Path(f"/proc/{postgres_server.process.pid}/status").read_text().splitlines()
    uids = next(line for line in status if line.startswith("Uid:")).split()[1:]
    assert "0" not in uids  # real, effective, saved and file-system user ids
