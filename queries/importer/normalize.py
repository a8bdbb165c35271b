"""Normalisation: from source columns (text, or typed for Parquet/frames) to typed contract columns.

Why vectorised and error-collecting: the demo generator pushes a million cases through here, so
every column is parsed with one Polars expression per format, never a Python loop over rows;
and every value that does not parse is recorded as an error next to its row (rule id, column,
message) instead of failing the batch, so that later stages can quarantine the row with every
rule it broke.

The result of `normalize` has the contract columns (typed), `__line__`, `__fields__`,
`__row__` (position in the batch, to fetch the raw row for quarantine), `__errors__`
(a list of "rule\x1fcolumn\x1fmessage" strings, empty for a clean row) and, per parsed column,
`__bad__<column>` (a value was given but is not usable — so that cross-column rules do not also
call it "empty"; dropped after those rules).

Why values are checked here against the database's limits (32-bit integers, identifier and
text lengths, NUL characters) and against the plausible date window: such a value must cost
its row, with file, line, column and rule, never the whole file — and on PostgreSQL one bad
value in a COPY or a bound parameter aborts the load's transaction. An unusable value is
nulled here, so no later stage (a reference look-up, the due-date calendar, a staging table)
ever sends it to the database or expands a date range from it. Values shown in messages are
escaped (control characters as \\xNN) and shortened, so a message stays one readable line.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from queries.contract import (
    DUE_HORIZON_DAYS,
    FALSE_LABELS,
    INT_MAX,
    TABLES,
    TRUE_LABELS,
    UNKNOWN,
    Column,
)
from queries.errors import escaped
from queries.importer import rules
from queries.importer.mapping import (
    Condition,
    DateWindow,
    Derived,
    Feed,
    SourceSpec,
    Template,
)
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

    kind: str  # "header" | "template" | "derived" | "constant" | "default" | "absent" | "made"
    label: str  # how messages name the column, e.g. "承诺时限 (promised_days)"
    header: str | None = None
    value: Any = None
    rule: Template | Derived | None = None

    @property
    def headers(self) -> list[str]:
        """The source headers this column reads."""
        if self.rule is not None:
            return self.rule.headers
        return [self.header] if self.header else []


def _label(col: str, header: str) -> str:
    return col if header == col else f"{header} ({col})"


def _require_headers(source: str, col: str, wanted: list[str], present: set[str],
                     headers: list[str], how: str) -> None:
    missing = [h for h in wanted if h not in present]
    if missing:
        raise reject(
            source, rules.MISSING_COLUMN,
            f"the mapping {how} {col} from column(s) {', '.join(map(repr, missing))}, which "
            f"the file does not have (its columns: {', '.join(headers)})",
        )


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
        if col.derived:
            origins[col.name] = Origin("made", col.name)
        elif isinstance(mapped, str):
            _require_headers(source, col.name, [mapped], present, headers, "reads")
            origins[col.name] = Origin("header", _label(col.name, mapped), header=mapped)
        elif isinstance(mapped, Template):
            _require_headers(source, col.name, mapped.headers, present, headers, "builds")
            origins[col.name] = Origin("template", f"{mapped.text} ({col.name})", rule=mapped)
        elif isinstance(mapped, Derived):
            _require_headers(source, col.name, mapped.headers, present, headers, "derives")
            shown = ", ".join(dict.fromkeys(mapped.headers)) or "rules"
            origins[col.name] = Origin("derived", f"{col.name} (from {shown})", rule=mapped)
        elif col.name in feed.constants:
            origins[col.name] = Origin("constant", f"{col.name} (constant)",
                                       value=feed.constants[col.name])
        elif col.name.lower() in by_key or col.zh.lower() in by_key:
            header = by_key.get(col.name.lower()) or by_key[col.zh.lower()]
            origins[col.name] = Origin("header", _label(col.name, header), header=header)
        elif col.name in feed.unknown:
            origins[col.name] = Origin("constant", f"{col.name} (not in the file)", value=UNKNOWN)
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

# Characters that would break a one-line message (or, NUL, a PostgreSQL text value), and how a
# message shows them.
CONTROL_CHARS = [chr(i) for i in range(32)] + ["\x7f"]
CONTROL_SHOWN = [f"\\x{ord(c):02x}" for c in CONTROL_CHARS]
SHOWN_MAX_CHARS = 60


def shown(expr: pl.Expr) -> pl.Expr:
    """A value as a message shows it: control characters escaped, at most 60 characters."""
    text = expr.cast(pl.String).str.replace_many(CONTROL_CHARS, CONTROL_SHOWN)
    return (pl.when(text.str.len_chars() > SHOWN_MAX_CHARS)
            .then(pl.concat_str([text.str.slice(0, SHOWN_MAX_CHARS - 1), pl.lit("…")]))
            .otherwise(text))


def _err(rule: str, label: str, message: pl.Expr | str) -> pl.Expr:
    msg = pl.lit(message) if isinstance(message, str) else message
    return pl.concat_str([pl.lit(f"{rule}{rules.SEP}{escaped(label)}{rules.SEP}"), msg])


def _quoted(col: str) -> pl.Expr:
    return pl.concat_str([pl.lit("'"), shown(pl.col(col)), pl.lit("'")])


def _clean_text(expr: pl.Expr) -> pl.Expr:
    """Trim; blank → null (an empty cell means 'no value' in every source format)."""
    s = expr.str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def _is_text(dtype: pl.DataType) -> bool:
    return dtype == pl.String or dtype == pl.Null or dtype == pl.Categorical


# --------------------------------------------------------------------------- normalize ----


@dataclass
class Parsed:
    """One column parsed: typed values (null where unusable), the rows whose value was given
    but did not parse (`bad`), and rows whose value parsed but breaks a specific rule
    (`problems`: mask, rule id, what to say after the quoted value)."""

    value: pl.Series
    bad: pl.Series | None = None
    problems: list[tuple[pl.Series, str, str]] = field(default_factory=list)

    def add(self, mask: pl.Series, rule: str, what: str) -> None:
        """Record a problem and null its values (so nothing downstream uses them)."""
        mask = mask.fill_null(False)
        if not mask.any():
            return
        self.problems.append((mask, rule, what))
        self.value = pl.select(pl.when(mask).then(None).otherwise(self.value)).to_series() \
            .alias(self.value.name)

    @property
    def unusable(self) -> pl.Series | None:
        """Given but not usable, for any reason (drives the `__bad__` flag)."""
        masks = ([self.bad] if self.bad is not None else []) + [m for m, _, _ in self.problems]
        if not masks:
            return None
        out = masks[0]
        for m in masks[1:]:
            out = out | m
        return out.alias("bad")


def normalize(
    batch: pl.DataFrame, table: str, feed: Feed, spec: SourceSpec, origins: dict[str, Origin],
    window: DateWindow | None = None,
) -> pl.DataFrame:
    """Typed contract columns plus bookkeeping and the per-row list of errors."""
    t = TABLES[table]
    window = window or spec.window(dt.datetime.now())
    base = batch.with_row_index(ROW).select(ROW, LINE, FIELDS, *_raw_columns(batch, origins))
    errors: list[pl.Series] = []
    typed: list[pl.Series] = []
    bad_flags: list[pl.Series] = []
    for col in t.columns:
        if col.derived:
            continue
        origin = origins[col.name]
        raw = base.get_column(col.name)
        if _is_text(raw.dtype):
            raw = _mapped_values(raw, col, feed)
        parsed = _parse(raw, col, spec, window)
        typed.append(parsed.value.alias(col.name))
        unusable = parsed.unusable
        if unusable is not None:
            bad_flags.append(unusable.alias(BAD_PREFIX + col.name))
        errors.extend(_column_errors(raw, parsed, col, origin))
    out = pl.DataFrame(typed + bad_flags).with_columns(base[ROW], base[LINE], base[FIELDS])
    return out.with_columns(_error_lists(base, errors, batch.width - len((LINE, FIELDS))))


def _mapped_values(raw: pl.Series, col: Column, feed: Feed) -> pl.Series:
    """The mapping's value map ("" maps blank cells) and its `unknown` list."""
    raw = raw.cast(pl.String)
    vmap = feed.values.get(col.name)
    if vmap:
        if "" in vmap:
            raw = raw.fill_null(vmap[""])
        raw = raw.replace({k: v for k, v in vmap.items() if k != ""})
    if col.name in feed.unknown:
        raw = raw.fill_null(UNKNOWN)
    return raw


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


