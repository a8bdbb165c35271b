"""The .docx in the form of GB/T 9704-2012, checked by opening the file: page and margins, the
22 × 28 document grid, faces and sizes, the 版头 with 文号, page numbers (4号 宋体 "— n —",
7 mm under the text block, one character in from the edge), 附件说明, 落款 and 成文日期, the
附件 on new pages, the 版记 at the foot of the last page, real column widths and clean document
properties."""

from __future__ import annotations

import datetime as dt
import io
import re
import zipfile

import pytest
from docx import Document
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml.ns import qn
from docx.shared import Pt

from reports.docx_render import render_docx
from reports.layout import text_em

BUILT = dt.datetime(2025, 6, 3, 9, 30)


@pytest.fixture(scope="module")
def docx_bytes(city_bulletin) -> bytes:
    return render_docx(city_bulletin, built_at=BUILT)


@pytest.fixture(scope="module")
def doc(docx_bytes):
    return Document(io.BytesIO(docx_bytes))


def _font(run) -> str:
    return run._element.rPr.rFonts.get(qn("w:eastAsia"))


def _texts(doc) -> list[str]:
    return [p.text for p in doc.paragraphs]


def test_page_margins_and_the_22_by_28_grid(doc):
    s = doc.sections[0]
    mm = lambda v: round(v.mm, 1)  # noqa: E731  (stored in twips)
    assert (mm(s.page_width), mm(s.page_height)) == (210, 297)
    assert tuple(mm(v) for v in (s.top_margin, s.bottom_margin, s.left_margin,
                                 s.right_margin)) == (37, 35, 28, 26)
    grid = s._sectPr.find(qn("w:docGrid"))
    assert grid.get(qn("w:type")) == "linesAndChars"
    pitch_pt = int(grid.get(qn("w:linePitch"))) / 20
    assert int((297 - 37 - 35) / 25.4 * 72 / pitch_pt) == 22
    char_pt = 16 + int(grid.get(qn("w:charSpace"))) / 4096  # against the 16 pt default size
    assert int((210 - 28 - 26) / 25.4 * 72 / char_pt) == 28
    defaults = doc.styles.element.find(qn("w:docDefaults")).find(qn("w:rPrDefault"))
    assert defaults.find(qn("w:rPr")).find(qn("w:sz")).get(qn("w:val")) == "32"
    # body text sits exactly on that grid: one line per pitch, 28 characters a line
    body = next(p for p in doc.paragraphs if p.text.startswith("根据"))
    assert body.paragraph_format.line_spacing == Pt(pitch_pt)
    spacing = body.runs[0]._element.rPr.find(qn("w:spacing"))
    per_char = 16 + int(spacing.get(qn("w:val"))) / 20
    assert int((210 - 28 - 26) / 25.4 * 72 / per_char) == 28
    assert body.paragraph_format.first_line_indent == Pt(2 * per_char)


def test_faces_and_sizes(doc, city_bulletin):
    paras = doc.paragraphs
    head = next(p for p in paras if p.text == city_bulletin.frame.issuer)
    assert _font(head.runs[0]) == "方正小标宋简体" and head.runs[0].font.color.rgb == \
        (0xC0, 0x00, 0x00)
    # its top 35 mm under the text block's top
    assert head.paragraph_format.space_before.mm == pytest.approx(35, abs=0.05)
    title = next(p for p in paras if p.text.replace("\n", "") == city_bulletin.title)
    assert title.alignment == WD_ALIGN_PARAGRAPH.CENTER
    assert {(_font(r), r.font.size) for r in title.runs} == {("方正小标宋简体", Pt(22))}
    h1 = next(p for p in paras if p.text.startswith("一、"))
    assert _font(h1.runs[0]) == "黑体" and h1.runs[0].font.size == Pt(16)
    h2 = next(p for p in paras if re.match(r"^（一）", p.text))
    assert _font(h2.runs[0]) == "楷体"
    body = next(p for p in paras if p.text == city_bulletin.sections[0].paragraphs[0])
    assert _font(body.runs[0]) == "仿宋" and body.runs[0].font.size == Pt(16)


