"""Readers: turn a CSV, Excel, Parquet file, a frame or a database query into batches of rows.

Why everything is read as text first: a value that does not parse must become a quarantined row
with its reason, not a crash of the whole load, so typing happens later in `normalize`, column by
column, where each failure can be attributed to its row and column.

Every batch carries two bookkeeping columns next to the source columns (whose names are the
headers exactly as in the source):

- `__line__`: where the row is in the source — the 1-based line of a text file (header = line 1,
  exact even when quoted fields contain line breaks), or the 1-based row number of a frame,
  Parquet file or query result;
- `__fields__`: null for a well-formed row, otherwise the number of fields the line really had
  (a truncated last line, a stray delimiter, a blank line: 0).

Large files stream in batches (Polars' streaming CSV reader, Parquet row groups, a database
cursor) so a multi-million-row file never sits in memory at once.
"""

from __future__ import annotations

import codecs
import csv
import itertools
import os
import re
import tempfile
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from xml.etree import ElementTree

import fastexcel
import polars as pl
import sqlalchemy as sa

from queries.errors import ImportRejected, escaped
from queries.importer import rules

LINE = "__line__"
FIELDS = "__fields__"
META = (LINE, FIELDS)

DEFAULT_BATCH_ROWS = 200_000
_SNIFF_CHUNK = 1 << 20
TEXT_SUFFIXES = {".csv", ".txt", ".tsv"}
EXCEL_SUFFIXES = {".xlsx", ".xlsm", ".xls"}
PARQUET_SUFFIXES = {".parquet", ".pq"}
SUPPORTED_SUFFIXES = TEXT_SUFFIXES | EXCEL_SUFFIXES | PARQUET_SUFFIXES


def reject(source: str, rule: str, detail: str) -> ImportRejected:
    """The one shape of a whole-file rejection: file, what is wrong, rule id — one line, with
    control characters (in a header or a file name) shown escaped."""
    return ImportRejected(escaped(f"{source}: {detail} [{rule}]"))


@dataclass
class Source:
    """Rows from one place, read as text, in batches. Subclasses implement `_batches`."""

    name: str  # shown to the user and stored in quarantine.source_file
    unit: str = "line"  # "line" for text files (header = line 1), "row" otherwise
    headers: list[str] = field(default_factory=list)

    def batches(self, batch_rows: int = DEFAULT_BATCH_ROWS) -> Iterator[pl.DataFrame]:
        yield from self._batches(batch_rows)

    def _batches(self, batch_rows: int) -> Iterator[pl.DataFrame]:  # pragma: no cover
        raise NotImplementedError

    def close(self) -> None:
        """Release temporary files; safe to call twice."""


def _with_meta(df: pl.DataFrame, first_line: int, fields: pl.Series | None = None) -> pl.DataFrame:
    lines = pl.int_range(first_line, first_line + df.height, dtype=pl.Int64, eager=True)
    out = df.with_columns(lines.alias(LINE))
    if fields is None:
        return out.with_columns(pl.lit(None, dtype=pl.Int32).alias(FIELDS))
    return out.with_columns(fields.cast(pl.Int32).alias(FIELDS))


def _dedupe_headers(headers: list[str]) -> list[str]:
    """Strip headers and make repeats unique (`name`, `name_2`, …) so no column is lost."""
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        h = h.strip().lstrip("\ufeff")
        if h in seen:
            seen[h] += 1
            h = f"{h}_{seen[h]}"
        else:
            seen[h] = 1
        out.append(h)
    return out


# --------------------------------------------------------------------------------- CSV ----


