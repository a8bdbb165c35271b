"""The one rule for files a user opens in a spreadsheet: a cell written from data is text,
never a formula.

Agency, item and region names come from imported files; a name such as `=HYPERLINK(…)` or
`+cmd|' /C calc'!A0` written raw into a CSV or an Excel cell runs as a formula when the file is
opened (CSV / formula injection). Every writer of a CSV or XLSX file a person may open — the
dashboard's case-list and quarantine downloads, `xiaoneng export`, `xiaoneng stats … --format
csv`, the bulletin workbook — goes through this module:

* CSV (and any other plain-text table): a text cell starting with one of `FORMULA_PREFIXES`
  (`= + - @`, tab, carriage return) gets a leading apostrophe, as OWASP recommends. The text
  after the apostrophe is the original value, so nothing is lost; numbers, dates and booleans
  are not text and are written as they are.
* XLSX: text is written as a string cell (`xlsxwriter` with `strings_to_formulas`,
  `strings_to_urls` and `strings_to_numbers` off), so the visible text is the value itself and
  no cell is ever a formula or an auto-made hyperlink.

It sits in `queries/` (the lowest layer that writes files) so that `metrics/`, `reports/`,
`dashboard/` and the CLI all call the same rule.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import IO, Any

import polars as pl

FORMULA_PREFIXES: tuple[str, ...] = ("=", "+", "-", "@", "\t", "\r")
"""First characters that make a spreadsheet read a text cell as a formula (OWASP list)."""

XLSX_OPTIONS: dict[str, Any] = {
    "strings_to_formulas": False,  # "=…" stays a string (xlsxwriter's default turns it into a formula)
    "strings_to_urls": False,  # "http://…" stays text, not a clickable hyperlink
    "strings_to_numbers": False,  # "0012" stays "0012"
    "nan_inf_to_errors": True,
}

BOM = b"\xef\xbb\xbf"


def is_dangerous(text: str) -> bool:
    """True when a spreadsheet would read `text` as the start of a formula."""
    return text.startswith(FORMULA_PREFIXES)


def neutralise(value: Any) -> Any:
    """The value made safe for a text cell: a leading apostrophe before a formula prefix.

    Non-text values are returned unchanged (a negative number is a number, not a formula).
    """
    if isinstance(value, str) and is_dangerous(value):
        return "'" + value
    return value


def _text_columns(frame: pl.DataFrame) -> list[str]:
    return [name for name, dtype in frame.schema.items()
            if dtype == pl.String or isinstance(dtype, pl.Categorical | pl.Enum)]


def neutralise_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """`frame` with every text cell neutralised (one vectorised expression per text column).

    Categorical and enum columns are cast to text first (their labels come from data too).
    Column names are neutralised as well: a CSV header is a cell like any other.
    """
    pattern = r"^[=+\-@\t\r]"  # FORMULA_PREFIXES as a regular expression
    cols = _text_columns(frame)
    out = frame.with_columns(
        pl.when(pl.col(c).cast(pl.String).str.contains(pattern))
        .then(pl.lit("'") + pl.col(c).cast(pl.String))
        .otherwise(pl.col(c).cast(pl.String))
        .alias(c)
        for c in cols
    )
    renames = {c: neutralise(c) for c in out.columns if is_dangerous(c)}
    return out.rename(renames) if renames else out


def csv_text(frame: pl.DataFrame, **kwargs: Any) -> str:
    """The frame as CSV text with every text cell neutralised (kwargs go to `write_csv`)."""
    return neutralise_frame(frame).write_csv(**kwargs)


def csv_bytes(frame: pl.DataFrame, *, bom: bool = True) -> bytes:
    """UTF-8 CSV bytes, neutralised; with a BOM Excel opens the Chinese intact (without, it
    guesses GBK)."""
    body = csv_text(frame).encode("utf-8")
    return BOM + body if bom else body


def write_csv(frame: pl.DataFrame, path: Path | str, *, bom: bool = True) -> None:
    Path(path).write_bytes(csv_bytes(frame, bom=bom))


def xlsx_workbook(target: Path | str | IO[bytes], **options: Any):
    """An `xlsxwriter.Workbook` that never turns a string into a formula, URL or number."""
    import xlsxwriter

    opts = {**XLSX_OPTIONS, **options}
    if not isinstance(target, str | Path):
        opts.setdefault("in_memory", True)
    return xlsxwriter.Workbook(target if not isinstance(target, Path) else str(target), opts)


def write_xlsx(frame: pl.DataFrame, target: Path | str | IO[bytes], worksheet: str,
               **kwargs: Any) -> None:
    """The frame as one sheet of a new workbook, every text value a string cell.

    Polars writes through the workbook we open (`xlsx_workbook`), so its options are ours;
    kwargs go to `DataFrame.write_excel` (e.g. `autofit`, `float_precision`).
    """
    wb = xlsx_workbook(target)
    try:
        frame.write_excel(wb, worksheet=worksheet, **kwargs)
    finally:
        wb.close()


def xlsx_bytes(frame: pl.DataFrame, worksheet: str, **kwargs: Any) -> bytes:
    buf = io.BytesIO()
    write_xlsx(frame, buf, worksheet, **kwargs)
    return buf.getvalue()
