"""Times of day and working-time arithmetic, vectorised.

Hall work happens in working minutes (08:30–12:00, 13:30–17:30, 450 a day). Positions on a
global "working-minute" axis (working-day index × 450 + minute) make lags such as "accepted
within four working hours" one addition, whatever weekends or holidays lie in between.
"""

from __future__ import annotations

import numpy as np

from xiaoneng.demo.timeline import (
    AFTERNOON_START_S,
    MORNING_MIN,
    MORNING_START_S,
    WORK_MIN,
    Timeline,
)

# Online submissions by hour of day (sums to 1): office hours plus an evening peak.
ONLINE_HOUR_P = np.array([
    0.6, 0.3, 0.2, 0.1, 0.1, 0.2, 0.6, 1.5, 3.5, 6.5, 7.5, 6.5,
    4.0, 4.5, 6.5, 7.0, 6.5, 5.0, 3.5, 4.0, 5.0, 5.0, 3.5, 1.8,
])
ONLINE_HOUR_P = ONLINE_HOUR_P / ONLINE_HOUR_P.sum()
EXTENDED_HOURS_P = 0.03  # window intake at lunch (午间不打烊) or 17:30–18:30 (延时服务)


def minute_to_clock(minute: np.ndarray) -> np.ndarray:
    """Seconds of day of a working minute (0–449)."""
    minute = minute.astype(np.int32)
    return np.where(minute < MORNING_MIN, MORNING_START_S + minute * 60,
                    AFTERNOON_START_S + (minute - MORNING_MIN) * 60).astype(np.int32)


def clock_to_minute_ceil(sec: np.ndarray) -> np.ndarray:
    """First working minute at or after a time of day (450 = after hours: next day)."""
    morning = np.clip(-((MORNING_START_S - sec) // 60), 0, MORNING_MIN)
    afternoon = MORNING_MIN + np.clip(-((AFTERNOON_START_S - sec) // 60), 0, WORK_MIN - MORNING_MIN)
    return np.where(sec < 12 * 3600, morning, afternoon).astype(np.int64)


TABLE_SIZE = 4096


def quantile_table(p: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Inverse-CDF lookup table of a discrete distribution: drawing a uniform index into it
    samples the distribution (to 1/4096), several times faster than Generator.choice."""
    cdf = np.cumsum(p / p.sum())
    pos = np.minimum(np.searchsorted(cdf, (np.arange(TABLE_SIZE) + 0.5) / TABLE_SIZE), len(p) - 1)
    return values[pos]


def beta_table(a: float, b: float) -> np.ndarray:
    """Quantiles of Beta(a, b) on a fine grid (Generator.beta is slow at this scale)."""
    x = (np.arange(100_000) + 0.5) / 100_000
    return quantile_table(x ** (a - 1) * (1 - x) ** (b - 1), x)


def draw(rng: np.random.Generator, table: np.ndarray, n: int) -> np.ndarray:
    """n draws from a quantile table."""
    return table[rng.integers(0, TABLE_SIZE, n, dtype=np.int32)]


# hall-hours busy profile: Beta(1.4, 1.7) over the 450 working minutes
_MINUTES = np.arange(WORK_MIN)
_MID = (_MINUTES + 0.5) / WORK_MIN
_OFFICE_CLOCK = quantile_table(_MID ** 0.4 * (1 - _MID) ** 0.7, minute_to_clock(_MINUTES))
_ONLINE_HOUR = quantile_table(ONLINE_HOUR_P, np.arange(24, dtype=np.int32))


def office_clock(rng: np.random.Generator, n: int) -> np.ndarray:
    """Times of day within hall hours, busier mid-morning and mid-afternoon."""
    r = rng.integers(0, TABLE_SIZE * 60, n, dtype=np.int32)
    return (_OFFICE_CLOCK[r // 60] + r % 60).astype(np.int32)


def window_clock(rng: np.random.Generator, n: int) -> np.ndarray:
    """Window intake times: hall hours, a few at lunch or in the evening extension."""
    sec = office_clock(rng, n)
    ext = np.flatnonzero(rng.random(n, dtype=np.float32) < EXTENDED_HOURS_P)
    r = rng.integers(0, 150 * 60, ext.size, dtype=np.int32)  # 90 lunch minutes, 60 evening
    sec[ext] = np.where(r < 90 * 60, 12 * 3600 + r, 17 * 3600 + 30 * 60 + r - 90 * 60)
    return sec


def online_clock(rng: np.random.Generator, n: int) -> np.ndarray:
    """Online submission times: any hour, with the evening peak of mobile use."""
    r = rng.integers(0, TABLE_SIZE * 3600, n, dtype=np.int64)
    return (_ONLINE_HOUR[r // 3600] * 3600 + r % 3600).astype(np.int32)


def advance(tl: Timeline, day: np.ndarray, n: np.ndarray, natural: np.ndarray) -> np.ndarray:
    """Day `n` units after `day`: working days (from a working day) or natural days, clipped
    to the grid. Natural-day results may fall on a rest day."""
    widx = np.minimum(np.maximum(tl.ord[day] - 1 + n, 0), len(tl.work_days) - 1)
    nat = np.minimum(day + n, tl.n_days - 1)
    return np.where(natural, nat, tl.work_days[widx]).astype(np.int32)


def working_position(tl: Timeline, day: np.ndarray, sec: np.ndarray) -> np.ndarray:
    """Global working-minute position at or after (day, time)."""
    work = tl.is_work[day]
    widx = tl.ord[day].astype(np.int64) - work
    return widx * WORK_MIN + np.where(work, clock_to_minute_ceil(sec), 0)


def from_position(tl: Timeline, pos: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(day, seconds of day) of a global working-minute position."""
    widx = np.minimum(pos // WORK_MIN, len(tl.work_days) - 1)
    return tl.work_days[widx], minute_to_clock(pos % WORK_MIN)
