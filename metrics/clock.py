"""The working-day clock of metrics.md §1, vectorised on the calendar's cumulative index.

Every quantity is computed in "ord space": `ord(d)` is the number of working days on or before
date `d` (or the day number, for natural-day limits). Differences of ords are working-day
counts, so the clock is a handful of joins and column arithmetic, never a per-row loop.

Definitions (metrics.md §1), for a row accepted on date `a` and measured at date `e`:
- suspended_wd: each suspension [s, t] (t = its end date, or `e` while still suspended) is cut
  to at most `approved_days`, the cut intervals are merged where they overlap and clipped to
  [a, e]; suspended_wd = Σ ord(end) − ord(start) over the merged intervals. In ord space a
  suspension is the half-open integer range (ord s, ord t], so merging and clipping are done on
  those ranges and the union's size is exactly the spec's sum.
- used_wd = ord(e) − ord(a) − suspended_wd.
- deadline days D = promised_days, else statutory_days; neither → no deadline.
- due_date = first date d with ord(d) = ord(a) + D + suspended_wd.
- on time ⇔ used_wd ≤ D; overdue_wd = max(0, used_wd − D).
- A threshold X is *exceeded* on the first date on which used_wd > X. With suspensions sorted,
  used_wd is flat inside a suspension and rises by one per working day outside, so that date is
  the first date with ord = ord(a) + X + 1 + S*, where S* is the suspended total accumulated
  before the gap in which the count crosses X + 1 (see `_crossing_suspended`).

The functions take a LazyFrame of "clock rows" and return it with clock columns added. A clock
row is one measurement of one case: normally (case, its completion date or as-of date), and for
month-end snapshots (case, month end). Rows are identified by `row_id`.
"""

from __future__ import annotations

import polars as pl

from metrics.calendar import WorkCalendar

ORD = pl.Int32

# Columns a clock row must have.
CLOCK_INPUT = ("row_id", "case_id", "a_date", "e_date", "limit_unit")

# The job's per-slice integer case key (queries.case_sources). Where a frame carries it, every
# join on "the case" uses it instead of the case_id string: hashing 3.5 M short integers is
# several times cheaper than hashing their 18-character ids.
CASE_KEY = "case_key"


def case_key_column(*frames: pl.LazyFrame) -> str:
    """The column that identifies a case in all of `frames`: the integer key where every frame
    has it, else the contract's case_id."""
    if all(CASE_KEY in f.collect_schema().names() for f in frames):
        return CASE_KEY
    return "case_id"


def as_calendar(calendar: object) -> WorkCalendar:
    """Accept a WorkCalendar or a calendar frame (date, is_workday) and return a WorkCalendar."""
    if isinstance(calendar, WorkCalendar):
        return calendar
    frame = getattr(calendar, "index", calendar)
    return WorkCalendar.from_frame(frame.select("date", "is_workday"))


