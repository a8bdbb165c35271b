"""One load: plan the sources, then validate and write every table in one transaction.

Why one transaction for the whole call: a load that dies halfway (a crash, a database error, a
file that turns out unreadable in its last batch) must leave the database exactly as it was, so
the previous month's dashboard keeps working. The load is recorded in `load_runs` before it
starts (status running) and its outcome after it ends: ok together with the data, or failed in
a separate transaction after the rollback, so a failure is never lost with the rolled-back data.

The caller's audit row (`audit`, a `queries.audit.AuditHook`) is written the same way: on the
load's own connection just before it commits, so a load is in the audit log exactly when its
data is in the tables (an audit write that fails rolls the load back); a failed load is
recorded with `ok: false` after the rollback. A load whose process dies (kill -9) never records
an outcome: the next load or job marks it `interrupted` (`queries.run_liveness`).

Every row written records its origin: the file of this load it came from (`load_files`, with
the source system the mapping declares) and its line, so a later key conflict can say where
the stored row came from. A quarantined row is stored once: a re-import of the same bad row
(same table, file name, line and raw values) updates its quarantine row — now under the new
load, `times` + 1 — instead of adding another.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass, field
from pathlib import PurePath

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from tqdm import tqdm

from queries import bulk, run_liveness, schema
from queries.audit import AuditHook
from queries.audit import record_failure as audit_failure
from queries.contract import LOAD_ORDER, TABLES
from queries.engine import analyze
from queries.errors import XiaonengError, escaped
from queries.importer import identity, readers, rules
from queries.importer.keys import (
    MERGED,
    SeenKeys,
    key_text,
    mark_duplicates,
    mark_unknown_references,
)
from queries.importer.mapping import DateWindow, Feed, SourceSpec
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
    file_id: int | None = field(default=None, init=False)  # its load_files row, once written

    @property
    def table(self) -> str:
        return self.feed.table


def _now() -> dt.datetime:
    return dt.datetime.now().replace(microsecond=0)


def start_run(engine: Engine, source: str) -> LoadReport:
    """Record the load as running, in its own committed transaction.

    First, loads and jobs left `running` by a process that is gone are marked interrupted."""
    run_liveness.mark_interrupted(engine)
    report = LoadReport(load_id=str(uuid.uuid4()), source=source, started_at=_now())
    holder = run_liveness.hold(engine, report.load_id)
    try:
        with engine.begin() as conn:
            conn.execute(sa.insert(schema.load_runs).values(
                load_id=report.load_id, started_at=report.started_at, source=source[:10_000],
                status="running", holder=holder,
            ))
    except BaseException:
        run_liveness.release(report.load_id)
        raise
    return report


def fail_run(engine: Engine, report: LoadReport, exc: BaseException) -> None:
    """Mark the load failed (after the data transaction rolled back)."""
    report.status = "failed"
    report.error = _one_line(exc)
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
    finally:
        run_liveness.release(report.load_id)
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
    state = _LoadState(report)
    try:
        with engine.begin() as conn, bulk.bulk_session(conn):
            for table in LOAD_ORDER:
                table_jobs = [j for j in jobs if j.table == table]
                if not table_jobs:
                    continue
                seen = SeenKeys(key=list(TABLES[table].key))
                report.table(table)
                for job in table_jobs:
                    _run_job(conn, state, job, seen, progress, batch_rows)
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
    run_liveness.release(report.load_id)
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
    """The error as one line, control characters escaped (what the CLI, load_runs.error and
    the audit log show)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if orig is not None else exc).strip()
    return escaped(text.splitlines()[0]) if text else type(exc).__name__


@dataclass
class _LoadState:
    """What one load carries from table to table: its report, its date window (fixed at the
    start), and the keys it quarantined as key conflicts (their references follow them)."""

    report: LoadReport
    conflicts: identity.Conflicts = field(default_factory=dict)
    windows: dict[int, DateWindow] = field(default_factory=dict)

    def window(self, spec: SourceSpec) -> DateWindow:
        return self.windows.setdefault(id(spec), spec.window(self.report.started_at))


