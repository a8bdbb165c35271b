"""Additive case measures (metrics.md §4, §5, §6 snapshot counts) at month × agency × item × channel.

Three passes, each attributing a case to the month its measures belong to (metrics.md §2):
intake measures to the month of acceptance, completion measures to the month of completion,
snapshot measures to every month end at which the case was open. Each pass produces one row per
case with 0/1 flags and day sums; a group-by sums them to the grain. Nothing here collects but
the small key sets of `flag_membership`.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from metrics.clock import ORD, add_clock, add_used_days, as_calendar, case_key_column
from metrics.settings import Settings
from queries.case_sources import bundle_heads_of
from queries.schema import CASE_MEASURES, GRAIN

INT = pl.Int64
# A per-row 1 (a bare pl.lit(1) would aggregate to a single 1 inside a group-by).
ONE = pl.col("case_id").is_not_null()


def month_of(col: str) -> pl.Expr:
    return pl.col(col).dt.truncate("1mo").dt.date()


def flag_membership(
    rows: pl.LazyFrame, keys: pl.LazyFrame | pl.Series, key: str, out: str
) -> pl.LazyFrame:
    """Add boolean `out`: whether the row's `key` is among `keys` (unique values).

    The key set is collected (it is small: bundle heads, reviewed cases) and tested with
    `is_in`: a hash-set probe is several times cheaper than a join of the rows, and it
    needs no positional realignment.
    """
    values = keys if isinstance(keys, pl.Series) else keys.select(key).collect().to_series()
    return rows.with_columns(pl.col(key).is_in(values.implode()).fill_null(False).alias(out))


def _in_clock() -> pl.Expr:
    return pl.col("accepted_at").is_not_null() & ~pl.col("status").is_in(
        ["not_accepted", "withdrawn"]
    )


def _sum_to_grain(rows: pl.LazyFrame, measures: dict[str, pl.Expr]) -> pl.LazyFrame:
    return rows.group_by(*GRAIN).agg(
        *(expr.cast(INT).sum().alias(name) for name, expr in measures.items())
    )


def intake_measures(
    cases: pl.LazyFrame,
    months: list[dt.date],
    settings: Settings,
    bundle_heads: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Measures of the month of acceptance (every accepted case, whatever happened later).

    `bundle_heads` (case_id of each bundle's first case) must be found over all cases; pass it
    when `cases` is only a slice of the log (see queries.case_sources).
    """
    rows = cases.filter(pl.col("accepted_at").is_not_null()).with_columns(
        month_of("accepted_at").alias("month")
    ).filter(pl.col("month").is_in(months))
    # The bundle's first case is found over all cases (not only this month's), so a bundle
    # spanning two months is counted once, in the month it started. Bundles are a small subset.
    if bundle_heads is None:
        bundle_heads = bundle_heads_of(cases)
    rows = flag_membership(rows, bundle_heads, "case_id", "__head")
    stat, prom = pl.col("statutory_days"), pl.col("promised_days")
    compressible = (stat > 0) & prom.is_not_null()
    return _sum_to_grain(
        rows,
        {
            "accepted": ONE,
            "cmp_statutory": pl.when(compressible).then(stat).otherwise(0),
            "cmp_gap": pl.when(compressible).then(stat - prom).otherwise(0),
            "online_accepted": pl.col("channel").is_in(list(settings.online_channels)),
            "full_online_accepted": pl.col("full_online").fill_null(False),
            "mobile_accepted": pl.col("channel") == "mobile",
            "visits_known": pl.col("visits").is_not_null(),
            "no_visit": (pl.col("visits") == 0).fill_null(False),
            "max_one_visit": (pl.col("visits") <= 1).fill_null(False),
            "instant_accepted": (prom == 0).fill_null(False),
            "cross_region_accepted": pl.col("cross_region").fill_null(False),
            "bundles_started": pl.col("__head").fill_null(False),
        },
    )