def _suspension_stats(
    rows: pl.LazyFrame, suspensions: pl.LazyFrame, cal: WorkCalendar, with_s_star: bool = True
) -> pl.LazyFrame:
    """Per clock row with suspended time inside (a, e]: suspended_wd and the S* of each card.

    Suspensions are few (a few per cent of cases), so the work is done on the inner join of the
    suspension table with the rows, and only its per-row summary joins back. Without
    `with_s_star` only suspended_wd is computed (month-end snapshots need no card dates).
    """
    key = case_key_column(rows, suspensions)
    susp = suspensions.select(
        key,
        pl.col("started_at").dt.date().alias("s_date"),
        pl.col("ended_at").dt.date().alias("t_date"),
        pl.col("approved_days").cast(ORD),
    )
    carried = ("deadline_days", "red_days") if with_s_star else ()
    joined = susp.join(
        rows.select("row_id", key, "limit_unit", "e_date", "ord_a", "ord_e", *carried),
        on=key,
        how="inner",
    )
    # An open suspension runs to the measuring date; one that starts after it does not count.
    joined = joined.with_columns(
        pl.min_horizontal(pl.coalesce("t_date", "e_date"), pl.col("e_date")).alias("t_date")
    ).with_columns(
        cal.ord_expr("s_date", "limit_unit").alias("ord_s"),
        cal.ord_expr("t_date", "limit_unit").alias("ord_t"),
    )
    cut = pl.when(pl.col("approved_days").is_not_null()).then(
        pl.min_horizontal("ord_t", pl.col("ord_s") + pl.col("approved_days"))
    ).otherwise(pl.col("ord_t"))
    clipped = joined.select(
        "row_id", "ord_a", *carried,
        pl.max_horizontal("ord_s", "ord_a").alias("lo"),
        pl.min_horizontal(cut, pl.col("ord_e")).alias("hi"),
    ).filter(pl.col("hi") > pl.col("lo"))
    # Merge overlapping half-open ranges: a new group starts where lo passes the running max hi.
    merged = (
        clipped.sort("row_id", "lo")
        .with_columns(pl.col("hi").cum_max().shift(1).over("row_id").alias("__prev_hi"))
        .with_columns(
            (pl.col("__prev_hi").is_null() | (pl.col("lo") >= pl.col("__prev_hi")))
            .cast(ORD).cum_sum().over("row_id").alias("__grp")
        )
        .group_by("row_id", "__grp")
        .agg(
            pl.col("lo").min(), pl.col("hi").max(),
            pl.col("ord_a", *carried).first(),
        )
        .sort("row_id", "lo")
        .with_columns((pl.col("hi") - pl.col("lo")).alias("__len"))
        .with_columns(
            (pl.col("__len").cum_sum().over("row_id") - pl.col("__len")).alias("__before")
        )
    )

    def s_star(threshold: str) -> pl.Expr:
        """S*: suspended total accrued before used_wd first exceeds `threshold` (see module doc).

        used_wd at the start of merged interval k is lo_k − ord_a − S<k; the count reaches
        T = threshold + 1 in the gap before the first interval where that is ≥ T.
        """
        crossed = (pl.col("lo") - pl.col("ord_a") - pl.col("__before")) >= pl.col(threshold) + 1
        return pl.coalesce(
            pl.col("__before").filter(crossed).min(), pl.col("__len").sum()
        ).cast(ORD)

    if not with_s_star:
        return merged.group_by("row_id").agg(pl.col("__len").sum().cast(ORD).alias("suspended_wd"))
    return merged.group_by("row_id").agg(
        pl.col("__len").sum().cast(ORD).alias("suspended_wd"),
        s_star("deadline_days").alias("__s_yellow"),
        s_star("red_days").alias("__s_red"),
    )


def _with_ords(rows: pl.LazyFrame, cal: WorkCalendar) -> pl.LazyFrame:
    return rows.with_columns(
        pl.coalesce("promised_days", "statutory_days").cast(ORD).alias("deadline_days"),
        cal.ord_expr("a_date", "limit_unit").alias("ord_a"),
        cal.ord_expr("e_date", "limit_unit").alias("ord_e"),
    )


def _attach(rows: pl.LazyFrame, stats: pl.LazyFrame, columns: tuple[str, ...]) -> pl.LazyFrame:
    """Attach the (few) suspension summaries positionally: joining only the key column keeps
    the join narrow; gathering every wide case row through a join costs seconds at 20M."""
    aligned = (
        rows.select("row_id")
        .join(stats, on="row_id", how="left", maintain_order="left")
        .select(pl.col(*columns).fill_null(0))
    )
    return pl.concat([rows, aligned], how="horizontal")


def add_used_days(rows: pl.LazyFrame, suspensions: pl.LazyFrame, calendar: object) -> pl.LazyFrame:
    """The lean clock: ord_a, ord_e, deadline_days, suspended_wd and used_wd only.

    What a month-end snapshot needs (metrics.case_measures): no due date, no card dates and so
    no S*; the suspension merge still runs only on the rows that have suspensions.
    """
    cal = as_calendar(calendar)
    rows = _with_ords(rows, cal)
    stats = _suspension_stats(rows, suspensions, cal, with_s_star=False)
    rows = _attach(rows, stats, ("suspended_wd",))
    return rows.with_columns(
        (pl.col("ord_e") - pl.col("ord_a") - pl.col("suspended_wd")).alias("used_wd")
    )


