"""Inputs of the statistics layer: the contract tables, clocked once, in the shapes the models use.

The models need case-level facts (which item, which channel, on time or not, how much of the
deadline was used at a moment) that the additive fact tables do not keep, so they start from
the clock of `metrics.cards.clock_cases` — the same clock every card and rate uses. Reading is
done by the existing readers (`queries.inputs`, `queries.calendar`) or from a directory of
contract Parquet files (the layout `xiaoneng generate --out` writes).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from metrics.calendar import WorkCalendar
from metrics.cards import clock_cases
from metrics.settings import Settings
from queries.extracts import add_months


@dataclass(frozen=True)
class Tables:
    """The contract tables the statistics need (reviews are optional)."""

    cases: pl.DataFrame
    suspensions: pl.DataFrame
    agencies: pl.DataFrame
    items: pl.DataFrame
    regions: pl.DataFrame
    calendar: WorkCalendar
    reviews: pl.DataFrame | None = None

    @property
    def last_month(self) -> dt.date:
        """The latest month with an acceptance or a completion."""
        c = self.cases
        hi = max(d for d in (c["accepted_at"].max(), c["completed_at"].max()) if d is not None)
        return dt.date(hi.year, hi.month, 1)


def month_end_moment(month: dt.date) -> dt.datetime:
    """The last second of a month: the as-of moment of month-end snapshots."""
    nxt = add_months(month, 1)
    return dt.datetime.combine(nxt, dt.time()) - dt.timedelta(seconds=1)


def month_col(col: str) -> pl.Expr:
    return pl.col(col).dt.truncate("1mo").cast(pl.Date)


def clocked(tables: Tables, as_of: dt.datetime, accepted_from: dt.date | None = None,
            settings: Settings | None = None) -> pl.DataFrame:
    """Every case inside the clock measured at completion or at `as_of` (clock_cases), for cases
    accepted from `accepted_from` on (None: all), with `month` = month of completion."""
    cases = tables.cases.lazy()
    if accepted_from is not None:
        cases = cases.filter(pl.col("accepted_at") >= dt.datetime.combine(accepted_from, dt.time()))
    out = clock_cases(cases, tables.suspensions.lazy(), tables.calendar, settings or Settings(),
                      as_of)
    return out.with_columns(
        pl.when(pl.col("is_done")).then(month_col("completed_at")).otherwise(None).alias("month")
    ).collect()


def completed_with_deadline(clock: pl.DataFrame, months: tuple[dt.date, dt.date] | None = None
                            ) -> pl.DataFrame:
    """Completed cases that have a deadline (the 按时办结率 population), one row each:
    case_id, agency_code, item_code, channel, month (of completion), overdue, used_wd,
    deadline_days."""
    out = clock.filter(pl.col("is_done") & pl.col("deadline_days").is_not_null())
    if months is not None:
        out = out.filter(pl.col("month").is_between(*months))
    return out.select(
        "case_id", "agency_code", "item_code", "channel", "month",
        (~pl.col("on_time")).alias("overdue"), "used_wd", "deadline_days",
    )


def read_parquet_dir(path: Path) -> Tables:
    """Contract tables from `<table>.parquet` files; the calendar from the official notices."""
    from queries.calendar import official_calendar

    path = Path(path)

    def read(name: str) -> pl.DataFrame:
        return pl.read_parquet(path / f"{name}.parquet")

    reviews = read("reviews") if (path / "reviews.parquet").exists() else None
    cal = (read("work_calendar") if (path / "work_calendar.parquet").exists()
           else official_calendar())
    return Tables(read("cases"), read("suspensions"), read("agencies"), read("items"),
                  read("regions"), WorkCalendar.from_frame(cal), reviews)


def read_database(engine, first_month: dt.date | None = None, last_month: dt.date | None = None
                  ) -> Tables:
    """Contract tables from the database through the existing readers (cases of the window
    when given: accepted by its end and not completed before its start)."""
    from queries.inputs import case_month_bounds, read_cases, read_suspensions, read_table

    if first_month is None or last_month is None:
        bounds = case_month_bounds(engine)
        if bounds is None:
            raise ValueError("the database has no cases")
        first_month = first_month or bounds[0]
        last_month = last_month or bounds[1]
    cases = read_cases(engine, (first_month, last_month))
    return Tables(cases, read_suspensions(engine, cases["case_id"]), read_table(engine, "agencies"),
                  read_table(engine, "items"), read_table(engine, "regions"),
                  WorkCalendar.from_engine(engine))


def from_frames(frames: dict[str, pl.DataFrame], calendar: pl.DataFrame | None = None) -> Tables:
    """Tables from `xiaoneng.demo.generate`'s dict (calendar: the official one by default)."""
    from queries.calendar import official_calendar

    cal = calendar if calendar is not None else official_calendar()
    return Tables(frames["cases"], frames["suspensions"], frames["agencies"], frames["items"],
                  frames["regions"], WorkCalendar.from_frame(cal), frames.get("reviews"))
