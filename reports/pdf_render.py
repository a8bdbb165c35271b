"""The bulletin as a PDF laid out like the Word document (GB/T 9704-2012), fonts embedded.

Rendered from HTML by WeasyPrint (PyPI; its text layout uses the system's Pango), which embeds a
subset of every font it uses, so the PDF reads the same on a machine with no Chinese fonts. The
faces (`reports.fonts`): FandolFang for 仿宋, FandolKai for 楷体, FandolHei for 黑体, FandolSong
for the 宋体 page numbers, Noto Serif CJK SC bold for the 小标宋 title — the Word document's
faces, from Debian packages.

The geometry is the Word document's (`reports.docx_render`): A4, a 156 × 225 mm text block,
22 lines of 28 characters (line pitch 225 mm / 22, letter spacing bringing 16 pt characters to
the 15.79 pt pitch), the 版头 35 mm under the top of the text block, page numbers "— n —" in
4号 宋体 with their 一字线 7 mm under the text block and one character in from its edge (right
on odd pages, left on even ones), every 附件 on a new page, the 版记 at the foot of the last
page (a CSS footnote: WeasyPrint sets it at the bottom of the page it falls on). Tables take
their column widths from `reports.layout` (at least 9 pt; numbers and codes never wrap, so no
column overprints the next), and their header rows repeat on each page (thead).
"""

from __future__ import annotations

import base64
import datetime as dt
import html

from metrics.bulletin import text as tx
from metrics.bulletin.model import Bulletin, Table
from reports.charts import chart_png
from reports.docx_render import (
    BODY_LINE_PT,
    BODY_PT,
    CONDENSE_TWENTIETHS,
    GRID_CHAR_PT,
    HEADING2,
    MARGINS_MM,
    NUMBER_LINE_PT,
    NUMBER_PT,
    TEXT_MM,
    _break_title,
    issuer_size,
)
from reports.fonts import font_face_css
from reports.formatting import doc_columns, doc_rows, is_numeric
from reports.layout import breakable, column_widths, text_em

FANG = "'XN FangSong', 'Noto Serif CJK SC', serif"
KAI = "'XN Kai', 'Noto Serif CJK SC', serif"
HEI = "'XN Hei', 'Noto Sans CJK SC', sans-serif"
SONG = "'XN Song', 'Noto Serif CJK SC', serif"
TITLE = "'Noto Serif CJK SC', serif"
SPACING = CONDENSE_TWENTIETHS / 20  # −0.25 pt: 28 characters a line, as in Word
NUMBER_TOP_MM = 7 - NUMBER_LINE_PT / 2 * 25.4 / 72  # the 一字线 7 mm under the text block


