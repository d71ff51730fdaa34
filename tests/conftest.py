"""What every test package shares: the Hypothesis profiles, and a PostgreSQL server for the
whole session (started only if some test asks for it) with a fresh database per test on it.

A server that cannot be started is an error of the tests that need it, never a skip: the
store's PostgreSQL support is only as real as these tests.

Hypothesis profiles, chosen with `BITHEDGE_HYPOTHESIS_PROFILE` (default `ci`, what CI runs):
`dev` runs a tenth of the examples for a quick edit-test loop, `long` ten times as many for a
search before a release. A test that needs more or fewer examples than the profile's 100 (a
slow property, a cheap fuzzer) asks for `examples(n)`: n under `ci`, scaled like the rest under
the others. A count that a test's meaning depends on stays a literal in that test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from tests.pg_server import PostgresServer, start_server

CI_EXAMPLES = 100  # hypothesis's own default: the `ci` profile changes no test's count
# no deadline anywhere: a wall-clock limit per example is a timed test on a shared machine
settings.register_profile("ci", max_examples=CI_EXAMPLES, deadline=None)
settings.register_profile("dev", max_examples=CI_EXAMPLES // 10, deadline=None)
settings.register_profile("long", max_examples=CI_EXAMPLES * 10, deadline=None)
settings.load_profile(os.environ.get("BITHEDGE_HYPOTHESIS_PROFILE", "ci"))


def examples(ci: int) -> int:
    """`ci` examples under the `ci` profile, scaled as the loaded profile scales its own."""
    return max(1, ci * settings.default.max_examples // CI_EXAMPLES)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_server()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """The SQLAlchemy URL of a new, empty database, dropped after the test."""
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)