def test_issuing_authority_document_number_and_recipients(doc, city_bulletin):
    texts = _texts(doc)
    f = city_bulletin.frame
    assert re.fullmatch(r".+〔2025〕\d+号", f.doc_number)
    i = texts.index(f.doc_number)
    assert texts.index(f.issuer) < i < texts.index(f.recipients)
    rule = doc.paragraphs[i]._p.pPr.find(qn("w:pBdr")).find(qn("w:bottom"))
    assert rule.get(qn("w:color")) == "C00000"
    assert doc.paragraphs[texts.index(f.recipients)].paragraph_format.first_line_indent is None


def test_page_numbers_are_4hao_song_7mm_under_the_text_block_one_character_in(doc):
    s = doc.sections[0]
    assert doc.settings.odd_and_even_pages_header_footer
    for footer, align in ((s.footer, WD_ALIGN_PARAGRAPH.RIGHT),
                          (s.even_page_footer, WD_ALIGN_PARAGRAPH.LEFT)):
        p = footer.paragraphs[0]
        assert p.alignment == align
        fmt = p.paragraph_format
        inset = fmt.right_indent if align == WD_ALIGN_PARAGRAPH.RIGHT else fmt.left_indent
        assert inset == Pt(14)  # one 4号 character
        assert {(_font(r), r.font.size) for r in p.runs} == {("宋体", Pt(14))}
        assert p.text.startswith("— ") and p.text.endswith(" —")
        assert "PAGE" in p._p.xml
        # the middle of the number's line (the 一字线) 7 mm under the 35 mm bottom margin
        middle = s.footer_distance.mm + fmt.line_spacing.pt / 2 * 25.4 / 72
        assert middle == pytest.approx(35 - 7, abs=0.05)


def test_attachment_note_signature_and_date(doc, city_bulletin):
    texts = _texts(doc)
    f = city_bulletin.frame
    first = texts.index("附件：1．" + city_bulletin.attachments[0].title)
    for k, a in enumerate(city_bulletin.attachments[1:], start=2):
        assert texts[first + k - 1] == f"{k}．{a.title}"
    sign = texts.index(f.issuer, first)  # 落款 after the 附件说明
    assert texts[sign + 1] == "2025年6月3日"  # 成文日期, Arabic numerals (GB/T 9704-2012)
    signer, date = doc.paragraphs[sign], doc.paragraphs[sign + 1]
    assert signer.alignment == date.alignment == WD_ALIGN_PARAGRAPH.RIGHT
    # the date starts two characters right of the signer's first character
    char = 15.75
    signer_left = 28 * char - signer.paragraph_format.right_indent.pt - text_em(f.issuer) * char
    date_left = 28 * char - date.paragraph_format.right_indent.pt - text_em(texts[sign + 1]) * char
    assert date_left - signer_left == pytest.approx(2 * char, abs=0.5)
    assert date.paragraph_format.right_indent.pt >= 2 * char - 0.5


def test_attachments_start_on_new_pages_after_the_signature(doc, city_bulletin):
    texts = _texts(doc)
    sign = texts.index(city_bulletin.frame.issuer, texts.index("附件：1．" + city_bulletin
                                                               .attachments[0].title))
    for k, a in enumerate(city_bulletin.attachments, start=1):
        i = texts.index(f"附件{k}")
        assert i > sign and a.title in texts[i:i + 4]
        assert 'w:type="page"' in doc.paragraphs[i - 1]._p.xml
        assert _font(doc.paragraphs[i].runs[0]) == "黑体"


