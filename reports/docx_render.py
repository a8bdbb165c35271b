"""The bulletin as a Word document in the form of GB/T 9704-2012 (党政机关公文格式).

What the standard asks, and how it is done here (section numbers of the standard):
- A4; margins top 37 mm, bottom 35 mm, left 28 mm, right 26 mm: a 156 × 225 mm text block (5.2);
  22 lines of 28 characters through the document grid (`w:docGrid` linesAndChars, line pitch
  578 twips ≤ 225 mm / 22, charSpace −849: a 15.79 pt character pitch against the 16 pt default
  size — what Word's page setup shows as 每行28字、每页22行). Body text is set on that grid by
  its own exact line spacing (578 twips) and character spacing (−0.25 pt), not by snapping:
  Word shows both the same, while LibreOffice lays a linesAndChars grid out as a square-page
  grid and spreads snapped characters a third of a line apart. Tables, titles and the page
  number are off the grid (a 10.5 pt table cell on a 16 pt character pitch is unreadable).
- 版头 (7.2): 发文机关标志 in red 小标宋, its top edge 35 mm below the text block's top;
  文号 two lines below it, centred, 3号仿宋; a red rule as wide as the text block 4 mm below.
- 主体 (7.3): title 2号小标宋 centred two lines under the rule, broken where the words allow;
  主送机关 one line under it, no indent; body 3号仿宋 with a two-character first-line indent;
  headings 一、 in 黑体 and （一） in 楷体; 附件说明 one line under the text ("附件：1．…", left
  space two characters, later lines aligned under the first name); 落款 one line under that, two
  characters from the right, 成文日期 under it starting two characters to the right of the
  signer's first character (7.3.5.2: the signer moves left when the date is longer); 附件 each on
  a new page, "附件1" in 黑体 at the top left and its title centred.
- 版记 (7.4): 抄送 and 印发机关/印发日期 in 4号仿宋 between a thick rule, a thin rule and a
  thick rule, at the foot of the last page (a table anchored to the bottom margin).
- 页码 (7.5): 4号 宋体 "— 1 —", its 一字线 7 mm below the text block, odd pages on the right and
  even pages on the left, one character in from the edge of the text block.
Fonts are named, not embedded (Word documents never embed them in practice): 方正小标宋简体,
仿宋, 黑体, 楷体, 宋体 — the names on Chinese Windows desktops; elsewhere the application
substitutes (scripts/ensure-report-tools.sh maps them to the Fandol faces for LibreOffice).
Document properties name the office as author and carry the provenance (content hash, job run,
settings and definitions versions), which the text itself never shows.
"""

from __future__ import annotations

import datetime as dt
import io
import re

from docx import Document
from docx.enum.section import WD_ORIENT
from docx.enum.table import WD_TABLE_ALIGNMENT
from docx.enum.text import WD_ALIGN_PARAGRAPH, WD_BREAK, WD_LINE_SPACING, WD_TAB_ALIGNMENT
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor, Twips

from metrics.bulletin import text as tx
from metrics.bulletin.model import Bulletin, Section, Table
from reports.charts import chart_png
from reports.formatting import doc_columns, doc_rows, is_numeric
from reports.layout import column_widths, text_em

TITLE_FONT = "方正小标宋简体"
BODY_FONT = "仿宋"
H1_FONT = "黑体"
H2_FONT = "楷体"
NUMBER_FONT = "宋体"
LATIN_FONT = "Times New Roman"
RED = RGBColor(0xC0, 0x00, 0x00)

PAGE_MM = (210, 297)
MARGINS_MM = {"top": 37, "bottom": 35, "left": 28, "right": 26}
TEXT_MM = (PAGE_MM[0] - MARGINS_MM["left"] - MARGINS_MM["right"],
           PAGE_MM[1] - MARGINS_MM["top"] - MARGINS_MM["bottom"])  # 156 × 225
