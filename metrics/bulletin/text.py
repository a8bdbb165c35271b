"""Numbers into Chinese sentences: every figure in the narrative is formatted here.

The narrative is generated from the numbers (never typed), so a bulletin cannot say "增长"
over a fall. Conventions of Chinese bulletins: counts of 10,000 or more in 万 with one decimal,
shares in % with one decimal, a change of a share in 百分点, a change of a count in %.
"""

from __future__ import annotations

import datetime as dt

ZH_DIGITS = "零一二三四五六七八九十"


def section_number(i: int) -> str:
    """1 → 一, 11 → 十一 (sections rarely exceed ten)."""
    if i <= 10:
        return ZH_DIGITS[i]
    return "十" + (ZH_DIGITS[i - 10] if i > 10 else "")


def count(n: float | None, unit: str = "件") -> str:
    if n is None:
        return "无数据"
    if abs(n) >= 10_000:
        return f"{n / 10_000:.1f}万{unit}"
    return f"{int(round(n)):,}{unit}"


def pct(x: float | None, digits: int = 1) -> str:
    return "无数据" if x is None else f"{x * 100:.{digits}f}%"


def days(x: float | None) -> str:
    return "无数据" if x is None else f"{x:.1f}个工作日"


def score(x: float | None) -> str:
    return "无数据" if x is None else f"{x:.1f}分"


def rel_change(label: str, rel: float | None) -> str:
    """环比增长 4.1% / 环比下降 2.0% / 环比持平 / 环比无可比数据 (for counts)."""
    if rel is None:
        return f"{label}无可比数据"
    if round(rel * 100, 1) == 0:
        return f"{label}持平"
    return f"{label}{'增长' if rel > 0 else '下降'}{abs(rel) * 100:.1f}%"


def pp_change(label: str, diff: float | None) -> str:
    """A change of a share: 环比上升 0.5 个百分点 / 下降 / 持平."""
    if diff is None:
        return f"{label}无可比数据"
    if round(diff * 100, 1) == 0:
        return f"{label}持平"
    return f"{label}{'上升' if diff > 0 else '下降'}{abs(diff) * 100:.1f}个百分点"


def days_change(label: str, diff: float | None) -> str:
    if diff is None:
        return f"{label}无可比数据"
    if round(diff, 1) == 0:
        return f"{label}持平"
    return f"{label}{'增加' if diff > 0 else '减少'}{abs(diff):.1f}个工作日"


def month_zh(month: dt.date) -> str:
    return f"{month.year}年{month.month}月"


def names(items: list[str], limit: int = 0) -> str:
    """A、B、C (a Chinese list), optionally cut with 等."""
    if limit and len(items) > limit:
        return "、".join(items[:limit]) + "等"
    return "、".join(items)
