"""The working-day calendar as data: seeding, import and storage of `work_calendar`.

The official calendar comes from the State Council holiday notices as packaged by
`chinesecalendar` (2004–2026). Later years are imported from a CSV of the notice. The
cumulative working-day index built on top of it lives in `metrics.calendar`.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from dataclasses import dataclass
from pathlib import Path

import chinese_calendar
import polars as pl
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Engine

from queries.audit import AuditHook
from queries.contract import FALSE_LABELS, TRUE_LABELS
from queries.errors import XiaonengError
from queries.schema import work_calendar

# Chinese names for the holidays `chinesecalendar` reports in English.
HOLIDAY_ZH = {
    "New Year's Day": "元旦",
    "Spring Festival": "春节",
    "Tomb-sweeping Day": "清明节",
    "Labour Day": "劳动节",
    "Dragon Boat Festival": "端午节",
    "National Day": "国庆节",
    "Mid-autumn Festival": "中秋节",
    "Anti-Fascist 70th Day": "抗战胜利70周年纪念日",
}

OFFICIAL_SOURCE = "国务院办公厅关于部分节假日安排的通知 (chinesecalendar {version})"


def official_year_range() -> tuple[int, int]:
    """The years the packaged State Council notices cover."""
    years = sorted({d.year for d in chinese_calendar.holidays})
    return years[0], years[-1]


def official_calendar(start_year: int | None = None, end_year: int | None = None) -> pl.DataFrame:
    """`work_calendar` rows for whole years from the packaged State Council notices.

    Columns: date, is_workday, name (holiday or 调休 name, Chinese), source.
    """
    first, last = official_year_range()
    start_year = max(start_year or first, first)
    end_year = min(end_year or last, last)
    if start_year > end_year:
        return pl.DataFrame(
            schema={"date": pl.Date, "is_workday": pl.Boolean, "name": pl.String, "source": pl.String}
        )
    start, end = dt.date(start_year, 1, 1), dt.date(end_year, 12, 31)
    dates = pl.date_range(start, end, interval="1d", eager=True).to_list()
    source = OFFICIAL_SOURCE.format(version=getattr(chinese_calendar, "__version__", "?"))
    names: list[str | None] = []
    flags: list[bool] = []
    for d in dates:  # ~365 rows a year, once at seeding time: not a per-case loop
        workday = chinese_calendar.is_workday(d)
        flags.append(workday)
        if d in chinese_calendar.holidays:
            en = chinese_calendar.holidays[d]
            names.append(HOLIDAY_ZH.get(en, en))
        elif d in chinese_calendar.workdays:
            en = chinese_calendar.workdays[d]
            names.append(f"{HOLIDAY_ZH.get(en, en)}调休上班")
        else:
            names.append(None)
    return pl.DataFrame(
        {"date": dates, "is_workday": flags, "name": names, "source": [source] * len(dates)},
        schema={"date": pl.Date, "is_workday": pl.Boolean, "name": pl.String, "source": pl.String},
    )


def weekday_fallback(start: dt.date, end: dt.date) -> pl.DataFrame:
    """Monday–Friday rows for dates no calendar covers (flagged by `source`)."""
    return (
        pl.DataFrame({"date": pl.date_range(start, end, interval="1d", eager=True)})
        .with_columns(
            is_workday=pl.col("date").dt.weekday() <= 5,
            name=pl.lit(None, dtype=pl.String),
            source=pl.lit(FALLBACK_SOURCE),
        )
    )


FALLBACK_SOURCE = "fallback: Monday–Friday (no official calendar loaded for this year)"


CALENDAR_SCHEMA: dict[str, pl.DataType] = {
    "date": pl.Date(),
    "is_workday": pl.Boolean(),
    "name": pl.String(),
    "source": pl.String(),
}


def _empty_calendar() -> pl.DataFrame:
    return pl.DataFrame(schema=CALENDAR_SCHEMA)


# --- storage -------------------------------------------------------------------------------


def _dialect_insert(conn: sa.Connection):
    """The dialect's INSERT that supports ON CONFLICT (both targets have it, with the same API)."""
    if conn.dialect.name == "postgresql":
        return pg_insert
    if conn.dialect.name == "sqlite":
        return sqlite_insert
    raise XiaonengError(f"unsupported database {conn.dialect.name!r} for the work calendar")


