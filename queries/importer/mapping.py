"""Column mapping: which contract table(s) a source feeds, and where each column comes from.

Why a file and not code: platforms export the same facts under their own headers, codes and
date formats. A user describes that once, in a small TOML or YAML file, and imports any number
of exports with it; no special-case code per platform.

With no mapping, a file named after a contract table (`cases.csv`, `办件.xlsx`, …) is read
with its headers matched to the contract by snake_case name or Chinese header (`Column.zh`),
case-insensitively. A mapping is only needed for other header sets, other file names, constant
values, foreign codes, derived values, keys that are unique only within one source system, or
one file feeding several tables. The user's guide with worked examples is docs/importing.md.

Mapping file format
===================

TOML (YAML is the same structure with the same keys)::

    [[sources]]
    file = "receipt_wabo*.csv"   # glob on the file name (for --from-url: the source table
                                 # name, or "query"); "*" matches every file
    source = "beilun-hall"       # optional: the source system; recorded with every row loaded
    encoding = "utf-8"           # optional; default: detected (UTF-8, UTF-8 with BOM, GBK)
    delimiter = ","              # optional (CSV); ".tsv" files default to a tab
    sheet = "Sheet1"             # optional (Excel): read only this sheet; or
    sheets = ["1月", "2月"]       # these sheets. Default: every sheet whose header fits the
                                 # tables below (other non-empty sheets are reported skipped)
    timezone = "Asia/Shanghai"   # optional: zone of timestamps written without an offset;
                                 # they are converted to Asia/Shanghai (the default zone)
    offsets = "convert"          # "convert" (default): a timestamp with an offset is converted
                                 # to Asia/Shanghai; "ignore": keep the wall-clock time as
                                 # written and drop the offset (for foreign logs whose local
                                 # dates are what matters)
    timestamp_formats = ["%m/%d/%Y %I:%M:%S %p"]  # optional, tried before the built-in ones
    precision = "exact"          # "exact" (default) or "day": keep only the local date of every
                                 # timestamp (midnight), for logs whose clock times are
                                 # placeholders — otherwise a same-day completion written as
                                 # 00:00 would look earlier than an acceptance at 01:06
    earliest_date = 2005-01-01   # optional: the plausible window of dates (default 2000-01-01
    latest_date = 2026-12-31     # to the import time + 1 day); never before 1990-01-01
    year_pivot = 50              # optional: read two-digit years (24/1/2 6:07): below the
                                 # pivot 20xx, from it 19xx. Without it they are quarantined.
    extracted_at = 2013-03-01    # optional: the extract's data cut-off (a date means its last
                                 # second); also allowed once at the top of the file for every
                                 # source. Default: the latest event time in the load. Metrics
                                 # are measured as of this moment, not of the day they are run.

    [[sources.tables]]           # one entry per contract table this file feeds
    name = "cases"
    distinct = true              # optional: rows that are identical after mapping collapse into
                                 # one (reported as merged_duplicates) — for event logs (one
                                 # row per event, one case per id) and derived dimensions.
                                 # Default: false for the first table of a source, true for
                                 # the tables after it (dimension rows derived from the file).
                                 # Rows with the same key but different values are always
                                 # quarantined as duplicate_key.
    unknown = ["channel", "applicant_type"]  # optional: these enums are `unknown` where the
                                 # cell is blank or the file has no such column

    [sources.tables.columns]     # contract column = "source header"
    case_id = "{municipality}-{case:concept:name}"   # a template over source headers (a
                                 # list of headers, e.g. ["municipality", "id"], joins them
                                 # with "-"): ids unique only within one source become unique
    submitted_at = "case:startdate"
    # a column set from whether a source cell is filled (shorthand of a `derive` rule list):
    status = { column = "case:enddate", present = "completed", missing = "in_progress" }

    [[sources.tables.derive.completed_at]]   # a value from conditional rules, first match wins
    when = { equals = { "Status" = "Closed" } }
    column = "ClosedDate"                    # the value of a source column …
    [[sources.tables.derive.status]]
    when = { equals = { "caseStatus" = "G" }, empty = "endDate" }
    value = "withdrawn"                      # … or a fixed value; no rule matched → empty
    [[sources.tables.derive.status]]
    value = "in_progress"                    # a rule without `when` always matches
    # conditions (all must hold): filled = header(s), empty = header(s),
    # equals = { header = value or [values] }, not_equals = { header = value or [values] }

    [sources.tables.constants]   # contract column = value for every row
    limit_unit = "natural"
    item_code = "WABO-RECEIPT"

    [sources.tables.values.channel]   # value map for one column: source value = contract value
    "Internet" = "online"
    "" = "unknown"                    # "" maps blank cells

Contract columns not named under `columns`, `derive` or `constants` are still matched by header
name (so a mapping lists only what differs). Value maps come before the contract's own labels
(窗口 → window, 是 → true, …), which keep working; they also apply to derived values.
Timestamps also accept the built-in formats: ISO 8601 with or without `T`, fraction and
offset; `2022-01-21 13:47:00`; `2024/3/5 9:30`; `2024年3月5日 9:30`; `20240305`; Excel date
cells and Excel serial day numbers.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import re
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from queries.contract import DATE_FLOOR, PLAUSIBLE_FROM, TABLES, UNKNOWN
from queries.errors import ImportRejected
from queries.importer import rules

OffsetPolicy = Literal["convert", "ignore"]
Precision = Literal["exact", "day"]


# ---------------------------------------------------------------- derived and templated ----


@dataclass(frozen=True)
class Condition:
    """All of these must hold for a source row (cells compared as trimmed text)."""

    filled: tuple[str, ...] = ()
    empty: tuple[str, ...] = ()
    equals: tuple[tuple[str, tuple[str, ...]], ...] = ()
    not_equals: tuple[tuple[str, tuple[str, ...]], ...] = ()

    @property
    def headers(self) -> list[str]:
        return [*self.filled, *self.empty, *(h for h, _ in self.equals),
                *(h for h, _ in self.not_equals)]


@dataclass(frozen=True)
class Rule:
    """When `when` holds (or always, without it): the fixed `value` or the cell of `column`."""

    when: Condition | None
    value: str | None = None
    column: str | None = None


@dataclass(frozen=True)
class Derived:
    """A contract column from conditional rules over source columns; the first match wins and
    no match leaves the value empty."""

    rules: tuple[Rule, ...]

    @property
    def headers(self) -> list[str]:
        out: list[str] = []
        for r in self.rules:
            out += (r.when.headers if r.when else []) + ([r.column] if r.column else [])
        return out


@dataclass(frozen=True)
class Template:
    """Text built from source cells, e.g. "{municipality}-{case_id}" (a key scoped to its
    source). Parts are (text, is_header); a row with an empty header cell gets no value."""

    text: str
    parts: tuple[tuple[str, bool], ...]

    @property
    def headers(self) -> list[str]:
        return [p for p, is_header in self.parts if is_header]


_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}]+)\}")


def parse_template(text: str) -> Template | None:
    """A Template when `text` holds {header} placeholders ({{ and }} are literal braces)."""
    parts: list[tuple[str, bool]] = []
    pos, found = 0, False
    for m in _PLACEHOLDER.finditer(text):
        literal = text[pos:m.start()]
        if m.group(1) is None:  # an escaped brace
            parts.append((literal + m.group(0)[0], False))
        else:
            if literal:
                parts.append((literal, False))
            parts.append((m.group(1), True))
            found = True
        pos = m.end()
    if pos < len(text):
        parts.append((text[pos:], False))
    return Template(text, tuple(parts)) if found else None


Source = str | Template | Derived


@dataclass(frozen=True)
class Feed:
    """How one source feeds one contract table."""

    table: str
    columns: dict[str, Source] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    distinct: bool = False
    unknown: tuple[str, ...] = ()


@dataclass(frozen=True)
class SourceSpec:
    """Reading options and feeds for the sources whose name matches `pattern`."""

    pattern: str
    feeds: tuple[Feed, ...]
    encoding: str | None = None
    delimiter: str | None = None
    sheets: tuple[str, ...] | None = None  # None: every sheet whose header fits
    timezone: str | None = None
    offsets: OffsetPolicy = "convert"
    timestamp_formats: tuple[str, ...] = ()
    precision: Precision = "exact"
    source: str | None = None
    earliest_date: dt.date | None = None
    latest_date: dt.date | None = None
    year_pivot: int | None = None
    extracted_at: dt.datetime | None = None  # the extract's data cut-off, when declared

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatch(name, self.pattern) or fnmatch.fnmatch(Path(name).name, self.pattern)

    def window(self, now: dt.datetime) -> DateWindow:
        """The plausible window of this source's dates for a load started at `now`."""
        lo = self.earliest_date or PLAUSIBLE_FROM
        hi = self.latest_date or (now + dt.timedelta(days=1)).date()
        return DateWindow(dt.datetime.combine(lo, dt.time()),
                          dt.datetime.combine(hi, dt.time.max))


