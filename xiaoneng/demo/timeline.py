"""Day grid, working-day arithmetic and intake intensity for the demo period.

Everything about time is precomputed per day (a few thousand rows) so that per-case work is
pure array indexing: `ord` (working days on or before a day), the list of working days, and
the relative intake intensity for window-type and online channels on each day. That keeps the
generator vectorised at tens of millions of cases.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

# Working minutes per working day: 08:30–12:00 and 13:30–17:30 (the usual hall hours).
MORNING_MIN = 210
WORK_MIN = 450
MORNING_START_S = 8 * 3600 + 30 * 60
AFTERNOON_START_S = 13 * 3600 + 30 * 60

US_PER_DAY = 86_400_000_000
EPOCH = dt.date(1970, 1, 1)

# 春节 (lunar new year's day); used for the pre-festival dip and the post-festival catch-up.
LUNAR_NEW_YEAR = {
    2018: dt.date(2018, 2, 16), 2019: dt.date(2019, 2, 5), 2020: dt.date(2020, 1, 25),
    2021: dt.date(2021, 2, 12), 2022: dt.date(2022, 2, 1), 2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10), 2025: dt.date(2025, 1, 29), 2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6), 2028: dt.date(2028, 1, 26), 2029: dt.date(2029, 2, 13),
    2030: dt.date(2030, 2, 3),
}

# Intake shape (documented in docs/demo_data.md).
MONTH_END_WORKDAYS = 5
MONTH_END_FACTOR_OFFLINE = 1.35
MONTH_END_FACTOR_ONLINE = 1.15
SF_PRE_DAYS = 14  # the dip starts this many days before lunar new year
SF_PRE_FACTOR_OFFLINE = 0.6
SF_PRE_FACTOR_ONLINE = 0.7
SF_HOLIDAY_FACTOR_ONLINE = 0.25
SF_POST_DAYS = 14  # catch-up after the holiday ends
SF_POST_FACTOR = 1.12
WEEKEND_FACTOR_ONLINE = 0.45
HOLIDAY_FACTOR_ONLINE = 0.35
WEEKDAY_FACTOR = (1.12, 1.05, 1.0, 0.98, 0.88, 0.8, 0.8)  # Mon..Sun (Sat/Sun = 调休 workdays)
VOLUME_GROWTH = 0.06  # per year


def month_add(d: dt.date, months: int) -> dt.date:
    """First day of the month `months` after d's month."""
    y, m = divmod(d.year * 12 + d.month - 1 + months, 12)
    return dt.date(y, m + 1, 1)


def frac_year(d: dt.date) -> float:
    """Calendar year as a float (2024.5 ≈ 1 July 2024) for smooth trends."""
    return d.year + (d.timetuple().tm_yday - 1) / 365.25


def _workday_flags(first: dt.date, last: dt.date) -> tuple[np.ndarray, np.ndarray]:
    """is_workday and is_holiday (statutory, not plain weekends) per day.

    The official calendar (State Council notices) is used where it exists; other days fall
    back to Monday–Friday, as the product itself does.
    """
    n = (last - first).days + 1
    weekday = (np.arange(n) + first.weekday()) % 7
    is_work = weekday < 5
    is_holiday = np.zeros(n, dtype=bool)
    try:
        from queries.calendar import official_calendar

        cal = official_calendar(first.year, last.year)
    except Exception:  # the calendar package is optional for the generator: fall back
        cal = None
    if cal is not None and cal.height:
        dates = cal["date"].to_numpy().astype("datetime64[D]").astype(np.int64)
        idx = dates - (first - EPOCH).days
        ok = (idx >= 0) & (idx < n)
        idx = idx[ok]
        flags = cal["is_workday"].to_numpy()[ok]
        names = cal["name"].to_list()
        is_work[idx] = flags
        named = np.array([nm is not None for nm in names])[ok]
        is_holiday[idx] = named & ~flags
    return is_work, is_holiday


