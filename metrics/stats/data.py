"""Inputs of the statistics layer: the contract tables, clocked once, in the shapes the models use.

The models need case-level facts (which item, which channel, on time or not, how much of the
deadline was used at a moment) that the additive fact tables do not keep, so they start from
the clock of `metrics.cards.clock_cases` — the same clock every card and rate uses. Reading is
done by the existing readers (`queries.inputs`, `queries.calendar`) or from a directory of
contract Parquet files (the layout `xiaoneng generate --out` writes).

At 20 million cases nothing may hold the whole log in memory: a Parquet directory is *scanned*
(the large tables stay LazyFrames), and every step reads only the columns and the rows it needs,
through the functions here — `completed_cells` counts a window's completions per
agency × item × channel × month (what case-mix and trends need) without keeping a row per case,
and the risk model clocks a seeded sample of its training window plus the open cases
(`metrics.stats.risk.risk_clock`). Tables from the database or the demo generator are
DataFrames; every function accepts both.
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

Frame = pl.DataFrame | pl.LazyFrame

# The columns of `cases` the clock and the models read (a scan reads no others).
CASE_COLUMNS = ("case_id", "item_code", "agency_code", "channel", "accepted_at", "completed_at",
                "status", "statutory_days", "promised_days", "limit_unit")


@dataclass(frozen=True)
class Tables:
    """The contract tables the statistics need (reviews are optional). The large ones (cases,
    suspensions, reviews) may be LazyFrames scanning Parquet files."""

    cases: Frame
    suspensions: Frame
    agencies: pl.DataFrame
    items: pl.DataFrame
    regions: pl.DataFrame
    calendar: WorkCalendar
    reviews: Frame | None = None

    @property
    def last_month(self) -> dt.date:
        """The latest month with an acceptance or a completion."""
        hi = self.cases.lazy().select(
            pl.max_horizontal(pl.col("accepted_at").max(), pl.col("completed_at").max())
        ).collect().item()
        if hi is None:
            raise ValueError("no case has an acceptance or a completion time")
        return dt.date(hi.year, hi.month, 1)

    def case_count(self) -> int:
        return int(self.cases.lazy().select(pl.len()).collect().item())


def _start(d: dt.date) -> dt.datetime:
    return dt.datetime.combine(d, dt.time())


def month_end_moment(month: dt.date) -> dt.datetime:
    """The last second of a month: the as-of moment of month-end snapshots."""
    nxt = add_months(month, 1)
    return dt.datetime.combine(nxt, dt.time()) - dt.timedelta(seconds=1)


def month_bounds(month: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[first moment of `month`, first moment of the next month): the half-open month."""
    return _start(month), _start(add_months(month, 1))


def month_col(col: str) -> pl.Expr:
    return pl.col(col).dt.truncate("1mo").cast(pl.Date)


def clock_lazy(tables: Tables, cases: pl.LazyFrame, as_of: dt.datetime,
               settings: Settings | None = None) -> pl.LazyFrame:
    """clock_cases on a selection of `tables.cases` (any extra columns are kept), with `month`
    = month of completion."""
    out = clock_cases(cases, tables.suspensions.lazy(), tables.calendar, settings or Settings(),
                      as_of)
    return out.with_columns(
        pl.when(pl.col("is_done")).then(month_col("completed_at")).otherwise(None).alias("month"))


def clocked(tables: Tables, as_of: dt.datetime, accepted_from: dt.date | None = None,
            settings: Settings | None = None) -> pl.DataFrame:
    """Every case inside the clock measured at completion or at `as_of` (clock_cases), for cases
    accepted from `accepted_from` on (None: all), with `month` = month of completion."""
    cases = tables.cases.lazy().select(*CASE_COLUMNS)
    if accepted_from is not None:
        cases = cases.filter(pl.col("accepted_at") >= _start(accepted_from))
    return clock_lazy(tables, cases, as_of, settings).collect()


def completed_cells(tables: Tables, months: tuple[dt.date, dt.date], as_of: dt.datetime,
                    accepted_from: dt.date | None = None, settings: Settings | None = None
                    ) -> pl.DataFrame:
    """Completed cases with a deadline (the 按时办结率 population) completed in `months` (and by
    `as_of`), counted per agency_code × item_code × channel × month of completion: `n` cases,
    `overdue` of them late.

    The same population and clock as `completed_with_deadline(clocked(...))` — the clock of a
    case does not depend on other cases, so only the window's completions are clocked — but the
    result is a few hundred thousand cells instead of millions of case rows. Case-mix (a
    binomial GLM on cell counts has the same likelihood as the per-case fit) and trends (monthly
    counts) need nothing finer.

    The window's rows are read once, and the suspended cases (a few per cent) are clocked apart
    from the others, which get the same clock with an empty suspension table: the suspension
    summary costs as much as the rest of the clock at 7 million cases when every case goes
    through it (measured at 20M: ~13 s → ~6 s under load), and it only ever changes the
    suspended ones. The extra memory is the window's rows, ~1 GB at 20M."""
    first, last = months
    hi = min(as_of, month_end_moment(last))
    cases = tables.cases.lazy().select(*CASE_COLUMNS).filter(
        pl.col("completed_at").is_between(_start(first), hi))
    if accepted_from is not None:
        cases = cases.filter(pl.col("accepted_at") >= _start(accepted_from))
    rows = cases.collect()
    suspensions = tables.suspensions.lazy()
    suspended = rows["case_id"].is_in(
        suspensions.select(pl.col("case_id").unique()).collect()["case_id"].implode())
    parts = []
    for part, susp in ((rows.filter(suspended), suspensions),
                       (rows.filter(~suspended), suspensions.head(0))):
        clock = clock_cases(part.lazy(), susp, tables.calendar, settings or Settings(), as_of)
        parts.append(clock.filter(pl.col("is_done") & pl.col("deadline_days").is_not_null())
                     .group_by("agency_code", "item_code", "channel",
                               month_col("completed_at").alias("month"))
                     .agg(pl.len().cast(pl.Int64).alias("n"),
                          (~pl.col("on_time")).cast(pl.Int64).sum().alias("overdue")))
    return pl.concat(parts).group_by("agency_code", "item_code", "channel", "month").agg(
        pl.col("n").sum(), pl.col("overdue").sum(),
    ).sort("agency_code", "item_code", "channel", "month").collect()


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
    """Contract tables from `<table>.parquet` files; the calendar from the official notices.

    cases, suspensions and reviews are scanned lazily (read later, only the columns and row
    groups a step needs: a 20-million-case log does not fit in memory as a whole); the small
    tables are read."""
    from queries.calendar import official_calendar

    path = Path(path)

    def read(name: str) -> pl.DataFrame:
        return pl.read_parquet(path / f"{name}.parquet")

    def scan(name: str) -> pl.LazyFrame:
        return pl.scan_parquet(path / f"{name}.parquet")

    reviews = scan("reviews") if (path / "reviews.parquet").exists() else None
    cal = (read("work_calendar") if (path / "work_calendar.parquet").exists()
           else official_calendar())
    return Tables(scan("cases"), scan("suspensions"), read("agencies"), read("items"),
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