def detect_encoding(path: Path) -> str:
    """'utf-8', 'utf-8-sig' (with BOM) or 'gb18030' (what Excel in China saves as "CSV").

    UTF-8 is tried first over the whole file (streamed), because a GBK file can start with a run
    of ASCII that decodes as UTF-8; gb18030 is a superset of GBK and GB2312.
    """
    with path.open("rb") as fh:
        head = fh.read(3)
        if head == codecs.BOM_UTF8:
            return "utf-8-sig"
        fh.seek(0)
        decoder = codecs.getincrementaldecoder("utf-8")()
        try:
            while chunk := fh.read(_SNIFF_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
            return "utf-8"
        except UnicodeDecodeError:
            pass
    decoder = codecs.getincrementaldecoder("gb18030")()
    with path.open("rb") as fh:
        try:
            while chunk := fh.read(_SNIFF_CHUNK):
                decoder.decode(chunk)
            decoder.decode(b"", final=True)
        except UnicodeDecodeError as exc:
            raise reject(
                str(path), rules.FILE_UNREADABLE, "is neither UTF-8 nor GBK/GB18030 text"
            ) from exc
    return "gb18030"


class CsvSource(Source):
    """A delimited text file in UTF-8 (with or without BOM) or GBK/GB18030.

    Fast path: chunks of whole lines parsed by Polars, plus a vectorised count of each line's
    fields. When a quoted field spans lines the file is read on from there with Python's csv
    module, which is slower but gives exact line numbers in every case.
    """

    def __init__(self, path: Path, encoding: str | None = None, delimiter: str = ",") -> None:
        super().__init__(name=str(path), unit="line")
        self.path = path
        self.delimiter = delimiter
        self._tmp: Path | None = None
        if not path.exists():
            raise reject(str(path), rules.FILE_UNREADABLE, "file not found")
        if path.stat().st_size == 0:
            raise reject(str(path), rules.FILE_EMPTY, "the file is empty (0 bytes, no header)")
        self.encoding = encoding or detect_encoding(path)
        self.utf8_path = self._as_utf8()
        with self.utf8_path.open(encoding="utf-8", newline="") as fh:
            try:
                header = next(csv.reader(fh, delimiter=delimiter))
            except StopIteration:
                header = []
        if not any(h.strip() for h in header):
            raise reject(str(path), rules.FILE_EMPTY, "line 1 has no header (the file is empty)")
        self.headers = _dedupe_headers(header)

    def _as_utf8(self) -> Path:
        """Polars reads UTF-8 only: other encodings (and a BOM) are transcoded to a temp file."""
        if self.encoding == "utf-8":
            return self.path
        fd, name = tempfile.mkstemp(suffix=".csv", prefix="xiaoneng-import-")
        os.close(fd)
        self._tmp = Path(name)
        with self.path.open(encoding=self.encoding, newline="") as src, self._tmp.open(
            "w", encoding="utf-8", newline=""
        ) as dst:
            while chunk := src.read(_SNIFF_CHUNK):
                dst.write(chunk)
        return self._tmp

    def close(self) -> None:
        if self._tmp is not None:
            self._tmp.unlink(missing_ok=True)
            self._tmp = None

    def _batches(self, batch_rows: int) -> Iterator[pl.DataFrame]:
        """Chunks of exactly `batch_rows` physical lines, each parsed by Polars on its own.

        Only one chunk is in memory at a time. A chunk is parsed twice from the same bytes: as
        CSV for the values, and line by line to count each line's fields. If a chunk holds an
        odd number of quote characters on some line (a quoted field spans lines) or the two
        parses disagree, the rest of the file — from that chunk's first byte, which is a record
        boundary because every earlier line was whole — is read by the exact csv-module reader.
        """
        with self.utf8_path.open("rb") as fh:
            head = fh.read(_SNIFF_CHUNK)
            if b"\r" in head and b"\n" not in head:  # classic-Mac line endings
                yield from self._python_batches(batch_rows)
                return
            fh.seek(0)
            header = fh.readline()
            if header.count(b'"') % 2:
                yield from self._python_batches(batch_rows)
                return
            line = 2
            while True:
                offset = fh.tell()
                lines = list(itertools.islice(fh, batch_rows))
                if not lines:
                    return
                batch = self._parse_chunk(header, lines, line)
                if batch is None:
                    yield from self._python_batches(batch_rows, offset, line)
                    return
                yield batch
                line += len(lines)

    def _parse_chunk(self, header: bytes, lines: list[bytes], first_line: int) -> pl.DataFrame | None:
        body = b"".join(lines)
        # each physical line as text (no byte of a line can split it: a \x1f or a NUL in a
        # value is just a character here)
        raw = pl.Series("line", lines, dtype=pl.Binary).cast(pl.String, strict=False) \
            .str.strip_chars_end("\r\n")
        if raw.null_count() or (raw.str.count_matches('"', literal=True) % 2 == 1).any():
            return None
        values = pl.read_csv(
            header + body, has_header=True, separator=self.delimiter, infer_schema=False,
            truncate_ragged_lines=True, empty_string_is_null=False, missing_columns="insert",
        )
        if values.height != len(lines):
            return None
        values.columns = self.headers[: values.width] + [
            f"column_{i + 1}" for i in range(len(self.headers), values.width)
        ]
        # fields = delimiters outside quoted sections + 1 (exact: no quoted field spans lines)
        n = len(self.headers)
        fields = pl.select(
            pl.when(raw.str.strip_chars() == "")
            .then(0)
            .otherwise(
                raw.str.replace_all(r'"[^"]*"', "").str.count_matches(self.delimiter, literal=True)
                + 1
            )
        ).to_series()
        fields = pl.select(pl.when(fields != n).then(fields)).to_series()
        return _with_meta(values, first_line, fields)

    def _python_batches(
        self, batch_rows: int, offset: int | None = None, first_line: int = 2
    ) -> Iterator[pl.DataFrame]:
        """Exact reader for files with line breaks inside quoted fields (and the truncated tail).

        Starts after the header, or at byte `offset` (a record boundary) on line `first_line`.
        """
        n = len(self.headers)
        with self.utf8_path.open(encoding="utf-8", newline="") as fh:
            if offset is None:
                tracker = _LineTracker(fh)
                reader = csv.reader(tracker, delimiter=self.delimiter, strict=True)
                next(reader)
            else:
                fh.seek(offset)
                tracker = _LineTracker(fh, first_line - 1)
                reader = csv.reader(tracker, delimiter=self.delimiter, strict=True)
            cols: list[list[str | None]] = [[] for _ in range(n)]
            lines: list[int] = []
            fields: list[int | None] = []
            while True:
                start = tracker.line_no + 1
                tracker.start_record()
                try:
                    row = next(reader)
                except StopIteration:
                    break
                except csv.Error:
                    # A quoted field never closed: the file was cut mid-row. Keep the text.
                    row = [tracker.record_text()]
                    fields_count = -1
                else:
                    fields_count = len(row) if len(row) != n else None
                    if row == [] or (len(row) == 1 and not row[0].strip() and n > 1):
                        fields_count = 0
                padded = (row + [""] * n)[:n]
                for c, v in zip(cols, padded, strict=True):
                    c.append(v)
                lines.append(start)
                fields.append(fields_count)
                if len(lines) >= batch_rows:
                    yield self._python_frame(cols, lines, fields)
                    cols = [[] for _ in range(n)]
                    lines, fields = [], []
                if fields_count == -1:
                    break
            if lines:
                yield self._python_frame(cols, lines, fields)

    def _python_frame(self, cols, lines, fields) -> pl.DataFrame:
        df = pl.DataFrame(
            {h: pl.Series(h, c, dtype=pl.String) for h, c in zip(self.headers, cols, strict=True)}
        )
        return df.with_columns(
            pl.Series(LINE, lines, dtype=pl.Int64), pl.Series(FIELDS, fields, dtype=pl.Int32)
        )


class _LineTracker:
    """Feeds lines to csv.reader while counting them, so each record knows its first line."""

    def __init__(self, fh, line_no: int = 0) -> None:
        self._fh = fh
        self.line_no = line_no
        self._record: list[str] = []

    def __iter__(self) -> _LineTracker:
        return self

    def __next__(self) -> str:
        line = next(self._fh)
        self.line_no += 1
        self._record.append(line)
        return line

    def start_record(self) -> None:
        self._record = []

    def record_text(self) -> str:
        return "".join(self._record) + "".join(self._fh)


# ------------------------------------------------------------------------------- Excel ----

# Limits of a workbook sheet (docs/importing.md). calamine, which reads .xlsx fast, holds a whole
# sheet in memory — one cell slot for every position of the range its cells span — so a sheet is
# measured first, by streaming its XML out of the zip, and refused with one line when it is
# beyond these: at most Excel's own 1,048,576 rows, 4,000,000 cells spanned (rows × columns,
# ≈ 0.5 GB while read; 200,000 rows × 20 columns) and 512 MB of sheet XML. A larger export is
# imported as CSV, which streams with no limit.
XLSX_MAX_ROWS = 1_048_576
XLSX_MAX_CELLS = 4_000_000
XLSX_MAX_XML_BYTES = 512 << 20

_PREFIX_RE = re.compile(rb"<(\w+:)?worksheet\b")
_ROW_NUMBER_RE = re.compile(rb"<(?:\w+:)?row\b[^>]*?\sr=\"(\d+)\"")
_CELL_COLUMN_RE = re.compile(rb"<(?:\w+:)?c\b[^>]*?\sr=\"([A-Z]{1,3})\d")


def _column_number(letters: bytes) -> int:
    n = 0
    for ch in letters:
        n = n * 26 + (ch - 64)
    return n


@dataclass(frozen=True)
class SheetSize:
    """What a sheet's XML says about its size, measured without holding the sheet."""

    rows: int  # <row> elements
    last_row: int  # the highest row number used
    last_column: int  # the highest column number used (A = 1)
    cells: int  # <c> elements
    xml_bytes: int

    @property
    def spanned(self) -> int:
        return max(self.last_row, self.rows) * max(self.last_column, 1)


def _sheet_paths(z: zipfile.ZipFile) -> dict[str, str]:
    """Sheet name → path of its XML in the zip, from workbook.xml and its relationships."""
    ns_main = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
    ns_rel = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}"
    wb = ElementTree.fromstring(z.read("xl/workbook.xml"))
    rels = ElementTree.fromstring(z.read("xl/_rels/workbook.xml.rels"))
    target = {r.get("Id"): r.get("Target", "") for r in rels}
    out = {}
    for sheet in wb.iter(f"{ns_main}sheet"):
        t = target.get(sheet.get(f"{ns_rel}id"), "")
        t = t.lstrip("/") if t.startswith("/") else "xl/" + t
        out[sheet.get("name", "")] = t
    return out


