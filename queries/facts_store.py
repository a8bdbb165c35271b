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
from collections.abc import Callable
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from queries import pg_binary, run_liveness, schema
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


# Card ids per statement when looking for cards that moved months (well under SQLite's limit
# on bound parameters).
_ID_CHUNK = 500


def _drop_moved_cards(conn: Connection, cards: pl.DataFrame) -> list[dt.date]:
    """Delete stored cards (of other months) whose id is among the new `cards`; their months.

    A card's id is its case (or review) and rule, stable across settings; its month is the month
    of issue, which a settings change can move (red_grace_days 3 → 2 issues a red card a day
    earlier, perhaps in the month before). Recomputing one month must then take the card out of
    the month that held it, instead of failing on the duplicate id.
    """
    k = schema.cards
    ids = cards["card_id"].to_list()
    moved: set[dt.date] = set()
    for i in range(0, len(ids), _ID_CHUNK):
        chunk = ids[i:i + _ID_CHUNK]
        months = conn.execute(
            sa.select(k.c.month).where(k.c.card_id.in_(chunk)).distinct()).scalars().all()
        if months:
            moved.update(m if isinstance(m, dt.date) else dt.date.fromisoformat(str(m)[:10])
                         for m in months)
            conn.execute(k.delete().where(k.c.card_id.in_(chunk)))
    return sorted(moved)


def _refresh_card_facts(conn: Connection, months: list[dt.date],
                        card_facts_of: Callable[[pl.DataFrame], pl.DataFrame]) -> None:
    """Rebuild card_facts of `months` from their stored cards (after cards moved out)."""
    from queries.extracts import _select_frame

    k, kf = schema.cards, schema.card_facts
    for m in months:
        rows = _select_frame(conn, sa.select(k).where(k.c.month == m))
        conn.execute(kf.delete().where(kf.c.month == m))
        _insert(conn, kf, card_facts_of(rows))


def replace_months(
    engine: Engine,
    months: list[dt.date],
    frames: dict[str, pl.DataFrame],
    warnings: pl.DataFrame | None,
    catalogue: tuple[dt.date, pl.DataFrame] | None,
    audit: AuditHook | None = None,
    card_facts_of: Callable[[pl.DataFrame], pl.DataFrame] | None = None,
) -> dict[str, int]:
    """Replace `months` in every monthly table with `frames`, in one transaction.

    Cards that now belong to `months` but are stored under another month (settings changed
    since that month was computed) are moved: deleted there, and that month's card_facts are
    rebuilt from its remaining cards with `card_facts_of` (metrics.cards.card_facts).

    `audit(conn, {"ok": True, "written": {table: rows}})` is called on that transaction after
    the facts are written and before the commit: if it fails, the facts roll back with it.
    """
    written: dict[str, int] = {}
    with engine.begin() as conn:
        moved: list[dt.date] = []
        for name in MONTHLY_TABLES:
            if name not in frames:
                continue
            table = schema.metadata.tables[name]
            conn.execute(table.delete().where(table.c.month.in_(months)))
            if name == "cards":
                moved = [m for m in _drop_moved_cards(conn, frames[name]) if m not in months]
            written[name] = _insert(conn, table, frames[name])
        if moved:
            if card_facts_of is None:
                raise ValueError("cards moved between months: card_facts_of is required")
            _refresh_card_facts(conn, moved, card_facts_of)
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


def data_cutoff(engine: Engine) -> dt.datetime | None:
    """The cut-off of the data in the database: the latest `extracted_at` of the ok loads.

    Each load records its extract's cut-off (declared, or its latest event time); the data as
    a whole reach as far as the newest of them. None when no load recorded one (a database
    loaded before the cut-off was kept): the job then measures as of "now", as it used to.
    """
    lr = schema.load_runs
    with engine.connect() as conn:
        value = conn.execute(
            sa.select(sa.func.max(lr.c.extracted_at)).where(lr.c.status == "ok")
        ).scalar_one_or_none()
    if isinstance(value, str):  # SQLite without type affinity on an aggregate
        value = dt.datetime.fromisoformat(value)
    return value


def default_as_of(cutoff: dt.datetime | None, now: dt.datetime | None = None) -> dt.datetime:
    """min(now, the data cut-off): a log that stops on 10-31 is measured as of 10-31, so its
    open cases and pending deadlines are not judged on days the log does not cover."""
    now = (now or dt.datetime.now()).replace(microsecond=0)
    return min(now, cutoff) if cutoff is not None else now


def start_run(engine: Engine, run: dict[str, Any]) -> None:
    """Record a job as running, held by this process (runs left `running` by a process that is
    gone are marked interrupted first: `queries.run_liveness`)."""
    run_liveness.mark_interrupted(engine)
    holder = run_liveness.hold(engine, run["run_id"])
    try:
        with engine.begin() as conn:
            conn.execute(schema.job_runs.insert().values(**run, holder=holder))
    except BaseException:
        run_liveness.release(run["run_id"])
        raise


def finish_run(engine: Engine, run_id: str, **values: Any) -> None:
    try:
        with engine.begin() as conn:
            conn.execute(schema.job_runs.update().where(schema.job_runs.c.run_id == run_id)
                         .values(**values))
    finally:
        run_liveness.release(run_id)


def last_run(engine: Engine) -> dict[str, Any] | None:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(schema.job_runs).where(schema.job_runs.c.status == "ok")
            .order_by(schema.job_runs.c.finished_at.desc()).limit(1)
        ).mappings().first()
    return dict(row) if row else None