def _upsert(conn: sa.Connection, df: pl.DataFrame) -> int:
    """Insert or overwrite `df`'s days on an open connection (the caller owns the transaction)."""
    if df.is_empty():
        return 0
    missing = [c for c in CALENDAR_SCHEMA if c not in df.columns]
    if missing:
        raise ValueError(f"calendar frame lacks column(s) {missing}")
    rows = df.select(
        pl.col("date").cast(pl.Date),
        pl.col("is_workday").cast(pl.Boolean),
        pl.col("name").cast(pl.String),
        pl.col("source").cast(pl.String),
    )
    if rows["date"].null_count() or rows["is_workday"].null_count() or rows["source"].null_count():
        raise ValueError("calendar rows need a date, is_workday and source on every row")
    if rows["date"].is_duplicated().any():
        raise ValueError("calendar frame has the same date more than once")
    insert = _dialect_insert(conn)(work_calendar)
    stmt = insert.on_conflict_do_update(
        index_elements=[work_calendar.c.date],
        set_={
            "is_workday": insert.excluded.is_workday,
            "name": insert.excluded.name,
            "source": insert.excluded.source,
        },
    )
    conn.execute(stmt, rows.to_dicts())  # executemany with bound parameters
    return rows.height


def _day_changes(conn: sa.Connection, df: pl.DataFrame) -> dict:
    """The days `df` changes (workday flag or name), before and after: the audit detail."""
    t = work_calendar
    stored = pl.DataFrame(
        [tuple(r) for r in conn.execute(sa.select(t.c.date, t.c.is_workday, t.c.name))],
        schema={"date": pl.Date(), "is_workday": pl.Boolean(), "name": pl.String()},
        orient="row")
    new = df.select(pl.col("date").cast(pl.Date), pl.col("is_workday").cast(pl.Boolean),
                    pl.col("name").cast(pl.String))
    joined = new.join(stored, on="date", how="left", suffix="_old")
    changed = joined.filter(
        pl.col("is_workday_old").is_null()
        | (pl.col("is_workday") != pl.col("is_workday_old"))
        | (pl.col("name").fill_null("") != pl.col("name_old").fill_null(""))).sort("date")
    return {
        "changed": changed.height,
        "before": [{"date": r["date"], "is_workday": r["is_workday_old"], "name": r["name_old"]}
                   for r in changed.iter_rows(named=True)],
        "after": [{"date": r["date"], "is_workday": r["is_workday"], "name": r["name"]}
                  for r in changed.iter_rows(named=True)],
    }


def upsert_days(engine: Engine, df: pl.DataFrame, audit: AuditHook | None = None) -> int:
    """Write calendar days (date, is_workday, name, source), replacing existing days by date.

    One transaction: a failure leaves the table as it was, so a half-imported notice can never
    produce a calendar in which a holiday exists but its 调休 working day does not. `audit`
    (from `queries.audit.hook`) writes the act's audit row in that transaction with the days
    written and every changed day before/after: a change of deadlines is on record exactly
    when it took effect.
    """
    with engine.begin() as conn:
        changes = _day_changes(conn, df) if audit is not None and not df.is_empty() else {}
        n = _upsert(conn, df)
        if audit is not None:
            audit(conn, {"days": n, **(changes or {"changed": 0})})
        return n


