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
from metrics.stats.settings import StatsSettings
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


@dataclass(frozen=True)
class RiskRows:
    """The rows of the log the risk model reads at `moments` (`metrics.stats.risk.risk_clocks`):
    CASE_COLUMNS plus, per moment k, `__s{k}` (in its seeded training sample) and `__o{k}`
    (open at it); `counts[k]` cases with a deadline in its training window were sampled with
    `fractions[k]`."""

    moments: tuple[dt.datetime, ...]
    rows: pl.DataFrame
    counts: tuple[int, ...]
    fractions: tuple[float, ...]


def risk_train_starts(moments: list[dt.datetime], s: StatsSettings) -> list[dt.datetime]:
    """First moment of each moment's training window (`risk_train_months` whole months)."""
    return [_start(add_months(m.date().replace(day=1), -s.risk_train_months)) for m in moments]


def risk_fractions(counts: tuple[int | None, ...] | list[int | None], s: StatsSettings
                   ) -> list[float]:
    """Sampling fraction per training window: at most `risk_max_train_cases` expected."""
    return [min(1.0, s.risk_max_train_cases / n) if n else 1.0 for n in counts]


RISK_BUCKETS = 1 << 20  # the sample keeps a case when its hash bucket is below fraction × this


def read_risk_rows(engine, moments: list[dt.datetime], s: StatsSettings) -> RiskRows:
    """`risk.risk_rows` from the database: only the sampled training cases and the open cases
    of each moment, not the window's log (at 20 million cases ~300,000 rows instead of ~15
    million).

    PostgreSQL samples in the query: a case is in moment k's sample when the low 20 bits of
    `hashtextextended(case_id, risk_seed)` fall below fraction_k × 2²⁰ — seeded and
    independent of row order and of how the log is stored, like the Polars hash of the
    case-log path, but a different hash, so the sample (not its size or its law) differs from
    the one `risk_rows` draws from a Parquet scan. Elsewhere (SQLite, the embedded demo) the
    window's cases with a deadline and the open cases are read and sampled by `risk_rows`
    itself, so the result equals the case-log path's exactly. Values are bound parameters.

    Cost on PostgreSQL: the schema has no index led by `accepted_at` or `completed_at` (only
    by agency), so both statements are a parallel sequential scan of `cases` (0.3 s + 0.5 s at
    2 million cases; ~4 GB at 20M) — too slow for a page load, which is why the 单位分析 page
    computes the list on demand. An index on cases (accepted_at) INCLUDE (case_id,
    promised_days, statutory_days) would make the count and the sample index-only range
    scans of the window, and one on cases (completed_at) the open cases a range scan."""
    import sqlalchemy as sa

    from queries import schema
    from queries.engine import is_postgres

    moments = sorted(moments)
    starts = risk_train_starts(moments, s)
    c = schema.cases.c
    cols = [c[name] for name in CASE_COLUMNS]
    deadline = sa.func.coalesce(c.promised_days, c.statutory_days) > 0
    first_open = sa.or_(c.completed_at.is_(None), c.completed_at > moments[0])
    if not is_postgres(engine):
        from metrics.stats.risk import risk_rows

        stmt = sa.select(*cols).where(c.accepted_at <= moments[-1], sa.or_(
            sa.and_(c.accepted_at >= min(starts), deadline), first_open))
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
        return risk_rows(_case_frame(rows), moments, s)
    in_window = [sa.and_(deadline, c.accepted_at.between(a, m))
                 for a, m in zip(starts, moments, strict=True)]
    count = sa.select(*[sa.func.count().filter(w).label(f"n{k}")
                        for k, w in enumerate(in_window)]).where(
        c.accepted_at.between(min(starts), moments[-1]), deadline)
    with engine.connect() as conn:
        counts = tuple(int(n or 0) for n in conn.execute(count).one())
    fractions = risk_fractions(counts, s)
    bucket = sa.func.hashtextextended(c.case_id, s.risk_seed).op("&")(RISK_BUCKETS - 1)
    flags = []
    for k, m in enumerate(moments):
        flags.append(sa.and_(in_window[k], bucket < int(round(fractions[k] * RISK_BUCKETS)))
                     .label(f"__s{k}"))
        flags.append(sa.and_(c.accepted_at <= m, sa.or_(c.completed_at.is_(None),
                                                       c.completed_at > m)).label(f"__o{k}"))
    inner = sa.select(*cols, *flags).where(c.accepted_at <= moments[-1], sa.or_(
        sa.and_(c.accepted_at >= min(starts), deadline), first_open)).subquery()
    stmt = sa.select(inner).where(sa.or_(*[inner.c[f.name] for f in flags]))
    types = _case_types() | {f.name: pl.Boolean for f in flags}
    return RiskRows(tuple(moments), _pg_copy(engine, stmt, types), counts, tuple(fractions))


