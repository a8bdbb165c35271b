"""Number formatting for tiles, tables and chart labels.

One place decides how a value reads: shares 0–1 as "85.3%", counts with thousands separators,
working days and scores to one decimal, and a missing value (null, NaN: a zero denominator)
as an explicit "暂无数据" / "no data" — never as 0, which would claim a result nobody measured.
"""

from __future__ import annotations

import math

NO_DATA = {"zh": "暂无数据", "en": "no data"}
PP = {"zh": "个百分点", "en": "pp"}


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def fmt_value(value: float | int | None, fmt: str, lang: str = "zh") -> str:
    """A metric value in its registry format ('int', 'pct', 'days', 'score', 'num')."""
    if is_missing(value):
        return NO_DATA.get(lang, NO_DATA["zh"])
    v = float(value)  # type: ignore[arg-type]
    if fmt == "pct":
        return f"{v * 100:.1f}%"
    if fmt == "int":
        return f"{v:,.0f}"
    if fmt in ("days", "score"):
        return f"{v:,.1f}"
    return f"{v:,.2f}"


def fmt_delta(value: float | int | None, fmt: str, lang: str = "zh") -> str | None:
    """A signed change: percentage points for shares, the value's own unit otherwise.

    None when there is nothing to compare with, so that the tile shows no arrow rather than a
    fake "+0".
    """
    if is_missing(value):
        return None
    v = float(value)  # type: ignore[arg-type]
    if fmt == "pct":
        return f"{v * 100:+.1f} {PP.get(lang, PP['zh'])}"
    if fmt == "int":
        return f"{v:+,.0f}"
    if fmt in ("days", "score"):
        return f"{v:+,.1f}"
    return f"{v:+,.2f}"


def fmt_count(n: float | int | None) -> str:
    return "—" if is_missing(n) else f"{float(n):,.0f}"  # type: ignore[arg-type]


def fmt_target(op: str, value: float, fmt: str, lang: str = "zh") -> str:
    sign = {">=": "≥", "<=": "≤"}.get(op, op)
    return f"{sign} {fmt_value(value, fmt, lang)}"


def meets_target(value: float | None, op: str, target: float) -> bool | None:
    """True / False against the target; None when there is no value to judge."""
    if is_missing(value):
        return None
    # a rate shown as 100.0% may be 0.99996: compare at the displayed precision
    v = round(float(value), 6)  # type: ignore[arg-type]
    return v >= target if op == ">=" else v <= target


def py_map(series, fn, name: str | None = None):
    """`fn` over a Series in Python, as a String Series.

    Used instead of `pl.col(...).map_elements(...)`: a Python function inside a Polars query
    runs on Polars' thread pool and needs the GIL, and with several sessions rendering at once
    (one script thread each) that deadlocks the server (a thread holding the GIL waits for the
    pool while the pool waits for the GIL — seen under bench/bench_load.py).
    """
    import polars as pl

    return pl.Series(name or series.name, [fn(v) for v in series.to_list()], dtype=pl.String)