def _cell(header: str, batch: pl.DataFrame) -> pl.Expr:
    e = pl.col(header)
    if _is_text(batch.schema[header]):
        return _clean_text(e.cast(pl.String))
    return e.cast(pl.String)


def _condition(cond: Condition, batch: pl.DataFrame) -> pl.Expr:
    parts: list[pl.Expr] = [pl.lit(True)]
    parts += [_cell(h, batch).is_not_null() for h in cond.filled]
    parts += [_cell(h, batch).is_null() for h in cond.empty]
    parts += [_cell(h, batch).is_in(list(vals)).fill_null(False) for h, vals in cond.equals]
    parts += [_cell(h, batch).is_null() | ~_cell(h, batch).is_in(list(vals)).fill_null(False)
              for h, vals in cond.not_equals]
    return pl.all_horizontal(parts)


def _derived(rule_list: Derived, batch: pl.DataFrame) -> pl.Expr:
    """First matching rule's value (a fixed value or a source cell); no match: null."""
    expr: Any = None
    for r in rule_list.rules:
        cond = _condition(r.when, batch) if r.when is not None else pl.lit(True)
        out = _cell(r.column, batch) if r.column else pl.lit(r.value, dtype=pl.String)
        expr = pl.when(cond).then(out) if expr is None else expr.when(cond).then(out)
    return expr.otherwise(pl.lit(None, dtype=pl.String))


