"""数据管理 actions: upload with column mapping, calendar edits, running a job.

Each action calls the layer that owns it (the importer, the calendar store, the metric job)
and then invalidates the dashboard cache, so the pages show the new data at once.
"""

from __future__ import annotations

import datetime as dt
import json
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import polars as pl

from dashboard import data
from dashboard.state import engine
from queries.contract import TABLES


def read_preview(name: str, payload: bytes, rows: int = 20) -> tuple[list[str], pl.DataFrame]:
    """Headers and the first rows of an uploaded file, read by the importer's own readers.

    Using the importer's readers means the preview sees the same encoding (UTF-8, BOM, GBK),
    delimiter and sheet as the import will.
    """
    from queries.importer.readers import open_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(payload)
        source = open_file(path)
        try:
            headers = list(source.headers)
            batch = next(iter(source.batches(rows)), None)
        finally:
            source.close()
    if batch is None:
        return headers, pl.DataFrame({h: [] for h in headers})
    shown = [h for h in headers if h in batch.columns]
    return headers, batch.head(rows).select(shown).select(pl.all().cast(pl.String))


def guess_table(name: str) -> str | None:
    from queries.importer.mapping import table_for_name

    return table_for_name(Path(name).stem)


def default_mapping(table: str, headers: list[str]) -> dict[str, str | None]:
    """Contract column → the file header that matches its name or Chinese header (or None)."""
    by_key = {h.strip().lower(): h for h in headers}
    out: dict[str, str | None] = {}
    for col in TABLES[table].columns:
        out[col.name] = by_key.get(col.name.lower()) or by_key.get(col.zh.lower())
    return out


def mapping_toml(file_name: str, table: str, columns: Mapping[str, str | None]) -> str:
    """A mapping file (queries.importer.mapping format) for one uploaded file."""
    lines = ["[[sources]]", f"file = {json.dumps(file_name, ensure_ascii=False)}", "",
             "[[sources.tables]]", f"name = {json.dumps(table)}", "",
             "[sources.tables.columns]"]
    for col, header in columns.items():
        if header:
            lines.append(f"{col} = {json.dumps(header, ensure_ascii=False)}")
    return "\n".join(lines) + "\n"


def import_upload(name: str, payload: bytes, table: str, columns: Mapping[str, str | None]
                  ) -> Any:
    """Import an uploaded file with the chosen mapping (one transaction) and invalidate."""
    from queries.importer import import_paths

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(payload)
        mapping = Path(tmp) / "mapping.toml"
        mapping.write_text(mapping_toml(path.name, table, columns), encoding="utf-8")
        try:
            return import_paths(engine(), [path], mapping=mapping, progress=False)
        finally:
            data.invalidate()


def report_frame(report: Any) -> pl.DataFrame:
    rows = [{"table": t, **c.to_dict()} for t, c in report.tables.items()]
    return pl.DataFrame(rows) if rows else pl.DataFrame()


def save_calendar(edited: pl.DataFrame, original: pl.DataFrame) -> int:
    """Write the days whose workday flag or name changed (source: the dashboard edit)."""
    from queries.calendar import upsert_days

    joined = edited.join(original, on="date", suffix="_old")
    changed = joined.filter(
        (pl.col("is_workday") != pl.col("is_workday_old"))
        | (pl.col("name").fill_null("") != pl.col("name_old").fill_null(""))
    ).select("date", "is_workday", "name",
             pl.lit(f"edited in the dashboard {dt.date.today():%Y-%m-%d}").alias("source"))
    n = upsert_days(engine(), changed) if changed.height else 0
    data.invalidate()
    return n


def import_calendar(name: str, payload: bytes) -> int:
    from queries.calendar import import_calendar_file

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / Path(name).name
        path.write_bytes(payload)
        n = import_calendar_file(engine(), path)
    data.invalidate()
    return n


def run_job(months: list[dt.date] | None, as_of: dt.datetime) -> Any:
    """Run the metric job (the whole history when `months` is None) and invalidate."""
    from metrics.jobs import run_compute
    from metrics.settings import load_settings

    try:
        return run_compute(engine(), months, as_of=as_of, settings=load_settings())
    finally:
        data.invalidate()
