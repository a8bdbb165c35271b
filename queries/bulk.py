"""Fast bulk writes of Polars frames: plain insert, upsert by key, key look-ups.

Why a module of its own: every bulk path in the product (the importer, the demo generator, the
fact jobs) needs the same three things — write a frame quickly, upsert it by primary key while
knowing how many rows were inserted / updated / left unchanged, and ask which of many keys
already exist — and each must stay inside the caller's transaction so that a load is all or
nothing.

On PostgreSQL rows travel by COPY into a temporary staging table and are merged with one
`INSERT … SELECT … ON CONFLICT DO UPDATE … WHERE <values differ>` (a plain `INSERT … SELECT`
when none of the staged keys exists yet); on SQLite one `executemany`
of `INSERT … ON CONFLICT DO UPDATE … WHERE <values differ>` per chunk does the same. No
statement is issued per row from Python. Identifiers come from the SQLAlchemy schema (never from user input) and are quoted by
the dialect; values always travel as bound parameters or COPY data.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

COPY_CHUNK_ROWS = 100_000
# sqlite3 needs every row as a Python tuple: keep that copy small (≈ 50k rows × columns objects).
SQLITE_CHUNK_ROWS = 50_000
SQLITE_DATETIME_FORMAT = "%Y-%m-%d %H:%M:%S%.6f"  # SQLAlchemy's storage format for DateTime
DATE_FORMAT = "%Y-%m-%d"
_IN_LIST_LIMIT = 500


@dataclass(frozen=True)
class UpsertCounts:
    """What an upsert did to the target table."""

    inserted: int = 0
    updated: int = 0
    unchanged: int = 0

    def __add__(self, other: UpsertCounts) -> UpsertCounts:
        return UpsertCounts(
            self.inserted + other.inserted,
            self.updated + other.updated,
            self.unchanged + other.unchanged,
        )


SQLITE_BULK_CACHE_KIB = 256 * 1024


def is_postgres(conn: Connection) -> bool:
    return conn.dialect.name == "postgresql"


@contextmanager
def bulk_session(conn: Connection) -> Iterator[None]:
    """Tune the connection for a large write, and put it back afterwards.

    SQLite keeps only ~2 MB of pages cached by default, so maintaining the secondary indexes of
    `cases` on a million-row insert goes to disk for nearly every row; a 256 MB cache for the
    duration of the load halves the write time. PostgreSQL needs nothing here.
    """
    if is_postgres(conn):
        yield
        return
    old = conn.exec_driver_sql("PRAGMA cache_size").scalar()
    conn.exec_driver_sql(f"PRAGMA cache_size = -{SQLITE_BULK_CACHE_KIB}")
    try:
        yield
    finally:
        conn.exec_driver_sql(f"PRAGMA cache_size = {int(old)}")


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def _qualified(conn: Connection, table: sa.Table | str) -> str:
    if isinstance(table, sa.Table):
        return conn.dialect.identifier_preparer.format_table(table)
    return _quote(conn, table)


def _columns_of(table: sa.Table | str, df: pl.DataFrame, columns: Sequence[str] | None) -> list[str]:
    if columns is not None:
        return list(columns)
    if isinstance(table, sa.Table):
        return [c.name for c in table.columns if c.name in df.columns]
    return list(df.columns)


def _sqlite_rows(df: pl.DataFrame) -> list[tuple]:
    """Rows as sqlite3 parameters, formatted exactly as SQLAlchemy would store them.

    Datetimes and dates must be the same text SQLAlchemy writes, or a re-import would see every
    row as changed and SQLAlchemy could not read them back.
    """
    exprs = []
    for name, dtype in df.schema.items():
        col = pl.col(name)
        if dtype == pl.Datetime or isinstance(dtype, pl.Datetime):
            exprs.append(col.dt.strftime(SQLITE_DATETIME_FORMAT))
        elif dtype == pl.Date:
            exprs.append(col.dt.strftime(DATE_FORMAT))
        elif dtype == pl.Boolean:
            exprs.append(col.cast(pl.Int8))
        else:
            exprs.append(col)
    return df.select(exprs).rows()


def _pg_copy_buffer(df: pl.DataFrame) -> io.BytesIO:
    buf = io.BytesIO()
    df.write_csv(
        buf,
        include_header=False,
        datetime_format=SQLITE_DATETIME_FORMAT,
        date_format=DATE_FORMAT,
        null_value="",
        quote_style="necessary",
    )
    buf.seek(0)
    return buf


def copy_frame(
    conn: Connection, table: sa.Table | str, df: pl.DataFrame, columns: Sequence[str] | None = None
) -> int:
    """COPY `df` into `table` (PostgreSQL only), in chunks so memory stays bounded.

    Text columns must not hold empty strings that should stay distinct from NULL: an unquoted
    empty field is read as NULL (the importer turns blanks into NULL before it gets here).
    """
    if not is_postgres(conn):
        raise ValueError("copy_frame needs PostgreSQL; use insert_frame for other databases")
    cols = _columns_of(table, df, columns)
    if df.is_empty():
        return 0
    col_sql = ", ".join(_quote(conn, c) for c in cols)
    sql = f"COPY {_qualified(conn, table)} ({col_sql}) FROM STDIN WITH (FORMAT csv, NULL '')"
    cursor = conn.connection.dbapi_connection.cursor()
    try:
        for offset in range(0, df.height, COPY_CHUNK_ROWS):
            chunk = df.select(cols).slice(offset, COPY_CHUNK_ROWS)
            cursor.copy_expert(sql, _pg_copy_buffer(chunk))
    finally:
        cursor.close()
    return df.height


def insert_frame(
    conn: Connection, table: sa.Table | str, df: pl.DataFrame, columns: Sequence[str] | None = None
) -> int:
    """Append `df` to `table` (no conflict handling): COPY on PostgreSQL, executemany on SQLite."""
    if df.is_empty():
        return 0
    if is_postgres(conn):
        return copy_frame(conn, table, df, columns)
    cols = _columns_of(table, df, columns)
    placeholders = ", ".join("?" for _ in cols)
    col_sql = ", ".join(_quote(conn, c) for c in cols)
    sql = f"INSERT INTO {_qualified(conn, table)} ({col_sql}) VALUES ({placeholders})"
    for offset in range(0, df.height, SQLITE_CHUNK_ROWS):
        chunk = df.select(cols).slice(offset, SQLITE_CHUNK_ROWS)
        conn.exec_driver_sql(sql, _sqlite_rows(chunk))
    return df.height


def _create_stage(conn: Connection, table: sa.Table, cols: Sequence[str]) -> str:
    """A temporary table shaped like `cols` of `table`; dropped by the caller."""
    name = f"_xn_stage_{uuid.uuid4().hex[:12]}"
    defs = ", ".join(
        f"{_quote(conn, c)} {table.c[c].type.compile(dialect=conn.dialect)}" for c in cols
    )
    conn.exec_driver_sql(f"CREATE TEMPORARY TABLE {_quote(conn, name)} ({defs})")
    return name


def _drop_stage(conn: Connection, name: str) -> None:
    conn.exec_driver_sql(f"DROP TABLE {_quote(conn, name)}")


@contextmanager
def _staged(conn: Connection, table: sa.Table, cols: Sequence[str]) -> Iterator[str]:
    """A temporary staging table for the body of the `with`, dropped after it succeeds.

    When the body fails the table is left alone: on PostgreSQL the statement that failed has
    aborted the transaction, so a DROP would fail too ("current transaction is aborted") and
    its error would replace the real one; the rollback that follows removes the table anyway
    (it was created in the same transaction), and on SQLite it is a connection-local table.
    """
    name = _create_stage(conn, table, cols)
    try:
        yield name
    except BaseException:
        if not is_postgres(conn):  # SQLite: a TEMP table lives as long as the connection
            with suppress(Exception):
                _drop_stage(conn, name)
        raise
    _drop_stage(conn, name)


def upsert_frame(
    conn: Connection, table: sa.Table, df: pl.DataFrame, key: Sequence[str] | None = None,
    compare: Sequence[str] | None = None, existing: int | None = None,
    increment: Sequence[str] = (),
) -> UpsertCounts:
    """Insert new keys, update rows whose values differ, leave identical rows untouched.

    `df` must not repeat a key (the caller de-duplicates and reports duplicates). Returns how
    many rows were inserted, updated and found unchanged, so that re-importing the same data is
    visibly a no-op (0 inserted, 0 updated). `compare`: the columns whose difference makes an
    update (default: every non-key column); the others (e.g. a row's origin) are written with
    an insert or an update but never cause one. `existing`: how many of the keys the caller
    already knows to be stored (it saves a look-up), or None.
    """
    if df.is_empty():
        return UpsertCounts()
    key = list(key or [c.name for c in table.primary_key.columns])
    cols = _columns_of(table, df, None)
    missing_key = [k for k in key if k not in cols]
    if missing_key:
        raise ValueError(f"upsert into {table.name}: key column(s) {missing_key} not in frame")
    compared = [c for c in (compare or cols) if c in cols and c not in key]
    action = _Action(key, compared, tuple(increment))
    if not is_postgres(conn):
        return _sqlite_upsert(conn, table, df.select(cols), cols, action, existing)
    with _staged(conn, table, cols) as stage:
        copy_frame(conn, stage, df.select(cols), cols)
        return _merge_stage(conn, table, stage, cols, df.height, action, existing)


@dataclass(frozen=True)
class _Action:
    """What an upsert does on a key conflict: which columns decide that the row changed, and
    which counters it raises instead of overwriting."""

    key: list[str]
    compared: list[str]
    increment: tuple[str, ...] = ()


def _upsert_action(conn: Connection, table: sa.Table, cols: list[str], action: _Action,
                   excluded: str) -> str:
    """ON CONFLICT action that updates only rows whose `compared` values differ (NULL-safe)."""
    target = _qualified(conn, table)
    compared = action.compared
    value_cols = [c for c in cols if c not in action.key]
    if not value_cols or not compared:
        return "DO NOTHING"
    q = {c: _quote(conn, c) for c in cols}
    sets = ", ".join(f"{q[c]} = {target}.{q[c]} + 1" if c in action.increment
                     else f"{q[c]} = {excluded}.{q[c]}" for c in value_cols)
    if is_postgres(conn):
        old = ", ".join(f"{target}.{q[c]}" for c in compared)
        new = ", ".join(f"{excluded}.{q[c]}" for c in compared)
        return f"DO UPDATE SET {sets} WHERE ROW({old}) IS DISTINCT FROM ROW({new})"
    differs = " OR ".join(f"{target}.{q[c]} IS NOT {excluded}.{q[c]}" for c in compared)
    return f"DO UPDATE SET {sets} WHERE {differs}"


def _sqlite_upsert(
    conn: Connection, table: sa.Table, df: pl.DataFrame, cols: list[str], action: _Action,
    existing: int | None,
) -> UpsertCounts:
    """executemany of INSERT … ON CONFLICT DO UPDATE … WHERE <differs>.

    sqlite3 sums the rows each statement changed (inserted + really updated); the keys that
    already existed are counted first, so the two can be told apart.
    """
    target = _qualified(conn, table)
    key = action.key
    if existing is None:
        has_rows = conn.exec_driver_sql(f"SELECT 1 FROM {target} LIMIT 1").first() is not None
        existing = int(existing_keys(conn, table, df.select(key)).sum()) if has_rows else 0
    col_sql = ", ".join(_quote(conn, c) for c in cols)
    key_sql = ", ".join(_quote(conn, k) for k in key)
    sql = f"INSERT INTO {target} ({col_sql}) VALUES ({', '.join('?' for _ in cols)})"
    if existing:  # only then can a row conflict; a plain INSERT is cheaper per row
        sql += f" ON CONFLICT ({key_sql}) {_upsert_action(conn, table, cols, action, 'excluded')}"
    changed = 0
    for offset in range(0, df.height, SQLITE_CHUNK_ROWS):
        result = conn.exec_driver_sql(sql, _sqlite_rows(df.slice(offset, SQLITE_CHUNK_ROWS)))
        changed += int(result.rowcount)
    inserted = df.height - existing
    updated = changed - inserted
    return UpsertCounts(inserted, updated, existing - updated)


def _merge_stage(
    conn: Connection, table: sa.Table, stage: str, cols: list[str], n: int, action: _Action,
    existing: int | None,
) -> UpsertCounts:
    """PostgreSQL: merge the staging table into `table`, counting inserts and updates.

    When no staged key exists in the table yet (the common case of a bulk load of new rows) a
    plain INSERT … SELECT is used: ON CONFLICT makes PostgreSQL insert speculatively row by
    row, which measured ~1.7× slower. A concurrent writer adding one of the keys meanwhile
    makes that INSERT fail on the primary key, which rolls the load back — never a wrong merge.
    Otherwise one INSERT … ON CONFLICT DO UPDATE … WHERE <differs>, counted by xmax.
    """
    target = _qualified(conn, table)
    staged = _quote(conn, stage)
    key = action.key
    col_sql = ", ".join(_quote(conn, c) for c in cols)
    key_sql = ", ".join(_quote(conn, k) for k in key)
    join = " AND ".join(f"t.{_quote(conn, k)} = s.{_quote(conn, k)}" for k in key)
    overlap = existing > 0 if existing is not None else conn.exec_driver_sql(
        f"SELECT EXISTS (SELECT 1 FROM {staged} s JOIN {target} t ON {join})"
    ).scalar_one()
    if not overlap:
        result = conn.exec_driver_sql(
            f"INSERT INTO {target} ({col_sql}) SELECT {col_sql} FROM {staged}"
        )
        return UpsertCounts(int(result.rowcount), 0, n - int(result.rowcount))
    on_conflict = _upsert_action(conn, table, cols, action, "EXCLUDED")
    sql = (
        f"WITH up AS (INSERT INTO {target} ({col_sql}) SELECT {col_sql} "
        f"FROM {staged} ON CONFLICT ({key_sql}) {on_conflict} "
        f"RETURNING (xmax = 0) AS ins) "
        f"SELECT count(*) FILTER (WHERE ins), count(*) FILTER (WHERE NOT ins) FROM up"
    )
    inserted, updated = conn.exec_driver_sql(sql).one()
    return UpsertCounts(int(inserted), int(updated), n - int(inserted) - int(updated))


def existing_keys(conn: Connection, table: sa.Table, keys: pl.DataFrame) -> pl.Series:
    """For each row of `keys` (columns named like `table`'s), whether it exists in `table`.

    Reads inside the caller's transaction, so rows written earlier in the same load count.
    Few distinct single-column keys use one bound `IN` list; many use a staging table and a
    join, so that millions of references are checked in one statement, not one per row.
    """
    cols = list(keys.columns)
    if keys.is_empty():
        return pl.Series("exists", [], dtype=pl.Boolean)
    distinct = keys.unique()
    if len(cols) == 1 and distinct.height <= _IN_LIST_LIMIT:
        col = table.c[cols[0]]
        values = distinct.get_column(cols[0]).drop_nulls().to_list()
        found = (
            conn.execute(sa.select(col).where(col.in_(sa.bindparam("v", expanding=True))), {"v": values})
            .scalars()
            .all()
        )
        present = pl.DataFrame({cols[0]: found}, schema={cols[0]: keys.schema[cols[0]]})
    else:
        present = _existing_via_stage(conn, table, distinct)
    present = present.unique().with_columns(pl.lit(True).alias("exists"))
    return keys.join(present, on=cols, how="left", maintain_order="left", nulls_equal=False)[
        "exists"
    ].fill_null(False)


def _existing_via_stage(conn: Connection, table: sa.Table, distinct: pl.DataFrame) -> pl.DataFrame:
    cols = list(distinct.columns)
    with _staged(conn, table, cols) as stage:
        insert_frame(conn, stage, distinct, cols)
        q = {c: _quote(conn, c) for c in cols}
        join = " AND ".join(f"t.{q[c]} = s.{q[c]}" for c in cols)
        select = ", ".join(f"s.{q[c]}" for c in cols)
        rows = conn.exec_driver_sql(
            f"SELECT {select} FROM {_quote(conn, stage)} s "
            f"WHERE EXISTS (SELECT 1 FROM {_qualified(conn, table)} t WHERE {join})"
        ).all()
    found = pl.DataFrame(rows, schema=cols, orient="row") if rows else pl.DataFrame(
        schema={c: pl.String for c in cols}
    )
    # The database hands back its own representation (e.g. text datetimes on SQLite): cast to
    # the caller's types so that the join below matches value for value.
    return _cast_like(found, distinct.schema)


def _cast_like(df: pl.DataFrame, schema: pl.Schema) -> pl.DataFrame:
    exprs = []
    for name, dtype in schema.items():
        col = pl.col(name)
        current = df.schema[name]
        if current == dtype:
            exprs.append(col)
        elif isinstance(dtype, pl.Datetime) and current == pl.String:
            exprs.append(col.str.to_datetime(SQLITE_DATETIME_FORMAT, time_unit=dtype.time_unit))
        elif dtype == pl.Date and current == pl.String:
            exprs.append(col.str.to_date(DATE_FORMAT))
        else:
            exprs.append(col.cast(dtype))
    return df.select(exprs)


def stored_rows(
    conn: Connection, table: sa.Table, keys: pl.DataFrame, columns: Sequence[sa.ColumnElement]
) -> list[tuple]:
    """The stored rows of `table` whose key is among `keys`: the key values, then `columns`.

    `columns` are expressions over `table` and over tables the caller joins in `columns`'
    FROM (e.g. a row's origin); values come back typed by SQLAlchemy (datetimes as datetimes
    on SQLite too). Like `existing_keys`: one bound IN list for few single-column keys, else a
    staging table and one join, inside the caller's transaction.
    """
    cols = list(keys.columns)
    if keys.is_empty():
        return []
    distinct = keys.unique()
    key_cols = [table.c[k] for k in cols]
    select = sa.select(*key_cols, *columns)
    if len(cols) == 1 and distinct.height <= _IN_LIST_LIMIT:
        values = distinct.get_column(cols[0]).drop_nulls().to_list()
        stmt = select.where(key_cols[0].in_(sa.bindparam("v", expanding=True)))
        return [tuple(r) for r in conn.execute(stmt, {"v": values}).all()]
    with _staged(conn, table, cols) as stage:
        insert_frame(conn, stage, distinct, cols)
        staged = sa.table(stage, *(sa.column(k) for k in cols))
        on = sa.and_(*(table.c[k] == staged.c[k] for k in cols))
        rows = [tuple(r) for r in conn.execute(select.join_from(table, staged, on)).all()]
    return rows
