"""Identity: is a row whose key is already stored the same case (an update) or another one?

Why: ids are often unique only within one source system. Two municipalities' exports both had
a case 6038724; an upsert by key alone *moved* the first municipality's case to the second
(new agency, new dates) with "updated 1" as the only trace. So before a row may update a stored
row, the fields of `contract.Table.identity` must agree with the stored ones (for cases: agency,
item and submission time, and an acceptance time once recorded). A row that disagrees is
quarantined as `key_conflict`, naming where the stored row came from (load, file, line and the
declared source) — the stored row is never overwritten. A later export of the same system that
now shows the case accepted or completed agrees on those fields and updates it as before.

Rows of this load that refer to a key quarantined as a conflict (a suspension or rating of the
second municipality's case 6038724) are quarantined too (`reference_to_conflict`): loaded, they
would attach to the stored case of the other source.

This module is the one place that applies the identity rule and builds a suspension's key
(`contract.suspension_key_of` is the same rule for one value); the identity fields themselves
are declared in `queries.contract`.
"""

from __future__ import annotations

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from queries import bulk, schema
from queries.contract import TABLES
from queries.errors import escaped
from queries.importer import rules
from queries.importer.normalize import Origin, shown
from queries.importer.validate import add_errors
from queries.importer.validate import error as _error

_STORED = "__stored_"
_FOUND = "__found__"

Conflicts = dict[str, set[tuple]]  # table → keys of this load quarantined as key_conflict


def add_suspension_keys(df: pl.DataFrame) -> pl.DataFrame:
    """suspension_key: the export's suspension_id, else start (to the second) and reason."""
    made = pl.concat_str([pl.col("started_at").dt.strftime("%Y-%m-%d %H:%M:%S"), pl.lit("/"),
                          pl.col("reason")])
    return df.with_columns(pl.coalesce(pl.col("suspension_id"), made).alias("suspension_key"))


def _key_shown(key: list[str]) -> pl.Expr:
    parts: list[pl.Expr] = []
    for i, k in enumerate(key):
        if i:
            parts.append(pl.lit("|"))
        parts.append(shown(pl.col(k).cast(pl.String)))
    return pl.concat_str(parts)


def _value(col: str, dtype: pl.DataType) -> pl.Expr:
    text = (pl.col(col).dt.strftime("%Y-%m-%d %H:%M:%S") if isinstance(dtype, pl.Datetime)
            else pl.col(col).cast(pl.String))
    return pl.when(pl.col(col).is_null()).then(pl.lit("(empty)")).otherwise(
        pl.concat_str([pl.lit("'"), shown(text), pl.lit("'")]))