def seed_official(engine: Engine, start_year: int | None = None, end_year: int | None = None,
                  audit: AuditHook | None = None) -> int:
    """(Re)write the official days of `start_year`–`end_year` (default: every packaged year).

    This overwrites user edits for those years on purpose: it is the "restore the notice"
    action. Years the package does not cover are refused rather than clamped, so that asking
    for 2027 does not quietly report success with nothing written.
    """
    first, last = official_year_range()
    for year in (start_year, end_year):
        if year is not None and not first <= year <= last:
            raise XiaonengError(
                f"the packaged State Council notices cover {first}–{last}, not {year}; import "
                "later years from a CSV/XLSX of the notice (xiaoneng calendar import FILE)"
            )
    if start_year is not None and end_year is not None and start_year > end_year:
        raise XiaonengError(f"calendar seed: --from {start_year} is after --to {end_year}")
    return upsert_days(engine, official_calendar(start_year, end_year), audit)


def seed_calendar_if_empty(engine: Engine) -> int:
    """Seed every packaged year when `work_calendar` has no rows; return the days written.

    Called by `init-db` on every run, so it must be idempotent and must never overwrite a
    calendar a user has edited or extended: any existing row means "leave it alone" (0).
    """
    with engine.begin() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(work_calendar)).scalar_one()
        if count:
            return 0
        return _upsert(conn, official_calendar())


def load_calendar(engine: Engine) -> pl.DataFrame:
    """Every stored calendar day (date, is_workday, name, source), sorted by date."""
    t = work_calendar
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(t.c.date, t.c.is_workday, t.c.name, t.c.source).order_by(t.c.date)
        ).all()
    if not rows:
        return _empty_calendar()
    dates, flags, names, sources = (list(col) for col in zip(*rows, strict=True))
    return pl.DataFrame(
        {"date": dates, "is_workday": [bool(f) for f in flags], "name": names, "source": sources},
        schema=CALENDAR_SCHEMA,
    )


def frame_version(df: pl.DataFrame) -> str:
    """A short stable fingerprint of a calendar frame: "first-last year:8 hex digits".

    Only (date, is_workday) are hashed: they are all that changes a computed number, so a
    renamed holiday or a corrected `source` does not mark every job result as stale. The
    text hashed is independent of the database and of row order.
    """
    if df.is_empty():
        return "empty"
    days = df.select("date", "is_workday").sort("date")
    text = days.select(
        pl.col("date").dt.strftime("%Y-%m-%d")
        + pl.when(pl.col("is_workday")).then(pl.lit(":1")).otherwise(pl.lit(":0"))
    ).to_series()
    digest = hashlib.sha256("\n".join(text.to_list()).encode()).hexdigest()[:8]
    return f"{days['date'].min().year}-{days['date'].max().year}:{digest}"


def calendar_version(engine: Engine) -> str:
    """The stored calendar's fingerprint (see `frame_version`), recorded with every job result."""
    return frame_version(load_calendar(engine))


# --- import of a notice file ---------------------------------------------------------------

# Accepted headers (compared after strip + lower-case) → canonical column.
_HEADER_ALIASES: dict[str, str] = {
    "date": "date",
    "日期": "date",
    "is_workday": "is_workday",
    "是否工作日": "is_workday",
    "name": "name",
    "名称": "name",
    "holiday_name": "holiday_name",  # the cn_workcalendar export's name column
    "source": "source",
    "来源": "source",
    "kind": "kind",  # the cn_workcalendar export: workday/weekend/holiday/makeup_workday
}
_TRUE = frozenset(v.lower() for v in TRUE_LABELS) | {"1.0"}
_FALSE = frozenset(v.lower() for v in FALSE_LABELS) | {"0.0"}
_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%Y%m%d")


@dataclass(frozen=True)
class _Sheet:
    """A file's cells as text, with the 1-based line (CSV) or row (XLSX) each record came from."""

    headers: list[str]
    records: list[tuple[int, list[str | None]]]
    line_word: str  # "line" for CSV, "row" for a spreadsheet