LINES, CHARS = 22, 28
BODY_PT = 16  # 3号
LINE_PITCH_TWIPS = int(TEXT_MM[1] / LINES / 25.4 * 1440)  # 578: 22 lines in Word and LibreOffice
CHAR_PITCH_PT = TEXT_MM[0] / CHARS / 25.4 * 72  # 15.79
CHAR_SPACE = round((CHAR_PITCH_PT - BODY_PT) * 4096)  # −849
CONDENSE_TWENTIETHS = -5  # run spacing −0.25 pt: a 15.75 pt pitch, 28 characters fit
GRID_CHAR_PT = BODY_PT + CONDENSE_TWENTIETHS / 20
NUMBER_PT = 14  # 4号
NUMBER_LINE_PT = 16  # exact line height of the page-number paragraph
# the middle of the page-number line (where the 一字线 sits) 7 mm under the text block
FOOTER_MM = MARGINS_MM["bottom"] - 7 - NUMBER_LINE_PT / 2 * 25.4 / 72
BODY_LINE_PT = LINE_PITCH_TWIPS / 20  # 28.9


# Child order of the WordprocessingML elements this module adds to (ECMA-376 Part 1): Word
# refuses a document whose children are out of order ("unreadable content").
ORDER = {
    "w:pPr": ("w:pStyle", "w:keepNext", "w:keepLines", "w:pageBreakBefore", "w:framePr",
              "w:widowControl", "w:numPr", "w:suppressLineNumbers", "w:pBdr", "w:shd", "w:tabs",
              "w:suppressAutoHyphens", "w:kinsoku", "w:wordWrap", "w:overflowPunct",
              "w:topLinePunct", "w:autoSpaceDE", "w:autoSpaceDN", "w:bidi", "w:adjustRightInd",
              "w:snapToGrid", "w:spacing", "w:ind", "w:contextualSpacing", "w:mirrorIndents",
              "w:suppressOverlap", "w:jc", "w:textDirection", "w:textAlignment",
              "w:textboxTightWrap", "w:outlineLvl", "w:divId", "w:cnfStyle", "w:rPr",
              "w:sectPr", "w:pPrChange"),
    "w:rPr": ("w:rStyle", "w:rFonts", "w:b", "w:bCs", "w:i", "w:iCs", "w:caps", "w:smallCaps",
              "w:strike", "w:dstrike", "w:outline", "w:shadow", "w:emboss", "w:imprint",
              "w:noProof", "w:snapToGrid", "w:vanish", "w:webHidden", "w:color", "w:spacing",
              "w:w", "w:kern", "w:position", "w:sz", "w:szCs", "w:highlight", "w:u", "w:effect",
              "w:bdr", "w:shd", "w:fitText", "w:vertAlign", "w:rtl", "w:cs", "w:em", "w:lang",
              "w:eastAsianLayout", "w:specVanish", "w:oMath"),
    "w:tblPr": ("w:tblStyle", "w:tblpPr", "w:tblOverlap", "w:bidiVisual",
                "w:tblStyleRowBandSize", "w:tblStyleColBandSize", "w:tblW", "w:jc",
                "w:tblCellSpacing", "w:tblInd", "w:tblBorders", "w:shd", "w:tblLayout",
                "w:tblCellMar", "w:tblLook", "w:tblCaption", "w:tblDescription"),
    "w:sectPr": ("w:headerReference", "w:footerReference", "w:footnotePr", "w:endnotePr",
                 "w:type", "w:pgSz", "w:pgMar", "w:paperSrc", "w:pgBorders", "w:lnNumType",
                 "w:pgNumType", "w:cols", "w:formProt", "w:vAlign", "w:noEndnote", "w:titlePg",
                 "w:textDirection", "w:bidi", "w:rtlGutter", "w:docGrid", "w:printerSettings",
                 "w:sectPrChange"),
}


def _put(parent, el, order: str):
    """Insert `el` into `parent` where the schema puts it, replacing one of the same tag."""
    seq = ORDER[order]
    tag = el.tag
    for old in parent.findall(tag):
        parent.remove(old)
    after = {qn(t) for t in seq[seq.index(_prefixed(tag)) + 1:]}
    for i, child in enumerate(parent):
        if child.tag in after:
            parent.insert(i, el)
            return el
    parent.append(el)
    return el


def _prefixed(tag: str) -> str:
    return "w:" + tag.split("}", 1)[1]


def _fonts(run, name: str, size: float, bold: bool = False, color: RGBColor | None = None,
           latin: str | None = None) -> None:
    run.font.name = latin or name
    run.font.size = Pt(size)
    run.font.bold = bold
    if color is not None:
        run.font.color.rgb = color
    rpr = run._element.get_or_add_rPr()
    fonts = rpr.find(qn("w:rFonts"))
    if fonts is None:
        fonts = _put(rpr, OxmlElement("w:rFonts"), "w:rPr")
    for attr in ("w:ascii", "w:hAnsi"):
        fonts.set(qn(attr), latin or name)
    fonts.set(qn("w:eastAsia"), name)


