"""The export writer: the metric values the dashboard shows, as a long table in a file.

One row per period × grain key × metric with the columns `period`, the key columns that apply
to the grain (`region_code`, `agency_code`, `item_code`, `channel`), `metric_id`,
`numerator`, `denominator`, `value`, then the provenance every row carries: `as_of` (the
moment the facts were measured at) and `data_cutoff` (where the imported data stop), both of
the job run behind the facts. The values come from `metrics.query.metric_values`, so an
export can never disagree with the screen. xlsx cells hold numbers (not formatted text) so that
a spreadsheet user can compute with them; shares stay 0–1. Text cells (codes come from imported
data) go through `queries.spreadsheet_cells`: never a formula in CSV or xlsx.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

import polars as pl
from sqlalchemy.engine import Engine

from metrics.query import Filters, metric_values, validate_metric_ids
from queries import spreadsheet_cells
from queries.errors import XiaonengError

Format = Literal["csv", "parquet", "xlsx"]
FORMATS: tuple[str, ...] = ("csv", "parquet", "xlsx")
EXPORT_GRAINS: tuple[str, ...] = ("city", "region", "agency", "item", "channel")

# The key columns written for each grain (an agency row also names its region).
EXPORT_KEYS: dict[str, list[str]] = {
    "city": ["region_code"],
    "region": ["region_code"],
    "agency": ["region_code", "agency_code"],
    "item": ["item_code"],
    "channel": ["channel"],
    "sector": ["sector"],
}


# Provenance columns after the values: text "YYYY-MM-DD HH:MM:SS" (empty when not recorded).
PROVENANCE_COLUMNS: list[str] = ["as_of", "data_cutoff"]


def export_columns(grain: str) -> list[str]:
    """The metric columns of a grain's export (the provenance columns follow them)."""
    return ["period", *EXPORT_KEYS[grain], "metric_id", "numerator", "denominator", "value"]


def provenance(engine: Engine) -> dict[str, str | None]:
    """as_of and data_cutoff of the last successful job run, as text (None: not recorded)."""
    from queries.facts_store import last_run

    run = last_run(engine) or {}
    return {k: (f"{run[k]:%Y-%m-%d %H:%M:%S}" if run.get(k) else None)
            for k in PROVENANCE_COLUMNS}


def export_frame(
    engine: Engine,
    grain: str,
    month_from: dt.date,
    month_to: dt.date,
    metric_ids: Sequence[str] | None = None,
    filters: Filters | None = None,
    period: str = "month",
    level: str | None = None,
) -> pl.DataFrame:
    """The long table that `export_metrics` writes (also used by tests and the app's download).

    Grains (metrics.query): `city` is one row labelled with the city (or the filter's region);
    `region` the children of that region (with its own agencies as "…本级"), or with `level`
    every region of that level; 营商环境 metrics appear at the city and region grains, where
    they are stored.
    """
    if grain not in EXPORT_KEYS:
        raise XiaonengError(f"grain must be one of {', '.join(EXPORT_GRAINS)}, got {grain!r}")
    ids = validate_metric_ids(metric_ids)
    base = filters or Filters(month_from, month_to)
    df = metric_values(engine, ids, base.with_months(month_from, month_to), grain, period,  # type: ignore[arg-type]
                       level=level)
    prov = provenance(engine)
    return df.select(export_columns(grain)).with_columns(
        pl.lit(prov[c], dtype=pl.String).alias(c) for c in PROVENANCE_COLUMNS)


def export_metrics(
    engine: Engine,
    grain: str,
    month_from: dt.date,
    month_to: dt.date,
    metric_ids: Sequence[str] | None = None,
    fmt: Format = "csv",
    out_path: Path | str | None = None,
    filters: Filters | None = None,
    period: str = "month",
    level: str | None = None,
) -> Path:
    """Write the metric values to `out_path` (default `xiaoneng_<grain>_<from>_<to>.<fmt>`)."""
    if fmt not in FORMATS:
        raise XiaonengError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    df = export_frame(engine, grain, month_from, month_to, metric_ids, filters, period, level)
    path = Path(out_path) if out_path else Path(
        f"xiaoneng_{grain}_{month_from:%Y-%m}_{month_to:%Y-%m}.{fmt}"
    )
    if path.parent and not path.parent.exists():
        raise XiaonengError(f"output directory does not exist: {path.parent}")
    try:
        if fmt == "csv":
            # UTF-8 with BOM so that Excel on Chinese Windows opens the file correctly.
            spreadsheet_cells.write_csv(df, path)
        elif fmt == "parquet":
            df.write_parquet(path)
        else:
            spreadsheet_cells.write_xlsx(df, path, "metrics", float_precision=6, autofit=True)
    except OSError as exc:
        raise XiaonengError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path
