"""Read contract tables into Polars for the metric jobs, typed by the contract.

PostgreSQL is read Arrow-native through ADBC (adbc-driver-postgresql: the server sends binary
COPY, the driver builds Arrow columns, Polars takes them without a copy). Measured against
`COPY (SELECT …) TO STDOUT` as CSV parsed by Polars and against connectorx (BENCHMARKS.md, the
metric-job section; `bench/bench_compute.py --phase pg-read`). Where the driver is missing the
CSV COPY path is used. SQLite is read through its cursor. Values are bound parameters in every
path: the statement is built by SQLAlchemy with literal binds of validated date values only.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
from collections.abc import Sequence

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from queries import schema
from queries.contract import DATE_FLOOR, TABLES
from queries.engine import is_postgres
from queries.errors import XiaonengError, escaped
from queries.extracts import add_months

_POLARS = {
    "text": pl.String, "enum": pl.String, "int": pl.Int32, "bool": pl.Boolean,
    "timestamp": pl.Datetime("us"), "date": pl.Date,
}


def polars_schema(table: str) -> dict[str, pl.DataType]:
    return {c.name: _POLARS[c.dtype] for c in TABLES[table].columns}


def _typed(df: pl.DataFrame, table: str) -> pl.DataFrame:
    """`df` cast to the contract's dtypes (its columns may be a subset of the table's)."""
    want = {n: t for n, t in polars_schema(table).items() if n in df.columns}
    exprs = []
    for name, dtype in want.items():
        col = pl.col(name)
        have = df.schema[name]
        if have == dtype:
            exprs.append(col)
        elif dtype == pl.Datetime("us") and have == pl.String:
            exprs.append(col.str.to_datetime(time_unit="us", strict=True).alias(name))
        elif dtype == pl.Date and have == pl.String:
            exprs.append(col.str.to_date(strict=True).alias(name))
        elif dtype == pl.Boolean and have == pl.String:
            exprs.append(col.is_in(["t", "true", "1"]).alias(name))
        else:
            exprs.append(col.cast(dtype).alias(name))
    return df.select(exprs)


def _selected_names(stmt: sa.Select, table: str) -> list[str]:
    """The contract column names a SELECT returns, in order (checked against the contract)."""
    names = [c.name for c in stmt.selected_columns]
    unknown = set(names) - set(TABLES[table].names)
    if unknown:
        raise ValueError(f"{table}: not contract columns: {sorted(unknown)}")
    return names


def arrow_reads_available() -> bool:
    """Whether the Arrow-native PostgreSQL driver (ADBC) is installed."""
    return importlib.util.find_spec("adbc_driver_postgresql") is not None


def _libpq_url(engine: Engine) -> str:
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


def _read_adbc(engine: Engine, sql: str) -> pl.DataFrame:
    import adbc_driver_postgresql.dbapi as adbc

    with adbc.connect(_libpq_url(engine)) as conn, conn.cursor() as cur:
        cur.execute(sql)
        return pl.from_arrow(cur.fetch_arrow_table())  # type: ignore[return-value]


def _read_copy_csv(engine: Engine, sql: str, names: list[str]) -> pl.DataFrame:
    buf = io.BytesIO()
    raw = engine.raw_connection()
    try:
        with raw.cursor() as cur:
            cur.copy_expert(f"COPY ({sql}) TO STDOUT WITH (FORMAT csv, HEADER true)", buf)
    finally:
        raw.close()
    buf.seek(0)
    return pl.read_csv(buf, schema={n: pl.String for n in names}) if buf.getbuffer().nbytes \
        else pl.DataFrame(schema={n: pl.String for n in names})


def read_select(engine: Engine, stmt: sa.Select, table: str,
                method: str | None = None) -> pl.DataFrame:
    """Run a SELECT of (some of) a contract table's columns and return a typed frame.

    `method` (PostgreSQL only, for the benchmark): "adbc" or "copy"; default ADBC when
    installed."""
    names = _selected_names(stmt, table)
    if is_postgres(engine):
        sql = str(stmt.compile(engine, compile_kwargs={"literal_binds": True}))
        method = method or ("adbc" if arrow_reads_available() else "copy")
        df = _read_adbc(engine, sql) if method == "adbc" else \
            _read_copy_csv(engine, sql, names)
        return _typed(df, table)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    want = {n: t for n, t in polars_schema(table).items() if n in names}
    df = pl.DataFrame([tuple(r) for r in rows], schema=names, orient="row",
                      infer_schema_length=None) if rows else pl.DataFrame(schema=want)
    if rows:  # an all-null column comes back untyped; _typed casts it from text
        df = df.with_columns(pl.col(n).cast(pl.String) for n, t in df.schema.items()
                             if t == pl.Null)
    return _typed(df, table)


def read_table(engine: Engine, table: str) -> pl.DataFrame:
    t = schema.CONTRACT_TABLES[table]
    return read_select(engine, sa.select(*schema.contract_columns(table))
                       .order_by(*t.primary_key.columns), table)


def case_window(first_month: dt.date, last_month: dt.date) -> sa.ColumnElement[bool]:
    """Cases that can contribute to any measure or card of months first..last.

    Accepted by the end of the window and not completed before its start: that covers intake,
    completion, month-end snapshots and card issue dates inside the window. Bundles and project
    chains that touch the window are read whole (the 营商环境 sub-indicators span them).
    """
    c = schema.cases.c
    start = dt.datetime.combine(first_month, dt.time())
    end = dt.datetime.combine(add_months(last_month, 1), dt.time())
    inside = sa.and_(
        c.accepted_at < end, sa.or_(c.completed_at.is_(None), c.completed_at >= start)
    )
    inner = schema.cases.alias("w")
    w = inner.c
    touching = sa.and_(w.accepted_at < end, sa.or_(w.completed_at.is_(None), w.completed_at >= start))
    return sa.or_(
        inside,
        c.bundle_id.in_(sa.select(w.bundle_id).where(touching, w.bundle_id.is_not(None))),
        c.project_code.in_(sa.select(w.project_code).where(touching, w.project_code.is_not(None))),
    )


def read_cases(engine: Engine, window: tuple[dt.date, dt.date] | None = None) -> pl.DataFrame:
    stmt = sa.select(*schema.contract_columns("cases"))
    if window:
        stmt = stmt.where(case_window(*window))
    return read_select(engine, stmt, "cases")


def read_reviews(
    engine: Engine, window: tuple[dt.date, dt.date] | None = None, rectify_days: int = 15,
) -> pl.DataFrame:
    """Reviews rated in the window, every 差评 whose rectification could still card in it, and
    every review of a case completed in it (参评率 and 实际评价率 count a case completed in the
    window whatever month its review came in, so a one-month recompute must see them too).

    Two statements: the first is ranges on the rating-time indexes; the second, the reviews of
    the window's completed cases not already read, a semi-join on ix_reviews_case. One OR of
    both would cost every index its use.
    """
    t = schema.reviews
    stmt = sa.select(*schema.contract_columns("reviews"))
    if not window:
        return read_select(engine, stmt, "reviews")
    rated = review_window(window, rectify_days)
    start, end = _bounds(window)
    c = schema.cases.c
    completed_in = sa.select(c.case_id).where(c.completed_at >= start, c.completed_at < end)
    return pl.concat([
        read_select(engine, stmt.where(rated), "reviews"),
        read_select(engine, stmt.where(t.c.case_id.in_(completed_in), sa.not_(rated)),
                    "reviews"),
    ])


def _bounds(window: tuple[dt.date, dt.date]) -> tuple[dt.datetime, dt.datetime]:
    """[first moment of the window, first moment after it)."""
    return (dt.datetime.combine(window[0], dt.time()),
            dt.datetime.combine(add_months(window[1], 1), dt.time()))


def review_window(window: tuple[dt.date, dt.date], rectify_days: int = 15
                  ) -> sa.ColumnElement[bool]:
    """Reviews rated in the window, and 差评 rated early enough to card in it."""
    t = schema.reviews
    start, end = _bounds(window)
    # A bad review's card falls rectify_days working days after rating: look back that far
    # in calendar days (7/5 per working day, a month for the long holidays), at least 3
    # months.
    days = max(92, rectify_days * 7 // 5 + 31)
    lookback = dt.datetime.combine((window[0] - dt.timedelta(days=days)).replace(day=1),
                                   dt.time())
    return sa.or_(
        sa.and_(t.c.rated_at >= start, t.c.rated_at < end),
        sa.and_(t.c.level <= 2, t.c.rated_at >= lookback, t.c.rated_at < end),
    )


def case_items(engine: Engine, case_ids: Sequence[str], chunk: int = 500) -> pl.DataFrame:
    """case_id, item_code of the given cases (looked up by key, a few hundred at a time)."""
    c = schema.cases.c
    rows: list[tuple[str, str]] = []
    ids = list(case_ids)
    with engine.connect() as conn:
        for i in range(0, len(ids), chunk):
            rows += [tuple(r) for r in conn.execute(
                sa.select(c.case_id, c.item_code).where(c.case_id.in_(ids[i:i + chunk])))]
    return pl.DataFrame(rows, schema={"case_id": pl.String, "item_code": pl.String},
                        orient="row")


def read_suspensions(engine: Engine, case_ids: pl.Series | None = None) -> pl.DataFrame:
    df = read_table(engine, "suspensions")
    if case_ids is not None:
        df = df.filter(pl.col("case_id").is_in(case_ids.implode()))
    return df


def case_month_bounds(engine: Engine) -> tuple[dt.date, dt.date] | None:
    """First and last month with any accepted case (None when there are no cases).

    Refused (one line naming a case) when a case was accepted before `contract.DATE_FLOOR`:
    such a date was loaded before the importer checked dates, and a month range expanded from
    it (year 0024 → 24,000 months) would take hours and gigabytes."""
    c = schema.cases.c
    with engine.connect() as conn:
        lo, hi = conn.execute(sa.select(sa.func.min(c.accepted_at),
                                        sa.func.max(sa.func.coalesce(c.completed_at,
                                                                     c.accepted_at)))).one()
    if lo is None:
        return None
    if isinstance(lo, str):
        lo, hi = dt.datetime.fromisoformat(lo), dt.datetime.fromisoformat(hi)
    if lo.date() < DATE_FLOOR:
        _refuse_implausible(engine)
    return lo.date().replace(day=1), hi.date().replace(day=1)


def _refuse_implausible(engine: Engine) -> None:
    c = schema.cases.c
    floor = dt.datetime.combine(DATE_FLOOR, dt.time())
    with engine.connect() as conn:
        n = conn.execute(sa.select(sa.func.count()).where(c.accepted_at < floor)).scalar_one()
        case_id, accepted = conn.execute(
            sa.select(c.case_id, c.accepted_at).where(c.accepted_at < floor)
            .order_by(c.accepted_at).limit(1)).one()
    raise XiaonengError(
        f"{n:,} case(s) were accepted before {DATE_FLOOR} (e.g. case {escaped(case_id)[:80]} "
        f"on {str(accepted)[:19]}): implausible dates loaded before the importer checked "
        "them. Import their files again (such rows are now quarantined) or correct them, "
        "then compute again"
    )