def _snap(paragraph, on: bool) -> None:
    el = OxmlElement("w:snapToGrid")
    el.set(qn("w:val"), "1" if on else "0")
    _put(paragraph._p.get_or_add_pPr(), el, "w:pPr")


def _condense(run) -> None:
    """Characters at the grid's pitch: 16 pt − 0.25 pt, 28 to a 156 mm line."""
    el = OxmlElement("w:spacing")
    el.set(qn("w:val"), str(CONDENSE_TWENTIETHS))
    _put(run._element.get_or_add_rPr(), el, "w:rPr")


def _para(doc, text: str = "", font: str = BODY_FONT, size: float = BODY_PT, align=None,
          indent_chars: float = 2, bold: bool = False, color: RGBColor | None = None,
          grid: bool = True, exact_pt: float | None = None):
    """A paragraph. Body text (`grid`) is set exactly on the document grid — one line every
    28.95 pt, characters every 15.75 pt — by its own line spacing and character spacing
    rather than by snapping: Word shows it the same either way, and LibreOffice, which lays
    a linesAndChars grid out as a square-page grid, spaces snapped characters far apart."""
    p = doc.add_paragraph()
    fmt = p.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(exact_pt) if exact_pt is not None else Twips(LINE_PITCH_TWIPS)
    _snap(p, False)
    if indent_chars:
        fmt.first_line_indent = Pt(GRID_CHAR_PT * indent_chars)
    if align is not None:
        p.alignment = align
    if text:
        run = p.add_run(text)
        _fonts(run, font, size, bold, color, LATIN_FONT if font == BODY_FONT else None)
        if grid and exact_pt is None and size == BODY_PT:
            _condense(run)
    return p


def _page_number_footer(footer, odd: bool) -> None:
    p = footer.paragraphs[0]
    p.alignment = WD_ALIGN_PARAGRAPH.RIGHT if odd else WD_ALIGN_PARAGRAPH.LEFT
    fmt = p.paragraph_format
    fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
    fmt.line_spacing = Pt(NUMBER_LINE_PT)
    fmt.space_before = fmt.space_after = Pt(0)
    if odd:  # one character in from the text block's edge
        fmt.right_indent = Pt(NUMBER_PT)
    else:
        fmt.left_indent = Pt(NUMBER_PT)
    _snap(p, False)
    _fonts(p.add_run("— "), NUMBER_FONT, NUMBER_PT)
    run = p.add_run()
    _fonts(run, NUMBER_FONT, NUMBER_PT)
    for kind, text in (("begin", None), (None, "PAGE"), ("end", None)):
        if kind:
            el = OxmlElement("w:fldChar")
            el.set(qn("w:fldCharType"), kind)
        else:
            el = OxmlElement("w:instrText")
            el.set(qn("xml:space"), "preserve")
            el.text = text
        run._element.append(el)
    _fonts(p.add_run(" —"), NUMBER_FONT, NUMBER_PT)


def _border(paragraph, side: str, size_eighths: int, space_pt: int, color: str) -> None:
    ppr = paragraph._p.get_or_add_pPr()
    border = ppr.find(qn("w:pBdr"))
    if border is None:
        border = _put(ppr, OxmlElement("w:pBdr"), "w:pPr")
    el = OxmlElement(f"w:{side}")
    for k, v in (("w:val", "single"), ("w:sz", str(size_eighths)), ("w:space", str(space_pt)),
                 ("w:color", color)):
        el.set(qn(k), v)
    border.append(el)


def _grid(section) -> None:
    grid = OxmlElement("w:docGrid")
    grid.set(qn("w:type"), "linesAndChars")
    grid.set(qn("w:linePitch"), str(LINE_PITCH_TWIPS))
    grid.set(qn("w:charSpace"), str(CHAR_SPACE))
    _put(section._sectPr, grid, "w:sectPr")


def _repeat_header(row) -> None:
    trpr = row._tr.get_or_add_trPr()
    el = OxmlElement("w:tblHeader")
    el.set(qn("w:val"), "true")
    trpr.append(el)


