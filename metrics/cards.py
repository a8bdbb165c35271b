"""Red and yellow cards for cases, and the live 预警 list (metrics.md §6).

A case earns at most one yellow and one red card: the clock is measured once per case (at
completion, or at the as-of moment while open), and a card is dated the first date on which
used_wd exceeded its threshold (see `metrics.clock`). Cards are counted by month of issue.
Review-rectification cards live in `metrics.reviews`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl

from metrics.case_measures import month_of, warning_flag
from metrics.clock import add_clock, clock_rows_for_cases
from metrics.settings import Settings

CARD_COLUMNS = (
    "card_id", "kind", "subject", "case_id", "review_id", "agency_code", "item_code", "channel",
    "issued_on", "month", "rule", "days_over", "still_open", "revoked",
)


def clock_cases(
    cases: pl.LazyFrame, suspensions: pl.LazyFrame, calendar: object, settings: Settings,
    as_of: dt.datetime,
) -> pl.LazyFrame:
    """Every case inside the clock, measured at completion or at the as-of date."""
    rows = clock_rows_for_cases(cases, as_of.date())
    # A case completed later on the as-of day is treated as completed only if by the moment.
    rows = rows.with_columns(
        (pl.col("completed_at").is_not_null() & (pl.col("completed_at") <= as_of)).alias("is_done")
    )
    return add_clock(rows, suspensions, calendar, settings.red_grace_days)


def case_cards(clocked: pl.LazyFrame, months: list[dt.date] | None = None) -> pl.LazyFrame:
    """Yellow and red card records of cases, optionally only those issued in `months`."""
    parts = []
    for kind, date_col, threshold, rule in (
        ("yellow", "yellow_date", "deadline_days", "用时超过承诺时限（无承诺时为法定时限）"),
        ("red", "red_date", "red_days", "用时超过 min(法定时限, 时限+宽限天数)"),
    ):
        parts.append(
            clocked.filter(pl.col(date_col).is_not_null()).select(
                pl.concat_str(pl.lit(f"{kind}:case:"), pl.col("case_id")).alias("card_id"),
                pl.lit(kind).alias("kind"),
                pl.lit("case").alias("subject"),
                pl.col("case_id"),
                pl.lit(None, dtype=pl.String).alias("review_id"),
                "agency_code",
                "item_code",
                "channel",
                pl.col(date_col).alias("issued_on"),
                month_of(date_col).alias("month"),
                pl.lit(rule).alias("rule"),
                (pl.col("used_wd") - pl.col(threshold)).cast(pl.Int32).alias("days_over"),
                (~pl.col("is_done")).alias("still_open"),
                # revoked only by an appeal decision: applied by the job (mark_revoked)
                pl.lit(False).alias("revoked"),
            )
        )
    cards = pl.concat(parts)
    if months is not None:
        cards = cards.filter(pl.col("month").is_in(months))
    return cards


def warning_list(clocked: pl.LazyFrame, settings: Settings, as_of: dt.datetime) -> pl.LazyFrame:
    """预警: open cases, not overdue, close to their deadline, as of the run's moment."""
    remaining = (pl.col("deadline_days") - pl.col("used_wd")).cast(pl.Int32)
    return clocked.filter(~pl.col("is_done") & warning_flag(settings)).select(
        "case_id",
        "agency_code",
        "item_code",
        "channel",
        pl.col("a_date").alias("accepted_on"),
        "due_date",
        pl.col("used_wd").cast(pl.Int32),
        pl.col("deadline_days").cast(pl.Int32),
        remaining.alias("remaining_wd"),
        pl.when(remaining <= settings.warn_days)
        .then(pl.lit(f"剩余≤{settings.warn_days}个工作日"))
        .otherwise(pl.lit(f"已用时≥承诺时限的{settings.warn_share:.0%}"))
        .alias("rule"),
        pl.lit(as_of).cast(pl.Datetime("us")).alias("as_of"),
    )


def card_facts(cards: pl.LazyFrame) -> pl.LazyFrame:
    """Card counts at the fact grain, by month of issue: gross, revoked, and net per kind."""
    yellow, red, kept = pl.col("kind") == "yellow", pl.col("kind") == "red", ~pl.col("revoked")
    return cards.group_by("month", "agency_code", "item_code", "channel").agg(
        yellow.cast(pl.Int64).sum().alias("yellow_cards"),
        red.cast(pl.Int64).sum().alias("red_cards"),
        pl.col("revoked").cast(pl.Int64).sum().alias("revoked_cards"),
        (yellow & kept).cast(pl.Int64).sum().alias("yellow_cards_net"),
        (red & kept).cast(pl.Int64).sum().alias("red_cards_net"),
    )


def mark_revoked(cards: pl.DataFrame, revoked_ids: Sequence[str]) -> pl.DataFrame:
    """Cards whose id an appeal decision revoked (table card_revocations) marked revoked.

    A case card is revoked only this way (申诉成立 on the card); a review card also when its
    review was voided (appeal_upheld, metrics.reviews). Ids are stable across recomputes and
    settings, so a revocation outlives every rerun.
    """
    if not len(revoked_ids):
        return cards
    ids = pl.Series("card_id", list(revoked_ids), dtype=pl.String)
    return cards.with_columns(pl.col("revoked") | pl.col("card_id").is_in(ids.implode()))
