"""The bulletin as a PDF with embedded CJK fonts, laid out like the Word document.

Rendered from HTML by WeasyPrint (PyPI; its text layout uses the system's Pango), which embeds
a subset of every font it uses, so the PDF reads the same on a machine with no Chinese fonts.
The fonts are Noto Serif CJK SC (for 仿宋/小标宋 — no free FangSong face is packaged by
Debian) and Noto Sans CJK SC (for 黑体), from Debian's fonts-noto-cjk, which
`scripts/ensure-report-tools.sh` installs. Page geometry and sizes follow GB/T 9704 as in the
Word version; table header rows repeat on each page (thead), and page numbers are "— n —".
"""

from __future__ import annotations

import base64
import html

from metrics.bulletin.model import Bulletin, Table
from metrics.bulletin.text import section_number
from reports.charts import chart_png
from reports.formatting import doc_columns, doc_rows

SERIF = "'Noto Serif CJK SC', 'Noto Serif CJK', serif"
SANS = "'Noto Sans CJK SC', 'Noto Sans CJK', sans-serif"

CSS = f"""
@page {{
  size: A4; margin: 37mm 26mm 35mm 28mm;
  @bottom-right {{ content: "— " counter(page) " —"; font: 14pt {SERIF}; }}
}}
@page :left {{
  @bottom-right {{ content: none; }}
  @bottom-left {{ content: "— " counter(page) " —"; font: 14pt {SERIF}; }}
}}
body {{ font-family: {SERIF}; font-size: 16pt; line-height: 28pt; }}
.org {{ color: #c00000; font-size: 26pt; font-weight: bold; text-align: center;
        letter-spacing: 4pt; line-height: 36pt; }}
.issue {{ text-align: center; border-bottom: 2pt solid #c00000; padding-bottom: 6pt;
          margin-bottom: 20pt; }}
h1 {{ font-size: 22pt; font-weight: bold; text-align: center; line-height: 34pt; margin: 0; }}
.sub {{ text-align: center; margin: 0 0 14pt 0; }}
h2 {{ font-family: {SANS}; font-size: 16pt; font-weight: normal; margin: 10pt 0 0 0; }}
h3 {{ font-size: 16pt; font-weight: bold; margin: 6pt 0 0 0; }}
p {{ text-indent: 2em; margin: 0; text-align: justify; }}
.caption {{ font-family: {SANS}; font-size: 12pt; text-align: center; margin-top: 8pt;
            line-height: 18pt; }}
table {{ border-collapse: collapse; width: 100%; font-size: 9pt; line-height: 12pt;
         margin: 4pt 0; table-layout: fixed; }}
table.wide {{ font-size: 7pt; line-height: 9pt; }}
th {{ font-family: {SANS}; font-weight: normal; background: #eeeeee; }}
th, td {{ border: 0.6pt solid #444; padding: 1.5pt 2pt; }}
td.n {{ text-align: right; white-space: nowrap; }}
tr {{ page-break-inside: avoid; }}
.note {{ font-size: 10.5pt; line-height: 14pt; text-indent: 0; }}
.hash {{ font-size: 9pt; line-height: 12pt; text-indent: 0; margin-top: 12pt;
         word-break: break-all; }}
img {{ display: block; margin: 4pt auto; width: 150mm; }}
"""


def _e(text: str) -> str:
    return html.escape(text, quote=True)


def _text_width(text: str) -> int:
    """Width of a cell's text in half-em units: CJK characters are full width."""
    return sum(2 if ord(ch) > 0x2E7F else 1 for ch in text)


def _col_widths(header: list[str], rows: list[list[str]]) -> list[float]:
    """Column shares (summing to 100) from the longest text of each column.

    Why: with `table-layout: fixed` WeasyPrint skips measuring every cell's minimum and maximum
    content width (the automatic layout's cost, about half of the PDF's rendering time), so the
    widths are estimated here from the same strings instead: a header may wrap (up to about
    four CJK characters a line), a number may not.
    """
    widths = []
    for j, head in enumerate(header):
        longest = max([_text_width(r[j]) for r in rows] or [0])
        widths.append(max(min(_text_width(head), 8), min(longest, 40), 4) + 2)
    total = sum(widths)
    return [100 * w / total for w in widths]


def _table_html(table: Table) -> str:
    cols = doc_columns(table)
    cls = "wide" if len(cols) > 8 else ""
    header = [table.columns[j].zh for j in cols]
    texts = doc_rows(table)
    colgroup = "".join(f'<col style="width:{w:.2f}%">' for w in _col_widths(header, texts))
    head = "".join(f"<th>{_e(h)}</th>" for h in header)
    body = []
    for i, values in enumerate(texts):
        cells = "".join(
            f'<td class="{"n" if table.fmt_of(i, j) != "text" else ""}">{_e(v)}</td>'
            for j, v in zip(cols, values, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(cols)}">本月无</td></tr>')
    note = f'<p class="note">注：{_e(table.note)}</p>' if table.note else ""
    return (f'<div class="caption">{_e(table.title)}</div><table class="{cls}">'
            f'<colgroup>{colgroup}</colgroup><thead><tr>'
            f'{head}</tr></thead><tbody>{"".join(body)}</tbody></table>{note}')


def bulletin_html(b: Bulletin, label: str = "") -> str:
    year, mon = b.month.split("-")
    parts = [
        '<div class="org">政务服务效能通报</div>',
        f'<div class="issue">{year}年第{int(mon)}期{_e(f"（{label}）") if label else ""}</div>',
        f"<h1>{_e(b.title)}</h1>", f'<div class="sub">（{int(year)}年{int(mon)}月）</div>',
    ]
    for n, sec in enumerate(b.sections, start=1):
        parts.append(f"<h2>{section_number(n)}、{_e(sec.title)}</h2>")
        parts += [f"<p>{_e(p)}</p>" for p in sec.paragraphs]
        for k, chart in enumerate(sec.charts, start=1):
            data = base64.b64encode(chart_png(chart)).decode()
            parts.append(f"<h3>（{section_number(k)}）{_e(chart.title)}</h3>"
                         f'<img src="data:image/png;base64,{data}" alt="{_e(chart.title)}">')
        parts += [_table_html(t) for t in sec.tables]
    parts.append(f'<p class="hash">内容校验码：{b.content_hash}</p>')
    return (f'<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8">'
            f"<title>{_e(b.title)}</title><style>{CSS}</style></head>"
            f"<body>{''.join(parts)}</body></html>")


def render_pdf(b: Bulletin, label: str = "") -> bytes:
    from weasyprint import HTML

    return HTML(string=bulletin_html(b, label)).write_pdf()
