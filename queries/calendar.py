"""The working-day calendar as data: seeding, import and storage of `work_calendar`.

The official calendar comes from the State Council holiday notices as packaged by
`chinesecalendar` (2004–2026). Later years are imported from a CSV of the notice. The
cumulative working-day index built on top of it lives in `metrics.calendar`.
"""

from __future__ import annotations

import datetime as dt

import chinese_calendar
import polars as pl

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
