"""The generated files: Word and Excel numbers equal the facts; Excel cells from data are text,
never formulas. (The 公文 form of the .docx: test_gbt9704.py; the PDF: test_pdf.py.)"""

from __future__ import annotations

import dataclasses
import io

import openpyxl
import pytest
from docx import Document

from metrics.bulletin import scope_filters
from metrics.query import metric_values
from reports import render
from reports.formatting import doc_columns, doc_rows
from reports.xlsx_render import FIRST_DATA_ROW, NUM_FORMATS
from tests.reports.conftest import MONTH


@pytest.fixture(scope="module")
def files(city_bulletin, report_tools):
    return render(city_bulletin, ["docx", "xlsx", "pdf"], label="测试")


def test_docx_tables_show_the_bulletin_numbers(files, city_bulletin, demo_engine):
    doc = Document(io.BytesIO(files["docx"]))
    tables = doc.tables[:-1]  # the last is the 版记
    assert len(tables) == len(city_bulletin.tables)
    for dt_, bt in zip(tables, city_bulletin.tables, strict=True):
        header = [c.text for c in dt_.rows[0].cells]
        assert header == [bt.columns[j].zh for j in doc_columns(bt)]
        body = [[c.text for c in r.cells] for r in dt_.rows[1:]]
        assert body == (doc_rows(bt) or body)  # an empty table shows one "本期无" row
    # and those numbers are the query API's
    accepted = metric_values(demo_engine, ["accepted"], scope_filters(city_bulletin.scope, MONTH),
                             "city")["value"][0]
    overall = tables[0]
    assert overall.rows[1].cells[0].text == "受理量"
    assert overall.rows[1].cells[1].text == f"{int(accepted):,}"
    assert "代码" not in {c.text for t in tables for c in t.rows[0].cells}  # Excel only


def test_xlsx_cells_are_numbers_with_formats(files, city_bulletin):
    wb = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
    assert wb.sheetnames[0] == "通报"
    sheets = wb.sheetnames[1:]
    assert len(sheets) == len(city_bulletin.tables)
    for name, table in zip(sheets, city_bulletin.tables, strict=True):
        ws = wb[name]
        assert ws.freeze_panes == f"B{FIRST_DATA_ROW + 1}"
        assert [c.value for c in ws[FIRST_DATA_ROW]] == [c.zh for c in table.columns]
        for i, row in enumerate(table.rows):
            cells = ws[FIRST_DATA_ROW + 1 + i]
            for j, value in enumerate(row):
                cell = cells[j]
                fmt = table.fmt_of(i, j)
                if value is None:
                    assert cell.value is None
                elif fmt == "text" or isinstance(value, str):
                    assert cell.value == value and cell.data_type == "s"  # text, never a formula
                else:
                    assert isinstance(cell.value, int | float) and not isinstance(cell.value, bool)
                    assert cell.value == pytest.approx(value, rel=1e-12, abs=1e-12)
                    assert cell.number_format == NUM_FORMATS[fmt]


def test_xlsx_colours_card_columns(files, city_bulletin):
    wb = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
    ws = wb[wb.sheetnames[1 + [t.id for t in city_bulletin.tables].index("rank_regions")]]
    rules = {str(rng): [r for r in cf.rules] for rng, cf in
             ((cf.sqref, cf) for cf in ws.conditional_formatting)}
    colours = {rng: r[0].dxf.fill.bgColor.rgb for rng, r in rules.items()}
    table = city_bulletin.table("rank_regions")
    keys = [c.key for c in table.columns]
    col = lambda k: openpyxl.utils.get_column_letter(keys.index(k) + 1)  # noqa: E731
    last = FIRST_DATA_ROW + len(table.rows)
    assert colours[f"{col('red_cards')}{FIRST_DATA_ROW + 1}:{col('red_cards')}{last}"].endswith("FFC7CE")
    assert colours[f"{col('yellow_cards')}{FIRST_DATA_ROW + 1}:{col('yellow_cards')}{last}"].endswith("FFEB9C")


def test_xlsx_writes_a_formula_lookalike_as_text(city_bulletin):
    """A name from the data that starts with "=" stays a string cell, never a formula."""
    t = city_bulletin.table("bad_tags")
    evil = dataclasses.replace(t, rows=(("=HYPERLINK(\"http://x\")", 3), *t.rows))
    a = next(a for a in city_bulletin.attachments if t in a.tables)
    a2 = dataclasses.replace(a, tables=tuple(evil if x is t else x for x in a.tables))
    b = dataclasses.replace(city_bulletin, attachments=tuple(
        a2 if x is a else x for x in city_bulletin.attachments))
    wb = openpyxl.load_workbook(io.BytesIO(render(b, ["xlsx"])["xlsx"]))
    ws = wb[wb.sheetnames[1 + [x.id for x in b.tables].index("bad_tags")]]
    cell = ws.cell(FIRST_DATA_ROW + 1, 1)
    assert cell.data_type == "s" and cell.value.startswith("=HYPERLINK")