def _css() -> str:
    m = MARGINS_MM
    number = (f'content: "— " counter(page) " —"; font-family: {SONG}; '
              f"font-size: {NUMBER_PT}pt; line-height: {NUMBER_LINE_PT}pt; vertical-align: top; "
              f"padding-top: {NUMBER_TOP_MM:.2f}mm;")
    return f"""
{font_face_css()}
@page {{ size: A4; margin: {m['top']}mm {m['right']}mm {m['bottom']}mm {m['left']}mm; }}
@page :right {{ @bottom-right {{ {number} padding-right: {NUMBER_PT}pt; text-align: right; }} }}
@page :left {{ @bottom-left {{ {number} padding-left: {NUMBER_PT}pt; text-align: left; }} }}
@page {{ @footnote {{ margin-top: 0; }} }}
body {{ font-family: {FANG}; font-size: {BODY_PT}pt; line-height: {BODY_LINE_PT:.3f}pt;
        letter-spacing: {SPACING:.3f}pt; margin: 0; }}
p {{ margin: 0; text-indent: {2 * GRID_CHAR_PT:.2f}pt; text-align: justify; }}
.mark {{ color: #c00000; font-size: 12pt; line-height: 16pt; text-align: right;
         text-indent: 0; letter-spacing: 0; }}
.org {{ font-family: {TITLE}; font-weight: bold; color: #c00000; text-align: center;
        letter-spacing: 0; margin-top: 35mm; white-space: nowrap; }}
.docno {{ text-align: center; text-indent: 0; margin-top: {BODY_LINE_PT:.3f}pt;
          border-bottom: 1.1pt solid #c00000; padding-bottom: 4mm;
          margin-bottom: {2 * BODY_LINE_PT - 4 / 25.4 * 72:.2f}pt; }}
h1 {{ font-family: {TITLE}; font-weight: bold; font-size: 22pt; line-height: 35pt;
      text-align: center; margin: 0 0 {BODY_LINE_PT:.3f}pt 0; letter-spacing: 0; }}
.to {{ text-indent: 0; }}
h2 {{ font-family: {HEI}; font-weight: normal; font-size: {BODY_PT}pt; margin: 0;
      text-indent: {2 * GRID_CHAR_PT:.2f}pt; }}
h3 {{ font-family: {KAI}; font-weight: normal; font-size: {BODY_PT}pt; margin: 0;
      text-indent: {2 * GRID_CHAR_PT:.2f}pt; }}
.annex-note {{ margin-top: {BODY_LINE_PT:.3f}pt; }}
.annex-note p {{ text-indent: 0; padding-left: {5 * GRID_CHAR_PT:.2f}pt; }}
.annex-note p.first {{ text-indent: {-3 * GRID_CHAR_PT:.2f}pt; }}
.sign {{ margin-top: {BODY_LINE_PT:.3f}pt; }}
.closing {{ break-inside: avoid; }}
.sign p {{ text-indent: 0; text-align: right; }}
.annex {{ page-break-before: always; }}
.annex .label {{ font-family: {HEI}; text-indent: 0; }}
.annex h1 {{ margin-top: {BODY_LINE_PT:.3f}pt; margin-bottom: {BODY_LINE_PT:.3f}pt; }}
.caption {{ font-family: {HEI}; font-size: 12pt; line-height: 22pt; text-align: center;
            text-indent: 0; letter-spacing: 0; margin-top: 6pt; break-after: avoid; }}
table {{ border-collapse: collapse; margin: 2pt auto 4pt auto; table-layout: fixed;
         letter-spacing: 0; }}
th {{ font-family: {HEI}; font-weight: normal; background: #eeeeee; text-align: center; }}
th, td {{ border: 0.6pt solid #444; padding: 1.5pt 1.2mm; vertical-align: middle; }}
td {{ text-align: left; word-break: break-all; overflow-wrap: anywhere; }}
td.n {{ text-align: right; white-space: nowrap; }}
td.k {{ white-space: nowrap; }}
tr {{ page-break-inside: avoid; }}
.note {{ font-size: 10.5pt; line-height: 16pt; text-indent: 0; letter-spacing: 0; }}
img {{ display: block; margin: 4pt auto; width: 150mm; }}
.imprint {{ float: footnote; font-size: {NUMBER_PT}pt; line-height: {BODY_LINE_PT:.3f}pt;
            letter-spacing: 0; border-top: 1pt solid #000; border-bottom: 1pt solid #000; }}
.imprint::footnote-marker {{ content: none; }}
::footnote-call {{ content: none; }}
.host {{ text-indent: 0; line-height: 0; }}
.imprint .cc {{ display: block; padding-left: {4 * NUMBER_PT}pt; text-indent: {-3 * NUMBER_PT}pt;
                border-bottom: 0.7pt solid #000; text-align: left; }}
.imprint .print {{ display: flex; justify-content: space-between; padding: 0 {NUMBER_PT}pt; }}
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _table_html(table: Table) -> str:
    cols = doc_columns(table)
    header = [table.columns[j].zh for j in cols]
    texts = doc_rows(table)
    layout = column_widths(header, texts, [is_numeric(table, j) for j in cols], TEXT_MM[0])
    colgroup = "".join(f'<col style="width:{w:.2f}mm">' for w in layout.widths_mm)
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for i, values in enumerate(texts):
        cells = "".join(
            f'<td class="{"n" if table.fmt_of(i, j) != "text" else "" if breakable(v) else "k"}"'
            f">{_e(v)}</td>"
            for j, v in zip(cols, values, strict=True))
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(cols)}" style="text-align:center">本期无</td></tr>')
    note = f'<p class="note">注：{_e(table.note)}</p>' if table.note else ""
    style = (f"width:{layout.total_mm:.2f}mm;font-size:{layout.font_pt}pt;"
             f"line-height:{layout.font_pt * 1.35:.1f}pt")
    return (f'<div class="caption">{_e(table.title)}</div><table style="{style}">'
            f'<colgroup>{colgroup}</colgroup><thead><tr>'
            f'{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{note}')


def _paragraphs(texts) -> list[str]:
    return [f"<h3>{_e(p)}</h3>" if HEADING2.match(p) else f"<p>{_e(p)}</p>" for p in texts]


def bulletin_html(b: Bulletin, label: str = "") -> str:
    f = b.frame
    assert f is not None, "a bulletin built before format 3 has no 公文 frame"
    size = issuer_size(f.issuer)
    parts = [f'<div class="mark">（{_e(label)}）</div>' if label else "",
             f'<div class="org" style="font-size:{size:.1f}pt;line-height:{size * 1.2:.1f}pt">'
             f"{_e(f.issuer)}</div>",
             f'<p class="docno">{_e(f.doc_number)}</p>',
             f"<h1>{'<br>'.join(_e(x) for x in _break_title(b.title))}</h1>",
             f'<p class="to">{_e(f.recipients)}</p>',
             *_paragraphs((*b.correction, *b.opening))]
    for n, sec in enumerate(b.sections, start=1):
        parts.append(f"<h2>{tx.section_number(n)}、{_e(sec.title)}</h2>")
        parts += _paragraphs(sec.paragraphs)
    # the last paragraph, the 附件说明 and the 落款 stay together: a signature is never alone
    # on a page (GB/T 9704 §7.3.5)
    closing = parts.pop() if b.sections and b.sections[-1].paragraphs else ""
    parts.append(f'<div class="closing">{closing}')
    if b.attachments:
        items = [f'<p class="{"first" if k == 1 else ""}">{"附件：" if k == 1 else ""}'
                 f"{k}．{_e(a.title)}</p>" for k, a in enumerate(b.attachments, start=1)]
        parts.append(f'<div class="annex-note">{"".join(items)}</div>')
    date = tx.signing_date(dt.date.fromisoformat(f.issued_on), f.date_style)
    ws, wd = text_em(f.issuer), text_em(date)
    date_right = max(2.0, ws - wd)
    signer_right = date_right + wd + 2 - ws if wd + 2 > ws else 2.0
    parts.append(
        f'<div class="sign"><p style="padding-right:{signer_right * GRID_CHAR_PT:.2f}pt">'
        f'{_e(f.issuer)}</p><p style="padding-right:{date_right * GRID_CHAR_PT:.2f}pt">'
        f"{_e(date)}</p></div></div>")
    for k, a in enumerate(b.attachments, start=1):
        parts.append(f'<div class="annex"><p class="label">附件{k}</p><h1>{_e(a.title)}</h1>')
        parts += _paragraphs(a.paragraphs)
        for chart in a.charts:
            data = base64.b64encode(chart_png(chart)).decode()
            parts.append(f'<img src="data:image/png;base64,{data}" alt="{_e(chart.title)}">')
        parts += [_table_html(t) for t in a.tables]
        parts.append("</div>")
    parts.append(_imprint(b))
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>{_e(b.title)}</title><meta name=\"author\" content=\"{_e(f.issuer)}\">"
            f'<meta name="description" content="{_e(_provenance(b))}">'
            f'<meta name="keywords" content="政务服务效能, 通报">'
            f"<style>{_css()}</style></head><body>{''.join(parts)}</body></html>")


def _imprint(b: Bulletin) -> str:
    f = b.frame
    assert f is not None
    printed = tx.date_zh(dt.date.fromisoformat(f.printed_on or f.issued_on))
    cc = f'<span class="cc">抄送：{_e(f.cc)}</span>' if f.cc else ""
    return (f'<p class="host"><span class="imprint">{cc}'
            f'<span class="print"><span>{_e(f.printer or f.issuer)}</span>'
            f"<span>{_e(printed)}印发</span></span></span></p>")


def _provenance(b: Bulletin) -> str:
    p = b.provenance
    return (f"content_hash={b.content_hash}; job_run={p.get('job_run_id')}; "
            f"as_of={p.get('as_of')}; settings={p.get('settings_digest')}; "
            f"definitions={p.get('definitions_version')}")


def render_pdf(b: Bulletin, label: str = "", built_at: dt.datetime | None = None) -> bytes:
    from weasyprint import HTML

    doc = HTML(string=bulletin_html(b, label)).render()
    meta = doc.metadata
    when = (built_at or dt.datetime.now().replace(microsecond=0)).isoformat()
    meta.created = meta.modified = when
    meta.generator = "政务服务效能监测平台"
    return doc.write_pdf()