def add_clock(
    rows: pl.LazyFrame,
    suspensions: pl.LazyFrame,
    calendar: object,
    red_grace_days: int = 3,
    with_card_dates: bool = True,
) -> pl.LazyFrame:
    """Add the clock columns to clock rows.

    Input columns: row_id, case_id (or the job's case_key), a_date, e_date, limit_unit,
    statutory_days, promised_days.
    Added: ord_a, ord_e, suspended_wd, used_wd, deadline_days, red_days, due_date, on_time,
    overdue_wd, and (with_card_dates) yellow_date, red_date — null when not exceeded by e_date.
    Every ord is an expression on the calendar's positional index (no joins); only the
    suspension summary is joined back.
    """
    cal = as_calendar(calendar)
    rows = _with_ords(rows, cal).with_columns(
        # Red: used_wd exceeds min(statutory, deadline + grace); a missing statutory is ignored.
        pl.when(pl.col("deadline_days").is_null())
        .then(None)
        .otherwise(
            pl.min_horizontal(
                pl.col("statutory_days").cast(ORD), pl.col("deadline_days") + red_grace_days
            )
        )
        .cast(ORD)
        .alias("red_days")
    )
    stats = _suspension_stats(rows, suspensions, cal)
    rows = _attach(rows, stats, ("suspended_wd", "__s_yellow", "__s_red"))
    rows = rows.with_columns(
        (pl.col("ord_e") - pl.col("ord_a") - pl.col("suspended_wd")).alias("used_wd"),
        (pl.col("ord_a") + pl.col("deadline_days") + pl.col("suspended_wd")).alias("__due_ord"),
    ).with_columns(
        (pl.col("used_wd") <= pl.col("deadline_days")).alias("on_time"),
        pl.max_horizontal(pl.col("used_wd") - pl.col("deadline_days"), pl.lit(0))
        .cast(ORD)
        .alias("overdue_wd"),
    )
    rows = cal.date_of_ord(rows, "__due_ord", "due_date", "limit_unit")
    drop = ["__due_ord", "__s_yellow", "__s_red"]
    if with_card_dates:
        for kind, threshold in (("yellow", "deadline_days"), ("red", "red_days")):
            rows = rows.with_columns(
                pl.when(pl.col("used_wd") > pl.col(threshold))
                .then(pl.col("ord_a") + pl.col(threshold) + 1 + pl.col(f"__s_{kind}"))
                .otherwise(None)
                .alias(f"__{kind}_ord")
            )
            rows = cal.date_of_ord(rows, f"__{kind}_ord", f"{kind}_date", "limit_unit")
            drop.append(f"__{kind}_ord")
    return rows.drop(drop)


def clock_rows_for_cases(cases: pl.LazyFrame, as_of_date: object) -> pl.LazyFrame:
    """One clock row per accepted case inside the clock, measured at completion or `as_of_date`.

    `not_accepted` and `withdrawn` cases are outside the clock (metrics.md §1). A case completed
    after the as-of moment is measured at the as-of date as if still open.
    """
    as_of = pl.lit(as_of_date).cast(pl.Date)
    done = pl.col("completed_at").is_not_null() & (pl.col("completed_at").dt.date() <= as_of)
    return cases.filter(
        pl.col("accepted_at").is_not_null()
        & ~pl.col("status").is_in(["not_accepted", "withdrawn"])
        & (pl.col("accepted_at").dt.date() <= as_of)
    ).with_columns(
        # integer row ids: sorts, windows and joins on them are several times cheaper than on
        # the case_id strings
        pl.int_range(pl.len(), dtype=pl.UInt32).alias("row_id"),
        pl.col("accepted_at").dt.date().alias("a_date"),
        pl.when(done).then(pl.col("completed_at").dt.date()).otherwise(as_of).alias("e_date"),
        done.alias("is_done"),
    )
