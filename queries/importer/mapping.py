"""Column mapping: which contract table(s) a source feeds, and where each column comes from.

Why a file and not code: platforms export the same facts under their own headers, codes and
date formats. A user describes that once, in a small TOML or YAML file, and imports any number
of exports with it; no special-case code per platform.

With no mapping, a file named after a contract table (`cases.csv`, `办件.xlsx`, …) is read
with its headers matched to the contract by snake_case name or Chinese header (`Column.zh`),
case-insensitively. A mapping is only needed for other header sets, other file names, constant
values, foreign codes, or one file feeding several tables.

Mapping file format
===================

TOML (YAML is the same structure with the same keys)::

    [[sources]]
    file = "receipt_wabo*.csv"   # glob on the file name (for --from-url: the source table
                                 # name, or "query"); "*" matches every file
    encoding = "utf-8"           # optional; default: detected (UTF-8, UTF-8 with BOM, GBK)
    delimiter = ","              # optional (CSV); ".tsv" files default to a tab
    sheet = "Sheet1"             # optional (Excel); default: the first sheet
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

    [sources.tables.columns]     # contract column = "source header"
    case_id = "case:concept:name"
    submitted_at = "case:startdate"
    completed_at = "case:enddate"
    # a column set from whether a source cell is filled:
    status = { column = "case:enddate", present = "completed", missing = "in_progress" }

    [sources.tables.constants]   # contract column = value for every row
    limit_unit = "natural"
    item_code = "WABO-RECEIPT"

    [sources.tables.values.channel]   # value map for one column: source value = contract value
    "Internet" = "online"
    "Desk" = "window"

The same in YAML::

    sources:
      - file: "boston311*.csv"
        tables:
          - name: cases
            columns: {case_id: case_enquiry_id, submitted_at: open_dt, status: case_status}
            constants: {limit_unit: natural}
            values: {status: {Open: in_progress, Closed: completed}}

Contract columns not named under `columns` or `constants` are still matched by header name (so a
mapping lists only what differs). Value maps come before the contract's own labels (窗口 → window,
是 → true, …), which keep working. Timestamps also accept the built-in formats: ISO 8601 with or
without `T`, fraction and offset; `2022-01-21 13:47:00`; `2024/3/5 9:30`; `2024年3月5日 9:30`;
`20240305`; Excel date cells and Excel serial day numbers.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import yaml

from queries.contract import TABLES
from queries.errors import ImportRejected
from queries.importer import rules

OffsetPolicy = Literal["convert", "ignore"]
Precision = Literal["exact", "day"]


@dataclass(frozen=True)
class Conditional:
    """A value chosen by whether a source cell is filled (e.g. status from an end date)."""

    header: str
    present: str | None
    missing: str | None


@dataclass(frozen=True)
class Feed:
    """How one source feeds one contract table."""

    table: str
    columns: dict[str, str | Conditional] = field(default_factory=dict)
    constants: dict[str, Any] = field(default_factory=dict)
    values: dict[str, dict[str, str]] = field(default_factory=dict)
    distinct: bool = False


@dataclass(frozen=True)
class SourceSpec:
    """Reading options and feeds for the sources whose name matches `pattern`."""

    pattern: str
    feeds: tuple[Feed, ...]
    encoding: str | None = None
    delimiter: str | None = None
    sheet: str | None = None
    timezone: str | None = None
    offsets: OffsetPolicy = "convert"
    timestamp_formats: tuple[str, ...] = ()
    precision: Precision = "exact"
    extracted_at: dt.datetime | None = None  # the extract's data cut-off, when declared

    def matches(self, name: str) -> bool:
        return fnmatch.fnmatch(name, self.pattern) or fnmatch.fnmatch(Path(name).name, self.pattern)


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
        raise MappingError(f"{path}: not valid {path.suffix[1:].upper()}: {exc}") from exc
    raw_sources = data.get("sources")
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


def _source(path: Path, i: int, raw: Any) -> SourceSpec:
    where = _where(path, i)
    if not isinstance(raw, dict) or not raw.get("file"):
        raise MappingError(f"{where}: each source needs `file` (a file-name glob)")
    unknown = set(raw) - {"file", "encoding", "delimiter", "sheet", "timezone", "offsets",
                          "timestamp_formats", "precision", "tables", "extracted_at"}
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
    tables = raw.get("tables")
    if not isinstance(tables, list) or not tables:
        raise MappingError(f"{where}: needs `tables`, a list of the contract tables it feeds")
    feeds = tuple(_feed(path, i, j, t, first=(j == 1)) for j, t in enumerate(tables, 1))
    return SourceSpec(
        pattern=str(raw["file"]),
        feeds=feeds,
        encoding=raw.get("encoding"),
        delimiter=raw.get("delimiter"),
        sheet=raw.get("sheet"),
        timezone=tz,
        offsets=offsets,
        timestamp_formats=tuple(str(f) for f in formats),
        precision=precision,
        extracted_at=parse_cutoff(raw.get("extracted_at"), f"{where}: extracted_at"),
    )


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
    unknown = set(raw) - {"name", "distinct", "columns", "constants", "values"}
    if unknown:
        raise MappingError(f"{where}: unknown option(s) {sorted(unknown)}")
    table = TABLES[raw["name"]]
    columns: dict[str, str | Conditional] = {}
    for col, src in (raw.get("columns") or {}).items():
        _check_column(where, table.name, col)
        if isinstance(src, str):
            columns[col] = src
        elif isinstance(src, dict) and "column" in src:
            extra = set(src) - {"column", "present", "missing"}
            if extra:
                raise MappingError(f"{where}.columns.{col}: unknown key(s) {sorted(extra)}")
            columns[col] = Conditional(str(src["column"]), _opt_str(src.get("present")),
                                       _opt_str(src.get("missing")))
        else:
            raise MappingError(
                f"{where}.columns.{col}: expected a source header or "
                "{ column = ..., present = ..., missing = ... }"
            )
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
    distinct = raw.get("distinct")
    return Feed(
        table=table.name,
        columns=columns,
        constants=constants,
        values=values,
        distinct=bool(distinct) if distinct is not None else not first,
    )


def _opt_str(v: Any) -> str | None:
    return None if v is None else str(v)


def _check_column(where: str, table: str, col: str) -> None:
    if col not in TABLES[table].names:
        raise MappingError(
            f"{where}: {table} has no column {col!r} (columns: {', '.join(TABLES[table].names)})"
        )
