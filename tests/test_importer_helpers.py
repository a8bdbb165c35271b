"""Shared helpers of the importer tests (this module holds no tests of its own).

Why a helper for reconciliation: every importer test must show that no row was lost — rows
read = loaded + quarantined (+ merged duplicates), per table and per load — and that the
quarantine table and `load_runs` agree with the returned report.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from queries import schema
from queries.importer import LoadReport

CORPUS = Path(__file__).parent / "data" / "importer"
BASE = CORPUS / "base"


def assert_reconciles(engine: sa.Engine, report: LoadReport) -> None:
    """Counts add up in the report, in the quarantine table and in load_runs."""
    assert report.ok, report.format()
    for name, c in report.tables.items():
        assert c.read == c.loaded + c.quarantined + c.merged_duplicates, (name, c)
    with engine.connect() as conn:
        n_quarantined = conn.execute(
            sa.select(sa.func.count()).select_from(schema.quarantine)
            .where(schema.quarantine.c.load_id == report.load_id)
        ).scalar_one()
        run = conn.execute(
            sa.select(schema.load_runs).where(schema.load_runs.c.load_id == report.load_id)
        ).mappings().one()
    assert n_quarantined == report.quarantined
    assert run["status"] == "ok"
    assert run["finished_at"] is not None
    stored = run["report"]
    assert stored["totals"]["read"] == report.read
    assert stored["totals"]["quarantined"] == report.quarantined
    assert stored["totals"]["reconciles"] is True


def quarantined(engine: sa.Engine, load_id: str) -> list[dict[str, Any]]:
    q = schema.quarantine
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(q).where(q.c.load_id == load_id).order_by(q.c.source_file, q.c.source_line)
        ).mappings().all()
    return [dict(r) for r in rows]


def rows(engine: sa.Engine, table: str) -> list[tuple]:
    t = schema.CONTRACT_TABLES[table]
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.select(t).order_by(*t.primary_key.columns))]


def count(engine: sa.Engine, table: str) -> int:
    t = schema.metadata.tables[table]
    with engine.connect() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()


def load_run(engine: sa.Engine, load_id: str) -> dict[str, Any]:
    lr = schema.load_runs
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(lr).where(lr.c.load_id == load_id)).mappings().one())


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path