def completed_clock(
    cases: pl.LazyFrame,
    suspensions: pl.LazyFrame,
    calendar: object,
    settings: Settings,
    as_of: dt.datetime,
) -> pl.LazyFrame:
    """Clock rows of completed cases (completed by the as-of moment), one per case."""
    rows = cases.filter(
        _in_clock() & pl.col("completed_at").is_not_null() & (pl.col("completed_at") <= as_of)
    ).with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("row_id"),
        pl.col("accepted_at").dt.date().alias("a_date"),
        pl.col("completed_at").dt.date().alias("e_date"),
    )
    return add_clock(rows, suspensions, calendar, settings.red_grace_days)


def _workday_lag_ok(
    rows: pl.LazyFrame, calendar: object, event_col: str, report_col: str, lag_days: int, out: str
) -> pl.LazyFrame:
    """`out` = reported within `lag_days` working days of the event (null when not reported)."""
    cal = as_calendar(calendar)
    lag = cal.ord_expr(pl.col(report_col).dt.date()) - cal.ord_expr(pl.col(event_col).dt.date())
    return rows.with_columns((lag <= lag_days).alias(out))


def completion_measures(
    clocked: pl.LazyFrame,
    reviewed_case_ids: pl.LazyFrame,
    calendar: object,
    months: list[dt.date],
    settings: Settings,
) -> pl.LazyFrame:
    """Measures of the month of completion, from `completed_clock` rows.

    `reviewed_case_ids`: one column, the case_id (or the job's case_key) of every case with a
    valid review."""
    rows = clocked.with_columns(month_of("completed_at").alias("month")).filter(
        pl.col("month").is_in(months)
    )
    key = reviewed_case_ids.collect_schema().names()[0]
    rows = flag_membership(rows, reviewed_case_ids, key, "__reviewed")
    rows = _workday_lag_ok(rows, calendar, "completed_at", "reported_at",
                           settings.report_lag_days, "__timely")
    stat, prom, used = pl.col("statutory_days"), pl.col("promised_days"), pl.col("used_wd")
    has_deadline = pl.col("deadline_days").is_not_null()
    return _sum_to_grain(
        rows,
        {
            "completed": ONE,
            "spd_statutory": pl.when(stat > 0).then(stat).otherwise(0),
            "spd_statutory_gap": pl.when(stat > 0).then(stat - used).otherwise(0),
            "spd_promised": pl.when(prom > 0).then(prom).otherwise(0),
            "spd_promised_gap": pl.when(prom > 0).then(prom - used).otherwise(0),
            "completed_with_deadline": has_deadline,
            "completed_on_time": has_deadline & pl.col("on_time"),
            "completed_no_deadline": ~has_deadline,
            "completed_same_day": used == 0,
            "used_wd_sum": used,
            "completed_overdue": has_deadline & ~pl.col("on_time"),
            "e_result_known": pl.col("e_result").is_not_null(),
            "e_result_yes": pl.col("e_result").fill_null(False),
            "completed_reviewed": pl.col("__reviewed").fill_null(False),
            "case_report_known": pl.col("reported_at").is_not_null(),
            "case_report_timely": pl.col("__timely").fill_null(False),
        },
    )


def used_days_histogram(clocked: pl.LazyFrame, months: list[dt.date]) -> pl.LazyFrame:
    """Counts of completed cases per used_wd at the grain, so quantiles are exact at any roll-up."""
    return (
        clocked.with_columns(month_of("completed_at").alias("month"))
        .filter(pl.col("month").is_in(months))
        .group_by(*GRAIN, "used_wd")
        .agg(pl.len().cast(INT).alias("n"))
    )


