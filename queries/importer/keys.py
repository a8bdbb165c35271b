"""Keys and references: duplicates within a load, references against the database + this load.

Why a load-wide memory of keys: a key may repeat across batches of one file or across files of
one load, and the upsert would silently let the last one win. `SeenKeys` remembers each key's
first occurrence (where and what it held) so a later row with the same key is either merged
(identical values, in a `distinct` feed such as an event log) or quarantined as a duplicate —
never silently dropped or overwritten. Keys already in the database before the load are not
duplicates: they are updated (upsert).

References are checked against the database inside the load's transaction, which already holds
the rows of this load's earlier tables (they are written in `contract.LOAD_ORDER`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl
from sqlalchemy.engine import Connection

from queries import bulk, schema
from queries.contract import TABLES
from queries.importer import rules
from queries.importer.normalize import ERRORS, Origin, shown
from queries.importer.readers import LINE
from queries.importer.validate import add_errors
from queries.importer.validate import error as _error

HASH = "__hash__"
MERGED = "__merged__"
_SRC = "__src__"


def key_text(key: list[str]) -> pl.Expr:
    """The key as one readable string ('C1', or 'C1|2025-06-07 00:00:00/inspection' for
    composite keys), control characters escaped and long values shortened."""
    parts = []
    for i, k in enumerate(key):
        if i:
            parts.append(pl.lit("|"))
        parts.append(shown(pl.col(k).cast(pl.String)))
    return pl.concat_str(parts)


@dataclass
class SeenKeys:
    """First occurrence of every key of one table met so far in this load."""

    key: list[str]
    frame: pl.DataFrame | None = None
    sources: list[str] = field(default_factory=list)

    def source_index(self, name: str) -> int:
        if name not in self.sources:
            self.sources.append(name)
        return self.sources.index(name)


def mark_duplicates(
    df: pl.DataFrame, table: str, seen: SeenKeys, source: str, unit: str, distinct: bool,
    origins: dict[str, Origin],
) -> pl.DataFrame:
    """Add DUPLICATE_KEY errors and the MERGED flag; remember first occurrences in `seen`.

    A later row with the same key is merged when the feed is `distinct`, its values are
    identical to the first occurrence and it broke no other rule; otherwise it is a duplicate.
    """
    key = seen.key
    cols = TABLES[table].names
    src_id = seen.source_index(source)
    df = df.with_columns(
        pl.struct(cols).hash(seed=7).alias(HASH), pl.lit(src_id, dtype=pl.Int32).alias(_SRC)
    )
    has_key = pl.all_horizontal([pl.col(k).is_not_null() for k in key])
    keyed = df.filter(has_key)
    first_here = keyed.unique(subset=key, keep="first", maintain_order=True).select(
        *key, HASH, _SRC, LINE
    )
    if seen.frame is not None and seen.frame.height:
        new_first = first_here.join(seen.frame.select(key), on=key, how="anti")
        reference = pl.concat([seen.frame, new_first], rechunk=False)  # append, don't copy
    else:
        new_first = first_here
        reference = first_here
    seen.frame = reference
    ref = reference.rename({HASH: "_f_hash", _SRC: "_f_src", LINE: "_f_line"})
    df = df.join(ref, on=key, how="left", maintain_order="left", nulls_equal=False)
    is_first = (pl.col("_f_src") == pl.col(_SRC)) & (pl.col("_f_line") == pl.col(LINE))
    later = has_key & pl.col("_f_line").is_not_null() & ~is_first.fill_null(False)
    identical = pl.col(HASH) == pl.col("_f_hash")
    no_errors = pl.col(ERRORS).list.len() == 0
    merged = later & identical & no_errors if distinct else pl.lit(False)
    duplicate = later & ~identical if distinct else later
    where = pl.concat_str([
        pl.lit(f"{unit} "), pl.col("_f_line").cast(pl.String),
        pl.when(pl.col("_f_src") == pl.col(_SRC)).then(pl.lit(""))
        .otherwise(pl.concat_str([pl.lit(" of "),
                                  pl.col("_f_src").replace_strict(
                                      dict(enumerate(seen.sources)), return_dtype=pl.String)])),
    ])
    label = "/".join(key) if len(key) > 1 else origins[key[0]].label
    msg = pl.concat_str([
        pl.lit("key '"), key_text(key), pl.lit("' already appears on "), where,
        pl.lit(" (the first occurrence is kept)" if not distinct else
               " with different values (the first occurrence is kept)"),
    ])
    df = df.with_columns(merged.alias(MERGED))
    df = add_errors(df, [pl.when(duplicate).then(_error(rules.DUPLICATE_KEY, label, msg))])
    return df.drop("_f_hash", "_f_src", "_f_line", HASH, _SRC)


def mark_unknown_references(
    conn: Connection, df: pl.DataFrame, table: str, origins: dict[str, Origin]
) -> pl.DataFrame:
    """Add UNKNOWN_REFERENCE errors for values not in the referenced table (DB + this load).

    A self-reference (regions.parent_code) may also point at a row of this very batch, as
    long as that row is itself clean.
    """
    checks = []
    t = TABLES[table]
    for col in t.columns:
        if col.ref is None:
            continue
        ref_table, ref_col = col.ref
        values = df.select(pl.col(col.name).alias(ref_col)).filter(pl.col(ref_col).is_not_null())
        if values.is_empty():
            continue
        distinct = values.unique()
        found = bulk.existing_keys(conn, schema.CONTRACT_TABLES[ref_table], distinct)
        known = distinct.filter(found)
        if ref_table == table:
            clean = df.filter(pl.col(ERRORS).list.len() == 0).select(pl.col(ref_col))
            known = pl.concat([known, clean]).unique()
        known_list = known.get_column(ref_col)
        label = origins[col.name].label
        msg = pl.concat_str([
            pl.lit("'"), shown(pl.col(col.name)),
            pl.lit(f"' is not in {ref_table}.{ref_col} (neither in the database nor in this load)"),
        ])
        checks.append(
            pl.when(pl.col(col.name).is_not_null() & ~pl.col(col.name).is_in(known_list.implode()))
            .then(_error(rules.UNKNOWN_REFERENCE, label, msg))
        )
    return add_errors(df, checks)
