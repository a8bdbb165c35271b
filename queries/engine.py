"""Database engine: PostgreSQL in production, an embedded SQLite file by default.

The URL comes from `DATABASE_URL`; without it the product runs on `data/xiaoneng.db` below the
working directory, so it starts anywhere with no server. Nothing connects at import time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from queries.errors import XiaonengError

DEFAULT_SQLITE_PATH = Path("data") / "xiaoneng.db"


def database_url() -> str:
    """The configured database URL (`DATABASE_URL`), or the embedded SQLite default."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url
    return f"sqlite:///{DEFAULT_SQLITE_PATH}"


def is_postgres(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def make_engine(url: str | None = None) -> Engine:
    """Create an engine for `url` (default: `database_url()`).

    SQLite gets WAL journaling and a busy timeout so that the dashboard can read while a job
    writes; its parent directory is created on first use.
    """
    url = url or database_url()
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise XiaonengError(f"DATABASE_URL is not a valid database URL: {url!r}") from exc
    if parsed.get_backend_name() == "sqlite":
        db = parsed.database
        if db and db != ":memory:":
            Path(db).parent.mkdir(parents=True, exist_ok=True)
        engine = sa.create_engine(url, connect_args={"timeout": 60})

        @sa.event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_conn, _record):  # pragma: no cover - trivial
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    if parsed.get_backend_name() == "postgresql":
        return sa.create_engine(url, pool_pre_ping=True)
    raise XiaonengError(
        f"unsupported database {parsed.get_backend_name()!r}: use postgresql:// or sqlite:///"
    )


def check_connection(engine: Engine) -> None:
    """Raise a one-line XiaonengError when the database cannot be reached."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text("SELECT 1"))
    except sa.exc.OperationalError as exc:
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
        raise XiaonengError(
            f"cannot reach the database {engine.url.render_as_string(hide_password=True)}: {reason}"
        ) from exc


def analyze(engine: Engine, tables: Iterable[str]) -> None:
    """Refresh the planner's statistics of `tables` after a bulk write (PostgreSQL: VACUUM too).

    Why: a bulk load or a job rewrites millions of rows at once; until statistics are taken
    (autovacuum may be off, or lag behind), PostgreSQL plans the dashboard's fact queries from
    stale or empty statistics and can pick nested loops over millions of rows. VACUUM also
    clears the rows a job's replace left dead and sets the visibility map, without which no
    read is index-only. It cannot run inside a transaction, hence the autocommit connection.
    SQLite's planner gets its statistics from `ANALYZE`. Table names come from the schema,
    never from input.
    """
    names = list(tables)
    if not names:
        return
    preparer = engine.dialect.identifier_preparer
    if engine.dialect.name == "postgresql":
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            for name in names:
                conn.exec_driver_sql(f"VACUUM (ANALYZE) {preparer.quote(name)}")
        return
    with engine.begin() as conn:
        for name in names:
            conn.exec_driver_sql(f"ANALYZE {preparer.quote(name)}")