def _twips(mm: float) -> str:
    return str(round(mm / 25.4 * 1440))


def _fixed_widths(t, widths_mm: tuple[float, ...]) -> None:
    """Fixed layout with the given column widths (Word and LibreOffice honour tcW/gridCol)."""
    tbl = t._tbl
    tblpr = tbl.tblPr
    layout = OxmlElement("w:tblLayout")
    layout.set(qn("w:type"), "fixed")
    _put(tblpr, layout, "w:tblPr")
    width = tblpr.find(qn("w:tblW"))
    if width is None:
        width = _put(tblpr, OxmlElement("w:tblW"), "w:tblPr")
    width.set(qn("w:w"), _twips(sum(widths_mm)))
    width.set(qn("w:type"), "dxa")
    margins = OxmlElement("w:tblCellMar")
    for side, mm in (("top", 0.5), ("left", 1.2), ("bottom", 0.5), ("right", 1.2)):
        el = OxmlElement(f"w:{side}")
        el.set(qn("w:w"), _twips(mm))
        el.set(qn("w:type"), "dxa")
        margins.append(el)
    _put(tblpr, margins, "w:tblPr")
    for col, w in zip(tbl.tblGrid.findall(qn("w:gridCol")), widths_mm, strict=True):
        col.set(qn("w:w"), _twips(w))
    for row in t.rows:
        for cell, w in zip(row.cells, widths_mm, strict=True):
            cell.width = Mm(w)


def _cell_text(cell, text: str, font: str, size: float, align) -> None:
    p = cell.paragraphs[0]
    p.alignment = align
    fmt = p.paragraph_format
    fmt.space_before = fmt.space_after = Pt(0)
    fmt.line_spacing_rule = WD_LINE_SPACING.SINGLE
    _snap(p, False)
    _fonts(p.add_run(text), font, size, latin=LATIN_FONT if font == BODY_FONT else None)


def _table(doc, table: Table) -> None:
    cols = doc_columns(table)
    header = [table.columns[j].zh for j in cols]
    values = doc_rows(table)
    numeric = [is_numeric(table, j) for j in cols]
    layout = column_widths(header, values, numeric, TEXT_MM[0])
    size = layout.font_pt
    _para(doc, table.title, H1_FONT, 12, WD_ALIGN_PARAGRAPH.CENTER, 0, grid=False, exact_pt=22)
    # all rows at once: python-docx's add_row re-reads the grid and is slow for long tables
    t = doc.add_table(rows=1 + max(len(values), 1), cols=len(cols))
    t.style = "Table Grid"
    t.alignment = WD_TABLE_ALIGNMENT.CENTER
    _fixed_widths(t, layout.widths_mm)
    rows = list(t.rows)
    _repeat_header(rows[0])
    for cell, text in zip(rows[0].cells, header, strict=True):
        _cell_text(cell, text, H1_FONT, size, WD_ALIGN_PARAGRAPH.CENTER)
    for i, texts in enumerate(values):
        for k, (cell, text) in enumerate(zip(rows[i + 1].cells, texts, strict=True)):
            num = table.fmt_of(i, cols[k]) != "text"
            _cell_text(cell, text, BODY_FONT, size,
                       WD_ALIGN_PARAGRAPH.RIGHT if num else WD_ALIGN_PARAGRAPH.LEFT)
    if not values:
        cells = rows[1].cells
        merged = cells[0].merge(cells[-1])
        _cell_text(merged, "本期无", BODY_FONT, size, WD_ALIGN_PARAGRAPH.CENTER)
    if table.note:
        _para(doc, "注：" + table.note, BODY_FONT, 10.5, indent_chars=0, grid=False, exact_pt=16)


HEADING2 = re.compile(r"^（[一二三四五六七八九十]+）[^。；]*$")