def test_imprint_is_at_the_foot_of_the_last_page(doc, city_bulletin):
    f = city_bulletin.frame
    imprint = doc.tables[-1]
    cells = [r.cells[0].text for r in imprint.rows]
    assert cells[0] == f"抄送：{f.cc}" and f.cc.endswith("。")
    assert cells[1] == f"{f.printer}\t2025年6月3日印发"
    pos = imprint._tbl.tblPr.find(qn("w:tblpPr"))
    assert (pos.get(qn("w:vertAnchor")), pos.get(qn("w:tblpYSpec"))) == ("margin", "bottom")
    borders = imprint._tbl.tblPr.find(qn("w:tblBorders"))
    sizes = {side: int(borders.find(qn(f"w:{side}")).get(qn("w:sz")))
             for side in ("top", "bottom", "insideH")}
    assert sizes["top"] == sizes["bottom"] > sizes["insideH"]  # thick, thin, thick
    assert all(_font(r) == "仿宋" and r.font.size == Pt(14)
               for row in imprint.rows for p in row.cells[0].paragraphs for r in p.runs)


def test_tables_have_real_widths_and_readable_sizes(doc, city_bulletin):
    for t in doc.tables[:-1]:
        grid = [int(c.get(qn("w:w"))) / 1440 * 25.4 for c in t._tbl.tblGrid.findall(
            qn("w:gridCol"))]
        assert sum(grid) == pytest.approx(156, abs=0.5)
        assert t._tbl.tblPr.find(qn("w:tblLayout")).get(qn("w:type")) == "fixed"
        sizes = {r.font.size.pt for row in t.rows for c in row.cells for p in c.paragraphs
                 for r in p.runs}
        assert min(sizes) >= 9
        size = min(sizes)
        # every cell's longest unbreakable token fits its column (no 10 mm columns)
        for row in t.rows[1:]:
            for cell, width in zip(row.cells, grid, strict=True):
                text = cell.text
                if re.fullmatch(r"[\d,.%+\-—]+", text):
                    assert text_em(text) * size * 25.4 / 72 <= width - 2.3, (text, width)
    unit = doc.tables[1].columns[0].cells  # 县（市、区） names: one line each
    width = int(doc.tables[1]._tbl.tblGrid.findall(qn("w:gridCol"))[0].get(qn("w:w"))) \
        / 1440 * 25.4
    assert all(text_em(c.text) * 10.5 * 25.4 / 72 <= width for c in unit[1:])


def test_document_properties_name_the_office_and_this_build(docx_bytes, doc, city_bulletin):
    core = doc.core_properties
    assert core.title == city_bulletin.title
    assert core.author == core.last_modified_by == city_bulletin.frame.issuer
    assert core.created.replace(tzinfo=None) == core.modified.replace(tzinfo=None) == BUILT
    assert city_bulletin.content_hash in core.comments  # provenance lives here, not in the text
    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as z:
        names = z.namelist()
        props = b"".join(z.read(n) for n in names if n.startswith("docProps/"))
    assert not any("thumbnail" in n for n in names)
    assert b"python-docx" not in props and b"2013-12-23" not in props
    assert "政务服务效能监测平台".encode() in props
    body = "".join(_texts(doc))
    assert city_bulletin.content_hash not in body and "hash" not in body


def test_properties_are_in_schema_order_so_word_opens_the_file(docx_bytes):
    """Word refuses ("unreadable content") a document whose property children are out of the
    order ECMA-376 gives; check every pPr, rPr, tblPr and sectPr of the body and footers."""
    from lxml import etree

    from reports.docx_render import ORDER

    with zipfile.ZipFile(io.BytesIO(docx_bytes)) as z:
        parts = [n for n in z.namelist() if n.startswith("word/") and n.endswith(".xml")
                 and ("document" in n or "footer" in n)]
        for name in parts:
            root = etree.fromstring(z.read(name))
            for tag, seq in ORDER.items():
                rank = {qn(t): i for i, t in enumerate(seq)}
                for el in root.iter(qn(tag)):
                    ranks = [rank[c.tag] for c in el if c.tag in rank]
                    assert ranks == sorted(ranks), (name, tag, [c.tag for c in el])
                    unknown = [c.tag for c in el if c.tag not in rank]
                    assert not unknown, (name, tag, unknown)
