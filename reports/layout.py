"""Table layout shared by the Word and PDF renderers: per-column widths from the content.

Why one function for both: the PDF once drew a case number across the 单位 column next to it
(a fixed 18-digit string in a column sized as a share of the page), and Word gave every column
10.4 mm so that unit names wrapped one character per line. Here every column gets at least the
width of its longest unbreakable text — numbers, percentages, dates and codes never wrap —
text columns share the rest in proportion to their content, and when a table does not fit at
10.5 pt (五号) it is set at 9 pt, the smallest size an official attachment uses. A table that
does not fit at 9 pt either keeps its minimum widths and wraps its text columns harder; the
PDF test checks that no two words on a page overlap.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

PT_MM = 25.4 / 72
SIZES = (10.5, 9.0)  # 五号, then 小五 — never smaller
PAD_MM = 3.0  # cell margins left + right (1.2 mm each in Word and CSS) and the rules
HEADER_LINES = 3  # a header may wrap to this many lines
TEXT_LINES = 2  # a text cell may wrap to this many lines before the table widens it
_UNBREAKABLE = re.compile(r"^[\x20-\x7e—–%‰+\-.,:/]*$")


def text_em(text: str) -> float:
    """Width in em of `text` set in a CJK font: CJK and full-width forms 1 em, ASCII ~0.55."""
    return sum(0.55 if ord(ch) < 0x2E80 and ch not in "—…“”‘’" else 1.0 for ch in text)


def breakable(text: str) -> bool:
    """Whether a cell may wrap: CJK text may break between characters; numbers, codes,
    percentages and signed changes may not."""
    return not _UNBREAKABLE.match(text)


@dataclass(frozen=True)
class Layout:
    font_pt: float
    widths_mm: tuple[float, ...]

    @property
    def total_mm(self) -> float:
        return sum(self.widths_mm)


def _need(header: str, cells: list[str], numeric: bool) -> tuple[float, float, float]:
    """(rigid, minimum, natural) width in em of a column: rigid = its longest text that may
    not wrap, minimum = what it needs wrapping text and header to a few lines."""
    longest = max([text_em(c) for c in cells] or [0.0])
    rigid = max([text_em(c) for c in cells if numeric or not breakable(c)] or [0.0])
    soft = max([text_em(c) for c in cells if not numeric and breakable(c)] or [0.0])
    head = text_em(header)
    minimum = max(rigid, math.ceil(soft / TEXT_LINES), math.ceil(head / HEADER_LINES), 2.0)
    natural = max(longest, head if head <= 4 else math.ceil(head / 2), minimum)
    return rigid, minimum, natural


def column_widths(header: list[str], rows: list[list[str]], numeric: list[bool],
                  total_mm: float) -> Layout:
    """Widths (mm) of a table `total_mm` wide at the largest size of SIZES it fits."""
    needs = [_need(h, [r[j] for r in rows], numeric[j]) for j, h in enumerate(header)]
    for size in SIZES:
        em = size * PT_MM
        rigid = [r * em + PAD_MM for r, _, _ in needs]
        lo = [m * em + PAD_MM for _, m, _ in needs]
        hi = [n * em + PAD_MM for _, _, n in needs]
        if sum(lo) <= total_mm or size == SIZES[-1]:
            break
    if sum(hi) <= total_mm:  # everything on one line: share the spare width by content
        spare = total_mm - sum(hi)
        widths = [w + spare * w / sum(hi) for w in hi]
    elif sum(lo) <= total_mm:  # wrap the longest texts first: every column gets its natural
        # width up to a common cap, found so that the table fills the line exactly
        cap_lo, cap_hi = 0.0, max(hi)
        for _ in range(60):
            cap = (cap_lo + cap_hi) / 2
            if sum(max(lo_, min(h, cap)) for lo_, h in zip(lo, hi, strict=True)) > total_mm:
                cap_hi = cap
            else:
                cap_lo = cap
        widths = [max(lo_, min(h, cap_lo)) for lo_, h in zip(lo, hi, strict=True)]
        widths = [w + (total_mm - sum(widths)) * w / sum(widths) for w in widths]
    else:  # too wide even at the smallest size: rigid columns keep their width, the text
        # columns share what is left (they wrap more); never narrower than two characters
        room = max(total_mm - sum(rigid), 0.0)
        soft = [lo_ - r for lo_, r in zip(lo, rigid, strict=True)]
        floor = 2 * em + PAD_MM
        widths = [max(r + room * s / sum(soft), floor) if s > 0 else r
                  for r, s in zip(rigid, soft, strict=True)] if sum(soft) else rigid
    return Layout(size, tuple(round(w, 2) for w in widths))
