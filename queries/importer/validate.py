"""Row rules that look at several columns, and the deadline derived from `due_at`.

Why here and not in normalize: these rules need typed values (a timestamp compared with another)
and, for `due_at`, the working-day calendar in the database. Each rule is one vectorised
expression that appends an error to the row's list, so a row collects every rule it broke.
References and duplicate keys need the database and the rest of the load; see `keys`.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from queries import schema
from queries.importer import rules
from queries.importer.normalize import BAD_PREFIX, ERRORS, Origin

LabelMap = dict[str, Origin]


def _label(origins: LabelMap, col: str) -> str:
    return origins[col].label if col in origins else col


def add_errors(df: pl.DataFrame, checks: list[pl.Expr]) -> pl.DataFrame:
    """Append the non-null results of `checks` (error strings) to each row's error list.

    Checks that found nothing are skipped, so clean data costs one pass per check and no
    list building.
    """
    if not checks:
        return df
    results = df.select([c.alias(f"__check_{i}") for i, c in enumerate(checks)])
    hits = [s for s in results.get_columns() if s.null_count() < len(s)]
    if not hits:
        return df
    names = [s.name for s in hits]
    return df.with_columns(hits).with_columns(
        pl.concat_list([pl.col(ERRORS), pl.concat_list(names).list.drop_nulls()]).alias(ERRORS)
    ).drop(names)


def error(rule: str, label: str, message: pl.Expr) -> pl.Expr:
    """One error entry, "rule\x1fcolumn\x1fmessage" (the format `load.quarantine` reads)."""
    return pl.concat_str([pl.lit(f"{rule}{rules.SEP}{label}{rules.SEP}"), message])




def _ts(col: str) -> pl.Expr:
    return pl.col(col).dt.strftime("%Y-%m-%d %H:%M:%S")


def _before(later: str, earlier: str, rule: str, origins: LabelMap) -> pl.Expr:
    """Error when `later` is earlier than `earlier` (both set)."""
    msg = pl.concat_str([
        pl.lit(f"{later} "), _ts(later), pl.lit(f" is earlier than {earlier} "), _ts(earlier),
    ])
    return pl.when(pl.col(later) < pl.col(earlier)).then(error(rule, _label(origins, later), msg))


def _empty(df: pl.DataFrame, col: str) -> pl.Expr:
    """Null because the source left it empty — not because the value failed to parse."""
    flag = BAD_PREFIX + col
    if flag in df.columns:
        return pl.col(col).is_null() & ~pl.col(flag)
    return pl.col(col).is_null()


def drop_parse_flags(df: pl.DataFrame) -> pl.DataFrame:
    return df.drop([c for c in df.columns if c.startswith(BAD_PREFIX)])


def row_rules(df: pl.DataFrame, table: str, origins: LabelMap) -> pl.DataFrame:
    """The contract's cross-column integrity rules for `table`."""
    checks: list[pl.Expr] = []
    if table == "cases":
        status = pl.col("status")
        checks += [
            _before("accepted_at", "submitted_at", rules.ACCEPTED_BEFORE_SUBMITTED, origins),
            _before("completed_at", "accepted_at", rules.COMPLETED_BEFORE_ACCEPTED, origins),
            pl.when((status == "completed") & _empty(df, "completed_at")).then(
                error(rules.COMPLETED_WITHOUT_TIME, _label(origins, "completed_at"),
                       pl.lit("is empty but status is completed"))),
            pl.when((status != "completed") & pl.col("completed_at").is_not_null()).then(
                error(rules.COMPLETED_AT_NOT_COMPLETED, _label(origins, "completed_at"),
                       pl.concat_str([pl.lit("is set ("), _ts("completed_at"),
                                      pl.lit(") but status is "), status]))),
            pl.when((status == "in_progress") & _empty(df, "accepted_at")).then(
                error(rules.IN_PROGRESS_WITHOUT_ACCEPTED, _label(origins, "accepted_at"),
                       pl.lit("is empty but status is in_progress"))),
        ]
    if table in ("cases", "items"):
        checks.append(
            pl.when(pl.col("promised_days") > pl.col("statutory_days")).then(
                error(rules.PROMISED_OVER_STATUTORY, _label(origins, "promised_days"),
                       pl.concat_str([pl.lit("promised_days "),
                                      pl.col("promised_days").cast(pl.String),
                                      pl.lit(" exceeds statutory_days "),
                                      pl.col("statutory_days").cast(pl.String)])))
        )
    if table == "suspensions":
        checks.append(
            _before("ended_at", "started_at", rules.SUSPENSION_ENDS_BEFORE_START, origins)
        )
    return drop_parse_flags(add_errors(df, checks))