def _read_csv(path: Path) -> _Sheet:
    """Read every cell as text with exact line numbers (the csv module tracks quoted newlines).

    Notice files are a few hundred rows, so exact error positions matter more than speed.
    """
    raw = path.read_bytes()
    for encoding in ("utf-8-sig", "gb18030"):  # Excel on Chinese Windows saves GBK CSVs
        try:
            text = raw.decode(encoding)
            break
        except UnicodeDecodeError:
            continue
    else:  # pragma: no cover - gb18030 decodes any byte string
        raise XiaonengError(f"{path}: not readable as UTF-8 or GB18030 text")
    reader = csv.reader(io.StringIO(text, newline=""))
    headers = next(reader, None)
    if headers is None:
        raise XiaonengError(f"{path}: the file is empty (expected a header row)")
    records: list[tuple[int, list[str | None]]] = []
    for cells in reader:
        if not any(c.strip() for c in cells):
            continue
        records.append((reader.line_num, [c if c.strip() else None for c in cells]))
    return _Sheet(headers, records, "line")


def _cell_text(value: object) -> str | None:
    """A spreadsheet cell as the text a user would have typed (dates as YYYY-MM-DD)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.date().isoformat() if value.time() == dt.time() else value.isoformat(" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    text = str(value)
    return text if text.strip() else None


def _read_xlsx(path: Path) -> _Sheet:
    """Read the first sheet; openpyxl keeps row numbers exact (empty rows are not renumbered)."""
    import openpyxl

    try:
        book = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a damaged file
        raise XiaonengError(f"{path}: not a readable XLSX workbook ({exc})") from exc
    try:
        rows = book.worksheets[0].iter_rows(values_only=True)
        header_row = next(rows, None)
        if header_row is None:
            raise XiaonengError(f"{path}: the first sheet is empty (expected a header row)")
        headers = [_cell_text(v) or "" for v in header_row]
        records = []
        for number, values in enumerate(rows, start=2):
            cells = [_cell_text(v) for v in values]
            if any(c is not None for c in cells):
                records.append((number, cells))
    finally:
        book.close()
    return _Sheet(headers, records, "row")


def _parse_notice(path: Path) -> pl.DataFrame:
    """Parse and validate a notice file into calendar rows, or raise one clear XiaonengError.

    Validation is complete before anything is written, so a bad file never changes the table.
    """
    if not path.is_file():
        raise XiaonengError(f"{path}: no such file")
    suffix = path.suffix.lower()
    if suffix in (".csv", ".txt"):
        sheet = _read_csv(path)
    elif suffix in (".xlsx", ".xlsm"):
        sheet = _read_xlsx(path)
    else:
        raise XiaonengError(f"{path}: expected a .csv or .xlsx file, got {suffix or 'no suffix'!r}")

    positions: dict[str, int] = {}
    written: dict[str, str] = {}
    for i, header in enumerate(sheet.headers):
        canonical = _HEADER_ALIASES.get(header.strip().lstrip("\ufeff").lower())
        if canonical and canonical not in positions:
            positions[canonical] = i
            written[canonical] = header.strip()
    for required, zh in (("date", "日期"), ("is_workday", "是否工作日")):
        if required not in positions:
            raise XiaonengError(
                f"{path}: no {required!r} column (header {required} or {zh}); "
                f"found {', '.join(repr(h) for h in sheet.headers)}"
            )

    def column(name: str) -> list[str | None]:
        i = positions.get(name)
        return [
            cells[i].strip() if i is not None and i < len(cells) and cells[i] is not None else None
            for _, cells in sheet.records
        ]

    frame = pl.DataFrame(
        {
            "line": [line for line, _ in sheet.records],
            "date_raw": column("date"),
            "flag_raw": column("is_workday"),
            "name_raw": column("name") if "name" in positions else column("holiday_name"),
            "source": column("source"),
            "kind": column("kind"),
        },
        schema={
            "line": pl.Int64,
            "date_raw": pl.String,
            "flag_raw": pl.String,
            "name_raw": pl.String,
            "source": pl.String,
            "kind": pl.String,
        },
    )
    date_text = pl.col("date_raw").str.replace(r"[ T]00:00(:00(\.0+)?)?$", "")
    parsed = pl.coalesce(
        [date_text.str.strptime(pl.Date, fmt, strict=False) for fmt in _DATE_FORMATS]
    )
    flag = pl.col("flag_raw").str.to_lowercase()
    frame = frame.with_columns(
        date=parsed,
        is_workday=pl.when(flag.is_in(list(_TRUE)))
        .then(True)
        .when(flag.is_in(list(_FALSE)))
        .then(False)
        .otherwise(None),
    )

    col_date = written["date"]
    col_flag = written["is_workday"]
    problems = pl.concat(
        [
            frame.filter(pl.col("date").is_null()).select(
                "line",
                column=pl.lit(col_date),
                value=pl.col("date_raw"),
                rule=pl.lit("must be a real calendar date written YYYY-MM-DD (rule: date)"),
            ),
            frame.filter(pl.col("date").is_not_null() & pl.col("date").is_duplicated()).select(
                "line",
                column=pl.lit(col_date),
                value=pl.col("date_raw"),
                rule=pl.lit("the same date appears on more than one row (rule: date unique)"),
            ),
            frame.filter(pl.col("is_workday").is_null()).select(
                "line",
                column=pl.lit(col_flag),
                value=pl.col("flag_raw"),
                rule=pl.lit("must be 是/否, true/false or 1/0 (rule: is_workday boolean)"),
            ),
        ]
    ).sort("line", maintain_order=True)
    if problems.height:
        first = problems.row(0, named=True)
        value = "empty" if first["value"] is None else repr(first["value"])
        more = problems.height - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        raise XiaonengError(
            f"{path}: {sheet.line_word} {first['line']}, column {first['column']!r}: "
            f"{value} {first['rule']}; nothing was imported{tail}"
        )

    # Names are stored in Chinese like the seeded calendar; an English holiday name (as in
    # exports of `chinesecalendar`) is translated, and a 调休 working day is named as such.
    name = pl.col("name_raw").replace(HOLIDAY_ZH)
    makeup = pl.col("kind").str.to_lowercase() == "makeup_workday"
    name = (
        pl.when(makeup & pl.col("is_workday") & ~name.fill_null("").str.contains("调休"))
        .then(name.fill_null("") + "调休上班")
        .otherwise(name)
    )
    return frame.select(
        "date",
        "is_workday",
        name.alias("name"),
        pl.col("source").fill_null(f"imported from {path.name}"),
    ).sort("date")


def import_calendar_file(engine: Engine, path: Path, audit: AuditHook | None = None) -> int:
    """Import the days of a State Council notice (CSV or XLSX) and return how many were written.

    Used for years the packaged notices do not cover yet. Days are upserted by date in one
    transaction, so importing a corrected file over an earlier one simply replaces it.
    """
    return upsert_days(engine, _parse_notice(Path(path)), audit)


# --- description for people ----------------------------------------------------------------


def _runs(dates: list[dt.date]) -> list[tuple[dt.date, dt.date]]:
    """Consecutive-date runs, so a holiday reads "02-10–02-17" rather than eight dates."""
    runs: list[tuple[dt.date, dt.date]] = []
    for d in dates:
        if runs and (d - runs[-1][1]).days == 1:
            runs[-1] = (runs[-1][0], d)
        else:
            runs.append((d, d))
    return runs


def _year_summary(cal: pl.DataFrame) -> pl.DataFrame:
    return (
        cal.with_columns(
            year=pl.col("date").dt.year(),
            weekend_work=pl.col("is_workday") & (pl.col("date").dt.weekday() >= 6),
            weekday_off=~pl.col("is_workday") & (pl.col("date").dt.weekday() <= 5),
        )
        .group_by("year")
        .agg(
            days=pl.len(),
            workdays=pl.col("is_workday").sum(),
            weekend_work=pl.col("weekend_work").sum(),
            weekday_off=pl.col("weekday_off").sum(),
            fallback=(pl.col("source") == FALLBACK_SOURCE).all(),
            sources=pl.col("source").unique().sort(),
        )
        .with_columns(
            full=pl.col("days")
            == pl.date_ranges(
                pl.date(pl.col("year"), 1, 1), pl.date(pl.col("year"), 12, 31)
            ).list.len()
        )
        .sort("year")
    )


def _weekday_count(year: int) -> int:
    return weekday_fallback(dt.date(year, 1, 1), dt.date(year, 12, 31))["is_workday"].sum()


def _describe_year(cal: pl.DataFrame, year: int) -> str:
    days = cal.filter(pl.col("date").dt.year() == year)
    import_hint = "import the State Council notice with `xiaoneng calendar import FILE`"
    if days.is_empty():
        return (
            f"{year}: no calendar rows — working days fall back to Monday–Friday "
            f"({_weekday_count(year)} days); {import_hint}"
        )
    s = _year_summary(days).row(0, named=True)
    lines = [
        f"{year}: {s['workdays']} working days, {s['days'] - s['workdays']} days off "
        f"({s['days']} days stored{'' if s['full'] else ', the rest fall back to Monday–Friday'})",
        "source: " + "; ".join(s["sources"]),
    ]
    if s["fallback"]:
        lines.append(f"warning: these are Monday–Friday fallback rows; {import_hint}")
    off = days.filter(~pl.col("is_workday") & pl.col("name").is_not_null())
    for name, group in off.group_by("name", maintain_order=True):
        spans = ", ".join(
            f"{a:%m-%d}" if a == b else f"{a:%m-%d}–{b:%m-%d}"
            for a, b in _runs(group["date"].to_list())
        )
        days_word = "day" if group.height == 1 else "days"
        lines.append(f"  {name[0]}: {spans} ({group.height} {days_word})")
    work = days.filter(pl.col("is_workday") & (pl.col("date").dt.weekday() >= 6))
    if work.height:
        listed = ", ".join(
            f"{d:%m-%d}" + (f" ({n})" if n else "")
            for d, n in work.select("date", "name").iter_rows()
        )
        lines.append(f"  weekend working days (调休): {listed}")
    return "\n".join(lines)


def describe(engine: Engine, year: int | None = None) -> str:
    """A human summary: working days per year and the years that fall back to Monday–Friday.

    Meant for `xiaoneng calendar show` and the settings screen: the point is to make a missing
    notice visible before it silently turns holidays into working days in a report.
    """
    cal = load_calendar(engine)
    if year is not None:
        return _describe_year(cal, year)
    if cal.is_empty():
        return (
            "work calendar: empty — every date falls back to Monday–Friday; run "
            "`xiaoneng calendar seed` (official 2004–2026) or import a notice file"
        )
    summary = _year_summary(cal)
    first, last = summary["year"].min(), summary["year"].max()
    lines = [
        f"work calendar {frame_version(cal)}: {cal.height:,} days, "
        f"{cal['date'].min()} – {cal['date'].max()}",
        "year  working days  days off  weekend working days (调休)  status",
    ]
    for s in summary.iter_rows(named=True):
        if s["fallback"]:
            status = "fallback (Monday–Friday rows)"
        elif not s["full"]:
            status = f"partial ({s['days']} of the year's days; the rest Monday–Friday)"
        elif all(src.startswith(OFFICIAL_SOURCE.split(" (")[0]) for src in s["sources"]):
            status = "official"
        else:
            status = "imported: " + "; ".join(s["sources"])
        lines.append(
            f"{s['year']}  {s['workdays']:>12}  {s['days'] - s['workdays']:>8}  "
            f"{s['weekend_work']:>27}  {status}"
        )
    gaps = sorted(set(range(first, last + 1)) - set(summary["year"].to_list()))
    fallback = [y for y, fb in zip(summary["year"], summary["fallback"], strict=True) if fb]
    missing = ", ".join(str(y) for y in gaps)
    lines.append(
        "Monday–Friday fallback: "
        + (f"{missing}; " if missing else "")
        + (f"{', '.join(map(str, fallback))} (fallback rows); " if fallback else "")
        + f"every year before {first} and from {last + 1} on"
        + " — import the State Council notice with `xiaoneng calendar import FILE`"
    )
    return "\n".join(lines)
