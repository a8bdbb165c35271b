"""好差评 measures (metrics.md §7) and review yellow cards (metrics.md §6).

Reviews are attributed to the month of `rated_at` (metrics.md §2). Every deadline of a review is
counted in working days on the calendar's cumulative index (`ord`), never by a per-row loop:

- call-back in time  ⇔ ord(callback date) − ord(rating date) ≤ callback_days
- rectification deadline ord  D = ord(rating date) + rectify_days; the deadline *date* is the
  first date with ord D (a working day)
- rectified in time  ⇔ ord(rectification date) ≤ D, i.e. it used at most rectify_days working
  days. This is the §1 on-time rule (used ≤ limit). It equals "rectification date ≤ deadline
  date" except for a rectification on a non-working day right after the deadline (e.g. the
  Saturday after a Friday deadline), which used no extra working day and so is in time —
  and, consistently, earns no card (the card date below is the next working day).
- the card date is the first date with ord D + 1: the first working day after the deadline,
  the first day on which the review has gone more than rectify_days working days unrectified.
- reported in time   ⇔ ord(reported date) − ord(rating date) ≤ report_lag_days

Reviews are always measured in working days: they have no `limit_unit`. Only what has happened
by the as-of moment counts: reviews rated later are left out, and a callback, rectification or
report after the as-of moment is treated as not (yet) done.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from metrics.calendar import WorkCalendar
from metrics.clock import ORD, as_calendar
from metrics.settings import Settings
from queries.schema import GRAIN, REVIEW_MEASURES

INT = pl.Int64

# score_sum is stored in hundredths of a point so that a configurable, possibly fractional
# scale (e.g. 7.5) still sums exactly in an Int64 fact column. The query layer divides
# score_sum by SCORE_SUM_FACTOR before dividing by reviews_valid.
SCORE_SUM_FACTOR = 100

REVIEW_CARD_CHANNEL = "review"

# Column order and dtypes of the `cards` table (queries.schema.cards).
CARD_SCHEMA: dict[str, pl.DataType] = {
    "card_id": pl.String(),
    "kind": pl.String(),
    "subject": pl.String(),
    "case_id": pl.String(),
    "review_id": pl.String(),
    "agency_code": pl.String(),
    "item_code": pl.String(),
    "channel": pl.String(),
    "issued_on": pl.Date(),
    "month": pl.Date(),
    "rule": pl.String(),
    "days_over": pl.Int32(),
    "still_open": pl.Boolean(),
    "revoked": pl.Boolean(),
}


def _with_ords(lf: pl.LazyFrame, cal: WorkCalendar, dates: dict[str, str]) -> pl.LazyFrame:
    """Add the working-day ord of each date column (`{date_col: ord_col}`).

    Positional expressions on the calendar index, not joins (a join would gather every review
    column once per date). A null date gives a null ord, so every comparison on it is null
    and is counted as "not in time" rather than guessed.
    """
    return lf.with_columns(
        cal.ord_expr(date_col).alias(ord_col) for date_col, ord_col in dates.items()
    )


def _prepared(
    reviews: pl.LazyFrame,
    cases: pl.LazyFrame,
    calendar: object,
    settings: Settings,
    as_of: dt.datetime,
) -> pl.LazyFrame:
    """One row per review rated by `as_of`, with its item, dates, ords and done-by-as-of flags.

    Shared by the facts and the cards so both read the deadlines the same way.
    """
    cal = as_calendar(calendar)
    as_of_date = as_of.date()

    def done_date(col: str) -> pl.Expr:
        # An event after the as-of moment has not happened yet as far as this run is concerned.
        return (
            pl.when(pl.col(col).is_not_null() & (pl.col(col) <= as_of))
            .then(pl.col(col).dt.date())
            .otherwise(None)
        )

    rated = reviews.filter(pl.col("rated_at") <= as_of)
    if "item_code" not in reviews.collect_schema().names():
        # case_id is the cases table's primary key, so no de-duplication is needed here.
        # (A job reading the log in slices attaches item_code once for all reviews:
        # queries.case_sources.attribute_reviews.)
        case_items = cases.select("case_id", pl.col("item_code").alias("__case_item"))
        # Narrow join on the key, attached positionally (see case_measures.flag_membership).
        item_of_case = rated.select("case_id").join(
            case_items, on="case_id", how="left", maintain_order="left"
        ).select(
            # '' for reviews with no case (hall service) or a case that is not in the log.
            pl.col("__case_item").fill_null("").alias("item_code")
        )
        rated = pl.concat([rated, item_of_case], how="horizontal")
    rows = (
        rated
        .with_columns(
            pl.col("appeal_upheld").fill_null(False).alias("__void"),
            pl.col("rated_at").dt.date().alias("__rated_d"),
            done_date("callback_at").alias("__cb_d"),
            done_date("rectified_at").alias("__rect_d"),
            done_date("reported_at").alias("__rep_d"),
            pl.lit(as_of_date).alias("__asof_d"),
        )
    )
    rows = _with_ords(
        rows,
        cal,
        {"__rated_d": "__ord_r", "__cb_d": "__ord_cb", "__rect_d": "__ord_rect",
         "__rep_d": "__ord_rep", "__asof_d": "__ord_asof"},
    )
    return rows.with_columns(
        (pl.col("level") <= 2).alias("__bad"),
        (pl.col("__ord_r") + settings.rectify_days).cast(ORD).alias("__deadline_ord"),
        pl.col("__rect_d").is_not_null().alias("__rectified"),
    ).with_columns(
        (pl.col("__rectified") & (pl.col("__ord_rect") <= pl.col("__deadline_ord")))
        .fill_null(False)
        .alias("__rect_in_time"),
    )


def review_facts(
    reviews: pl.LazyFrame,
    cases: pl.LazyFrame,
    calendar: object,
    months: list[dt.date],
    settings: Settings,
    as_of: dt.datetime,
) -> pl.LazyFrame:
    """Additive 好差评 measures at month × agency × item × channel for `months`.

    `channel` is the rating channel; `item_code` is the rated case's item ('' when the review is
    not tied to a case). A void review (appeal_upheld) counts in `reviews_void` only: it is
    excluded from every other measure (metrics.md §7). `score_sum` is in hundredths of a point
    (see SCORE_SUM_FACTOR).
    """
    rows = _prepared(reviews, cases, calendar, settings, as_of).with_columns(
        pl.col("rated_at").dt.truncate("1mo").dt.date().alias("month")
    ).filter(pl.col("month").is_in(months))

    valid = ~pl.col("__void")
    bad = valid & pl.col("__bad")
    real_name_bad = bad & pl.col("real_name").fill_null(False)
    # Round each review's score to hundredths before summing, so the sum is exact at any grain.
    scale = {
        level: round(points * SCORE_SUM_FACTOR)
        for level, points in enumerate(settings.review_score_scale, start=1)
    }
    score = pl.col("level").replace_strict(scale, default=0, return_dtype=INT)
    callback_in_time = (pl.col("__ord_cb") - pl.col("__ord_r")) <= settings.callback_days
    report_in_time = (pl.col("__ord_rep") - pl.col("__ord_r")) <= settings.report_lag_days
    # A deadline counts once the as-of date has reached it: 差评 rated just before the data's
    # cut-off are not yet due and stay out of both rates (metrics.md §7, "deadline has passed").
    rect_due = pl.col("__ord_asof") >= pl.col("__deadline_ord")
    callback_due = pl.col("__ord_asof") >= pl.col("__ord_r") + settings.callback_days

    measures: dict[str, pl.Expr] = {
        "reviews_valid": valid,
        "reviews_void": pl.col("__void"),
        "good": valid & (pl.col("level") >= 4),
        "neutral": valid & (pl.col("level") == 3),
        "bad": bad,
        "score_sum": pl.when(valid).then(score).otherwise(0),
        "active": valid & pl.col("active").fill_null(False),
        "bad_real_name": real_name_bad,
        "bad_callback_timely": real_name_bad & callback_due & callback_in_time,
        "bad_rect_due": bad & rect_due,
        "bad_rect_timely": bad & rect_due & pl.col("__rect_in_time"),
        "bad_open": bad & ~pl.col("__rectified"),
        "review_report_known": valid & pl.col("reported_at").is_not_null(),
        "review_report_timely": valid & report_in_time,
        "bad_callback_due": real_name_bad & callback_due,
    }
    assert tuple(measures) == REVIEW_MEASURES, "review measures drifted from queries.schema"
    return rows.group_by(*GRAIN).agg(
        *(expr.cast(INT).fill_null(0).sum().alias(name) for name, expr in measures.items())
    )


def review_cards(
    reviews: pl.LazyFrame,
    cases: pl.LazyFrame,
    calendar: object,
    settings: Settings,
    as_of: dt.datetime,
) -> pl.LazyFrame:
    """Yellow cards for 差评 not rectified within rectify_days working days (metrics.md §6).

    One card per bad review, to the rated agency, dated the first working day after the
    rectification deadline, and only once that date has been reached by the as-of date. Void
    reviews are included and their cards marked `revoked`: a card is issued when the rule
    fires and revoked when the appeal is upheld, so gross and net card counts both exist.
    `days_over` is the working days from the deadline to the rectification date (or to the
    as-of date while still open). Columns and dtypes are those of the `cards` table.
    """
    rows = _prepared(reviews, cases, calendar, settings, as_of).filter(
        pl.col("__bad") & ~pl.col("__rect_in_time")
    ).with_columns(
        (pl.col("__deadline_ord") + 1).cast(ORD).alias("__card_ord"),
        pl.lit("working").alias("limit_unit"),
    )
    rows = as_calendar(calendar).date_of_ord(rows, "__card_ord", "issued_on")
    rows = rows.filter(pl.col("issued_on") <= pl.col("__asof_d"))
    end_ord = pl.when(pl.col("__rectified")).then(pl.col("__ord_rect")).otherwise(
        pl.col("__ord_asof")
    )
    return rows.select(
        pl.concat_str(pl.lit("yellow:review:"), pl.col("review_id")).alias("card_id"),
        pl.lit("yellow").alias("kind"),
        pl.lit("review").alias("subject"),
        pl.col("case_id").cast(pl.String),
        pl.col("review_id").cast(pl.String),
        pl.col("agency_code"),
        pl.col("item_code"),
        pl.lit(REVIEW_CARD_CHANNEL).alias("channel"),
        pl.col("issued_on"),
        pl.col("issued_on").dt.truncate("1mo").alias("month"),
        pl.lit(f"差评未在{settings.rectify_days}个工作日内整改").alias("rule"),
        (end_ord - pl.col("__deadline_ord")).cast(pl.Int32).alias("days_over"),
        (~pl.col("__rectified")).alias("still_open"),
        pl.col("__void").alias("revoked"),
    ).cast(CARD_SCHEMA)


__all__ = ["CARD_SCHEMA", "SCORE_SUM_FACTOR", "review_cards", "review_facts"]
