"""The generated files: Word and Excel numbers equal the facts; the PDF embeds its CJK fonts."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import openpyxl
import pytest
from docx import Document
from docx.oxml.ns import qn
from docx.shared import Pt

from metrics.bulletin import scope_filters
from metrics.query import metric_values
from reports import render
from reports.formatting import display, doc_columns, doc_rows
from reports.xlsx_render import FIRST_DATA_ROW, NUM_FORMATS
from tests.reports.conftest import MONTH

ARTIFACTS = Path(__file__).resolve().parent / "artifacts"


@pytest.fixture(scope="module")
def files(city_bulletin, report_tools):
    return render(city_bulletin, ["docx", "xlsx", "pdf"], label="测试")


def test_docx_tables_show_the_bulletin_numbers(files, city_bulletin, demo_engine):
    doc = Document(io.BytesIO(files["docx"]))
    assert len(doc.tables) == len(city_bulletin.tables)
    for dt_, bt in zip(doc.tables, city_bulletin.tables, strict=True):
        header = [c.text for c in dt_.rows[0].cells]
        assert header == [bt.columns[j].zh for j in doc_columns(bt)]
        body = [[c.text for c in r.cells] for r in dt_.rows[1:]]
        assert body == (doc_rows(bt) or body)  # an empty table shows one "本月无" row
    # and those numbers are the query API's
    accepted = metric_values(demo_engine, ["accepted"], scope_filters(city_bulletin.scope, MONTH),
                             "city")["value"][0]
    overall = doc.tables[0]
    assert overall.rows[1].cells[0].text == "受理量"
    assert overall.rows[1].cells[1].text == f"{int(accepted):,}"


def test_docx_follows_the_official_document_layout(files, city_bulletin):
    doc = Document(io.BytesIO(files["docx"]))
    s = doc.sections[0]
    mm = lambda v: round(v.mm, 1)  # noqa: E731  (stored in twips)
    assert (mm(s.page_width), mm(s.page_height)) == (210, 297)
    assert tuple(mm(v) for v in (s.top_margin, s.bottom_margin, s.left_margin,
                                 s.right_margin)) == (37, 35, 28, 26)
    title = next(p for p in doc.paragraphs if p.text == city_bulletin.title)
    run = title.runs[0]
    assert run.font.size == Pt(22)
    assert run._element.rPr.rFonts.get(qn("w:eastAsia")) == "方正小标宋简体"
    heading = next(p for p in doc.paragraphs if p.text.startswith("一、"))
    assert heading.runs[0]._element.rPr.rFonts.get(qn("w:eastAsia")) == "黑体"
    body = next(p for p in doc.paragraphs if p.text == city_bulletin.sections[0].paragraphs[0])
    assert body.runs[0].font.size == Pt(16)
    assert body.runs[0]._element.rPr.rFonts.get(qn("w:eastAsia")) == "仿宋"
    for t in doc.tables:  # header rows repeat on every page
        assert t.rows[0]._tr.trPr.find(qn("w:tblHeader")) is not None
    footer_xml = s.footer._element.xml
    assert "PAGE" in footer_xml and "—" in footer_xml
    assert doc.settings.odd_and_even_pages_header_footer
    assert len(doc.inline_shapes) == sum(len(sec.charts) for sec in city_bulletin.sections)


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
                    assert cell.value == value
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


def test_pdf_embeds_cjk_fonts_and_renders_without_tofu(files, city_bulletin, tmp_path):
    pdf = tmp_path / "bulletin.pdf"
    pdf.write_bytes(files["pdf"])
    fonts = subprocess.run(["pdffonts", str(pdf)], capture_output=True, text=True, check=True)
    rows = fonts.stdout.splitlines()[2:]
    assert rows, "the PDF uses fonts"
    for line in rows:
        assert re.search(r"\byes\s+yes\s+yes\b", line), f"font not embedded+subset+unicode: {line}"
    assert any("CJK" in line for line in rows)
    # text comes back as the same characters (a missing glyph would extract as nothing or U+FFFD)
    text = subprocess.run(["pdftotext", "-layout", str(pdf), "-"], capture_output=True,
                          text=True, check=True).stdout
    assert "\ufffd" not in text
    compact = re.sub(r"\s+", "", text)
    assert city_bulletin.title in compact
    for sec in city_bulletin.sections:
        assert sec.title in compact
    first = city_bulletin.table("overall").rows[0]
    assert display(first[1], "int") in compact
    # pages render to PNG; page 1 is kept as an artifact to look at
    subprocess.run(["pdftoppm", "-r", "70", "-png", "-f", "1", "-l", "2", str(pdf),
                    str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) == 2 and all(p.stat().st_size > 10_000 for p in pages)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(pages[0], ARTIFACTS / "bulletin_page1.png")