@dataclass(frozen=True)
class DateWindow:
    """Dates outside [earliest, latest] are quarantined as implausible (a due date may lie up to
    `contract.DUE_HORIZON_DAYS` after `latest`)."""

    earliest: dt.datetime
    latest: dt.datetime

    def describe(self) -> str:
        return f"{self.earliest:%Y-%m-%d} … {self.latest:%Y-%m-%d}"


@dataclass(frozen=True)
class Mapping:
    path: Path
    sources: tuple[SourceSpec, ...]

    def spec_for(self, name: str) -> SourceSpec | None:
        """The first source entry whose pattern matches `name` (a file name or table name)."""
        for spec in self.sources:
            if spec.matches(name):
                return spec
        return None

    @property
    def patterns(self) -> str:
        """The file patterns of the mapping, for a message naming what was tried."""
        return ", ".join(f"'{s.pattern}'" for s in self.sources)


def default_spec(table: str) -> SourceSpec:
    """What a file named after a contract table means without a mapping."""
    return SourceSpec(pattern="*", feeds=(Feed(table=table),))


def table_for_name(stem: str) -> str | None:
    """The contract table a file stem names: `cases`, `CASES`, or the Chinese name `办件`."""
    s = stem.strip().lower()
    for t in TABLES.values():
        if s == t.name or stem.strip() == t.zh:
            return t.name
    return None


