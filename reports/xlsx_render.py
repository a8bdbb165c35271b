"""The bulletin as an Excel workbook: a summary sheet, then one sheet per table.

Numbers are written as numbers (shares 0–1 with a percent format, counts with #,##0), never as
formatted text, so a supervision office can re-sort and re-compute; the header row is frozen;
card columns (红牌 / 黄牌) are coloured red / yellow where non-zero by conditional formatting
(so the colour follows the value if someone edits it). Layout of every table sheet: row 1 the
table title, row 2 the header, data from row 3, a note under the data. Names come from data,
so the workbook is opened through `queries.spreadsheet_cells` (strings are never formulas).
"""

from __future__ import annotations

import datetime as dt
import io
import re

import xlsxwriter

from metrics.bulletin.model import Bulletin, ColumnFmt, Table
from metrics.bulletin.text import section_number, signing_date
from queries.spreadsheet_cells import xlsx_workbook

NUM_FORMATS: dict[str, str] = {  # the documents' precision (metrics.bulletin.text.DIGITS)
    "int": "#,##0", "pct": "0.00%", "pp": "+0.00%;-0.00%;0.00%", "rel": "+0.00%;-0.00%;0.00%",
    "days": "0.0", "+days": "+0.0;-0.0;0.0", "score": "0.00", "+score": "+0.00;-0.00;0.00",
    "num": "0.00", "text": "@",
}
FILLS = {"red": ("#FFC7CE", "#9C0006"), "yellow": ("#FFEB9C", "#9C5700")}
HEADER_ROW, FIRST_DATA_ROW = 1, 2  # zero-based: header on row 2, data from row 3


def sheet_name(table: Table, used: set[str]) -> str:
    """Excel sheet names: ≤ 31 characters, none of []:*?/\\, unique."""
    base = re.sub(r"[\[\]:*?/\\]", "", table.title)[:31]
    name, k = base, 2
    while name in used:
        name = f"{base[:28]}_{k}"
        k += 1
    used.add(name)
    return name


def render_xlsx(b: Bulletin, label: str = "") -> bytes:
    buf = io.BytesIO()
    wb = xlsx_workbook(buf)  # strings_to_formulas / _urls / _numbers off
    as_of = dt.datetime.fromisoformat(b.provenance["as_of"])
    issuer = b.frame.issuer if b.frame else "政务服务效能监测平台"
    wb.set_properties({"title": b.title, "author": issuer, "company": issuer, "created": as_of,
                       "comments": f"content hash {b.content_hash}; job run "
                                   f"{b.provenance.get('job_run_id')}"})
    title_f = wb.add_format({"bold": True, "font_size": 14})
    head_f = wb.add_format({"bold": True, "bg_color": "#D9E1F2", "border": 1, "text_wrap": True,
                            "align": "center", "valign": "vcenter"})
    wrap_f = wb.add_format({"text_wrap": True, "valign": "top"})
    cell_f: dict[str, xlsxwriter.format.Format] = {
        k: wb.add_format({"num_format": v, "border": 1}) for k, v in NUM_FORMATS.items()
    }
    fills = {k: wb.add_format({"bg_color": bg, "font_color": fg}) for k, (bg, fg) in FILLS.items()}

    ws = wb.add_worksheet("通报")
    ws.set_column(0, 0, 110)
    ws.write_string(0, 0, b.title + (f"（{label}）" if label else ""), title_f)
    lines = [b.frame.doc_number, b.frame.recipients] if b.frame else []
    lines += [*b.correction, *b.opening]
    for n, sec in enumerate(b.sections, start=1):
        lines += ["", f"{section_number(n)}、{sec.title}", *sec.paragraphs]
    lines += ["", *(f"附件{k}：{a.title}" for k, a in enumerate(b.attachments, start=1))]
    if b.frame:
        lines += ["", b.frame.issuer,
                  signing_date(dt.date.fromisoformat(b.frame.issued_on), b.frame.date_style)]
    for r, line in enumerate(lines, start=2):
        ws.write_string(r, 0, line, wrap_f)

    used: set[str] = {"通报"}
    for table in b.tables:
        _table_sheet(wb.add_worksheet(sheet_name(table, used)), table, title_f, head_f, cell_f,
                     fills)
    wb.close()
    return buf.getvalue()


def _table_sheet(ws, table: Table, title_f, head_f, cell_f, fills) -> None:
    ws.write_string(0, 0, table.title, title_f)
    for j, col in enumerate(table.columns):
        ws.write_string(HEADER_ROW, j, col.zh, head_f)
        width = 28 if col.fmt == "text" else 12
        ws.set_column(j, j, width)
    for i, row in enumerate(table.rows):
        for j, value in enumerate(row):
            fmt: ColumnFmt = table.fmt_of(i, j)
            f = cell_f[fmt]
            if value is None:
                ws.write_blank(FIRST_DATA_ROW + i, j, None, f)
            elif fmt == "text" or isinstance(value, str):
                ws.write_string(FIRST_DATA_ROW + i, j, str(value), cell_f["text"])
            else:
                ws.write_number(FIRST_DATA_ROW + i, j, float(value), f)
    last = FIRST_DATA_ROW + len(table.rows) - 1
    keys = [c.key for c in table.columns]
    if table.rows:
        for key, colour in table.card.items():
            if key in keys:
                j = keys.index(key)
                ws.conditional_format(FIRST_DATA_ROW, j, last, j, {
                    "type": "cell", "criteria": ">", "value": 0, "format": fills[colour]})
    ws.freeze_panes(FIRST_DATA_ROW, 1)
    if table.note:
        ws.write_string(last + 2, 0, "注：" + table.note)
