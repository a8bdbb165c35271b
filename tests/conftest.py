"""Shared fixtures: a fresh SQLite file and a fresh database on a real PostgreSQL server.

PostgreSQL tests talk to the server named by TEST_DATABASE_URL (default: the local server at
127.0.0.1:5432, user postgres). Each test session creates its own database and drops it at the
end, so nothing is left behind. If the server cannot be reached the tests fail, not skip: a
skipped database test would hide a missing part.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

# The real logs the tests use are vendored in the repository (origin and licence in
# examples/realdata/README.md), so a clone needs nothing beside it.
REALDATA = Path(__file__).resolve().parents[1] / "examples" / "realdata"

DEFAULT_PG = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"


def _server_url() -> sa.URL:
    return sa.engine.make_url(os.environ.get("TEST_DATABASE_URL") or DEFAULT_PG)


@pytest.fixture(scope="session")
def realdata() -> Path:
    assert REALDATA.exists(), f"the vendored real logs are missing: {REALDATA}"
    return REALDATA


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'test.db'}"


@pytest.fixture
def sqlite_engine(sqlite_url: str) -> Iterator[sa.Engine]:
    from queries.engine import make_engine
    from queries.migrate import upgrade

    engine = make_engine(sqlite_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_server_url() -> sa.URL:
    return _server_url()


@contextmanager
def fresh_pg_database(server: sa.URL) -> Iterator[str]:
    """A brand-new, empty PostgreSQL database on `server` (its URL), dropped afterwards."""
    name = f"xiaoneng_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    except sa.exc.OperationalError as exc:
        pytest.fail(f"PostgreSQL at {server.render_as_string(hide_password=True)} "
                    f"is not reachable (set TEST_DATABASE_URL): {exc.orig}")
    url = server.set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = :n"
            ), {"n": name})
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture
def pg_url(pg_server_url: sa.URL) -> Iterator[str]:
    """A brand-new, empty PostgreSQL database, dropped after the test."""
    with fresh_pg_database(pg_server_url) as url:
        yield url


@pytest.fixture
def pg_engine(pg_url: str) -> Iterator[sa.Engine]:
    from queries.engine import make_engine
    from queries.migrate import upgrade

    engine = make_engine(pg_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def any_engine(request) -> sa.Engine:
    """The same test on the embedded default and on a real PostgreSQL."""
    return request.getfixturevalue("sqlite_engine" if request.param == "sqlite" else "pg_engine")
