"""What is in the database right now: row counts, the last loads, calendar coverage.

Read by the app's data-freshness banner and the 数据管理 page; cheap aggregate queries only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from queries import schema


@dataclass(frozen=True)
class DataStatus:
    """A snapshot of what is loaded; `version` changes whenever a load or job changes data."""

    table_rows: dict[str, int]
    last_load: dict[str, Any] | None
    calendar_years: tuple[int, ...]
    schema_ready: bool

    @property
    def empty(self) -> bool:
        return self.table_rows.get("cases", 0) == 0

    @property
    def version(self) -> str:
        last = self.last_load or {}
        return f"{last.get('load_id', '-')}:{self.table_rows.get('cases', 0)}"


def data_status(engine: Engine) -> DataStatus:
    insp = sa.inspect(engine)
    if not insp.has_table("cases"):
        return DataStatus({}, None, (), schema_ready=False)
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for name, table in schema.CONTRACT_TABLES.items():
            counts[name] = conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one()
        counts["quarantine"] = conn.execute(
            sa.select(sa.func.count()).select_from(schema.quarantine)
        ).scalar_one()
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
    )


def recent_loads(engine: Engine, limit: int = 20) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(schema.load_runs).order_by(schema.load_runs.c.started_at.desc()).limit(limit)
        ).mappings().all()
    return [dict(r) for r in rows]
