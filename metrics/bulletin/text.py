"""Numbers into Chinese sentences and table cells: every figure of the bulletin is formatted here.

The narrative is generated from the numbers (never typed), so a bulletin cannot say "增长" over a
fall. The register is that of published Chinese bulletins (连云港, 防城港 monthly 通报):

- shares in % with two decimals (按时办结率97.53%); a change of a share in 百分点, two decimals;
- counts with thousands separators, 10,000 or more in 万 with two decimals (12.35万件);
- working days and scores with one / two decimals;
- a change is computed from the *shown* values (rounded first, then subtracted), so the words
  and the table never disagree: 1.1 against 1.0 is "增加0.1个工作日", never "持平", and "持平"
  is said only when both values print the same. No "-0.00": a value that rounds to zero prints
  without a sign;
- dates as 2026年12月4日 (GB/T 9704-2012 §7.3.5.1: Arabic numerals, no leading zeros) or, where an
  office writes them so, 二〇二六年十二月四日 (`date_numerals`).

`display(value, fmt)` is the one formatter of table cells (Word, PDF, app preview and the
correction notice), so a number reads the same in a sentence and in the table it summarises.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

ZH_DIGITS = "零一二三四五六七八九十"
DASH = "—"
DIGITS: dict[str, int] = {"pct": 2, "pp": 2, "rel": 2, "days": 1, "score": 2, "num": 2}


def section_number(i: int) -> str:
    """1 → 一, 11 → 十一, 20 → 二十 (sections and 工作要求 items)."""
    if i <= 10:
        return ZH_DIGITS[i]
    tens, ones = divmod(i, 10)
    return (ZH_DIGITS[tens] if tens > 1 else "") + "十" + (ZH_DIGITS[ones] if ones else "")


def shown(x: float, digits: int) -> float:
    """`x` as it prints with `digits` decimals (Python's rounding of the binary value, the
    same as the f-string formatting of `fixed`), with no negative zero."""
    v = round(float(x), digits)
    return 0.0 if v == 0 else v


def fixed(x: float, digits: int) -> str:
    """`x` with `digits` decimals and no "-0.00"."""
    return f"{shown(x, digits):.{digits}f}"


def count(n: float | None, unit: str = "件") -> str:
    if n is None:
        return "无数据"
    if abs(n) >= 10_000:
        return f"{fixed(n / 10_000, 2)}万{unit}"
    return f"{int(round(n)):,}{unit}"


def pct(x: float | None, digits: int = DIGITS["pct"]) -> str:
    return "无数据" if x is None else f"{fixed(x * 100, digits)}%"


def days(x: float | None) -> str:
    return "无数据" if x is None else f"{fixed(x, DIGITS['days'])}个工作日"


def score(x: float | None) -> str:
    return "无数据" if x is None else f"{fixed(x, DIGITS['score'])}分"


def points(x: float) -> str:
    """A deduction or a score difference in points (扣2.35分)."""
    return f"{fixed(x, DIGITS['score'])}分"


def shown_diff(cur: float | None, prev: float | None, fmt: str) -> float | None:
    """The change between two values as their printed forms differ, in the values' unit
    (a share's change as a share): None when either is missing."""
    if cur is None or prev is None:
        return None
    if fmt == "pct":
        d = DIGITS["pct"]
        return (shown(cur * 100, d) - shown(prev * 100, d)) / 100
    d = DIGITS.get(fmt, 0) if fmt != "int" else 0
    return shown(cur, d) - shown(prev, d)


def rel_change(label: str, cur: float | None, prev: float | None) -> str:
    """A count against the previous period: 环比增长4.12% / 下降 / 持平 / 无可比数据.

    When the counts differ but the percentage rounds to 0.00 (a large base), the difference
    is given in cases instead of a misleading 持平."""
    if cur is None or prev is None or prev == 0:
        return f"{label}无可比数据"
    if cur == prev:
        return f"{label}持平"
    rel = (cur - prev) / prev
    word = "增长" if rel > 0 else "下降"
    if shown(abs(rel) * 100, DIGITS["rel"]) == 0:
        return f"{label}{'增加' if rel > 0 else '减少'}{count(abs(cur - prev))}"
    return f"{label}{word}{fixed(abs(rel) * 100, DIGITS['rel'])}%"


def pp_change(label: str, cur: float | None, prev: float | None) -> str:
    """A share against the previous period: 环比上升0.25个百分点 / 下降 / 持平 (as printed)."""
    diff = shown_diff(cur, prev, "pct")
    if diff is None:
        return f"{label}无可比数据"
    if diff == 0:
        return f"{label}持平"
    return f"{label}{'上升' if diff > 0 else '下降'}{fixed(abs(diff) * 100, DIGITS['pp'])}个百分点"


def days_change(label: str, cur: float | None, prev: float | None) -> str:
    diff = shown_diff(cur, prev, "days")
    if diff is None:
        return f"{label}无可比数据"
    if diff == 0:
        return f"{label}持平"
    return f"{label}{'增加' if diff > 0 else '减少'}{fixed(abs(diff), DIGITS['days'])}个工作日"


def score_change(diff: float) -> str:
    """A score change as printed: 提高3.50分 / 下降8.00分 / 持平."""
    d = shown(diff, DIGITS["score"])
    if d == 0:
        return "持平"
    return f"{'提高' if d > 0 else '下降'}{fixed(abs(d), DIGITS['score'])}分"


def date_zh(d: dt.date) -> str:
    """2026年12月4日 (GB/T 9704-2012: Arabic numerals, no leading zeros)."""
    return f"{d.year}年{d.month}月{d.day}日"


def datetime_zh(t: dt.datetime) -> str:
    """2026年12月4日18时 / 18时30分 (a data cut-off moment)."""
    clock = f"{t.hour}时" + (f"{t.minute}分" if t.minute else "")
    return date_zh(t.date()) + clock


def _numerals(n: int) -> str:
    return "".join("〇一二三四五六七八九"[int(c)] for c in str(n))


def date_numerals(d: dt.date) -> str:
    """二〇二六年十二月四日: the Chinese-numeral date some offices still sign with."""
    return f"{_numerals(d.year)}年{section_number(d.month)}月{section_number(d.day)}日"


def signing_date(d: dt.date, style: str) -> str:
    """The 成文日期 in the office's style: "arabic" (GB/T 9704-2012) or "chinese"."""
    return date_numerals(d) if style == "chinese" else date_zh(d)


def month_zh(month: dt.date) -> str:
    return f"{month.year}年{month.month}月"


QUARTER_ZH = ("一", "二", "三", "四")


def period_zh(period: str, last_month: dt.date) -> str:
    """2026年9月 / 2026年第三季度 / 2026年 — the period a bulletin covers."""
    if period == "quarter":
        return f"{last_month.year}年第{QUARTER_ZH[(last_month.month - 1) // 3]}季度"
    if period == "year":
        return f"{last_month.year}年"
    return month_zh(last_month)


PREVIOUS_ZH = {"month": "上月", "quarter": "上季度", "year": "上年"}
CHANGE_ZH = {"month": "环比", "quarter": "环比", "year": "同比"}
THIS_ZH = {"month": "本月", "quarter": "本季度", "year": "本年度"}


def names(items: list[str], limit: int = 0) -> str:
    """A、B、C (a Chinese list), optionally cut with 等."""
    if limit and len(items) > limit:
        return "、".join(items[:limit]) + "等"
    return "、".join(items)


def display(value: Any, fmt: str) -> str:
    """A table cell as printed: "—" for no data, shares as 97.53%, changes with their sign."""
    if value is None:
        return DASH
    if isinstance(value, bool) or fmt == "text":
        return str(value)
    v = float(value)
    if fmt == "int":
        return f"{round(v):,}"
    if fmt == "pct":
        return f"{fixed(v * 100, DIGITS['pct'])}%"
    if fmt == "pp":
        s = fixed(v * 100, DIGITS["pp"])
        return ("+" + s if shown(v * 100, DIGITS["pp"]) > 0 else s) + "个百分点"
    if fmt == "rel":
        s = fixed(v * 100, DIGITS["rel"])
        return ("+" + s if shown(v * 100, DIGITS["rel"]) > 0 else s) + "%"
    if fmt.startswith("+"):  # a signed change of days or scores: +0.1, -2.35, 0.0
        d = DIGITS.get(fmt[1:], 2)
        return ("+" if shown(v, d) > 0 else "") + fixed(v, d)
    if fmt in DIGITS:
        return fixed(v, DIGITS[fmt])
    return fixed(v, 2)