def _template(template: Template, batch: pl.DataFrame) -> pl.Expr:
    """The template's text; null when any header cell it uses is empty."""
    return pl.concat_str([_cell(p, batch) if is_header else pl.lit(p)
                          for p, is_header in template.parts])


def _raw_columns(batch: pl.DataFrame, origins: dict[str, Origin]) -> list[pl.Expr]:
    exprs = []
    for name, o in origins.items():
        if o.kind == "made":
            continue
        if o.kind == "header":
            e = pl.col(o.header)
            if _is_text(batch.schema[o.header]):
                e = _clean_text(e.cast(pl.String))
        elif o.kind == "template":
            e = _template(o.rule, batch)
        elif o.kind == "derived":
            e = _derived(o.rule, batch)
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


def _column_errors(raw: pl.Series, parsed: Parsed, col: Column, origin: Origin
                   ) -> list[pl.Series]:
    """Errors of one column: required-but-empty, unparseable, unusable, out of range."""
    frame = pl.DataFrame([raw.alias("raw"), parsed.value.alias("value")])
    exprs: list[pl.Expr] = []
    label = origin.label
    if not col.nullable:
        exprs.append(pl.when(pl.col("raw").is_null()).then(_err(rules.REQUIRED, label, "is empty")))
    if parsed.bad is not None:
        frame = frame.with_columns(parsed.bad.alias("bad"))
        rule, what = _type_rule(col)
        exprs.append(
            pl.when(pl.col("bad")).then(
                _err(rule, label, pl.concat_str([_quoted("raw"), pl.lit(f" is {what}")]))
            )
        )
    for i, (mask, rule, what) in enumerate(parsed.problems):
        frame = frame.with_columns(mask.alias(f"p{i}"))
        exprs.append(pl.when(pl.col(f"p{i}")).then(
            _err(rule, label, pl.concat_str([_quoted("raw"), pl.lit(f" {what}")]))))
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