class _Tags:
    """Counting the <row> and <c> tags of a sheet's XML (with its namespace prefix, if any).

    Row numbers and cell columns are read with a fast pattern for the usual `r` first
    attribute; a chunk where some tag has other attributes first is read with the full one."""

    def __init__(self, lt_prefix: bytes) -> None:
        self.row = lt_prefix + b"row"
        self.cell = lt_prefix + b"c"
        esc = re.escape(lt_prefix)
        self._fast = {self.row: re.compile(esc + rb'row r="(\d+)"'),
                      self.cell: re.compile(esc + rb'c r="([A-Z]{1,3})\d')}

    @staticmethod
    def count(data: bytes, tag: bytes) -> int:
        return data.count(tag + b" ") + data.count(tag + b">") + data.count(tag + b"/")

    def numbers(self, data: bytes, tag: bytes, full: re.Pattern[bytes]) -> list[bytes]:
        if data.count(tag + b' r="') == data.count(tag + b" "):
            return self._fast[tag].findall(data)
        return full.findall(data)


def measure_sheet(z: zipfile.ZipFile, member: str, name: str, where: str) -> SheetSize:
    """Stream one sheet's XML and count it, refusing as soon as it passes a limit.

    Each chunk is cut before its last '<' (carried to the next), so no tag is split or
    counted twice; tags may carry a namespace prefix (<x:row>), found on the root element."""
    rows = cells = last_row = last_col = size = 0
    tail = b""
    tags: _Tags | None = None
    with z.open(member) as fh:
        while True:
            chunk = fh.read(_SNIFF_CHUNK)
            size += len(chunk)
            if size > XLSX_MAX_XML_BYTES:
                raise _too_large(where, name, f"more than {XLSX_MAX_XML_BYTES >> 20} MB of "
                                              "sheet data")
            data = tail + chunk
            cut = data.rfind(b"<") if chunk else len(data)
            head, tail = (data[:cut], data[cut:]) if cut > 0 else (data, b"")
            if tags is None:
                m = _PREFIX_RE.search(head)
                tags = _Tags(b"<" + ((m.group(1) or b"") if m else b""))
            rows += tags.count(head, tags.row)
            cells += tags.count(head, tags.cell)
            last_row = max([last_row, *map(int, tags.numbers(head, tags.row, _ROW_NUMBER_RE))])
            last_col = max([last_col, *map(_column_number, set(
                tags.numbers(head, tags.cell, _CELL_COLUMN_RE)))])
            measured = SheetSize(rows, last_row, last_col, cells, size)
            _check_size(where, name, measured)
            if not chunk:
                return measured


