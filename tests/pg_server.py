"""A throwaway PostgreSQL server on loopback for the tests, from the binaries `pgserver` ships.

The test command must work on a machine that has nothing but Python, pip and Node, so the
server comes from a PyPI wheel (`pgserver`, PostgreSQL 16) rather than the system. Only its
binaries are used: `pgserver.get_server` listens on a Unix socket and, when run as root, widens
the permissions of every folder above the interpreter, so the cluster is set up here instead.

PostgreSQL refuses to run as root, and CI runs as root. Then the server runs as `nobody`, which
cannot reach an interpreter under /root (mode 0700); the binaries are therefore hard-linked
(copied across file systems) into the server's own temporary folder, which `nobody` owns.
Durability settings are off and loopback connections are trusted (no password): the cluster
lives as long as one test session and holds nothing but test data.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

__all__ = ["PostgresServer", "PostgresUnavailable", "start_server"]

USER = "postgres"  # the database superuser (a role, not a system account)
RUN_AS = "nobody"  # the system account the server runs as when we are root
START_TIMEOUT = 60.0
SETTINGS = {
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "max_connections": "200",
    "unix_socket_directories": "",  # loopback TCP only
}


class PostgresUnavailable(RuntimeError):
    """The test server could not be set up: a test failure, never a reason to skip."""


class PostgresServer:
    """A running cluster: a superuser connection for creating and dropping databases, the
    process, and the folder holding binaries, data and log."""

    def __init__(self, root: Path, process: subprocess.Popen[bytes], port: int) -> None:
        self.root, self.process, self.host, self.port = root, process, "127.0.0.1", port
        self._names = itertools.count()
        self._admin = psycopg.connect(self._dsn("postgres"), autocommit=True)

    def _dsn(self, database: str) -> str:
        return f"host={self.host} port={self.port} user={USER} dbname={database}"

    def url(self, database: str) -> str:
        """The SQLAlchemy URL of one database on this server (driver: psycopg 3)."""
        return f"postgresql+psycopg://{USER}@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """Create an empty database with a name not used before in this session."""
        name = f"test_{next(self._names)}"
        self._admin.execute(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return name

    def drop_database(self, name: str) -> None:
        """Drop a database, closing any connection a test left open to it."""
        self._admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def dump_schema(self, database: str) -> str:
        """`pg_dump --schema-only` of a database, without the Alembic version table."""
        pg_dump = self.root / "site" / "pgserver" / "pginstall" / "bin" / "pg_dump"
        argv = [str(pg_dump), "--schema-only", "--no-owner", "--exclude-table=alembic_version"]
        argv += ["-h", self.host, "-p", str(self.port), "-U", USER, database]
        return subprocess.run(argv, env=_env(), capture_output=True, text=True, check=True).stdout

    def stop(self) -> None:
        """Fast shutdown (SIGINT), then remove the folder."""
        with contextlib.suppress(psycopg.Error):
            self._admin.close()
        _stop(self.process)
        shutil.rmtree(self.root, ignore_errors=True)


def start_server() -> PostgresServer:
    """Initialise a cluster in a new temporary folder and start it on a free loopback port."""
    root = Path(tempfile.mkdtemp(prefix="bithedge-pg-"))
    process = None
    try:
        as_user = _run_as()
        if as_user:
            os.chown(root, as_user["user"], as_user["group"])
        pg_bin = _stage_binaries(root)
        data = root / "data"
        _run([pg_bin / "initdb", "-D", data, "-U", USER, "--auth=trust", "--encoding=UTF8",
              "--locale=C", "--no-sync"], root, as_user)  # fmt: skip
        for _attempt in range(3):  # the free port may be taken before the server binds it
            port = _free_port()
            process = _launch(pg_bin / "postgres", data, port, root, as_user)
            if _wait_ready(process, port, root / "server.log"):
                return PostgresServer(root, process, port)
        raise PostgresUnavailable(f"could not bind a loopback port:\n{_tail(root / 'server.log')}")
    except BaseException:
        if process is not None:
            _stop(process)
        shutil.rmtree(root, ignore_errors=True)
        raise


def _run_as() -> dict[str, Any]:
    """subprocess keyword arguments that drop root to `nobody`; none when we are not root."""
    if os.geteuid() != 0:
        return {}
    try:
        entry = pwd.getpwnam(RUN_AS)
    except KeyError:
        raise PostgresUnavailable(f"running as root and there is no {RUN_AS!r} user") from None
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def _stage_binaries(root: Path) -> Path:
    """Link the wheel's PostgreSQL install into `root`, keeping its layout: PostgreSQL finds
    its lib and share folders relative to the binary, and the binaries find the wheel's bundled
    shared libraries at $ORIGIN/../../../pgserver.libs."""
    spec = importlib.util.find_spec("pgserver")
    if spec is None or spec.origin is None:
        raise PostgresUnavailable("pgserver is not installed: pip install -e '.[test]'")
    package = Path(spec.origin).parent
    if not (package / "pginstall" / "bin" / "postgres").is_file():
        raise PostgresUnavailable(f"no PostgreSQL binaries in {package / 'pginstall'}")
    site = root / "site"
    shutil.copytree(
        package / "pginstall",
        site / "pgserver" / "pginstall",
        copy_function=_link_or_copy,
        ignore=shutil.ignore_patterns("include"),
    )
    libs = package.parent / "pgserver.libs"
    if libs.is_dir():
        shutil.copytree(libs, site / "pgserver.libs", copy_function=_link_or_copy)
    return site / "pgserver" / "pginstall" / "bin"


def _link_or_copy(src: str, dst: str) -> None:
    try:
        os.link(src, dst)
    except OSError:
        shutil.copy2(src, dst)


def _env() -> dict[str, str]:
    """The environment without libpq's PG* variables, which would redirect the tools."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


