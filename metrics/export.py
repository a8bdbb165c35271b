"""The export writer: the metric values the dashboard shows, as a long table in a file.

One row per period × grain key × metric with the columns `period`, the key columns that apply
to the grain (`region_code`, `agency_code`, `item_code`, `channel`), `metric_id`,
`numerator`, `denominator`, `value`. The values come from `metrics.query.metric_values`, so an
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


def export_columns(grain: str) -> list[str]:
    return ["period", *EXPORT_KEYS[grain], "metric_id", "numerator", "denominator", "value"]


def export_frame(
    engine: Engine,
    grain: str,
    month_from: dt.date,
    month_to: dt.date,
    metric_ids: Sequence[str] | None = None,
    filters: Filters | None = None,
    period: str = "month",
) -> pl.DataFrame:
    """The long table that `export_metrics` writes (also used by tests and the app's download)."""
    if grain not in EXPORT_KEYS:
        raise XiaonengError(f"grain must be one of {', '.join(EXPORT_GRAINS)}, got {grain!r}")
    ids = validate_metric_ids(metric_ids)
    base = filters or Filters(month_from, month_to)
    df = metric_values(engine, ids, base.with_months(month_from, month_to), grain, period)  # type: ignore[arg-type]
    return df.select(export_columns(grain))


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
) -> Path:
    """Write the metric values to `out_path` (default `xiaoneng_<grain>_<from>_<to>.<fmt>`)."""
    if fmt not in FORMATS:
        raise XiaonengError(f"format must be one of {', '.join(FORMATS)}, got {fmt!r}")
    df = export_frame(engine, grain, month_from, month_to, metric_ids, filters, period)
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
