"""Display strings for bulletin cells (Word, PDF, app preview); Excel keeps raw numbers.

The formatting itself is `metrics.bulletin.text.display`, the narrative's own, so a number reads
the same in a sentence and in the table it summarises (two decimals for shares, no "-0.00").
"""

from __future__ import annotations

from metrics.bulletin.model import Table
from metrics.bulletin.text import DASH, display

__all__ = ["DASH", "display", "doc_columns", "doc_rows", "is_numeric"]


def doc_columns(table: Table) -> list[int]:
    """Indexes of the columns shown in the document (codes and detail counts are Excel-only)."""
    return [j for j, c in enumerate(table.columns) if c.doc]


def doc_rows(table: Table) -> list[list[str]]:
    cols = doc_columns(table)
    return [[display(row[j], table.fmt_of(i, j)) for j in cols] for i, row in enumerate(table.rows)]


def is_numeric(table: Table, j: int) -> bool:
    """Whether column `j` holds numbers in every row (right-aligned, never wrapped)."""
    if table.row_fmts:
        return all(f[j] != "text" for f in table.row_fmts)
    return table.columns[j].fmt != "text"