def _run(argv: list[Any], root: Path, as_user: dict[str, Any]) -> None:
    result = subprocess.run(
        [str(a) for a in argv], cwd=root, env=_env(), capture_output=True, text=True, **as_user
    )
    if result.returncode != 0:
        raise PostgresUnavailable(
            f"{Path(argv[0]).name} failed ({result.returncode}):\n{result.stdout}{result.stderr}"
        )


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _die_with_parent() -> Any:
    """A preexec_fn making the kernel stop the server if the test process dies (e.g. is
    SIGKILLed) before its teardown; None off Linux. Resolved here, not in the child."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    pr_set_pdeathsig = 1

    def preexec() -> None:
        prctl(pr_set_pdeathsig, signal.SIGINT)

    return preexec


def _launch(
    postgres: Path, data: Path, port: int, root: Path, as_user: dict[str, Any]
) -> subprocess.Popen[bytes]:
    argv = [str(postgres), "-D", str(data), "-h", "127.0.0.1", "-p", str(port)]
    for name, value in SETTINGS.items():
        argv += ["-c", f"{name}={value}"]
    with open(root / "server.log", "ab") as log:
        return subprocess.Popen(
            argv,
            cwd=root,
            env=_env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            preexec_fn=_die_with_parent(),  # runs after the switch to `nobody`, which clears it
            **as_user,
        )


def _wait_ready(process: subprocess.Popen[bytes], port: int, log: Path) -> bool:
    """True once the server accepts connections; False if it exited (e.g. the port was taken)."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            if "could not bind" in _tail(log) or "could not create" in _tail(log):
                return False
            raise PostgresUnavailable(f"postgres exited ({process.returncode}):\n{_tail(log)}")
        try:
            psycopg.connect(
                f"host=127.0.0.1 port={port} user={USER} dbname=postgres", connect_timeout=2
            ).close()
            return True
        except psycopg.OperationalError:
            time.sleep(0.05)
    _stop(process)
    raise PostgresUnavailable(f"postgres not ready after {START_TIMEOUT:.0f} s:\n{_tail(log)}")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no server log)"
