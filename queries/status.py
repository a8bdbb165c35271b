"""What is in the database right now: row counts, the last loads, calendar coverage.

Read by the app's data-freshness banner and the 数据管理 page; cheap queries only. Every page
view checks the status (cached for seconds), so it must not scan tables: `count(*)` of 20
million cases and 15 million reviews costs PostgreSQL seconds. "Is there any case" is an
`EXISTS`; the row counts of big tables on PostgreSQL are the planner's estimates
(`pg_class.reltuples`, refreshed by the ANALYZE that follows every load and job) and are shown
as approximate; small tables, tables never analysed and SQLite are counted exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from queries import schema


@dataclass(frozen=True)
class DataStatus:
    """A snapshot of what is loaded (the caches' data version is queries.views.data_version)."""

    table_rows: dict[str, int]
    last_load: dict[str, Any] | None
    calendar_years: tuple[int, ...]
    schema_ready: bool
    has_cases: bool = False
    # tables whose count is the planner's estimate, not an exact count
    approximate: frozenset[str] = frozenset()

    @property
    def empty(self) -> bool:
        return not self.has_cases


# Above this estimated size a PostgreSQL table's row count is the planner's estimate.
EXACT_COUNT_LIMIT = 200_000


def _row_counts(conn: sa.Connection, tables: dict[str, sa.Table]) -> tuple[dict[str, int], set[str]]:
    """Exact counts, except estimates for big analysed tables on PostgreSQL."""
    estimates: dict[str, float] = {}
    if conn.dialect.name == "postgresql":
        rows = conn.execute(
            sa.text("SELECT c.relname, c.reltuples FROM pg_class c "
                    "JOIN pg_namespace n ON n.oid = c.relnamespace "
                    "WHERE n.nspname = current_schema() AND c.relname IN :names")
            .bindparams(sa.bindparam("names", expanding=True)),
            {"names": [t.name for t in tables.values()]},
        ).all()
        estimates = {name: float(n) for name, n in rows}
    counts: dict[str, int] = {}
    approx: set[str] = set()
    for name, table in tables.items():
        est = estimates.get(table.name, -1.0)
        if est > EXACT_COUNT_LIMIT:
            counts[name] = int(est)
            approx.add(name)
        else:
            counts[name] = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
    return counts, approx


def data_status(engine: Engine) -> DataStatus:
    insp = sa.inspect(engine)
    if not insp.has_table("cases"):
        return DataStatus({}, None, (), schema_ready=False)
    with engine.connect() as conn:
        has_cases = conn.execute(
            sa.select(sa.exists().select_from(schema.cases))
        ).scalar_one()
        counts, approx = _row_counts(
            conn, {**schema.CONTRACT_TABLES, "quarantine": schema.quarantine})
        row = conn.execute(
            sa.select(schema.load_runs).order_by(schema.load_runs.c.started_at.desc()).limit(1)
        ).mappings().first()
        years = conn.execute(
            sa.select(sa.extract("year", schema.work_calendar.c.date)).distinct()
        ).scalars().all()
    return DataStatus(
        counts,
        dict(row) if row else None,
        tuple(sorted(int(y) for y in years)),
        schema_ready=True,
        has_cases=bool(has_cases),
        approximate=frozenset(approx),
    )


def recent_loads(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            # without `holder` (host and process id of a run: bookkeeping, not for the page)
            sa.select(*(c for c in schema.load_runs.c if c.name != "holder"))
            .order_by(schema.load_runs.c.started_at.desc()).limit(limit)
        ).mappings().all()
    return [dict(r) for r in rows]
