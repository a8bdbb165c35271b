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
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from queries.errors import ImportRejected
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
    """The one shape of a whole-file rejection: file, what is wrong, rule id."""
    return ImportRejected(f"{source}: {detail} [{rule}]")


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
        raw = pl.read_csv(
            body, has_header=False, separator="\x1f", quote_char=None,
            schema={"line": pl.String}, truncate_ragged_lines=True, empty_string_is_null=False,
        )["line"]
        if raw.len() != len(lines) or (raw.str.count_matches('"', literal=True) % 2 == 1).any():
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


class ExcelSource(Source):
    """One sheet of an .xlsx workbook, every cell as text (dates as 'YYYY-MM-DD HH:MM:SS').

    Excel files are bounded (1,048,576 rows) and calamine reads a sheet at once, so the sheet is
    read whole and then handed out in batches. Blank rows are kept (and quarantined as empty)
    so that row numbers match what the user sees in Excel.
    """

    def __init__(self, path: Path, sheet: str | None = None) -> None:
        super().__init__(name=str(path), unit="line")
        if not path.exists():
            raise reject(str(path), rules.FILE_UNREADABLE, "file not found")
        if path.stat().st_size == 0:
            raise reject(str(path), rules.FILE_EMPTY, "the file is empty (0 bytes)")
        kwargs: dict = {"sheet_name": sheet} if sheet else {"sheet_id": 1}
        try:
            df = pl.read_excel(
                path, infer_schema_length=0, drop_empty_rows=False, raise_if_empty=False, **kwargs
            )
        except Exception as exc:  # calamine raises its own error types
            raise reject(str(path), rules.FILE_UNREADABLE, f"cannot read the workbook: {exc}") from exc
        if df.width == 0:
            raise reject(str(path), rules.FILE_EMPTY, "the sheet is empty (no header row)")
        self.headers = _dedupe_headers(df.columns)
        df.columns = self.headers
        df = df.select(pl.all().cast(pl.String))
        empty = pl.all_horizontal(pl.all().is_null() | (pl.all().str.strip_chars() == ""))
        fields = df.select(pl.when(empty).then(0).otherwise(None).cast(pl.Int32)).to_series()
        self._frame = _with_meta(df, 2, fields)

    def _batches(self, batch_rows: int) -> Iterator[pl.DataFrame]:
        yield from self._frame.iter_slices(batch_rows)


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
        return ExcelSource(path, sheet=sheet)
    if suffix in PARQUET_SUFFIXES:
        return ParquetSource(path)
    raise reject(
        str(path), rules.FILE_UNREADABLE,
        f"unsupported file type {suffix!r} (use {', '.join(sorted(SUPPORTED_SUFFIXES))})",
    )