# ---------------------------------------------------------------- due_at → promised_days ----


def derive_promised_days(
    conn: Connection, df: pl.DataFrame, origins: LabelMap
) -> tuple[pl.DataFrame, list[str]]:
    """Fill a missing `promised_days` from `due_at`: days in `limit_unit` from acceptance date.

    natural: calendar days between the local dates; working: the difference of the working-day
    ordinals of the two dates, from `work_calendar` (Monday–Friday where it has no rows — the
    years concerned are returned as a warning). One join, no per-row loop.
    """
    need = (
        pl.col("promised_days").is_null()
        & pl.col("due_at").is_not_null()
        & pl.col("accepted_at").is_not_null()
        & pl.col("limit_unit").is_not_null()
    )
    todo = df.select(need.alias("need"))["need"]
    if not todo.any():
        return df, []
    dates = df.select(
        pl.col("accepted_at").dt.date().alias("_a"), pl.col("due_at").dt.date().alias("_d")
    )
    df = df.with_columns(dates)
    warnings: list[str] = []
    working_needed = df.filter(need & (pl.col("limit_unit") == "working"))
    if working_needed.height:
        lo = min(working_needed["_a"].min(), working_needed["_d"].min())
        hi = max(working_needed["_a"].max(), working_needed["_d"].max())
        ordinals, fallback_years = working_day_ordinals(conn, lo, hi)
        if fallback_years:
            warnings.append(
                "working-day deadlines from due_at used the Monday–Friday fallback for "
                f"{', '.join(map(str, fallback_years))} (no work_calendar rows for those days)"
            )
        df = (
            df.join(ordinals.rename({"date": "_a", "ord": "_oa"}), on="_a", how="left",
                    maintain_order="left")
            .join(ordinals.rename({"date": "_d", "ord": "_od"}), on="_d", how="left",
                  maintain_order="left")
        )
    else:
        df = df.with_columns(pl.lit(None, dtype=pl.Int64).alias("_oa"),
                             pl.lit(None, dtype=pl.Int64).alias("_od"))
    derived = (
        pl.when(pl.col("limit_unit") == "natural")
        .then((pl.col("_d") - pl.col("_a")).dt.total_days())
        .otherwise(pl.col("_od") - pl.col("_oa"))
    )
    df = df.with_columns(
        pl.when(need).then(derived).otherwise(pl.col("promised_days")).cast(pl.Int64)
        .alias("promised_days"),
        need.alias("_derived"),
    )
    label = _label(origins, "due_at")
    df = add_errors(df, [
        pl.when(pl.col("_derived") & (pl.col("promised_days") < 0)).then(
            error(rules.DUE_BEFORE_ACCEPTED, label,
                   pl.concat_str([pl.lit("due date "), pl.col("_d").cast(pl.String),
                                  pl.lit(" is before the acceptance date "),
                                  pl.col("_a").cast(pl.String)])))
    ])
    return df.drop("_a", "_d", "_oa", "_od", "_derived"), warnings


def working_day_ordinals(
    conn: Connection, lo: dt.date, hi: dt.date
) -> tuple[pl.DataFrame, list[int]]:
    """date → cumulative number of working days up to and including it, for lo..hi.

    Read from `work_calendar` inside the load's transaction (so a calendar imported in the
    same load counts); dates without a row fall back to Monday–Friday.
    """
    wc = schema.work_calendar
    rows = conn.execute(
        sa.select(wc.c.date, wc.c.is_workday).where(wc.c.date.between(lo, hi))
    ).all()
    known = pl.DataFrame(
        {"date": [r[0] for r in rows], "is_workday": [bool(r[1]) for r in rows]},
        schema={"date": pl.Date, "is_workday": pl.Boolean},
    )
    days = pl.DataFrame({"date": pl.date_range(lo, hi, interval="1d", eager=True)})
    days = days.join(known, on="date", how="left", maintain_order="left")
    fallback = days.filter(pl.col("is_workday").is_null())
    fallback_years = sorted(set(fallback["date"].dt.year().to_list()))
    days = days.with_columns(
        pl.col("is_workday").fill_null(pl.col("date").dt.weekday() <= 5)
    ).with_columns(pl.col("is_workday").cast(pl.Int64).cum_sum().alias("ord"))
    return days.select("date", "ord"), fallback_years
