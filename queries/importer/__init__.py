"""The importer: files, frames or another database → contract tables, validated, in one transaction.

Public API (the CLI and the demo generator call these):

- `import_paths(engine, paths, mapping=None, progress=True)` — CSV / Excel / Parquet files named
  after contract tables (or directories of them), or any file a mapping file describes;
- `import_frames(engine, frames, source, progress=True)` — in-memory frames with contract columns;
- `import_url(engine, url, table, query, source_table, mapping)` — a table or SELECT of another
  database given by SQLAlchemy URL.

Each takes an optional `audit` (`queries.audit.hook(...)`): the caller's audit row, written in
the load's own transaction just before it commits (a failed load: `ok: false`, afterwards).

Each returns a `LoadReport`. Every row read is loaded, quarantined (table `quarantine`, with its
raw values, file, line, and every rule it broke) or merged as an identical duplicate, and the
report shows that the counts reconcile. A file that cannot be used at all (empty, unreadable, a
required column missing, a workbook beyond its limits) is refused before anything is written,
with a one-line `ImportRejected` naming the file and the problem. A row whose key is stored for
another case is a key conflict, never an update (`queries.importer.identity`); every row
written records its load, file and line. The mapping file format is documented in
`queries.importer.mapping`, the user's guide is docs/importing.md.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from queries.audit import AuditHook
from queries.contract import TABLES
from queries.errors import ImportRejected
from queries.importer import rules
from queries.importer.load import Job, record_failure, run_jobs, start_run
from queries.importer.mapping import (
    Mapping,
    SourceSpec,
    default_spec,
    load_mapping,
    table_for_name,
)
from queries.importer.normalize import resolve
from queries.importer.readers import (
    EXCEL_SUFFIXES,
    SUPPORTED_SUFFIXES,
    DatabaseSource,
    ExcelSource,
    FrameSource,
    Source,
    open_file,
    reject,
    workbook_sheets,
)
from queries.importer.report import Counts, LoadReport

__all__ = ["Counts", "LoadReport", "import_frames", "import_paths", "import_url"]


def _jobs_for(source: Source, spec: SourceSpec, only_table: str | None = None) -> list[Job]:
    feeds = [f for f in spec.feeds if only_table is None or f.table == only_table]
    return [Job(source, spec, f, resolve(f.table, f, source.headers, source.name)) for f in feeds]


def _unused_columns(jobs: list[Job]) -> list[str]:
    """A warning per source whose columns no table reads, so a misspelt header is noticed."""
    used: dict[str, set[str]] = {}
    headers: dict[str, list[str]] = {}
    for job in jobs:
        headers[job.source.name] = job.source.headers
        used.setdefault(job.source.name, set()).update(
            h for o in job.origins.values() for h in o.headers
        )
    warnings = []
    for name, cols in headers.items():
        unused = [h for h in cols if h not in used[name]]
        if unused:
            shown = ", ".join(unused[:12]) + (f" … (+{len(unused) - 12})" if len(unused) > 12 else "")
            warnings.append(f"{name}: column(s) not imported: {shown}")
    return warnings


def _expand(paths: list[Path]) -> tuple[list[tuple[Path, bool]], list[str]]:
    """Files to read, each flagged whether the user named it (True) or a directory held it."""
    files: list[tuple[Path, bool]] = []
    warnings: list[str] = []
    seen: set[Path] = set()
    for p in paths:
        p = Path(p)
        if p.is_dir():
            found = sorted(f for f in p.iterdir()
                           if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES)
            if not found:
                warnings.append(f"{p}: no CSV, Excel or Parquet files in this directory")
            candidates = [(f, False) for f in found]
        else:
            candidates = [(p, True)]
        for f, named in candidates:
            # The same file twice (named and inside a named directory) would read as duplicates.
            if f.resolve() not in seen:
                seen.add(f.resolve())
                files.append((f, named))
    return files, warnings


def _unknown_file(path: Path, mapping: Mapping | None) -> str:
    """Why a file feeds no table: no mapping entry (naming the patterns tried), no table name."""
    names = ", ".join(f"{t}.csv" for t in TABLES)
    if mapping is not None:
        return (f"{path}: no entry of the mapping {mapping.path} matches this file name (its "
                f"file patterns: {mapping.patterns}), and the name is not a contract table's "
                f"({names}) [{rules.UNKNOWN_TABLE}]")
    return (f"{path}: cannot tell which contract table this file feeds — name it after a table "
            f"({names}) or describe it in a mapping file [{rules.UNKNOWN_TABLE}]")


def _plan_paths(
    paths: list[Path], mapping: Mapping | None
) -> tuple[list[Job], list[str]]:
    files, warnings = _expand(paths)
    jobs: list[Job] = []
    try:
        for path, named in files:
            spec = mapping.spec_for(path.name) if mapping else None
            table = table_for_name(path.stem) if spec is None else None
            workbook = path.suffix.lower() in EXCEL_SUFFIXES
            if spec is None and table is None and not workbook:
                if named:
                    raise ImportRejected(_unknown_file(path, mapping))
                warnings.append(f"skipped: {_unknown_file(path, mapping)}")
                continue
            if workbook:
                warnings += _plan_workbook(path, spec, table, mapping, jobs, named)
                continue
            spec = spec or default_spec(table)
            source = open_file(path, encoding=spec.encoding, delimiter=spec.delimiter)
            jobs += _jobs_for(source, spec)
    except BaseException:
        for job in jobs:
            job.source.close()
        raise
    if not jobs:
        raise ImportRejected(
            f"nothing to import from {', '.join(str(p) for p in paths) or 'no paths'}"
        )
    return jobs, warnings + _unused_columns(jobs)


def _sheet_spec(sheet: str, headers: list[str]) -> SourceSpec | None:
    """A sheet of a workbook named after no table: the table its name or its header fits."""
    table = table_for_name(sheet)
    if table is not None:
        return default_spec(table)
    lowered = {h.strip().lower() for h in headers}
    fits = [t.name for t in TABLES.values()
            if all(c.name in lowered or c.zh.lower() in lowered
                   for c in t.file_columns if not c.nullable and c.default is None)]
    return default_spec(fits[0]) if len(fits) == 1 else None


def _plan_workbook(
    path: Path, spec: SourceSpec | None, table: str | None, mapping: Mapping | None,
    jobs: list[Job], named: bool = True,
) -> list[str]:
    """Jobs for every sheet of a workbook that fits (appended to `jobs`); the report's notes.

    Which sheets: those the mapping lists (`sheet`/`sheets`: each must exist and fit); else
    every sheet whose header fits the mapping's tables, or the table the file is named after,
    or — for a file named after neither — the table the sheet's name or header fits. Other
    non-empty sheets are named in the report as skipped. When no sheet fits, the file is
    refused with each sheet's reason (a one-sheet workbook: that sheet's own reason) — or,
    found in a directory rather than named, skipped with that reason."""
    names = workbook_sheets(path)
    listed = spec.sheets if spec is not None else None
    if listed:
        missing = [s for s in listed if s not in names]
        if missing:
            raise reject(str(path), rules.FILE_UNREADABLE, f"has no sheet {', '.join(map(repr, missing))} (its sheets: "
                         f"{', '.join(map(repr, names))})")
    skipped: list[str] = []
    refusals: list[ImportRejected] = []
    found = False
    for sheet in listed or names:
        source = ExcelSource(path, sheet, label_sheet=len(names) > 1)
        if source.empty:
            continue
        sheet_spec = spec or (default_spec(table) if table else _sheet_spec(sheet, source.headers))
        if sheet_spec is None:
            skipped.append(f"{source.name}: its name and header fit no contract table")
            continue
        try:
            jobs += _jobs_for(source, sheet_spec)
            found = True
        except ImportRejected as exc:
            if listed:
                raise
            refusals.append(exc)
            skipped.append(str(exc))
    if found:
        return [f"sheet skipped: {s}" for s in skipped]
    if len(refusals) == 1 and len(skipped) == 1:
        refusal = refusals[0]
    elif not skipped:
        refusal = reject(str(path), rules.FILE_EMPTY, "every sheet of the workbook is empty")
    else:
        why = _unknown_file(path, mapping) if spec is None and table is None else str(path)
        refusal = ImportRejected(f"{why.removesuffix(f' [{rules.UNKNOWN_TABLE}]')}: no sheet "
                                 f"fits — {'; '.join(skipped)} [{rules.UNKNOWN_TABLE}]")
    if named:
        raise refusal
    return [f"skipped: {refusal}"]


def _run(engine: Engine, label: str, plan, progress: bool, audit: AuditHook | None,
         extracted_at: dt.datetime | None = None) -> LoadReport:
    report = start_run(engine, label)
    report.extracted_at = extracted_at
    try:
        jobs, warnings = plan()
    except BaseException as exc:
        record_failure(engine, report, exc, audit)
        raise
    report.warnings.extend(warnings)
    return run_jobs(engine, report, jobs, progress, audit=audit)


def import_paths(
    engine: Engine, paths: list[Path], mapping: Path | None = None, progress: bool = True,
    audit: AuditHook | None = None, extracted_at: dt.datetime | None = None,
) -> LoadReport:
    """Import files (or directories of files) into the contract tables, in one transaction.

    `extracted_at` declares the extract's data cut-off (else the mapping's, else the latest
    event time loaded); it is recorded in load_runs and bounds the metric job's as-of time.
    """
    paths = [Path(p) for p in paths]
    label = ", ".join(str(p) for p in paths) + (f" (mapping {mapping})" if mapping else "")

    def plan() -> tuple[list[Job], list[str]]:
        return _plan_paths(paths, load_mapping(mapping) if mapping else None)

    return _run(engine, label, plan, progress, audit, extracted_at)


def import_frames(
    engine: Engine, frames: dict[str, pl.DataFrame], source: str, progress: bool = True,
    audit: AuditHook | None = None, extracted_at: dt.datetime | None = None,
) -> LoadReport:
    """Import in-memory frames with contract column names, through the same validation path."""

    def plan() -> tuple[list[Job], list[str]]:
        jobs = []
        for table, frame in frames.items():
            if table not in TABLES:
                raise ImportRejected(
                    f"{source}: {table!r} is not a contract table ({', '.join(TABLES)}) "
                    f"[{rules.UNKNOWN_TABLE}]"
                )
            jobs += _jobs_for(FrameSource(f"{source}:{table}", frame), default_spec(table))
        return jobs, []

    return _run(engine, source, plan, progress, audit, extracted_at)


def import_url(
    engine: Engine,
    url: str,
    table: str | None = None,
    query: str | None = None,
    source_table: str | None = None,
    mapping: Path | None = None,
    progress: bool = False,
    audit: AuditHook | None = None,
    extracted_at: dt.datetime | None = None,
) -> LoadReport:
    """Import a table/view (`source_table`) or a SELECT (`query`) of another database.

    The target contract table is `table`, or the one `source_table` is named after, or what the
    mapping entry for `source_table` (or for "query") says.
    """
    if table is not None and table not in TABLES:
        raise ImportRejected(f"--table {table!r} is not a contract table ({', '.join(TABLES)})")
    if not query and not source_table:
        source_table = table
    what = source_table or "query"
    try:
        shown = sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError as exc:
        raise ImportRejected(f"not a database URL: {url!r}") from exc
    label = f"{shown} {what}"

    def plan() -> tuple[list[Job], list[str]]:
        spec = _url_spec(what, table, load_mapping(mapping) if mapping else None)
        source = DatabaseSource(url, source_table=source_table, query=query)
        try:
            return _jobs_for(source, spec, only_table=table), []
        except BaseException:
            source.close()
            raise

    return _run(engine, label, plan, progress, audit, extracted_at)


def _url_spec(what: str, table: str | None, mapping: Mapping | None) -> SourceSpec:
    spec = mapping.spec_for(what) if mapping else None
    if spec is None and mapping is not None and len(mapping.sources) == 1:
        spec = mapping.sources[0]
    if spec is not None:
        if table is not None and all(f.table != table for f in spec.feeds):
            raise ImportRejected(f"{mapping.path}: no entry for table {table!r} [{rules.UNKNOWN_TABLE}]")
        return spec
    target = table or table_for_name(what.rpartition(".")[2])
    if target is None:
        raise ImportRejected(
            f"{what}: say which contract table it fills (--table) or give a mapping file "
            f"[{rules.UNKNOWN_TABLE}]"
        )
    return default_spec(target)
