"""The bulletin as a Word document in the style of GB/T 9704-2012 (党政机关公文格式).

What the standard asks, and how it is done here:
- A4, margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm (text block 156 × 225 mm).
- Title in 小标宋 size 2 (22 pt), centred; body 仿宋 size 3 (16 pt), fixed 28 pt line pitch
  (22 lines a page), first-line indent of two characters.
- Level-1 headings "一、" in 黑体, level-2 "（一）" in 楷体, both size 3.
- Page numbers "— 1 —" in 宋体 size 4 (14 pt), odd pages on the right and even pages on the left.
- An issuing-authority line in red with a red rule under it (the 版头).
Fonts are named, not embedded (Word documents never embed them in practice): the names are the
ones present on Chinese Windows and government desktops (方正小标宋简体 is the usual title font
in official templates; Word substitutes a Song face where it is missing).
Tables repeat their header row on every page; charts are PNG images.
"""

from __future__ import annotations

import io

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_LINE_SPACING
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor

from metrics.bulletin.model import Bulletin, Table
from metrics.bulletin.text import section_number
from reports.charts import chart_png
from reports.formatting import doc_columns, doc_rows

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋"
H1_FONT = "黑体"
H2_FONT = "楷体"
NUMBER_FONT = "宋体"
RED = RGBColor(0xC0, 0x00, 0x00)


def _font(run, name: str, size: float, bold: bool = False, color: RGBColor | None = None) -> None:
    run.font.name = name
    run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = OxmlElement("w:rFonts")
        rpr.insert(0, fonts)
    for attr in ("w:ascii", "w:hAnsi", "w:eastAsia"):
        fonts.set(qn(attr), name)


def _para(doc, text: str, font: str = BODY_FONT, size: float = 16, align=None,
          indent: bool = True, bold: bool = False, color: RGBColor | None = None):
    p = doc.add_paragraph()
    fmt = p.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(28)
    fmt.space_before = fmt.space_after = Pt(0)
    if indent:
        fmt.first_line_indent = Pt(size * 2)
    if align is not None:
        p.alignment = align
    _font(p.add_run(text), font, size, bold, color)
    return p


def _page_number_footer(footer, align) -> None:
    p = footer.paragraphs[0]
    p.alignment = align
    _font(p.add_run("— "), NUMBER_FONT, 14)
    run = p.add_run()
    _font(run, NUMBER_FONT, 14)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._element.append(el)
    _font(p.add_run(" —"), NUMBER_FONT, 14)


def _red_rule(paragraph) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    border = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for k, v in (("w:val", "single"), ("w:sz", "12"), ("w:space", "4"), ("w:color", "C00000")):
        bottom.set(qn(k), v)
    border.append(bottom)
    ppr.append(border)


def _repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def _table(doc, table: Table) -> None:
    cols = doc_columns(table)
    size = 9 if len(cols) <= 8 else 7.5
    _para(doc, table.title, H1_FONT, 12, WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    values = doc_rows(table)
    # all rows at once: python-docx's add_row re-reads the grid and is slow for long tables
    t = doc.add_table(rows=1 + max(len(values), 1), cols=len(cols))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    rows = list(t.rows)
    _repeat_header(rows[0])
    for cell, j in zip(rows[0].cells, cols, strict=True):
        p = cell.paragraphs[0]
        p.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _font(p.add_run(table.columns[j].zh), H1_FONT, size)
    for i, texts in enumerate(values):
        for k, (cell, text) in enumerate(zip(rows[i + 1].cells, texts, strict=True)):
            p = cell.paragraphs[0]
            numeric = table.fmt_of(i, cols[k]) != "text"
            p.alignment = WD_ALIGN_PARAGRAPH.RIGHT if numeric else WD_ALIGN_PARAGRAPH.LEFT
            _font(p.add_run(text), BODY_FONT, size)
    if not values:
        cells = rows[1].cells
        merged = cells[0].merge(cells[-1])
        _font(merged.paragraphs[0].add_run("本月无"), BODY_FONT, size)
    if table.note:
        _para(doc, "注：" + table.note, BODY_FONT, 10.5, indent=False)


def render_docx(b: Bulletin, label: str = "") -> bytes:
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(210), Mm(297)
    section.top_margin, section.bottom_margin = Mm(37), Mm(35)
    section.left_margin, section.right_margin = Mm(28), Mm(26)
    section.footer_distance = Mm(28 - 14)
    doc.settings.odd_and_even_pages_header_footer = True
    _page_number_footer(section.footer, WD_ALIGN_PARAGRAPH.RIGHT)
    _page_number_footer(section.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = BODY_FONT, Pt(16)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)
    core = doc.core_properties
    core.title, core.author = b.title, "政务服务效能监测平台"
    core.subject = f"{b.month} {b.scope.key} {b.content_hash[:16]}"

    head = _para(doc, "政务服务效能通报", TITLE_FONT, 26, WD_ALIGN_PARAGRAPH.CENTER,
                 indent=False, color=RED)
    head.paragraph_format.space_before = Pt(0)
    year, mon = b.month.split("-")
    issue = _para(doc, f"{year}年第{int(mon)}期" + (f"（{label}）" if label else ""), BODY_FONT,
                  16, WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    _red_rule(issue)
    _para(doc, "", indent=False)
    _para(doc, b.title, TITLE_FONT, 22, WD_ALIGN_PARAGRAPH.CENTER, indent=False)
    _para(doc, f"（{int(year)}年{int(mon)}月）", BODY_FONT, 16, WD_ALIGN_PARAGRAPH.CENTER,
          indent=False)
    _para(doc, "", indent=False)

    for n, sec in enumerate(b.sections, start=1):
        _para(doc, f"{section_number(n)}、{sec.title}", H1_FONT, 16)
        for text in sec.paragraphs:
            _para(doc, text)
        for k, chart in enumerate(sec.charts, start=1):
            _para(doc, f"（{section_number(k)}）{chart.title}", H2_FONT, 16)
            doc.add_picture(io.BytesIO(chart_png(chart)), width=Mm(150))
            doc.paragraphs[-1].alignment = WD_ALIGN_PARAGRAPH.CENTER
        for table in sec.tables:
            _table(doc, table)
    _para(doc, f"内容校验码：{b.content_hash}", BODY_FONT, 10.5, indent=False)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()