def mark_key_conflicts(
    conn: Connection, df: pl.DataFrame, table: str, candidates: pl.Expr,
    origins: dict[str, Origin], source: str | None, conflicts: Conflicts,
) -> tuple[pl.DataFrame, int | None]:
    """Add KEY_CONFLICT errors to `candidates` rows whose key is stored for another case.

    Returns the frame and how many candidate rows agree with a stored row (they will update
    it or leave it unchanged) — None when the table has no identity rule or nothing stored.
    The keys found in conflict are added to `conflicts[table]`.
    """
    t = TABLES[table]
    ident = t.identity
    key = list(t.key)
    target = schema.CONTRACT_TABLES[table]
    if not ident.columns or conn.execute(sa.select(1).select_from(target).limit(1)).first() is None:
        return df, None
    probe = df.filter(candidates).select(key)
    if probe.is_empty():
        return df, 0
    stored_cols = [*ident.columns, "origin_file", "origin_line"]
    rows = bulk.stored_rows(conn, target, probe, [target.c[c] for c in stored_cols])
    stored_schema = {k: df.schema[k] for k in key}
    stored_schema |= {f"{_STORED}{c}": df.schema[c] for c in ident.columns}
    stored_schema |= {f"{_STORED}origin_file": pl.Int64, f"{_STORED}origin_line": pl.Int64}
    stored = pl.DataFrame(rows, schema=list(stored_schema), orient="row",
                          infer_schema_length=None).cast(stored_schema) \
        .with_columns(pl.lit(True).alias(_FOUND))
    if stored.is_empty():
        return df, 0
    df = df.join(stored, on=key, how="left", maintain_order="left", nulls_equal=False)
    found = pl.col(_FOUND).fill_null(False) & candidates

    def differs(c: str) -> pl.Expr:
        return pl.col(c).ne_missing(pl.col(f"{_STORED}{c}"))

    changed = [differs(c) for c in ident.fields]
    changed += [pl.col(f"{_STORED}{c}").is_not_null() & differs(c) for c in ident.set_once]
    conflict = found & pl.any_horizontal(changed)
    details = [
        pl.when(flag).then(pl.concat_str([
            pl.lit(f"{c} "), _value(f"{_STORED}{c}", df.schema[c]), pl.lit(" (this row "),
            _value(c, df.schema[c]), pl.lit(")")]))
        for c, flag in zip(ident.columns, changed, strict=True)
    ]
    df = df.with_columns(conflict.alias("__conflict"))
    n_conflicts = int(df["__conflict"].sum())
    agreeing = int(df.select((found & ~pl.col("__conflict")).sum()).item())
    if n_conflicts:
        df = df.join(_origins(conn, df.filter(pl.col("__conflict"))[f"{_STORED}origin_file"]),
                     left_on=f"{_STORED}origin_file", right_on="__file_id", how="left",
                     maintain_order="left")
        where = pl.when(pl.col(f"{_STORED}origin_file").is_null()).then(
            pl.lit("a load from before row origins were recorded")
        ).otherwise(pl.concat_str([pl.col("__origin"), pl.lit(" line "),
                                   pl.col(f"{_STORED}origin_line").cast(pl.String),
                                   pl.col("__origin_source")]))
        this = f" This row's source: '{escaped(source)}'." if source else ""
        label = origins[key[0]].label if len(key) == 1 else "/".join(key)
        msg = pl.concat_str([
            pl.lit("key '"), _key_shown(key), pl.lit("' is already stored for another case ("),
            pl.concat_list(details).list.drop_nulls().list.join(", "),
            pl.lit("), written by "), where,
            pl.lit(f"; it is not overwritten.{this} If ids repeat across sources, give each "
                   "source its own key in the mapping, e.g. case_id = "
                   "\"{municipality}-{case_id}\""),
        ])
        df = add_errors(df, [pl.when(pl.col("__conflict")).then(
            _error(rules.KEY_CONFLICT, label, msg))])
        conflicts.setdefault(table, set()).update(
            df.filter(pl.col("__conflict")).select(key).iter_rows())
        df = df.drop("__origin", "__origin_source")
    drop = [c for c in df.columns if c.startswith(_STORED)] + [_FOUND, "__conflict"]
    return df.drop(drop), agreeing


def _origins(conn: Connection, file_ids: pl.Series) -> pl.DataFrame:
    """file_id → "load <id>, <file>" and " (source 's')" for the stored rows in conflict."""
    lf = schema.load_files
    ids = [int(i) for i in file_ids.drop_nulls().unique().to_list()]
    rows = conn.execute(
        sa.select(lf.c.file_id, lf.c.load_id, lf.c.file, lf.c.source)
        .where(lf.c.file_id.in_(sa.bindparam("ids", expanding=True))), {"ids": ids}
    ).all() if ids else []
    return pl.DataFrame(
        {"__file_id": [r[0] for r in rows],
         "__origin": [f"load {load_id}, {escaped(file)}" for _, load_id, file, _ in rows],
         "__origin_source": [f" (source '{escaped(src)}')" if src else "" for *_, src in rows]},
        schema={"__file_id": pl.Int64, "__origin": pl.String, "__origin_source": pl.String})


def mark_conflicting_references(
    df: pl.DataFrame, table: str, origins: dict[str, Origin], conflicts: Conflicts
) -> pl.DataFrame:
    """REFERENCE_TO_CONFLICT for references to a key this load quarantined as a conflict."""
    checks = []
    for col in TABLES[table].columns:
        if col.ref is None or not conflicts.get(col.ref[0]):
            continue
        ref_table, _ = col.ref
        bad = pl.Series([k[0] for k in conflicts[ref_table]], dtype=pl.String)
        msg = pl.concat_str([
            pl.lit("'"), shown(pl.col(col.name)),
            pl.lit(f"' is a {ref_table} row of this load quarantined as a key conflict; the "
                   f"stored {ref_table} row of that key belongs to another source"),
        ])
        checks.append(pl.when(pl.col(col.name).is_in(bad.implode())).then(
            _error(rules.REFERENCE_TO_CONFLICT, origins[col.name].label, msg)))
    return add_errors(df, checks) if checks else df


__all__ = ["Conflicts", "add_suspension_keys", "mark_conflicting_references", "mark_key_conflicts"]