def _run_job(
    conn: Connection, state: _LoadState, job: Job, seen: SeenKeys, progress: bool,
    batch_rows: int,
) -> None:
    counts = Counts()
    report = state.report
    report.sources.append(SourceCounts(job.source.name, job.table, counts))
    bar = tqdm(desc=f"{job.table} ← {job.source.name}", unit=" rows", disable=not progress,
               leave=False)
    try:
        for batch in job.source.batches(batch_rows):
            _run_batch(conn, state, job, seen, batch, counts)
            bar.update(batch.height)
    finally:
        bar.close()
    report.table(job.table).add(counts)


def _run_batch(
    conn: Connection, state: _LoadState, job: Job, seen: SeenKeys, batch: pl.DataFrame,
    counts: Counts,
) -> None:
    table = job.table
    report = state.report
    df = normalize(batch, table, job.feed, job.spec, job.origins, state.window(job.spec))
    if table == "suspensions":
        df = identity.add_suspension_keys(df)
    if table == "cases":
        df, warnings = derive_promised_days(conn, df, job.origins)
        report.warnings.extend(w for w in warnings if w not in report.warnings)
    df = row_rules(df, table, job.origins)
    df = mark_unknown_references(conn, df, table, job.origins)
    df = identity.mark_conflicting_references(df, table, job.origins, state.conflicts)
    df = mark_duplicates(df, table, seen, job.source.name, job.source.unit, job.feed.distinct,
                         job.origins)
    writable = (pl.col(ERRORS).list.len() == 0) & ~pl.col(MERGED)
    df, stored = identity.mark_key_conflicts(conn, df, table, writable, job.origins,
                                             job.spec.source, state.conflicts)
    has_errors = pl.col(ERRORS).list.len() > 0
    bad = df.filter(has_errors)
    good = df.filter(~has_errors & ~pl.col(MERGED))
    counts.read += batch.height
    counts.merged_duplicates += df.filter(~has_errors & pl.col(MERGED)).height
    counts.quarantined += quarantine(conn, report.load_id, job, batch, bad)
    report.note_events(latest_event(good, table))
    if good.is_empty():
        return
    cols = TABLES[table].names
    rows = good.select(*cols, pl.lit(_file_id(conn, report.load_id, job)).alias("origin_file"),
                       pl.col(LINE).cast(pl.Int64).alias("origin_line"))
    counts.add_upsert(bulk.upsert_frame(conn, schema.CONTRACT_TABLES[table], rows,
                                        compare=cols, existing=stored))


def _file_id(conn: Connection, load_id: str, job: Job) -> int:
    """The job's `load_files` row (written with its first rows, in the load's transaction)."""
    if job.file_id is None:
        result = conn.execute(sa.insert(schema.load_files).values(
            load_id=load_id, table_name=job.table, file=job.source.name[:10_000],
            source=job.spec.source))
        job.file_id = int(result.inserted_primary_key[0])
    return job.file_id


def _fingerprints(table: str, source: str, lines: list[int | None], raws: list[str]) -> list[str]:
    """What makes two quarantined rows the same: table, file name (not its folder: an upload
    lands in a new temporary folder each time), line and the raw values."""
    name = PurePath(source).name
    return [hashlib.sha256(f"{table}\x00{name}\x00{line}\x00{raw}".encode()).hexdigest()
            for line, raw in zip(lines, raws, strict=True)]


def quarantine(
    conn: Connection, load_id: str, job: Job, batch: pl.DataFrame, bad: pl.DataFrame
) -> int:
    """Write rejected rows with the raw row as read, where it was, and every rule it broke.

    A row quarantined before (same fingerprint) is updated in place — moved to this load, its
    reasons refreshed, `times` + 1 — so a re-import does not list it twice."""
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
            pl.lit(f"{escaped(src.name)} {src.unit} "), pl.col(LINE).cast(pl.String),
            pl.lit(": "), pl.col(ERRORS).list.eval(describe).list.join("; "),
        ]).alias("reasons"),
        pl.col("raw"),
        pl.lit(_now()).cast(pl.Datetime("us")).alias("quarantined_at"),
    )
    rows = rows.with_columns(pl.Series("fingerprint", _fingerprints(
        job.table, src.name, rows["source_line"].to_list(), rows["raw"].to_list()),
        dtype=pl.String), pl.lit(1).alias("times"))
    # the same bad row twice in one load (two copies of a file in two folders): stored once
    unique = rows.unique(subset="fingerprint", keep="last", maintain_order=True)
    bulk.upsert_frame(conn, schema.quarantine, unique, key=["fingerprint"],
                      compare=["load_id"], increment=("times",))
    return rows.height
