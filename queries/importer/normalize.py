"""Normalisation: from source columns (text, or typed for Parquet/frames) to typed contract columns.

Why vectorised and error-collecting: the demo generator pushes a million cases through here, so
every column is parsed with one Polars expression per format, never a Python loop over rows;
and every value that does not parse is recorded as an error next to its row (rule id, column,
message) instead of failing the batch, so that later stages can quarantine the row with every
rule it broke.

The result of `normalize` has the contract columns (typed), `__line__`, `__fields__`,
`__row__` (position in the batch, to fetch the raw row for quarantine), `__errors__`
(a list of "rule\x1fcolumn\x1fmessage" strings, empty for a clean row) and, per parsed column,
`__bad__<column>` (a value was given but did not parse — so that cross-column rules do not also
call it "empty"; dropped after those rules).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl

from queries.contract import FALSE_LABELS, TABLES, TRUE_LABELS, Column
from queries.importer import rules
from queries.importer.mapping import Conditional, Feed, SourceSpec
from queries.importer.readers import FIELDS, LINE, reject

LOCAL_TZ = "Asia/Shanghai"
ROW = "__row__"
ERRORS = "__errors__"
BAD_PREFIX = "__bad__"  # per-column flag: a value was given but did not parse
TS = pl.Datetime("us")

# Tried in this order after the mapping's own formats; values are pre-cleaned so that a "T"
# separator is a space and "Z" is "+00:00".
NAIVE_FORMATS = (
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
    "%Y/%m/%d %H:%M:%S%.f",
    "%Y/%m/%d %H:%M",
    "%Y/%m/%d",
    "%Y年%m月%d日 %H:%M:%S",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日",
    "%Y%m%d%H%M%S",
    "%Y%m%d",
    "%Y.%m.%d %H:%M:%S",
    "%Y.%m.%d",
)
OFFSET_FORMATS = ("%Y-%m-%d %H:%M:%S%.f%#z", "%Y-%m-%d %H:%M%#z")
_OFFSET_RE = r"^(.*\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(?:Z|UTC|GMT|[+-]\d{2}(?::?\d{2})?)$"
_EXCEL_SERIAL_RE = r"^\d{5}(?:\.\d+)?$"
_EXCEL_EPOCH = pl.datetime(1899, 12, 30)


# ------------------------------------------------------------------------ column origin ----


@dataclass(frozen=True)
class Origin:
    """Where one contract column's values come from in one source."""

    kind: str  # "header" | "constant" | "conditional" | "default" | "absent"
    label: str  # how messages name the column, e.g. "承诺时限 (promised_days)"
    header: str | None = None
    value: Any = None
    present: str | None = None
    missing: str | None = None


def _label(col: str, header: str) -> str:
    return col if header == col else f"{header} ({col})"


def resolve(table: str, feed: Feed, headers: list[str], source: str) -> dict[str, Origin]:
    """Decide, for every contract column, where its values come from in this source.

    Rejects the whole file (naming file and column) when the contract requires a column the
    file does not have, or when the mapping names a header the file lacks.
    """
    t = TABLES[table]
    by_key = {h.strip().lower(): h for h in headers}
    present = set(headers)
    origins: dict[str, Origin] = {}
    for col in t.columns:
        mapped = feed.columns.get(col.name)
        if isinstance(mapped, str):
            if mapped not in present:
                raise reject(
                    source, rules.MISSING_COLUMN,
                    f"the mapping reads {col.name} from column {mapped!r}, which is not in the "
                    f"file (its columns: {', '.join(headers)})",
                )
            origins[col.name] = Origin("header", _label(col.name, mapped), header=mapped)
        elif isinstance(mapped, Conditional):
            if mapped.header not in present:
                raise reject(
                    source, rules.MISSING_COLUMN,
                    f"the mapping sets {col.name} from column {mapped.header!r}, which is not in "
                    f"the file",
                )
            origins[col.name] = Origin(
                "conditional", _label(col.name, mapped.header), header=mapped.header,
                present=mapped.present, missing=mapped.missing,
            )
        elif col.name in feed.constants:
            origins[col.name] = Origin("constant", f"{col.name} (constant)",
                                       value=feed.constants[col.name])
        elif col.name.lower() in by_key or col.zh.lower() in by_key:
            header = by_key.get(col.name.lower()) or by_key[col.zh.lower()]
            origins[col.name] = Origin("header", _label(col.name, header), header=header)
        elif col.default is not None:
            origins[col.name] = Origin("default", col.name, value=col.default)
        elif col.nullable:
            origins[col.name] = Origin("absent", col.name)
        else:
            raise reject(
                source, rules.MISSING_COLUMN,
                f"required column {col.name} ({col.zh}) of table {table} is missing "
                f"(the file has: {', '.join(headers) or 'no columns'})",
            )
    return origins


