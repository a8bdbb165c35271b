"""Display strings for bulletin cells (Word, PDF, app preview); Excel keeps raw numbers."""

from __future__ import annotations

from metrics.bulletin.model import Cell, ColumnFmt, Table

DASH = "—"
# Columns kept in the Excel file but not printed in the document (codes are for machines).
DOC_HIDDEN = frozenset({"code"})


def display(value: Cell, fmt: ColumnFmt) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool) or fmt == "text":
        return str(value)
    v = float(value)  # type: ignore[arg-type]
    v = 0.0 if abs(v) < 5e-13 else v
    if fmt == "int":
        return f"{round(v):,}"
    if fmt == "pct":
        return f"{v * 100:.1f}%"
    if fmt == "pp":
        return f"{v * 100:+.1f}个百分点"
    if fmt == "rel":
        return f"{v * 100:+.1f}%"
    if fmt in ("days", "score"):
        return _no_negative_zero(f"{v:.1f}")
    return _no_negative_zero(f"{v:.2f}")


def _no_negative_zero(text: str) -> str:
    """-0.0 after rounding reads as a fall; show 0.0."""
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text


def doc_columns(table: Table) -> list[int]:
    """Indexes of the columns shown in the document (not Excel)."""
    return [j for j, c in enumerate(table.columns) if c.key not in DOC_HIDDEN]


def doc_rows(table: Table) -> list[list[str]]:
    cols = doc_columns(table)
    return [[display(row[j], table.fmt_of(i, j)) for j in cols] for i, row in enumerate(table.rows)]


def is_numeric(table: Table, j: int) -> bool:
    return table.columns[j].fmt != "text" or bool(table.row_fmts)