@dataclass
class Timeline:
    """The day grid from the first covered month to well past the as-of moment."""

    day0: dt.date
    n_days: int  # grid length (covers completions far past the as-of moment)
    n_obs: int  # days up to and including the last covered day
    months: list[dt.date]  # first day of each covered month
    month_start: np.ndarray  # day index of each month's first day (len months + 1)
    is_work: np.ndarray
    is_holiday: np.ndarray
    ord: np.ndarray  # working days on or before each day
    work_days: np.ndarray  # day index of the n-th working day (0-based)
    next_work: np.ndarray  # first working day on or after each day
    prev_work: np.ndarray  # last working day on or before each day (-1 if none)
    intensity_offline: np.ndarray  # relative window intake per day (0 on non-working days)
    intensity_online: np.ndarray  # relative online intake per day
    month_t: np.ndarray  # fractional year at each month's middle

    @property
    def asof_day(self) -> int:
        """Index of the last covered day; the data are "as of" its last second."""
        return self.n_obs - 1

    @property
    def asof_us(self) -> int:
        return int(self.epoch_us(np.array([self.asof_day]), np.array([86_399]))[0])

    def epoch_us(self, day: np.ndarray, seconds: np.ndarray) -> np.ndarray:
        """µs since 1970 (naive local time) for day index + seconds of day."""
        base = (self.day0 - EPOCH).days
        return ((np.asarray(day, np.int64) + base) * US_PER_DAY
                + np.asarray(seconds, np.int64) * 1_000_000)

    def date(self, day: int) -> dt.date:
        return self.day0 + dt.timedelta(days=int(day))


def build_timeline(start: dt.date, end: dt.date, margin_days: int = 1100) -> Timeline:
    """Grid for the months start..end (inclusive) plus a margin for late completions."""
    start = start.replace(day=1)
    end = end.replace(day=1)
    if end < start:
        raise ValueError(f"end month {end} is before start month {start}")
    months: list[dt.date] = []
    m = start
    while m <= end:
        months.append(m)
        m = month_add(m, 1)
    last_obs = month_add(end, 1) - dt.timedelta(days=1)
    n_obs = (last_obs - start).days + 1
    last = last_obs + dt.timedelta(days=margin_days)
    n = (last - start).days + 1
    is_work, is_holiday = _workday_flags(start, last)
    ordv = np.cumsum(is_work).astype(np.int32)
    work_days = np.flatnonzero(is_work).astype(np.int32)
    # next/prev working day via cumulative indices
    nxt_pos = np.minimum(ordv - is_work + 0, len(work_days) - 1)
    next_work = work_days[nxt_pos]
    prev_work = np.where(ordv > 0, work_days[np.maximum(ordv - 1, 0)], -1).astype(np.int32)
    month_start = np.array([(mm - start).days for mm in months] + [n_obs], dtype=np.int32)

    weekday = (np.arange(n) + start.weekday()) % 7
    dates = np.datetime64(start, "D") + np.arange(n)
    year_start = dates.astype("datetime64[Y]")
    t = (year_start.astype(np.int64) + 1970) + (dates - year_start).astype(np.int64) / 365.25
    trend = (1.0 + VOLUME_GROWTH) ** (t - t[0])

    off = np.where(is_work, np.array(WEEKDAY_FACTOR)[weekday], 0.0) * trend
    on = np.where(is_work, np.array(WEEKDAY_FACTOR)[weekday] * 0.9 + 0.1,
                  np.where(is_holiday, HOLIDAY_FACTOR_ONLINE, WEEKEND_FACTOR_ONLINE)) * trend

    # month-end peak: the last N working days of each calendar month
    month_id = dates.astype("datetime64[M]").astype(np.int64)
    for mid in np.unique(month_id):
        wd = np.flatnonzero((month_id == mid) & is_work)
        tail = wd[-MONTH_END_WORKDAYS:]
        off[tail] *= MONTH_END_FACTOR_OFFLINE
        on[tail] *= MONTH_END_FACTOR_ONLINE

    # Spring Festival: dip before, holiday quiet online, catch-up after
    for lny in LUNAR_NEW_YEAR.values():
        li = (lny - start).days
        if li < -60 or li > n + 60:
            continue
        pre = np.arange(max(li - SF_PRE_DAYS, 0), max(min(li, n), 0))
        # the statutory holiday block around lunar new year
        hol = [i for i in range(max(li - 5, 0), min(li + 12, n)) if is_holiday[i]]
        hol_end = max(hol) if hol else li + 6
        off[pre] *= SF_PRE_FACTOR_OFFLINE
        on[pre] *= SF_PRE_FACTOR_ONLINE
        if hol:
            on[np.array(hol)] *= SF_HOLIDAY_FACTOR_ONLINE / HOLIDAY_FACTOR_ONLINE
        post = np.arange(min(hol_end + 1, n), min(hol_end + 1 + SF_POST_DAYS, n))
        off[post] *= SF_POST_FACTOR
        on[post] *= SF_POST_FACTOR

    off[n_obs:] = 0.0
    on[n_obs:] = 0.0
    mid = [frac_year(mm) + 15 / 365.25 for mm in months]
    return Timeline(
        day0=start, n_days=n, n_obs=n_obs, months=months, month_start=month_start,
        is_work=is_work, is_holiday=is_holiday, ord=ordv, work_days=work_days,
        next_work=next_work.astype(np.int32), prev_work=prev_work,
        intensity_offline=off, intensity_online=on, month_t=np.array(mid),
    )