# ------------------------------------------------------------------------------ helpers ----


def _err(rule: str, label: str, message: pl.Expr | str) -> pl.Expr:
    msg = pl.lit(message) if isinstance(message, str) else message
    return pl.concat_str([pl.lit(f"{rule}{rules.SEP}{label}{rules.SEP}"), msg])


def _quoted(col: str) -> pl.Expr:
    return pl.concat_str([pl.lit("'"), pl.col(col).cast(pl.String), pl.lit("'")])


def _clean_text(expr: pl.Expr) -> pl.Expr:
    """Trim; blank → null (an empty cell means 'no value' in every source format)."""
    s = expr.str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or dtype == pl.Null or dtype == pl.Categorical


# --------------------------------------------------------------------------- normalize ----


def normalize(
    batch: pl.DataFrame, table: str, feed: Feed, spec: SourceSpec, origins: dict[str, Origin]
) -> pl.DataFrame:
    """Typed contract columns plus bookkeeping and the per-row list of errors."""
    t = TABLES[table]
    base = batch.with_row_index(ROW).select(ROW, LINE, FIELDS, *_raw_columns(batch, origins))
    errors: list[pl.Series] = []
    typed: list[pl.Series] = []
    bad_flags: list[pl.Series] = []
    for col in t.columns:
        origin = origins[col.name]
        raw = base.get_column(col.name)
        if col.name in feed.values and _is_text(raw.dtype):
            raw = raw.replace(feed.values[col.name])
        value, bad = _parse(raw, col, spec)
        typed.append(value.alias(col.name))
        if bad is not None:
            bad_flags.append(bad.alias(BAD_PREFIX + col.name))
        errors.extend(_column_errors(raw, value, bad, col, origin))
    out = pl.DataFrame(typed + bad_flags).with_columns(base[ROW], base[LINE], base[FIELDS])
    return out.with_columns(_error_lists(base, errors, batch.width - len((LINE, FIELDS))))


def _error_lists(base: pl.DataFrame, errors: list[pl.Series], n_headers: int) -> pl.Series:
    """Each row's list of errors. Only columns holding an error take part, so a clean batch of
    a million rows builds no per-row lists at all."""
    found = [e for e in errors if e.null_count() < len(e)]
    fields = base.get_column(FIELDS)
    if fields.null_count() < len(fields):
        field_error = base.select(_field_count_error(n_headers)).to_series()
        # A blank or unterminated line has no values to check: the field-count error says it all.
        only_fields = fields.is_in([0, -1]).fill_null(False)
        found = [pl.select(pl.when(only_fields).then(None).otherwise(e)).to_series().alias(e.name)
                 for e in found]
        found.insert(0, field_error.alias("__e_fields"))
    if not found:
        return pl.Series(ERRORS, [[]], dtype=pl.List(pl.String)).new_from_index(0, len(base))
    frame = pl.DataFrame(found)
    return frame.select(pl.concat_list(frame.columns).list.drop_nulls().alias(ERRORS)).to_series()


def _raw_columns(batch: pl.DataFrame, origins: dict[str, Origin]) -> list[pl.Expr]:
    exprs = []
    for name, o in origins.items():
        if o.kind == "header":
            e = pl.col(o.header)
            if _is_text(batch.schema[o.header]):
                e = _clean_text(e.cast(pl.String))
        elif o.kind == "conditional":
            filled = pl.col(o.header).cast(pl.String).str.strip_chars().fill_null("") != ""
            e = pl.when(filled).then(pl.lit(o.present)).otherwise(pl.lit(o.missing))
        elif o.kind in ("constant", "default"):
            v = o.value
            e = pl.lit(str(v).lower() if isinstance(v, bool) else str(v), dtype=pl.String)
        else:
            e = pl.lit(None, dtype=pl.String)
        exprs.append(e.alias(name))
    return exprs


def _field_count_error(n_headers: int) -> pl.Expr:
    n = pl.col(FIELDS)
    msg = (
        pl.when(n == 0)
        .then(pl.lit("the line is empty"))
        .when(n == -1)
        .then(pl.lit("a quoted field is never closed (the file looks truncated here)"))
        .otherwise(pl.concat_str([pl.lit("the line has "), n.cast(pl.String),
                                  pl.lit(f" field(s) but the header has {n_headers}")]))
    )
    return pl.when(n.is_not_null()).then(_err(rules.FIELD_COUNT, "(line)", msg))


