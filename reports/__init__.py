"""Renderers of the monthly bulletin: Word (.docx), Excel (.xlsx) and PDF, plus chart images.

Each renderer takes a frozen `metrics.bulletin.Bulletin` and returns bytes; none of them
computes a number. `render(bulletin, formats)` is the one entry point the CLI, the app page
and the publish step use.
"""

from __future__ import annotations

from collections.abc import Iterable

from metrics.bulletin.model import Bulletin

FORMATS: tuple[str, ...] = ("docx", "xlsx", "pdf")


def render(bulletin: Bulletin, formats: Iterable[str] = FORMATS, label: str = "") -> dict[str, bytes]:
    """{format: file bytes} for the requested formats; `label` is the version line (e.g. "第2版")."""
    from queries.errors import XiaonengError

    out: dict[str, bytes] = {}
    for fmt in formats:
        if fmt == "docx":
            from reports.docx_render import render_docx

            out[fmt] = render_docx(bulletin, label)
        elif fmt == "xlsx":
            from reports.xlsx_render import render_xlsx

            out[fmt] = render_xlsx(bulletin, label)
        elif fmt == "pdf":
            from reports.pdf_render import render_pdf

            out[fmt] = render_pdf(bulletin, label)
        else:
            raise XiaonengError(f"unknown format {fmt!r}; formats: {', '.join(FORMATS)}")
    return out


def file_name(bulletin: Bulletin, fmt: str, version: int | None = None) -> str:
    """月度通报_<scope>_<YYYY-MM>[_v<N>].<fmt> — safe on Windows (no ':' in names)."""
    scope = bulletin.scope.key.replace(":", "-")
    suffix = f"_v{version}" if version else ""
    return f"月度通报_{scope}_{bulletin.month}{suffix}.{fmt}"