def _too_large(where: str, sheet: str, what: str) -> ImportRejected:
    return reject(where, rules.FILE_TOO_LARGE,
                  f"sheet {sheet!r} has {what}; an .xlsx sheet may have at most "
                  f"{XLSX_MAX_ROWS:,} rows and {XLSX_MAX_CELLS:,} cells (rows × columns) — "
                  "save larger exports as CSV, which has no limit")


def _check_size(where: str, sheet: str, m: SheetSize) -> None:
    if max(m.rows, m.last_row) > XLSX_MAX_ROWS:
        raise _too_large(where, sheet, f"{max(m.rows, m.last_row):,}+ rows")
    if m.spanned > XLSX_MAX_CELLS or m.cells > XLSX_MAX_CELLS:
        raise _too_large(where, sheet, f"{max(m.spanned, m.cells):,}+ cells")


def workbook_sheets(path: Path) -> list[str]:
    """The sheet names of a workbook, each measured against the limits (refused beyond them).

    Old binary .xls files (at most 65,536 rows by their format) are only listed."""
    where = str(path)
    if not path.exists():
        raise reject(where, rules.FILE_UNREADABLE, "file not found")
    if path.stat().st_size == 0:
        raise reject(where, rules.FILE_EMPTY, "the file is empty (0 bytes)")
    if path.suffix.lower() == ".xls":
        try:
            return list(fastexcel.read_excel(path).sheet_names)
        except Exception as exc:
            raise _unreadable(where, exc) from exc
    try:
        with zipfile.ZipFile(path) as z:
            paths = _sheet_paths(z)
            for name, member in paths.items():
                measure_sheet(z, member, name, where)
    except ImportRejected:
        raise
    except (zipfile.BadZipFile, KeyError, ElementTree.ParseError, OSError, EOFError,
            zlib.error, RuntimeError, NotImplementedError) as exc:
        raise _unreadable(where, exc) from exc
    return list(paths)


