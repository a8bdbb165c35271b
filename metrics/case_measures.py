"""Additive case measures (metrics.md §4, §5, §6 snapshot counts) at month × agency × item × channel.

Each case is attributed to the months its measures belong to (metrics.md §2): intake measures
to the month of acceptance, completion measures to the month of completion, snapshot measures
to every month end at which the case was open. The work is one pass over the cases:

- `case_pass` clocks every accepted case once, in place (measured at its completion, or at the
  as-of date while open; metrics.clock), and marks which families count it. The job shares
  that frame with the cards and the 预警 list.
- Intake, completion and the used-days histogram come from ONE group-by of that frame on
  (month of acceptance, month of completion, grain, used_wd). Every row of a group shares both
  months, so summing the groups once more by the month of acceptance gives the intake
  measures, by the month of completion the completion measures, and by (month of completion,
  used_wd) the histogram. A case not completed by the as-of moment, or outside the clock, has
  no month of completion: its groups count for intake only.
- Month-end snapshots explode only the cases open at some month end. Their used_wd at a month
  end is ord(month end) − ord(acceptance), except for the few cases with suspended time, whose
  suspensions are merged again at each month end (metrics.clock.add_used_days).

Nothing here collects but small intermediates read more than once: the key sets of
`flag_membership`, the one pass's groups and the month-end rows.
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
OUT_OF_CLOCK = ("not_accepted", "withdrawn")
# The grain without its month: the month is the family's own (acceptance, completion, …).
UNIT_GRAIN = GRAIN[1:]


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


def _status_in_clock() -> pl.Expr:
    return ~pl.col("status").is_in(list(OUT_OF_CLOCK))


def _in_clock() -> pl.Expr:
    return pl.col("accepted_at").is_not_null() & _status_in_clock()


def _sum_to_grain(rows: pl.LazyFrame, measures: dict[str, pl.Expr]) -> pl.LazyFrame:
    return rows.group_by(*GRAIN).agg(
        *(expr.cast(INT).sum().alias(name) for name, expr in measures.items())
    )


def _intake_exprs(settings: Settings) -> dict[str, pl.Expr]:
    """Per accepted case: its contribution to each intake measure (needs `__head`)."""
    stat, prom = pl.col("statutory_days"), pl.col("promised_days")
    compressible = (stat > 0) & prom.is_not_null()
    return {
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
    }


def _completion_exprs() -> dict[str, pl.Expr]:
    """Per completed case (clocked at completion): its contribution to each completion
    measure (needs `__reviewed`, `__actively` and `__timely`)."""
    stat, prom, used = pl.col("statutory_days"), pl.col("promised_days"), pl.col("used_wd")
    has_deadline = pl.col("deadline_days").is_not_null()
    return {
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
        "completed_reviewed": pl.col("__reviewed"),
        "completed_actively_reviewed": pl.col("__actively"),
        "completed_natural": pl.col("limit_unit") == "natural",
        "case_report_known": pl.col("reported_at").is_not_null(),
        "case_report_timely": pl.col("__timely").fill_null(False),
    }


def intake_measures(
    cases: pl.LazyFrame,
    months: list[dt.date],
    settings: Settings,
    bundle_heads: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """Measures of the month of acceptance (every accepted case, whatever happened later).

    `bundle_heads` (case_id of each bundle's first case) must be found over all cases; pass it
    when `cases` is only a slice of the log (see queries.case_sources). `case_facts` computes
    the same measures inside its one pass; this stands alone for readers of one month.
    """
    rows = cases.filter(pl.col("accepted_at").is_not_null()).with_columns(
        month_of("accepted_at").alias("month")
    ).filter(pl.col("month").is_in(months))
    rows = _with_bundle_heads(rows, cases, bundle_heads, "case_id")
    return _sum_to_grain(rows, _intake_exprs(settings))


def _with_bundle_heads(
    rows: pl.LazyFrame, cases: pl.LazyFrame, bundle_heads: pl.LazyFrame | None, key: str
) -> pl.LazyFrame:
    """Add `__head`: the case is the first case of its bundle.

    The bundle's first case is found over all cases (not only this month's), so a bundle
    spanning two months is counted once, in the month it started. Bundles are a small subset
    (about 3 % of cases), so the heads are matched by case_id among the bundled cases only
    and flagged on `key`."""
    if bundle_heads is None:
        bundle_heads = bundle_heads_of(cases)
    heads = (
        cases.filter(pl.col("bundle_id").is_not_null())
        .select(*dict.fromkeys((key, "case_id")))
        .join(bundle_heads.select("case_id"), on="case_id", how="semi")
    )
    return flag_membership(rows, heads, key, "__head")


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


def case_pass(
    cases: pl.LazyFrame,
    suspensions: pl.LazyFrame,
    calendar: object,
    settings: Settings,
    as_of: dt.datetime,
) -> pl.LazyFrame:
    """Every accepted case once, with its clock (metrics.clock.add_clock) in place.

    Measured at completion, or at the as-of date while open (a case completed later on the
    as-of day is measured that day, still open). Flags: `is_done` (completed by the as-of
    moment), `__status_ok` (not not_accepted/withdrawn) and `in_clock` (status ok and accepted
    by the as-of date): `filter(in_clock)` is exactly `metrics.cards.clock_cases`, the rows of
    the cards and the 预警 list; completion measures count `__status_ok & is_done`.
    """
    as_of_date = as_of.date()
    done_by_date = pl.col("completed_at").is_not_null() & (
        pl.col("completed_at").dt.date() <= as_of_date
    )
    rows = cases.filter(pl.col("accepted_at").is_not_null()).with_columns(
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("row_id"),
        pl.col("accepted_at").dt.date().alias("a_date"),
        pl.when(done_by_date).then(pl.col("completed_at").dt.date())
        .otherwise(pl.lit(as_of_date)).alias("e_date"),
        (pl.col("completed_at").is_not_null() & (pl.col("completed_at") <= as_of)).alias("is_done"),
        _status_in_clock().alias("__status_ok"),
    ).with_columns(
        (pl.col("__status_ok") & (pl.col("a_date") <= as_of_date)).alias("in_clock")
    )
    return add_clock(rows, suspensions, calendar, settings.red_grace_days)


def reviewed_cases(reviews: pl.LazyFrame, as_of: dt.datetime, key: str = "case_id"
                   ) -> pl.LazyFrame:
    """`key` of every case with a valid review rated by `as_of`, and whether one is active.

    `__actively` (实际评价率, metrics.md §7) is true when at least one valid review of the case
    was given by the applicant rather than recorded as the system's default rating. A review
    rated after the as-of moment has not happened yet as far as the run is concerned.
    """
    return (
        reviews.filter(~pl.col("appeal_upheld").fill_null(False)
                       & pl.col(key).is_not_null() & (pl.col("rated_at") <= as_of))
        .group_by(key)
        .agg(pl.col("active").fill_null(False).any().alias("__actively"))
    )


def _workday_lag_ok(
    rows: pl.LazyFrame, calendar: object, event_col: str, report_col: str, lag_days: int, out: str
) -> pl.LazyFrame:
    """`out` = reported within `lag_days` working days of the event (null when not reported)."""
    cal = as_calendar(calendar)
    lag = cal.ord_expr(pl.col(report_col).dt.date()) - cal.ord_expr(pl.col(event_col).dt.date())
    return rows.with_columns((lag <= lag_days).alias(out))


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


# What a month-end row carries from the case pass (the explode copies every column).
_SNAPSHOT_COLUMNS = (*UNIT_GRAIN, "accepted_at", "completed_at", "status", "limit_unit",
                     "statutory_days", "promised_days", "deadline_days", "ord_a", "suspended_wd")


def _snapshot_measures(
    case_rows: pl.LazyFrame,
    suspensions: pl.LazyFrame,
    calendar: object,
    months: list[dt.date],
    settings: Settings,
    as_of: dt.datetime,
    key: str,
) -> pl.LazyFrame:
    """In-progress, overdue and 预警 counts at each month end, from the case pass.

    Suspended time at a month end (on or before the pass's measuring date) can only be
    non-zero for a case with suspended time at that date, so only those few rows go through
    the suspension merge again; for the others used_wd = ord(month end) − ord(acceptance).
    """
    cal = as_calendar(calendar)
    # Collected (the open cases' month ends: a few per cent of the rows) because both the
    # plain and the suspended branch read it.
    rows = month_end_rows(case_rows.select(key, *_SNAPSHOT_COLUMNS), months, as_of).collect().lazy()
    out = (*GRAIN, "deadline_days", "promised_days", "used_wd")
    plain = rows.filter(pl.col("suspended_wd") == 0).with_columns(
        (cal.ord_expr("e_date", "limit_unit") - pl.col("ord_a")).alias("used_wd")
    )
    suspended = add_used_days(
        rows.filter(pl.col("suspended_wd") > 0).drop("suspended_wd"), suspensions, cal
    )
    at_month_end = pl.concat([plain.select(out), suspended.select(out)])
    return _sum_to_grain(
        at_month_end.with_columns(pl.lit(True).alias("__one")),
        {
            "in_progress_eom": pl.col("__one"),
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
    case_rows: pl.LazyFrame | None = None,
    bundle_heads: pl.LazyFrame | None = None,
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """(case facts, used-days histogram) for `months`, in one pass (see the module doc).

    `case_rows` is `case_pass` of `cases`; the job computes it once and shares it with the
    cards, so pass it when you have it.
    """
    if case_rows is None:
        case_rows = case_pass(cases, suspensions, calendar, settings, as_of)
    key = case_key_column(cases, reviews)
    reviewed = reviewed_cases(reviews, as_of, key).collect()
    rows = flag_membership(case_rows, reviewed[key], key, "__reviewed")
    rows = flag_membership(rows, reviewed.filter("__actively")[key], key, "__actively")
    rows = _with_bundle_heads(rows, cases, bundle_heads, key)
    rows = _workday_lag_ok(rows, calendar, "completed_at", "reported_at",
                           settings.report_lag_days, "__timely")
    completion_counted = pl.col("__status_ok") & pl.col("is_done")
    rows = rows.with_columns(
        month_of("accepted_at").alias("__m_acc"),
        pl.when(completion_counted).then(month_of("completed_at")).alias("__m_done"),
        pl.when(completion_counted).then(pl.col("used_wd")).alias("__used"),
    ).filter(pl.col("__m_acc").is_in(months) | pl.col("__m_done").is_in(months))
    intake, completion = _intake_exprs(settings), _completion_exprs()
    # Collected here (a few hundred thousand rows): three results read it, and materialising
    # it guarantees the one pass runs once whatever the optimiser does with shared subplans.
    groups = rows.group_by("__m_acc", "__m_done", *UNIT_GRAIN, "__used").agg(
        *(expr.cast(INT).sum().alias(name) for name, expr in {**intake, **completion}.items()),
        pl.len().cast(INT).alias("__n"),
    ).collect().lazy()
    intake_facts = (
        groups.filter(pl.col("__m_acc").is_in(months))
        .group_by(pl.col("__m_acc").alias("month"), *UNIT_GRAIN)
        .agg(pl.col(list(intake)).sum())
    )
    done = groups.filter(pl.col("__m_done").is_in(months))
    completion_facts = done.group_by(pl.col("__m_done").alias("month"), *UNIT_GRAIN).agg(
        pl.col(list(completion)).sum()
    )
    hist = done.group_by(
        pl.col("__m_done").alias("month"), *UNIT_GRAIN, pl.col("__used").alias("used_wd")
    ).agg(pl.col("__n").sum().alias("n"))
    snapshot = _snapshot_measures(case_rows, suspensions, calendar, months, settings, as_of, key)
    return combine([intake_facts, completion_facts, snapshot]), hist


__all__ = ["case_facts", "case_pass", "completed_clock", "month_end_rows", "warning_flag", "ORD"]