def _parse(raw: pl.Series, col: Column, spec: SourceSpec, window: DateWindow) -> Parsed:
    """Typed values of one column, with the rows whose value is unusable and why."""
    nul = _text_problems(raw, col)
    if col.dtype == "text":
        parsed = Parsed(raw if raw.dtype == pl.String else raw.cast(pl.String))
    elif col.dtype == "enum":
        parsed = Parsed(*_parse_enum(raw, col))
    elif col.dtype == "int":
        parsed = _parse_int(raw)
    elif col.dtype == "bool":
        parsed = Parsed(*_parse_bool(raw))
    elif col.dtype == "timestamp":
        parsed = parse_timestamp_column(raw, spec)
        hi = window.latest + dt.timedelta(days=DUE_HORIZON_DAYS if col.name == "due_at" else 0)
        _check_window(parsed, window.earliest, hi)
    elif col.dtype == "date":
        parsed = _parse_date(raw, spec)
    else:  # pragma: no cover
        raise ValueError(f"unknown contract dtype {col.dtype}")
    if nul is not None:  # a NUL never reaches the database, whatever the column's type
        if parsed.bad is not None:
            parsed.bad = parsed.bad & ~nul
        parsed.add(nul, rules.NUL_CHARACTER,
                   "contains a NUL character (\\x00), which cannot be stored")
    if col.max_length is not None and raw.dtype == pl.String:
        parsed.add(raw.str.len_chars() > col.max_length, rules.TOO_LONG,
                   f"is longer than {col.max_length:,} characters")
    return parsed


def _text_problems(raw: pl.Series, col: Column) -> pl.Series | None:
    """Rows whose text holds a NUL character (None when the column is not text)."""
    if raw.dtype != pl.String:
        return None
    nul = raw.str.contains("\x00", literal=True).fill_null(False)
    return nul if nul.any() else None


def _check_window(parsed: Parsed, lo: dt.datetime, hi: dt.datetime) -> None:
    v = parsed.value
    parsed.add((v < lo) | (v > hi), rules.IMPLAUSIBLE_DATE,
               f"lies outside the plausible dates {lo:%Y-%m-%d} … {hi:%Y-%m-%d} (set "
               "earliest_date / latest_date in the mapping if it is real)")


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


def _parse_int(raw: pl.Series) -> Parsed:
    """Whole numbers; a value beyond the database's 32-bit integer is out of range (not an
    overflow that fails the file), a non-finite or fractional one is not a whole number."""
    too_big_what = f"is larger than {INT_MAX:,}, the largest whole number the database stores"
    if raw.dtype.is_integer():
        value = raw.cast(pl.Int64)
        parsed = Parsed(value)
        parsed.add(value.abs() > INT_MAX, rules.OUT_OF_RANGE, too_big_what)
        return parsed
    as_float = raw.cast(pl.String).str.replace_all(",", "").cast(pl.Float64, strict=False)
    whole = as_float.is_finite() & (as_float == as_float.floor())
    too_big = (whole & (as_float.abs() > INT_MAX)).fill_null(False)
    fits = whole & ~too_big
    value = pl.select(pl.when(fits).then(as_float).otherwise(None).cast(pl.Int64)).to_series()
    parsed = Parsed(value, _given_but_null(raw, value) & ~too_big)
    parsed.add(too_big, rules.OUT_OF_RANGE, too_big_what)
    return parsed


def _parse_bool(raw: pl.Series) -> tuple[pl.Series, pl.Series | None]:
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
    """Parse a column of timestamps in any of the supported formats: (values, given but not
    usable). A two-digit year without a `year_pivot` is not usable (see
    `parse_timestamp_column` for the reasons)."""
    parsed = parse_timestamp_column(raw, spec)
    return parsed.value, parsed.unusable