def month_end_rows(
    cases: pl.LazyFrame, months: list[dt.date], as_of: dt.datetime
) -> pl.LazyFrame:
    """One clock row per (case, month) for every month end at which the case was open.

    A month's snapshot is taken at its last moment, or at the as-of moment for the month that
    contains it. A case is open at moment m when accepted by m and not completed by m.
    """
    first, last = min(months), max(months)
    as_of_month = as_of.date().replace(day=1)
    still_open = pl.col("completed_at").is_null() | (pl.col("completed_at") > as_of)
    rows = (
        cases.filter(_in_clock() & (pl.col("accepted_at") <= as_of))
        .with_columns(
            month_of("accepted_at").alias("__m0"),
            # the last month at whose end (or as-of moment) the case is still open
            pl.when(still_open)
            .then(pl.lit(as_of_month))
            .otherwise(month_of("completed_at").dt.offset_by("-1mo"))
            .alias("__m1"),
        )
        .with_columns(
            pl.max_horizontal("__m0", pl.lit(first)).alias("__m0"),
            pl.min_horizontal("__m1", pl.lit(last)).alias("__m1"),
        )
        .filter(pl.col("__m0") <= pl.col("__m1"))
        .with_columns(pl.date_ranges("__m0", "__m1", interval="1mo").alias("month"))
        .explode("month")
        .filter(pl.col("month").is_in(months))
    )
    return rows.with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("row_id"),
        pl.col("accepted_at").dt.date().alias("a_date"),
        pl.min_horizontal(pl.col("month").dt.month_end(), pl.lit(as_of.date())).alias("e_date"),
    ).drop("__m0", "__m1")


def warning_flag(settings: Settings) -> pl.Expr:
    """预警 (metrics.md §6): open, not overdue, and near the deadline by days or by share."""
    remaining = pl.col("deadline_days") - pl.col("used_wd")
    by_days = remaining <= settings.warn_days
    by_share = pl.col("used_wd") >= settings.warn_share * pl.col("promised_days")
    return (
        pl.col("deadline_days").is_not_null()
        & (pl.col("used_wd") <= pl.col("deadline_days"))
        & (by_days | by_share.fill_null(False))
    )


def snapshot_measures(
    cases: pl.LazyFrame,
    suspensions: pl.LazyFrame,
    calendar: object,
    months: list[dt.date],
    settings: Settings,
    as_of: dt.datetime,
) -> pl.LazyFrame:
    rows = month_end_rows(cases, months, as_of)
    clocked = add_used_days(rows, suspensions, calendar)
    return _sum_to_grain(
        clocked,
        {
            "in_progress_eom": ONE,
            "overdue_open_eom": (pl.col("used_wd") > pl.col("deadline_days")).fill_null(False),
            "warnings_eom": warning_flag(settings),
        },
    )


def combine(parts: list[pl.LazyFrame]) -> pl.LazyFrame:
    """Outer-combine partial measure frames into one row per grain with every measure (0 default)."""
    stacked = pl.concat(parts, how="diagonal_relaxed")
    return (
        stacked.group_by(*GRAIN)
        .agg(*(pl.col(m).fill_null(0).cast(INT).sum() for m in CASE_MEASURES if m in
               stacked.collect_schema().names()))
        .with_columns(
            *(pl.lit(0, dtype=INT).alias(m) for m in CASE_MEASURES
              if m not in stacked.collect_schema().names())
        )
        .select(*GRAIN, *CASE_MEASURES)
    )


def case_facts(
    cases: pl.LazyFrame,
    suspensions: pl.LazyFrame,
    reviews: pl.LazyFrame,
    calendar: object,
    months: list[dt.date],
    settings: Settings,
    as_of: dt.datetime,
    clocked: pl.LazyFrame | None = None,
    bundle_heads: pl.LazyFrame | None = None,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(case facts, used-days histogram) for `months`.

    `clocked` is the clock of every case (metrics.cards.clock_cases); the job computes it once
    and shares it with the cards, so pass it when you have it.
    """
    if clocked is None:
        done = completed_clock(cases, suspensions, calendar, settings, as_of)
    else:
        done = clocked.filter(pl.col("is_done"))
    key = case_key_column(cases, reviews)
    reviewed = (
        reviews.filter(~pl.col("appeal_upheld").fill_null(False) & pl.col(key).is_not_null())
        .select(key)
        .unique()
    )
    facts = combine(
        [
            intake_measures(cases, months, settings, bundle_heads),
            completion_measures(done, reviewed, calendar, months, settings),
            snapshot_measures(cases, suspensions, calendar, months, settings, as_of),
        ]
    )
    return facts, used_days_histogram(done, months)


__all__ = ["case_facts", "completed_clock", "month_end_rows", "warning_flag", "ORD"]