def _pg_copy(engine, stmt, types: dict[str, pl.DataType]) -> pl.DataFrame:
    """Run `stmt` on PostgreSQL through COPY … TO STDOUT into Polars' CSV reader (~10× faster
    than fetching 100,000s of rows through the DB-API). The parameters stay parameters: the
    statement is compiled with placeholders and psycopg2 binds the values (`mogrify`, the
    same client-side binding as its `execute`), never by formatting them into the text."""
    import io

    compiled = stmt.compile(engine)
    buf = io.BytesIO()
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            query = cur.mogrify(str(compiled), compiled.params).decode()
            cur.copy_expert(f"COPY ({query}) TO STDOUT WITH (FORMAT csv, HEADER true)", buf)
    finally:
        raw.close()
    buf.seek(0)
    if not buf.getbuffer().nbytes:
        return pl.DataFrame(schema=types)
    text = {n: pl.String for n in types}
    df = pl.read_csv(buf, schema=text)
    return df.with_columns(
        (pl.col(n) == "t") if t == pl.Boolean else
        pl.col(n).str.to_datetime(time_unit="us") if t == pl.Datetime("us") else
        pl.col(n).str.to_date() if t == pl.Date else
        pl.col(n).cast(t) for n, t in types.items())


def _case_types() -> dict[str, pl.DataType]:
    from queries.inputs import polars_schema

    types = polars_schema("cases")
    return {n: types[n] for n in CASE_COLUMNS}


def _case_frame(rows: list) -> pl.DataFrame:
    """CASE_COLUMNS rows from the database, typed as the contract types them."""
    types = _case_types()
    if not rows:
        return pl.DataFrame(schema=types)
    return pl.DataFrame([tuple(r) for r in rows], schema=list(CASE_COLUMNS), orient="row",
                        infer_schema_length=None).with_columns(
        pl.col(n).cast(t) for n, t in types.items())


def risk_as_of(engine, month: dt.date) -> dt.datetime:
    """The moment the predicted 预警 list of `month` is computed at: the month's last second,
    or the last recorded acceptance or completion of the log if that is earlier (a month
    still running).

    Read as one index descent per agency — max(accepted_at) and max(completed_at) by agency
    on (agency_code, accepted_at) / (agency_code, completed_at) — not by a scan of the log."""
    import sqlalchemy as sa

    from queries import schema

    end = month_end_moment(month)
    a, c = schema.agencies, schema.cases
    latest = [sa.func.max(sa.select(sa.func.max(col)).where(c.c.agency_code == a.c.agency_code)
                          .scalar_subquery())
              for col in (c.c.accepted_at, c.c.completed_at)]
    with engine.connect() as conn:
        found = [v for v in conn.execute(sa.select(*latest).select_from(a)).one()
                 if v is not None]
    if found and isinstance(found[0], str):  # SQLite without type processing
        found = [dt.datetime.fromisoformat(v) for v in found]
    return min(end, max(found)) if found else end


def read_risk_tables(engine, rows: RiskRows) -> Tables:
    """The tables `risk_clocks` needs besides `rows`: the suspensions of those cases only, the
    small contract tables and the calendar (`cases` holds the rows themselves)."""
    import sqlalchemy as sa

    from queries import schema
    from queries.engine import is_postgres
    from queries.inputs import polars_schema, read_suspensions, read_table

    ids = rows.rows["case_id"]
    if is_postgres(engine) and ids.len():
        t = schema.suspensions
        param = sa.bindparam("ids", ids.to_list(), type_=sa.ARRAY(sa.Text))
        suspensions = _pg_copy(engine, sa.select(*schema.contract_columns("suspensions")).where(t.c.case_id == sa.any_(param)),
                               polars_schema("suspensions"))
    else:  # the embedded database of a demo city: the whole table is small
        suspensions = read_suspensions(engine, ids)
    return Tables(rows.rows.select(*CASE_COLUMNS), suspensions,
                  read_table(engine, "agencies"), read_table(engine, "items"),
                  read_table(engine, "regions"), WorkCalendar.from_engine(engine))


def from_frames(frames: dict[str, pl.DataFrame], calendar: pl.DataFrame | None = None) -> Tables:
    """Tables from `xiaoneng.demo.generate`'s dict (calendar: the official one by default)."""
    from queries.calendar import official_calendar

    cal = calendar if calendar is not None else official_calendar()
    return Tables(frames["cases"], frames["suspensions"], frames["agencies"], frames["items"],
                  frames["regions"], WorkCalendar.from_frame(cal), frames.get("reviews"))
