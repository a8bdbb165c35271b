"""Writes of the metric jobs: replace whole months of facts atomically, record job runs.

On PostgreSQL the rows go in by COPY. `COPY_FORMAT` chooses CSV (the default) or PostgreSQL's
binary format (queries.pg_binary). Binary was measured and lost (BENCHMARKS.md, metric job):
the facts are mostly small counts in BIGINT columns, which binary sends as 12 bytes a field
(4 of length, 8 of value) against 2–3 as text, and building it costs the client more than
formatting CSV; the server's saved parsing did not make up for it.

A rerun of a month deletes that month's rows and inserts the new ones in the same transaction,
so readers see either the old month or the new one, never half of each; a failed job leaves the
previous facts untouched. The caller's audit row (`audit`, a `queries.audit.AuditHook`) is
written in that same transaction, so a job run is on record exactly when its facts are in.
"""

from __future__ import annotations

import datetime as dt
import io
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from queries import pg_binary, schema
from queries.audit import AuditHook
from queries.engine import analyze, is_postgres

COPY_FORMAT = "csv"

MONTHLY_TABLES = ("case_facts", "review_facts", "card_facts", "used_days_hist", "cards",
                  "be_scores")


def _insert(conn: Connection, table: sa.Table, df: pl.DataFrame) -> int:
    if df.is_empty():
        return 0
    df = df.select([c.name for c in table.columns if c.name in df.columns])
    # Rows in primary-key order (month first): a month's facts then sit together on disk, so a
    # page reading one month touches ~1/34 of the table instead of pages spread over all of it.
    key = [c.name for c in table.primary_key.columns if c.name in df.columns]
    if key:
        df = df.sort(key, nulls_last=True)
    if is_postgres(conn.engine):
        cols = ", ".join(f'"{c}"' for c in df.columns)
        if COPY_FORMAT == "binary":
            buf = io.BytesIO(pg_binary.encode(df, table))
            options = "FORMAT binary"
        else:
            buf = io.BytesIO()
            df.write_csv(buf, include_header=False, null_value="\\N", quote_style="necessary")
            buf.seek(0)
            options = "FORMAT csv, NULL '\\N'"
        raw = conn.connection.driver_connection
        with raw.cursor() as cur:
            cur.copy_expert(f'COPY "{table.name}" ({cols}) FROM STDIN WITH ({options})', buf)
        return df.height
    conn.execute(table.insert(), df.to_dicts())
    return df.height


def replace_months(
    engine: Engine,
    months: list[dt.date],
    frames: dict[str, pl.DataFrame],
    warnings: pl.DataFrame | None,
    catalogue: tuple[dt.date, pl.DataFrame] | None,
    audit: AuditHook | None = None,
) -> dict[str, int]:
    """Replace `months` in every monthly table with `frames`, in one transaction.

    `audit(conn, {"ok": True, "written": {table: rows}})` is called on that transaction after
    the facts are written and before the commit: if it fails, the facts roll back with it.
    """
    written: dict[str, int] = {}
    with engine.begin() as conn:
        for name in MONTHLY_TABLES:
            if name not in frames:
                continue
            table = schema.metadata.tables[name]
            conn.execute(table.delete().where(table.c.month.in_(months)))
            written[name] = _insert(conn, table, frames[name])
        if warnings is not None:
            conn.execute(schema.warnings.delete())
            written["warnings"] = _insert(conn, schema.warnings, warnings)
        if catalogue is not None:
            month, df = catalogue
            conn.execute(schema.catalogue_facts.delete().where(schema.catalogue_facts.c.month == month))
            written["catalogue_facts"] = _insert(conn, schema.catalogue_facts, df)
        if audit is not None:
            audit(conn, {"ok": True, "written": dict(written)})
    analyze(engine, written)
    return written


def start_run(engine: Engine, run: dict[str, Any]) -> None:
    with engine.begin() as conn:
        conn.execute(schema.job_runs.insert().values(**run))


def finish_run(engine: Engine, run_id: str, **values: Any) -> None:
    with engine.begin() as conn:
        conn.execute(schema.job_runs.update().where(schema.job_runs.c.run_id == run_id)
                     .values(**values))


def last_run(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(schema.job_runs).where(schema.job_runs.c.status == "ok")
            .order_by(schema.job_runs.c.finished_at.desc()).limit(1)
        ).mappings().first()
    return dict(row) if row else None