def _column_errors(
    raw: pl.Series, value: pl.Series, bad: pl.Series | None, col: Column, origin: Origin
) -> list[pl.Series]:
    """Errors of one column: required-but-empty, unparseable, out of range."""
    frame = pl.DataFrame([raw.alias("raw"), value.alias("value")])
    exprs: list[pl.Expr] = []
    label = origin.label
    if not col.nullable:
        exprs.append(pl.when(pl.col("raw").is_null()).then(_err(rules.REQUIRED, label, "is empty")))
    if bad is not None:
        frame = frame.with_columns(bad.alias("bad"))
        rule, what = _type_rule(col)
        exprs.append(
            pl.when(pl.col("bad")).then(
                _err(rule, label, pl.concat_str([_quoted("raw"), pl.lit(f" is {what}")]))
            )
        )
    if col.min_value is not None or col.max_value is not None:
        v = pl.col("value")
        if col.min_value == 0:
            exprs.append(pl.when(v < 0).then(
                _err(rules.NEGATIVE_VALUE, label,
                     pl.concat_str([_quoted("value"), pl.lit(" is negative; it must be ≥ 0")]))))
        else:
            lo, hi = col.min_value, col.max_value
            outside = pl.lit(False)
            if lo is not None:
                outside = outside | (v < lo)
            if hi is not None:
                outside = outside | (v > hi)
            exprs.append(pl.when(outside).then(
                _err(rules.OUT_OF_RANGE, label,
                     pl.concat_str([_quoted("value"), pl.lit(f" is outside {lo}–{hi}")]))))
    if not exprs:
        return []
    names = [f"__e_{col.name}_{i}" for i in range(len(exprs))]
    res = frame.select([e.alias(n) for e, n in zip(exprs, names, strict=True)])
    return [res.get_column(n) for n in names]


def _type_rule(col: Column) -> tuple[str, str]:
    if col.dtype == "int":
        return rules.BAD_INT, "not a whole number"
    if col.dtype == "timestamp":
        return rules.BAD_TIMESTAMP, "not a recognised date-time (e.g. 2024-03-05 09:30:00)"
    if col.dtype == "date":
        return rules.BAD_DATE, "not a recognised date (e.g. 2024-03-05)"
    if col.dtype == "bool":
        return rules.BAD_BOOL, "not a yes/no value (是/否, true/false, 1/0)"
    allowed = ", ".join(col.enum)
    return rules.BAD_ENUM, f"not one of {allowed} (or their Chinese labels)"


# ------------------------------------------------------------------------------ parsing ----


def _parse(raw: pl.Series, col: Column, spec: SourceSpec) -> tuple[pl.Series, pl.Series | None]:
    """(typed values, mask of values that were given but did not parse) for one column."""
    if col.dtype == "text":
        return (raw if raw.dtype == pl.String else raw.cast(pl.String)), None
    if col.dtype == "enum":
        return _parse_enum(raw, col)
    if col.dtype == "int":
        return _parse_int(raw)
    if col.dtype == "bool":
        return _parse_bool(raw)
    if col.dtype == "timestamp":
        return parse_timestamps(raw, spec)
    if col.dtype == "date":
        return _parse_date(raw, spec)
    raise ValueError(f"unknown contract dtype {col.dtype}")  # pragma: no cover


def _given_but_null(raw: pl.Series, value: pl.Series) -> pl.Series:
    return (raw.is_not_null() & value.is_null()).alias("bad")


def _parse_enum(raw: pl.Series, col: Column) -> tuple[pl.Series, pl.Series]:
    text = raw.cast(pl.String)
    labels = {v: v for v in col.enum} | dict(col.enum_labels)
    lowered = {k.lower(): v for k, v in labels.items()}
    value = text.replace_strict(labels, default=None, return_dtype=pl.String)
    if (text.is_not_null() & value.is_null()).any():  # only then try case-insensitively
        loose = text.str.to_lowercase().replace_strict(lowered, default=None,
                                                       return_dtype=pl.String)
        value = value.fill_null(loose)
    return value, _given_but_null(text, value)