class MappingError(ImportRejected):
    """The mapping file itself is wrong (unknown table or column, bad option)."""


def load_mapping(path: Path) -> Mapping:
    """Read a TOML (.toml) or YAML (.yaml/.yml) mapping file and check it against the contract."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise MappingError(f"{path}: cannot read the mapping file: {exc.strerror}") from exc
    try:
        if path.suffix.lower() == ".toml":
            data = tomllib.loads(text)
        elif path.suffix.lower() in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise MappingError(f"{path}: a mapping file must end in .toml, .yaml or .yml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MappingError(f"{path}: not valid {path.suffix[1:].upper()}: {first}") from exc
    raw_sources = data.get("sources") if isinstance(data, dict) else None
    if not isinstance(raw_sources, list) or not raw_sources:
        raise MappingError(f"{path}: expected a list `sources` with at least one entry")
    cutoff = parse_cutoff(data.get("extracted_at"), f"{path}: extracted_at")
    specs = tuple(_source(path, i, s) for i, s in enumerate(raw_sources, 1))
    if cutoff is not None:  # the file-wide cut-off for the sources that declare none
        specs = tuple(s if s.extracted_at else replace(s, extracted_at=cutoff) for s in specs)
    return Mapping(path, specs)


def parse_cutoff(value: Any, where: str) -> dt.datetime | None:
    """A declared data cut-off: a datetime, or a date meaning its last second (local time).

    TOML gives dates and datetimes natively; YAML and strings are read as ISO 8601. An offset
    is converted to Asia/Shanghai (contract.md: timestamps are local China time).
    """
    if value is None:
        return None
    if isinstance(value, str):
        text = value.strip()
        try:
            value = (dt.date.fromisoformat(text) if len(text) <= 10
                     else dt.datetime.fromisoformat(text))
        except ValueError:
            raise MappingError(f"{where}: not a date or time: {text!r} "
                               "(use 2026-10-31 or 2026-10-31T23:59:59)") from None
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            from zoneinfo import ZoneInfo

            value = value.astimezone(ZoneInfo("Asia/Shanghai")).replace(tzinfo=None)
        return value.replace(microsecond=0)
    if isinstance(value, dt.date):
        return dt.datetime.combine(value, dt.time(23, 59, 59))
    raise MappingError(f"{where}: not a date or time: {value!r}")


def _where(path: Path, i: int, j: int | None = None) -> str:
    return f"{path}: sources[{i}]" + (f".tables[{j}]" if j is not None else "")


_SOURCE_OPTIONS = {"file", "source", "encoding", "delimiter", "sheet", "sheets", "timezone",
                   "offsets", "timestamp_formats", "precision", "earliest_date", "latest_date",
                   "year_pivot", "tables", "extracted_at"}


def _source(path: Path, i: int, raw: Any) -> SourceSpec:
    where = _where(path, i)
    if not isinstance(raw, dict) or not raw.get("file"):
        raise MappingError(f"{where}: each source needs `file` (a file-name glob)")
    unknown = set(raw) - _SOURCE_OPTIONS
    if unknown:
        raise MappingError(f"{where}: unknown option(s) {sorted(unknown)}")
    offsets = raw.get("offsets", "convert")
    if offsets not in ("convert", "ignore"):
        raise MappingError(f"{where}: offsets must be 'convert' or 'ignore', not {offsets!r}")
    precision = raw.get("precision", "exact")
    if precision not in ("exact", "day"):
        raise MappingError(f"{where}: precision must be 'exact' or 'day', not {precision!r}")
    tz = raw.get("timezone")
    if tz is not None:
        _check_timezone(where, tz)
    formats = raw.get("timestamp_formats", [])
    if isinstance(formats, str):
        formats = [formats]
    pivot = raw.get("year_pivot")
    if pivot is not None and (not isinstance(pivot, int) or isinstance(pivot, bool)
                              or not 0 <= pivot <= 100):
        raise MappingError(f"{where}: year_pivot must be a whole number 0–100, not {pivot!r}")
    if pivot is None and any("%y" in f for f in formats):
        raise MappingError(f"{where}: a timestamp format with %y (two-digit year) needs "
                           "year_pivot (e.g. year_pivot = 50: 00–49 → 2000–2049)")
    earliest = _date_option(where, raw, "earliest_date")
    latest = _date_option(where, raw, "latest_date")
    if earliest is not None and earliest < DATE_FLOOR:
        raise MappingError(f"{where}: earliest_date {earliest} is before {DATE_FLOOR}, the "
                           "earliest date the product accepts")
    if earliest and latest and latest < earliest:
        raise MappingError(f"{where}: latest_date {latest} is before earliest_date {earliest}")
    sheets = _sheets(where, raw)
    tables = raw.get("tables")
    if not isinstance(tables, list) or not tables:
        raise MappingError(f"{where}: needs `tables`, a list of the contract tables it feeds")
    feeds = tuple(_feed(path, i, j, t, first=(j == 1)) for j, t in enumerate(tables, 1))
    source = raw.get("source")
    return SourceSpec(
        pattern=str(raw["file"]),
        feeds=feeds,
        encoding=raw.get("encoding"),
        delimiter=raw.get("delimiter"),
        sheets=sheets,
        timezone=tz,
        offsets=offsets,
        timestamp_formats=tuple(str(f) for f in formats),
        precision=precision,
        source=None if source is None else str(source),
        earliest_date=earliest,
        latest_date=latest,
        year_pivot=pivot,
        extracted_at=parse_cutoff(raw.get("extracted_at"), f"{where}: extracted_at"),
    )


def _sheets(where: str, raw: dict) -> tuple[str, ...] | None:
    if "sheet" in raw and "sheets" in raw:
        raise MappingError(f"{where}: give `sheet` or `sheets`, not both")
    if "sheet" in raw:
        return (str(raw["sheet"]),)
    sheets = raw.get("sheets")
    if sheets is None:
        return None
    if not isinstance(sheets, list) or not sheets:
        raise MappingError(f"{where}: `sheets` must be a non-empty list of sheet names")
    return tuple(str(s) for s in sheets)


def _date_option(where: str, raw: dict, key: str) -> dt.date | None:
    value = raw.get(key)
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError as exc:
        raise MappingError(f"{where}: {key} must be a date like 2005-01-01, not {value!r}") from exc


def _check_timezone(where: str, tz: str) -> None:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise MappingError(f"{where}: unknown timezone {tz!r}") from exc


def _feed(path: Path, i: int, j: int, raw: Any, first: bool) -> Feed:
    where = _where(path, i, j)
    if not isinstance(raw, dict) or raw.get("name") not in TABLES:
        name = raw.get("name") if isinstance(raw, dict) else raw
        raise MappingError(
            f"{where}: `name` must be a contract table ({', '.join(TABLES)}), not {name!r} "
            f"[{rules.UNKNOWN_TABLE}]"
        )
    unknown = set(raw) - {"name", "distinct", "columns", "constants", "values", "derive",
                          "unknown"}
    if unknown:
        raise MappingError(f"{where}: unknown option(s) {sorted(unknown)}")
    table = TABLES[raw["name"]]
    columns: dict[str, Source] = {}
    for col, src in (raw.get("columns") or {}).items():
        _check_column(where, table.name, col)
        columns[col] = _column_source(f"{where}.columns.{col}", src)
    for col, rule_list in (raw.get("derive") or {}).items():
        _check_column(where, table.name, col)
        if col in columns:
            raise MappingError(f"{where}: {col!r} given both under columns and under derive")
        columns[col] = _derived(f"{where}.derive.{col}", rule_list)
    constants = dict(raw.get("constants") or {})
    for col in constants:
        _check_column(where, table.name, col)
    both = set(constants) & set(columns)
    if both:
        raise MappingError(f"{where}: {sorted(both)} given both as column and as constant")
    values: dict[str, dict[str, str]] = {}
    for col, vmap in (raw.get("values") or {}).items():
        _check_column(where, table.name, col)
        if not isinstance(vmap, dict):
            raise MappingError(f"{where}.values.{col}: expected a table of source = contract value")
        values[col] = {str(k): str(v) for k, v in vmap.items()}
    unknown_cols = raw.get("unknown") or []
    if isinstance(unknown_cols, str):
        unknown_cols = [unknown_cols]
    for col in unknown_cols:
        _check_column(where, table.name, col)
        if UNKNOWN not in table.column(col).enum:
            allowed = [c.name for c in table.columns if UNKNOWN in c.enum]
            raise MappingError(f"{where}.unknown: {col!r} has no value 'unknown' (columns that "
                               f"do: {', '.join(allowed) or 'none'})")
    distinct = raw.get("distinct")
    return Feed(
        table=table.name,
        columns=columns,
        constants=constants,
        values=values,
        distinct=bool(distinct) if distinct is not None else not first,
        unknown=tuple(str(c) for c in unknown_cols),
    )


def _column_source(where: str, src: Any) -> Source:
    """A header, a template (or list of headers), or the filled/empty shorthand of a rule list."""
    if isinstance(src, str):
        return parse_template(src) or src
    if isinstance(src, list) and src and all(isinstance(h, str) for h in src):
        text = "-".join("{" + h.replace("}", "}}") + "}" for h in src)
        return Template(text, tuple(
            part for k, h in enumerate(src) for part in ([("-", False)] if k else []) + [(h, True)]
        ))
    if isinstance(src, dict) and "column" in src:
        extra = set(src) - {"column", "present", "missing"}
        if extra:
            raise MappingError(f"{where}: unknown key(s) {sorted(extra)}")
        header = str(src["column"])
        return Derived((
            Rule(Condition(filled=(header,)), value=_opt_str(src.get("present"))),
            Rule(None, value=_opt_str(src.get("missing"))),
        ))
    raise MappingError(
        f"{where}: expected a source header, a template like \"{{a}}-{{b}}\", a list of "
        "headers, or { column = ..., present = ..., missing = ... }"
    )


def _derived(where: str, raw: Any) -> Derived:
    if not isinstance(raw, list) or not raw:
        raise MappingError(f"{where}: expected a list of rules ([[...derive.<column>]] tables)")
    out = []
    for k, r in enumerate(raw, 1):
        w = f"{where}[{k}]"
        if not isinstance(r, dict):
            raise MappingError(f"{w}: a rule is a table with `when` and `value` or `column`")
        extra = set(r) - {"when", "value", "column"}
        if extra:
            raise MappingError(f"{w}: unknown key(s) {sorted(extra)}")
        if ("value" in r) == ("column" in r):
            raise MappingError(f"{w}: give exactly one of `value` (a fixed value) or `column` "
                               "(a source header)")
        when = _condition(f"{w}.when", r["when"]) if "when" in r else None
        out.append(Rule(when, value=_opt_str(r.get("value")),
                        column=None if "column" not in r else str(r["column"])))
    return Derived(tuple(out))


def _headers(where: str, v: Any) -> tuple[str, ...]:
    items = [v] if isinstance(v, str) else v
    if not isinstance(items, list) or not items or not all(isinstance(h, str) for h in items):
        raise MappingError(f"{where}: expected a header or a list of headers")
    return tuple(items)


def _matches(where: str, v: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    if not isinstance(v, dict) or not v:
        raise MappingError(f"{where}: expected a table of header = value (or list of values)")
    out = []
    for h, vals in v.items():
        vals = vals if isinstance(vals, list) else [vals]
        out.append((str(h), tuple(str(x) for x in vals)))
    return tuple(out)


def _condition(where: str, raw: Any) -> Condition:
    if not isinstance(raw, dict) or not raw:
        raise MappingError(f"{where}: expected a table of conditions (filled, empty, equals, "
                           "not_equals)")
    extra = set(raw) - {"filled", "empty", "equals", "not_equals"}
    if extra:
        raise MappingError(f"{where}: unknown condition(s) {sorted(extra)} (use filled, empty, "
                           "equals, not_equals)")
    return Condition(
        filled=_headers(f"{where}.filled", raw["filled"]) if "filled" in raw else (),
        empty=_headers(f"{where}.empty", raw["empty"]) if "empty" in raw else (),
        equals=_matches(f"{where}.equals", raw["equals"]) if "equals" in raw else (),
        not_equals=_matches(f"{where}.not_equals", raw["not_equals"])
        if "not_equals" in raw else (),
    )


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def _check_column(where: str, table: str, col: str) -> None:
    t = TABLES[table]
    if col not in t.names:
        raise MappingError(
            f"{where}: {table} has no column {col!r} (columns: "
            f"{', '.join(c.name for c in t.file_columns)})"
        )
    if t.column(col).derived:
        raise MappingError(f"{where}: {table}.{col} is made by the importer, not read from a file")