def parse_timestamp_column(raw: pl.Series, spec: SourceSpec) -> Parsed:
    """Parse a column of timestamps in any of the supported formats.

    Formats are tried one at a time over the whole column, only while some values are still
    unparsed, so a clean column costs one vectorised parse. A year written with one or two
    digits (`24/1/2 6:07`, Excel's yy/m/d display saved to CSV, reads as year 24) is ambiguous:
    with the mapping's `year_pivot` it becomes 20yy below the pivot and 19yy from it, without
    one the row is quarantined (`ambiguous_year`) rather than loaded in year 0024.
    """
    value, bad, two_digit = _parse_timestamps(raw, spec)
    parsed = Parsed(value, bad)
    if raw.dtype == pl.String:  # year < 100 not written as 4 digits (0001 is just implausible)
        short = pl.DataFrame({"t": raw, "v": value}).select(
            (pl.col("v").dt.year() < 100)
            & ~pl.col("t").str.contains(pl.col("v").dt.year().cast(pl.String).str.zfill(4),
                                        literal=True)
        ).to_series().fill_null(False)
    else:
        short = pl.Series([False] * len(raw))
    if two_digit is not None:
        short = short | two_digit
    if short.any():
        if spec.year_pivot is None:
            parsed.add(short, rules.AMBIGUOUS_YEAR,
                       "has a two-digit year: set year_pivot in the mapping to read it "
                       "(e.g. 50: 00–49 → 2000–2049)")
        else:
            yy = parsed.value.dt.year() % 100
            target = pl.select(pl.when(yy < spec.year_pivot).then(yy + 2000).otherwise(yy + 1900)
                               ).to_series()
            shift = pl.select(pl.concat_str([(target - parsed.value.dt.year()).cast(pl.String),
                                             pl.lit("y")])).to_series()
            shifted = pl.DataFrame({"v": parsed.value, "s": shift}).select(
                pl.col("v").dt.offset_by(pl.col("s"))).to_series()
            parsed.value = pl.select(pl.when(short).then(shifted).otherwise(parsed.value)
                                     ).to_series().alias(raw.name)
    if spec.precision == "day":
        parsed.value = parsed.value.dt.truncate("1d")
    return parsed


def _parse_timestamps(raw: pl.Series, spec: SourceSpec
                      ) -> tuple[pl.Series, pl.Series | None, pl.Series | None]:
    """(values, given but not parsed, parsed by a mapping format with %y)."""
    if isinstance(raw.dtype, pl.Datetime):
        return _to_local_naive(raw, spec), None, None
    if raw.dtype == pl.Date:
        return _to_local_naive(raw.cast(TS), spec), None, None
    text = raw.cast(pl.String)
    # Fast path: most columns are in one format (the mapping's, or "2024-03-05 09:30[:00]"),
    # which then costs one parse and no cleaning.
    first = (spec.timestamp_formats or NAIVE_FORMATS)[0]
    quick = text.str.to_datetime(first, strict=False, time_unit="us")
    if isinstance(quick.dtype, pl.Datetime) and quick.dtype.time_zone is None and not (
        text.is_not_null() & quick.is_null()
    ).any():
        by_yy = quick.is_not_null() if "%y" in first else None
        return (_to_local_naive(quick, spec).alias(raw.name), _given_but_null(text, quick),
                by_yy)
    text = text.str.replace(r"^(\d{4}-\d{1,2}-\d{1,2})T", "${1} ")
    if spec.offsets == "ignore":
        text = text.str.replace(_OFFSET_RE, "${1}")
    else:
        text = text.str.replace(r"(\d)Z$", "${1}+00:00")
    naive = pl.Series(raw.name, [None], dtype=TS).new_from_index(0, len(raw))
    aware = naive.clone()
    by_yy: pl.Series | None = None

    def remaining() -> bool:
        return bool((text.is_not_null() & naive.is_null() & aware.is_null()).any())

    for fmt in (*spec.timestamp_formats, *NAIVE_FORMATS, *OFFSET_FORMATS):
        if not remaining():
            break
        parsed = text.str.to_datetime(fmt, strict=False, time_unit="us")
        fresh = parsed.is_not_null() & naive.is_null() & aware.is_null()
        if "%y" in fmt:
            by_yy = fresh if by_yy is None else by_yy | fresh
        if isinstance(parsed.dtype, pl.Datetime) and parsed.dtype.time_zone is not None:
            aware = aware.fill_null(_to_local_naive(parsed, spec))
        else:
            naive = naive.fill_null(parsed.cast(TS))
    if remaining():
        naive = naive.fill_null(_excel_serial(text))
    value = aware.fill_null(_to_local_naive(naive, spec)).alias(raw.name)
    return value, _given_but_null(text, value), by_yy


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


def _parse_date(raw: pl.Series, spec: SourceSpec) -> Parsed:
    if raw.dtype == pl.Date:
        return Parsed(raw)
    parsed = parse_timestamp_column(raw, spec)
    parsed.value = parsed.value.dt.date()
    return parsed
