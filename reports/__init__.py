"""Renderers of the monthly bulletin: Word (.docx), Excel (.xlsx) and PDF, plus chart images.

Each renderer takes a frozen `metrics.bulletin.Bulletin` and returns bytes; none of them
computes a number. `render(bulletin, formats)` is the one entry point the CLI, the app page
and the publish step use.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

from metrics.bulletin.model import Bulletin

FORMATS: tuple[str, ...] = ("docx", "xlsx", "pdf")


def render(bulletin: Bulletin, formats: Iterable[str] = FORMATS, label: str = "",
           built_at: dt.datetime | None = None) -> dict[str, bytes]:
    """{format: file bytes} for the requested formats; `label` marks a preview ("未发布预览");
    `built_at` is the files' creation time in their properties (now)."""
    from queries.errors import XiaonengError

    built_at = built_at or dt.datetime.now().replace(microsecond=0)
    out: dict[str, bytes] = {}
    for fmt in formats:
        if fmt == "docx":
            from reports.docx_render import render_docx

            out[fmt] = render_docx(bulletin, label, built_at)
        elif fmt == "xlsx":
            from reports.xlsx_render import render_xlsx

            out[fmt] = render_xlsx(bulletin, label)
        elif fmt == "pdf":
            from reports.pdf_render import render_pdf

            out[fmt] = render_pdf(bulletin, label, built_at)
        else:
            raise XiaonengError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    return out


KIND_ZH = {"month": "月度通报", "quarter": "季度考核通报", "year": "年度考核通报"}


def file_name(bulletin: Bulletin, fmt: str, version: int | None = None) -> str:
    """月度通报_<scope>_<YYYY-MM>[_v<N>].<fmt> (季度考核通报_… for a quarter) — safe on
    Windows (no ':' in names)."""
    scope = bulletin.scope.key.replace(":", "-")
    suffix = f"_v{version}" if version else ""
    return f"{KIND_ZH.get(bulletin.period, '月度通报')}_{scope}_{bulletin.month}{suffix}.{fmt}"