def _body(doc, b: Bulletin) -> None:
    for n, sec in enumerate(b.sections, start=1):
        _para(doc, f"{tx.section_number(n)}、{sec.title}", H1_FONT)
        for text in sec.paragraphs:
            if HEADING2.match(text):
                _para(doc, text, H2_FONT)
            else:
                _para(doc, text, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    # the last paragraph, the 附件说明 and the 落款 stay together (see _signature)
    doc.paragraphs[-1].paragraph_format.keep_with_next = True


def _attachment_note(doc, b: Bulletin) -> None:
    """附件：1．… with later names aligned under the first (7.3.4)."""
    if not b.attachments:
        return
    _para(doc).paragraph_format.keep_with_next = True
    for k, a in enumerate(b.attachments, start=1):
        label = f"{k}．{a.title}"
        if k == 1:
            p = _para(doc, "附件：" + label, indent_chars=0)
            p.paragraph_format.left_indent = Pt(GRID_CHAR_PT * 5)
            p.paragraph_format.first_line_indent = Pt(-GRID_CHAR_PT * 3)
        else:
            p = _para(doc, label, indent_chars=0)
            p.paragraph_format.left_indent = Pt(GRID_CHAR_PT * 5)
        p.paragraph_format.keep_with_next = True


def _signature(doc, b: Bulletin) -> None:
    """发文机关署名 two characters from the right; 成文日期 under it, starting two characters
    to the right of the signer's first character (the signer moves left when the date is
    longer) — 7.3.5.2."""
    f = b.frame
    assert f is not None
    date = tx.signing_date(dt.date.fromisoformat(f.issued_on), f.date_style)
    ws, wd = text_em(f.issuer), text_em(date)
    date_right = max(2.0, ws - wd)
    signer_right = date_right + wd + 2 - ws if wd + 2 > ws else 2.0
    _para(doc).paragraph_format.keep_with_next = True
    for text, right in ((f.issuer, signer_right), (date, date_right)):
        p = _para(doc, text, align=WD_ALIGN_PARAGRAPH.RIGHT, indent_chars=0)
        p.paragraph_format.right_indent = Pt(GRID_CHAR_PT * right)
        p.paragraph_format.keep_with_next = text == f.issuer  # a signature never alone


def _attachments(doc, b: Bulletin) -> None:
    for k, a in enumerate(b.attachments, start=1):
        doc.add_paragraph().add_run().add_break(WD_BREAK.PAGE)
        _para(doc, f"附件{k}", H1_FONT, indent_chars=0)
        _para(doc)
        _para(doc, a.title, TITLE_FONT, 22, WD_ALIGN_PARAGRAPH.CENTER, 0, grid=False,
              exact_pt=33)
        _para(doc)
        _attachment_body(doc, a)


def _attachment_body(doc, a: Section) -> None:
    for text in a.paragraphs:
        _para(doc, text, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    for chart in a.charts:
        doc.add_picture(io.BytesIO(chart_png(chart)), width=Mm(150))
        last = doc.paragraphs[-1]
        last.alignment = WD_ALIGN_PARAGRAPH.CENTER
        _snap(last, False)
    for table in a.tables:
        _table(doc, table)


def _imprint(doc, b: Bulletin) -> None:
    """版记 at the foot of the last page: a table anchored to the bottom margin, rules as its
    borders (thick 0.35 mm first and last, thin 0.25 mm between)."""
    f = b.frame
    assert f is not None
    rows = []
    if f.cc:
        rows.append(("cc", f"抄送：{f.cc}"))
    printed = tx.date_zh(dt.date.fromisoformat(f.printed_on or f.issued_on))
    rows.append(("print", (f.printer or f.issuer, f"{printed}印发")))
    t = doc.add_table(rows=len(rows), cols=1)
    tblpr = t._tbl.tblPr
    pos = OxmlElement("w:tblpPr")
    for k, v in (("w:leftFromText", "0"), ("w:rightFromText", "0"), ("w:vertAnchor", "margin"),
                 ("w:horzAnchor", "margin"), ("w:tblpXSpec", "center"),
                 ("w:tblpYSpec", "bottom")):
        pos.set(qn(k), v)
    _put(tblpr, pos, "w:tblPr")
    _fixed_widths(t, (TEXT_MM[0],))
    borders = OxmlElement("w:tblBorders")
    for side, size in (("top", 8), ("bottom", 8), ("insideH", 6)):
        el = OxmlElement(f"w:{side}")
        for k, v in (("w:val", "single"), ("w:sz", str(size)), ("w:space", "0"),
                     ("w:color", "000000")):
            el.set(qn(k), v)
        borders.append(el)
    _put(tblpr, borders, "w:tblPr")
    for row, (kind, content) in zip(t.rows, rows, strict=True):
        cell = row.cells[0]
        p = cell.paragraphs[0]
        fmt = p.paragraph_format
        fmt.line_spacing_rule = WD_LINE_SPACING.EXACTLY
        fmt.line_spacing = Pt(BODY_LINE_PT)
        fmt.space_before = fmt.space_after = Pt(0)
        _snap(p, False)
        if kind == "cc":  # left space one character; later lines under the first name
            fmt.left_indent = Pt(NUMBER_PT * 4)
            fmt.first_line_indent = Pt(-NUMBER_PT * 3)
            _fonts(p.add_run(str(content)), BODY_FONT, NUMBER_PT, latin=LATIN_FONT)
        else:
            printer, date = content
            fmt.left_indent = Pt(NUMBER_PT)
            fmt.right_indent = Pt(NUMBER_PT)
            fmt.tab_stops.add_tab_stop(Mm(TEXT_MM[0] - 2.4) - Pt(NUMBER_PT * 2), WD_TAB_ALIGNMENT.RIGHT)
            _fonts(p.add_run(f"{printer}\t{date}"), BODY_FONT, NUMBER_PT, latin=LATIN_FONT)
    # a document ends with a paragraph, not a table (Word requires it; LibreOffice drops a
    # floating table that ends the body)
    _para(doc, indent_chars=0, exact_pt=1)


def issuer_size(issuer: str) -> float:
    """The 发文机关标志's size in pt: as large as 36 pt while it fits 145 mm on one line."""
    return round(min(36.0, 145 / max(text_em(issuer), 1) / 25.4 * 72), 1)


def _break_title(title: str) -> list[str]:
    """A long title in two lines where the words allow (7.3.1: 回行时词意完整、排列对称)."""
    if text_em(title) <= 18:
        return [title]
    for mark in ("政务服务效能", "情况的通报"):
        k = title.find(mark)
        if 0 < k < len(title) - 2:
            return [title[:k], title[k:]]
    half = len(title) // 2
    return [title[:half], title[half:]]


def render_docx(b: Bulletin, label: str = "", built_at: dt.datetime | None = None) -> bytes:
    f = b.frame
    assert f is not None, "a bulletin built before format 3 has no 公文 frame"
    doc = Document()
    section = doc.sections[0]
    section.orientation = WD_ORIENT.PORTRAIT
    section.page_width, section.page_height = Mm(PAGE_MM[0]), Mm(PAGE_MM[1])
    section.top_margin, section.bottom_margin = Mm(MARGINS_MM["top"]), Mm(MARGINS_MM["bottom"])
    section.left_margin, section.right_margin = Mm(MARGINS_MM["left"]), Mm(MARGINS_MM["right"])
    section.footer_distance = Mm(FOOTER_MM)
    section.header_distance = Mm(15)
    _grid(section)
    doc.settings.odd_and_even_pages_header_footer = True
    _page_number_footer(section.footer, odd=True)
    _page_number_footer(section.even_page_footer, odd=False)
    _defaults(doc)
    _properties(doc, b, built_at or dt.datetime.now().replace(microsecond=0))

    if label:  # a preview is marked as such above the 版头
        _para(doc, f"（{label}）", BODY_FONT, 12, WD_ALIGN_PARAGRAPH.RIGHT, 0, color=RED,
              grid=False, exact_pt=16)
    size = issuer_size(f.issuer)
    head = _para(doc, f.issuer, TITLE_FONT, size, WD_ALIGN_PARAGRAPH.CENTER, 0, color=RED,
                 grid=False, exact_pt=size * 1.2)
    head.paragraph_format.space_before = Mm(35) - Pt(16 if label else 0)
    _para(doc, indent_chars=0)
    number = _para(doc, f.doc_number, align=WD_ALIGN_PARAGRAPH.CENTER, indent_chars=0)
    _border(number, "bottom", 12, 11, "C00000")  # red rule 4 mm under the 文号
    _para(doc, indent_chars=0)
    _para(doc, indent_chars=0)
    title = _para(doc, "", TITLE_FONT, 22, WD_ALIGN_PARAGRAPH.CENTER, 0, grid=False,
                  exact_pt=35)
    for i, line in enumerate(_break_title(b.title)):
        run = title.add_run(line)
        _fonts(run, TITLE_FONT, 22, latin=LATIN_FONT)
        if i < len(_break_title(b.title)) - 1:
            run.add_break()
    _para(doc, indent_chars=0)
    _para(doc, f.recipients, indent_chars=0)
    for text in (*b.correction, *b.opening):
        _para(doc, text, align=WD_ALIGN_PARAGRAPH.JUSTIFY)
    _body(doc, b)
    _attachment_note(doc, b)
    _signature(doc, b)
    _attachments(doc, b)
    _imprint(doc, b)
    buf = io.BytesIO()
    doc.save(buf)
    return buf.getvalue()


def _defaults(doc) -> None:
    """Document defaults of a 公文: 3号仿宋, Chinese, no space after paragraphs. The grid's
    character pitch is counted from the default size, so it must be the body's 16 pt."""
    styles = doc.styles.element
    rpr = styles.find(qn("w:docDefaults")).find(qn("w:rPrDefault")).find(qn("w:rPr"))
    fonts = rpr.find(qn("w:rFonts"))
    for attr in list(fonts.attrib):
        del fonts.attrib[attr]
    for attr, name in (("w:ascii", LATIN_FONT), ("w:hAnsi", LATIN_FONT),
                       ("w:eastAsia", BODY_FONT), ("w:cs", LATIN_FONT)):
        fonts.set(qn(attr), name)
    for tag in ("w:sz", "w:szCs"):
        rpr.find(qn(tag)).set(qn("w:val"), str(BODY_PT * 2))
    lang = rpr.find(qn("w:lang"))
    lang.set(qn("w:val"), "en-US")
    lang.set(qn("w:eastAsia"), "zh-CN")
    spacing = styles.find(qn("w:docDefaults")).find(qn("w:pPrDefault")).find(qn("w:pPr")) \
        .find(qn("w:spacing"))
    spacing.set(qn("w:after"), "0")
    spacing.set(qn("w:line"), "240")
    normal = doc.styles["Normal"]
    normal.font.name, normal.font.size = LATIN_FONT, Pt(BODY_PT)
    normal.element.get_or_add_rPr().get_or_add_rFonts().set(qn("w:eastAsia"), BODY_FONT)


def _properties(doc, b: Bulletin, built_at: dt.datetime) -> None:
    """Title, author = the office, dates of this build; the provenance in the comments; no
    python-docx template leftovers (its 2013 dates, "generated by python-docx", thumbnail)."""
    f = b.frame
    assert f is not None
    p = b.provenance
    core = doc.core_properties
    core.title = b.title
    core.author = core.last_modified_by = f.issuer
    core.subject = f"{f.doc_number} {tx.period_zh(b.period, _month(b))}{b.scope.name}"
    core.keywords = "政务服务效能;通报"
    core.category = "通报"
    core.comments = (f"content_hash={b.content_hash}; job_run={p.get('job_run_id')}; "
                     f"as_of={p.get('as_of')}; settings={p.get('settings_digest')}; "
                     f"definitions={p.get('definitions_version')}; "
                     f"calendar={p.get('calendar_version')}")
    core.created = core.modified = built_at
    core.revision = 1
    core.language = "zh-CN"
    core.identifier = b.content_hash
    core.version = str(p.get("format_version", ""))
    _drop_template_parts(doc, f.issuer)


def _month(b: Bulletin) -> dt.date:
    return dt.date.fromisoformat(b.month + "-01")


def _drop_template_parts(doc, company: str) -> None:
    pkg = doc.part.package
    for rid, rel in list(pkg.rels.items()):
        if rel.reltype.endswith("/thumbnail"):
            del pkg.rels[rid]
        elif rel.reltype.endswith("/extended-properties"):
            rel.target_part._blob = _app_xml(company).encode()


def _app_xml(company: str) -> str:
    from xml.sax.saxutils import escape

    return ('<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
            '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
            'extended-properties" xmlns:vt="http://schemas.openxmlformats.org/officeDocument/'
            '2006/docPropsVTypes"><Application>政务服务效能监测平台</Application>'
            f"<Company>{escape(company)}</Company><DocSecurity>0</DocSecurity>"
            "<ScaleCrop>false</ScaleCrop><LinksUpToDate>false</LinksUpToDate>"
            "<SharedDoc>false</SharedDoc><HyperlinksChanged>false</HyperlinksChanged>"
            "</Properties>")