def _unreadable(where: str, exc: BaseException) -> ImportRejected:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    return reject(where, rules.FILE_UNREADABLE,
                  f"not a readable Excel workbook ({first[:200]}); save it again from Excel "
                  "as .xlsx, or as CSV")


class ExcelSource(Source):
    """One sheet of a workbook, every cell as text (dates as 'YYYY-MM-DD HH:MM:SS').

    The sheet is measured first (`workbook_sheets`: refused beyond the limits above), then read
    by calamine for its header and again, when the load reaches it, for its rows — so only one
    sheet of a workbook is in memory at a time. Blank rows are kept (and quarantined as empty)
    so that row numbers match what the user sees in Excel.
    """

    def __init__(self, path: Path, sheet: str, label_sheet: bool = False) -> None:
        super().__init__(name=str(path), unit="line")
        self.path = path
        self.sheet = sheet
        if label_sheet:
            self.name = f"{path} [{sheet}]"
        df = self._read()
        self.empty = df.width == 0
        self.headers = [] if self.empty else _dedupe_headers(df.columns)
        self.height = df.height

    def _read(self) -> pl.DataFrame:
        try:
            return pl.read_excel(self.path, sheet_name=self.sheet, infer_schema_length=0,
                                 drop_empty_rows=False, raise_if_empty=False)
        except Exception as exc:  # calamine raises its own error types
            raise _unreadable(self.name, exc) from exc

    def _batches(self, batch_rows: int) -> Iterator[pl.DataFrame]:
        if self.empty:
            return
        df = self._read()
        df.columns = self.headers
        df = df.select(pl.all().cast(pl.String))
        empty = pl.all_horizontal(pl.all().is_null() | (pl.all().str.strip_chars() == ""))
        fields = df.select(pl.when(empty).then(0).otherwise(None).cast(pl.Int32)).to_series()
        yield from _with_meta(df, 2, fields).iter_slices(batch_rows)


# ----------------------------------------------------------------------------- Parquet ----


class ParquetSource(Source):
    """A Parquet file, streamed in batches; columns keep their types (normalize handles them)."""

    def __init__(self, path: Path) -> None:
        super().__init__(name=str(path), unit="row")
        if not path.exists():
            raise reject(str(path), rules.FILE_UNREADABLE, "file not found")
        if path.stat().st_size == 0:
            raise reject(str(path), rules.FILE_EMPTY, "the file is empty (0 bytes)")
        try:
            self._lf = pl.scan_parquet(path)
            self.headers = list(self._lf.collect_schema().names())
        except Exception as exc:
            raise reject(str(path), rules.FILE_UNREADABLE, f"not a readable Parquet file: {exc}") from exc

    def _batches(self, batch_rows: int) -> Iterator[pl.DataFrame]:
        first = 1
        for batch in self._lf.collect_batches(chunk_size=batch_rows):
            yield _with_meta(batch, first)
            first += batch.height