def _parse_int(raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    if raw.dtype.is_integer():
        return raw.cast(pl.Int64), None
    as_float = raw.cast(pl.String).str.replace_all(",", "").cast(pl.Float64, strict=False)
    whole = as_float.is_finite() & (as_float == as_float.floor())
    value = pl.select(pl.when(whole).then(as_float).otherwise(None).cast(pl.Int64)).to_series()
    return value, _given_but_null(raw, value)


def _parse_bool(raw: pl.Series) -> tuple[pl.Series, pl.Series]:
    if raw.dtype == pl.Boolean:
        return raw, None
    text = raw.cast(pl.String).str.to_lowercase()
    mapping = {v.lower(): True for v in TRUE_LABELS} | {v.lower(): False for v in FALSE_LABELS}
    value = text.replace_strict(mapping, default=None, return_dtype=pl.Boolean)
    return value, _given_but_null(raw, value)


def _to_local_naive(s: pl.Series, spec: SourceSpec) -> pl.Series:
    """Timestamps as naive Asia/Shanghai wall-clock time, the contract's convention."""
    if isinstance(s.dtype, pl.Datetime) and s.dtype.time_zone is not None:
        if spec.offsets == "ignore":
            return s.dt.replace_time_zone(None).cast(TS)
        return s.dt.convert_time_zone(LOCAL_TZ).dt.replace_time_zone(None).cast(TS)
    s = s.cast(TS)
    if spec.timezone and spec.timezone != LOCAL_TZ:
        s = (
            s.dt.replace_time_zone(spec.timezone, ambiguous="earliest", non_existent="null")
            .dt.convert_time_zone(LOCAL_TZ)
            .dt.replace_time_zone(None)
        )
    return s


def parse_timestamps(raw: pl.Series, spec: SourceSpec) -> tuple[pl.Series, pl.Series | None]:
    """Parse a column of timestamps in any of the supported formats.

    Formats are tried one at a time over the whole column, only while some values are still
    unparsed, so a clean column costs one vectorised parse.
    """
    value, bad = _parse_timestamps(raw, spec)
    if spec.precision == "day":
        value = value.dt.truncate("1d")
    return value, bad


def _parse_timestamps(raw: pl.Series, spec: SourceSpec) -> tuple[pl.Series, pl.Series | None]:
    if isinstance(raw.dtype, pl.Datetime):
        return _to_local_naive(raw, spec), None
    if raw.dtype == pl.Date:
        return _to_local_naive(raw.cast(TS), spec), None
    text = raw.cast(pl.String)
    # Fast path: most columns are in one format (the mapping's, or "2024-03-05 09:30[:00]"),
    # which then costs one parse and no cleaning.
    first = (spec.timestamp_formats or NAIVE_FORMATS)[0]
    quick = text.str.to_datetime(first, strict=False, time_unit="us")
    if isinstance(quick.dtype, pl.Datetime) and quick.dtype.time_zone is None and not (
        text.is_not_null() & quick.is_null()
    ).any():
        return _to_local_naive(quick, spec).alias(raw.name), _given_but_null(text, quick)
    text = text.str.replace(r"^(\d{4}-\d{1,2}-\d{1,2})T", "${1} ")
    if spec.offsets == "ignore":
        text = text.str.replace(_OFFSET_RE, "${1}")
    else:
        text = text.str.replace(r"(\d)Z$", "${1}+00:00")
    naive = pl.Series(raw.name, [None], dtype=TS).new_from_index(0, len(raw))
    aware = naive.clone()

    def remaining() -> bool:
        return bool((text.is_not_null() & naive.is_null() & aware.is_null()).any())

    for fmt in (*spec.timestamp_formats, *NAIVE_FORMATS, *OFFSET_FORMATS):
        if not remaining():
            break
        parsed = text.str.to_datetime(fmt, strict=False, time_unit="us")
        if isinstance(parsed.dtype, pl.Datetime) and parsed.dtype.time_zone is not None:
            aware = aware.fill_null(_to_local_naive(parsed, spec))
        else:
            naive = naive.fill_null(parsed.cast(TS))
    if remaining():
        naive = naive.fill_null(_excel_serial(text))
    value = aware.fill_null(_to_local_naive(naive, spec)).alias(raw.name)
    return value, _given_but_null(text, value)


def _excel_serial(text: pl.Series) -> pl.Series:
    """Excel day numbers (e.g. 45356.5 = 2024-03-05 12:00) as saved by some exports."""
    frame = pl.DataFrame({"t": text})
    return frame.select(
        pl.when(pl.col("t").str.contains(_EXCEL_SERIAL_RE))
        .then(
            _EXCEL_EPOCH
            + pl.duration(
                microseconds=(pl.col("t").cast(pl.Float64, strict=False) * 86_400_000_000)
                .round(0)
                .cast(pl.Int64)
            )
        )
        .cast(TS)
    ).to_series()


def _parse_date(raw: pl.Series, spec: SourceSpec) -> tuple[pl.Series, pl.Series | None]:
    if raw.dtype == pl.Date:
        return raw, None
    value, bad = parse_timestamps(raw, spec)
    return value.dt.date(), bad
