"""One load: plan the sources, then validate and write every table in one transaction.

Why one transaction for the whole call: a load that dies halfway (a crash, a database error, a
file that turns out unreadable in its last batch) must leave the database exactly as it was, so
the previous month's dashboard keeps working. The load is recorded in `load_runs` before it
starts (status running) and its outcome after it ends: ok together with the data, or failed in
a separate transaction after the rollback, so a failure is never lost with the rolled-back data.

The caller's audit row (`audit`, a `queries.audit.AuditHook`) is written the same way: on the
load's own connection just before it commits, so a load is in the audit log exactly when its
data is in the tables (an audit write that fails rolls the load back); a failed load is
recorded with `ok: false` after the rollback.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from tqdm import tqdm

from queries import bulk, schema
from queries.audit import AuditHook
from queries.audit import record_failure as audit_failure
from queries.contract import LOAD_ORDER, TABLES
from queries.engine import analyze
from queries.errors import XiaonengError
from queries.importer import readers, rules
from queries.importer.keys import (
    MERGED,
    SeenKeys,
    key_text,
    mark_duplicates,
    mark_unknown_references,
)
from queries.importer.mapping import Feed, SourceSpec
from queries.importer.normalize import ERRORS, ROW, Origin, normalize
from queries.importer.readers import FIELDS, LINE, Source
from queries.importer.report import Counts, LoadReport, SourceCounts
from queries.importer.validate import derive_promised_days, row_rules


@dataclass
class Job:
    """One source feeding one contract table."""

    source: Source
    spec: SourceSpec
    feed: Feed
    origins: dict[str, Origin]

    @property
    def table(self) -> str:
        return self.feed.table


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def start_run(engine: Engine, source: str) -> LoadReport:
    """Record the load as running, in its own committed transaction."""
    report = LoadReport(load_id=str(uuid.uuid4()), source=source)
    with engine.begin() as conn:
        conn.execute(sa.insert(schema.load_runs).values(
            load_id=report.load_id, started_at=_now(), source=source[:10_000], status="running",
        ))
    return report


def fail_run(engine: Engine, report: LoadReport, exc: BaseException) -> None:
    """Mark the load failed (after the data transaction rolled back)."""
    report.status = "failed"
    report.error = str(exc) or type(exc).__name__
    with engine.begin() as conn:
        conn.execute(
            sa.update(schema.load_runs)
            .where(schema.load_runs.c.load_id == report.load_id)
            .values(status="failed", finished_at=_now(), report=report.to_dict(),
                    error=report.error)
        )


def record_failure(engine: Engine, report: LoadReport, exc: BaseException,
                   audit: AuditHook | None = None) -> None:
    """fail_run (and the caller's audit row, ok false), but never let a failure to record hide
    the error that stopped the load."""
    try:
        fail_run(engine, report, exc)
    except Exception as record_exc:  # e.g. the database went away
        exc.add_note(f"(the failure could not be recorded in load_runs: {_one_line(record_exc)})")
    audit_failure(audit, engine, exc, {"load_id": report.load_id, "source": report.source})


def audit_outcome(report: LoadReport) -> dict[str, object]:
    """What a load did, as the audit row's detail records it."""
    return {"ok": True, "load_id": report.load_id, "read": report.read,
            "loaded": report.loaded, "quarantined": report.quarantined,
            "merged_duplicates": report.merged_duplicates, "reconciles": report.reconciles}


def run_jobs(
    engine: Engine, report: LoadReport, jobs: list[Job], progress: bool,
    batch_rows: int | None = None, audit: AuditHook | None = None,
) -> LoadReport:
    """Validate and write all jobs in `LOAD_ORDER`, in one transaction; record the outcome.

    `audit` writes the caller's audit row inside that transaction, after the data and before
    the commit (see the module docstring).
    """
    batch_rows = batch_rows or readers.DEFAULT_BATCH_ROWS
    try:
        with engine.begin() as conn, bulk.bulk_session(conn):
            for table in LOAD_ORDER:
                table_jobs = [j for j in jobs if j.table == table]
                if not table_jobs:
                    continue
                seen = SeenKeys(key=list(TABLES[table].key))
                report.table(table)
                for job in table_jobs:
                    _run_job(conn, report, job, seen, progress, batch_rows)
            report.status = "ok"
            if report.extracted_at is None:  # a cut-off declared by the mapping
                report.extracted_at = declared_cutoff(jobs)
            if audit is not None:
                audit(conn, audit_outcome(report))
            conn.execute(
                sa.update(schema.load_runs)
                .where(schema.load_runs.c.load_id == report.load_id)
                .values(status="ok", finished_at=_now(), report=report.to_dict(),
                        extracted_at=report.cutoff)
            )
    except BaseException as exc:
        record_failure(engine, report, exc, audit)
        if isinstance(exc, XiaonengError | KeyboardInterrupt):
            raise
        raise XiaonengError(
            f"load {report.load_id} failed and was rolled back (the database is unchanged): "
            f"{_one_line(exc)}"
        ) from exc
    finally:
        for job in jobs:
            job.source.close()
    analyze(engine, sorted({j.table for j in jobs}))
    return report


# Timestamps that record something that happened (not due_at, a deadline in the future): the
# latest of them in a load is its data cut-off when the extract does not declare one.
EVENT_COLUMNS: dict[str, tuple[str, ...]] = {
    name: tuple(c.name for c in t.columns if c.dtype == "timestamp" and c.name != "due_at")
    for name, t in TABLES.items()
}


def latest_event(rows: pl.DataFrame, table: str) -> dt.datetime | None:
    """The latest event timestamp among `rows` of `table` (None when it has none)."""
    cols = [c for c in EVENT_COLUMNS.get(table, ()) if c in rows.columns]
    if not cols or rows.is_empty():
        return None
    return rows.select(pl.max_horizontal(pl.col(cols).max())).item()


def declared_cutoff(jobs: list[Job]) -> dt.datetime | None:
    """The latest cut-off the mapping declares for the sources of this load (None: none)."""
    declared = [j.spec.extracted_at for j in jobs if j.spec.extracted_at is not None]
    return max(declared) if declared else None


def _one_line(exc: BaseException) -> str:
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _run_job(
    conn: Connection, report: LoadReport, job: Job, seen: SeenKeys, progress: bool,
    batch_rows: int,
) -> None:
    counts = Counts()
    report.sources.append(SourceCounts(job.source.name, job.table, counts))
    bar = tqdm(desc=f"{job.table} ← {job.source.name}", unit=" rows", disable=not progress,
               leave=False)
    try:
        for batch in job.source.batches(batch_rows):
            _run_batch(conn, report, job, seen, batch, counts)
            bar.update(batch.height)
    finally:
        bar.close()
    report.table(job.table).add(counts)


def _run_batch(
    conn: Connection, report: LoadReport, job: Job, seen: SeenKeys, batch: pl.DataFrame,
    counts: Counts,
) -> None:
    table = job.table
    df = normalize(batch, table, job.feed, job.spec, job.origins)
    if table == "cases":
        df, warnings = derive_promised_days(conn, df, job.origins)
        report.warnings.extend(w for w in warnings if w not in report.warnings)
    df = row_rules(df, table, job.origins)
    df = mark_unknown_references(conn, df, table, job.origins)
    df = mark_duplicates(df, table, seen, job.source.name, job.source.unit, job.feed.distinct,
                         job.origins)
    has_errors = pl.col(ERRORS).list.len() > 0
    bad = df.filter(has_errors)
    good = df.filter(~has_errors & ~pl.col(MERGED))
    counts.read += batch.height
    counts.merged_duplicates += df.filter(~has_errors & pl.col(MERGED)).height
    counts.quarantined += quarantine(conn, report.load_id, job, batch, bad)
    report.note_events(latest_event(good, table))
    cols = TABLES[table].names
    counts.add_upsert(bulk.upsert_frame(conn, schema.CONTRACT_TABLES[table], good.select(cols)))


def quarantine(
    conn: Connection, load_id: str, job: Job, batch: pl.DataFrame, bad: pl.DataFrame
) -> int:
    """Write rejected rows with the raw row as read, where it was, and every rule it broke."""
    if bad.is_empty():
        return 0
    src = job.source
    source_cols = [c for c in batch.columns if c not in (LINE, FIELDS)]
    raw = (
        batch.with_row_index(ROW)
        .join(bad.select(ROW), on=ROW, how="semi", maintain_order="left")
        .select(ROW, pl.struct([pl.col(c).cast(pl.String) for c in source_cols])
                .struct.json_encode().alias("raw"))
    )
    parts = pl.element().str.split(rules.SEP)
    describe = (
        pl.when(parts.list.get(1) == "(line)")
        .then(pl.concat_str([parts.list.get(2), pl.lit(" ["), parts.list.get(0), pl.lit("]")]))
        .otherwise(pl.concat_str([pl.lit("column "), parts.list.get(1), pl.lit(": "),
                                  parts.list.get(2), pl.lit(" ["), parts.list.get(0), pl.lit("]")]))
    )
    rows = bad.join(raw, on=ROW, how="left", maintain_order="left").select(
        pl.lit(load_id).alias("load_id"),
        pl.lit(job.table).alias("table_name"),
        pl.lit(src.name).alias("source_file"),
        pl.col(LINE).cast(pl.Int64).alias("source_line"),
        key_text(list(TABLES[job.table].key)).alias("row_key"),
        pl.col(ERRORS).list.eval(pl.element().str.split(rules.SEP).list.get(0))
        .list.unique(maintain_order=True).list.join(";").alias("rules"),
        pl.concat_str([
            pl.lit(f"{src.name} {src.unit} "), pl.col(LINE).cast(pl.String), pl.lit(": "),
            pl.col(ERRORS).list.eval(describe).list.join("; "),
        ]).alias("reasons"),
        pl.col("raw"),
        pl.lit(_now()).cast(pl.Datetime("us")).alias("quarantined_at"),
    )
    bulk.insert_frame(conn, schema.quarantine, rows)
    return rows.height