# ------------------------------------------------------------------------------ frames ----


class FrameSource(Source):
    """An in-memory frame (the demo generator, tests); rows are numbered from 1."""

    def __init__(self, name: str, frame: pl.DataFrame) -> None:
        super().__init__(name=name, unit="row", headers=list(frame.columns))
        self._frame = frame

    def _batches(self, batch_rows: int) -> Iterator[pl.DataFrame]:
        first = 1
        for batch in self._frame.iter_slices(batch_rows):
            yield _with_meta(batch, first)
            first += batch.height


# ---------------------------------------------------------------------------- database ----


class DatabaseSource(Source):
    """A table, view or SELECT of another database, read through a server-side cursor."""

    def __init__(self, url: str, source_table: str | None, query: str | None) -> None:
        if bool(source_table) == bool(query):
            raise ImportRejected("give exactly one of a source table or a query to read from")
        self.url = url
        self.engine = sa.create_engine(url)
        if query:
            self.statement: sa.Executable = sa.text(query)
            label = "query"
        else:
            schema, _, name = source_table.rpartition(".")
            self.statement = sa.select(sa.text("*")).select_from(
                sa.table(name, schema=schema or None)
            )
            label = source_table
        shown = self.engine.url.render_as_string(hide_password=True)
        super().__init__(name=f"{shown} {label}", unit="row")
        try:
            with self.engine.connect() as conn:
                # A server-side cursor: learning the column names must not fetch the table.
                result = conn.execution_options(stream_results=True).execute(self.statement)
                self.headers = list(result.keys())
                result.close()
        except sa.exc.SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise reject(self.name, rules.FILE_UNREADABLE, f"cannot read: {reason}") from exc

    def _batches(self, batch_rows: int) -> Iterator[pl.DataFrame]:
        first = 1
        with self.engine.connect() as conn:
            result = conn.execution_options(stream_results=True).execute(self.statement)
            while rows := result.fetchmany(batch_rows):
                yield _with_meta(_rows_frame(self.headers, rows), first)
                first += len(rows)

    def close(self) -> None:
        self.engine.dispose()


def _rows_frame(headers: list[str], rows: list) -> pl.DataFrame:
    """Rows of a foreign database as a frame; a column of mixed types falls back to text."""
    columns = list(zip(*rows, strict=True)) if rows else [() for _ in headers]
    series = []
    for name, values in zip(headers, columns, strict=True):
        try:
            series.append(pl.Series(name, values, strict=True))
        except (TypeError, pl.exceptions.PolarsError):
            series.append(
                pl.Series(name, [None if v is None else str(v) for v in values], dtype=pl.String)
            )
    return pl.DataFrame(series)


def open_file(path: Path, encoding: str | None = None, sheet: str | None = None,
              delimiter: str | None = None) -> Source:
    """The reader for `path`, chosen by its suffix."""
    suffix = path.suffix.lower()
    if suffix in TEXT_SUFFIXES:
        return CsvSource(path, encoding=encoding, delimiter=delimiter or ("\t" if suffix == ".tsv" else ","))
    if suffix in EXCEL_SUFFIXES:
        names = workbook_sheets(path)
        if sheet is not None and sheet not in names:
            raise reject(str(path), rules.FILE_UNREADABLE,
                         f"has no sheet {sheet!r} (its sheets: {', '.join(names)})")
        if not names:
            raise reject(str(path), rules.FILE_EMPTY, "the workbook has no sheets")
        source = ExcelSource(path, sheet or names[0])
        if source.empty:
            raise reject(str(path), rules.FILE_EMPTY, f"sheet {source.sheet!r} is empty (no "
                                                      "header row)")
        return source
    if suffix in PARQUET_SUFFIXES:
        return ParquetSource(path)
    raise reject(
        str(path), rules.FILE_UNREADABLE,
        f"unsupported file type {suffix!r} (use {', '.join(sorted(SUPPORTED_SUFFIXES))})",
    )
