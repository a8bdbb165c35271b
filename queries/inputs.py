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

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from queries import schema
from queries.contract import TABLES
from queries.engine import is_postgres
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
    return read_select(engine, sa.select(*t.c).order_by(*t.primary_key.columns), table)


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
    t = schema.cases
    stmt = sa.select(*t.c)
    if window:
        stmt = stmt.where(case_window(*window))
    return read_select(engine, stmt, "cases")


def read_reviews(engine: Engine, window: tuple[dt.date, dt.date] | None = None) -> pl.DataFrame:
    """Reviews rated in the window, plus every 差评 whose rectification could still card in it."""
    t = schema.reviews
    stmt = sa.select(*t.c)
    if window:
        start = dt.datetime.combine(window[0], dt.time())
        end = dt.datetime.combine(add_months(window[1], 1), dt.time())
        # A bad review's card falls ~rectify_days after rating: look back 3 months for those.
        lookback = dt.datetime.combine((window[0] - dt.timedelta(days=92)).replace(day=1), dt.time())
        stmt = stmt.where(sa.or_(
            sa.and_(t.c.rated_at >= start, t.c.rated_at < end),
            sa.and_(t.c.level <= 2, t.c.rated_at >= lookback, t.c.rated_at < end),
        ))
    return read_select(engine, stmt, "reviews")


def read_suspensions(engine: Engine, case_ids: pl.Series | None = None) -> pl.DataFrame:
    df = read_table(engine, "suspensions")
    if case_ids is not None:
        df = df.filter(pl.col("case_id").is_in(case_ids.implode()))
    return df


def case_month_bounds(engine: Engine) -> tuple[dt.date, dt.date] | None:
    """First and last month with any accepted case (None when there are no cases)."""
    c = schema.cases.c
    with engine.connect() as conn:
        lo, hi = conn.execute(sa.select(sa.func.min(c.accepted_at),
                                        sa.func.max(sa.func.coalesce(c.completed_at,
                                                                     c.accepted_at)))).one()
    if lo is None:
        return None
    if isinstance(lo, str):
        lo, hi = dt.datetime.fromisoformat(lo), dt.datetime.fromisoformat(hi)
    return lo.date().replace(day=1), hi.date().replace(day=1)
