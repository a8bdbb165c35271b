"""好差评: ratings of completed cases, plus hall-service ratings not tied to a case.

Most ratings are 5 or 4; 差评 (1–2) are rare but several times likelier when the case was
overdue, and much likelier at the agency injected with a high 差评 rate. 差评 carry tags,
a call-back (mostly within one working day) and a rectification (mostly within 15 working
days, some late, some never). A quarter of ratings are system defaults (not active, level 5)
given a few days after completion when the applicant did not rate.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import polars as pl

from xiaoneng.demo.clock import TABLE_SIZE, office_clock, quantile_table
from xiaoneng.demo.effects import BAD_IF_OVERDUE_MULT, REVIEW_LEVEL_P
from xiaoneng.demo.timeline import Timeline

TAGS = ("态度不好", "办事效率低", "材料反复提交", "多次跑腿", "标准不一", "网上办理系统不好用",
        "排队时间长", "告知不清楚", "超时办理", "服务不规范")
TAG_WEIGHTS = np.array([1.0, 1.6, 1.4, 1.0, 0.6, 0.9, 0.8, 1.0, 0.5, 0.5])
TAG_SIZE_P = {1: 0.5, 2: 0.35, 3: 0.15}
TAG_COMBOS: tuple[tuple[int, ...], ...] = tuple(
    c for size in (1, 2, 3) for c in itertools.combinations(range(len(TAGS)), size))
TAG_STRINGS = pl.Series("tags", [";".join(TAGS[i] for i in c) for c in TAG_COMBOS])

REVIEW_P = {"window": 0.72, "online": 0.75, "mobile": 0.78, "self_service": 0.6,
            "mail": 0.4, "assisted": 0.7}
ACTIVE_P = 0.75
CALLBACK_IN_TIME_P = 0.88  # within one working day
CALLBACK_LATE_P = 0.08  # 2–4 working days; the rest never
RECTIFY_IN_TIME_P = 0.80  # within 15 working days
RECTIFY_LATE_P = 0.10  # 16–40 working days; the rest never
APPEAL_UPHELD_P = 0.08  # share of 差评 voided on appeal
NO_CASE_SHARE = 0.08  # hall-service ratings per case rating
DEFAULT_RATING_DAYS = 5  # system default rating this many days after completion
LAST_FOLLOW_UP_S = 17 * 3600  # a 差评 rated later than this is followed up the next working day

CASE_CHANNELS = ("window", "online", "mobile", "self_service", "mail", "assisted")
REVIEW_CHANNELS = ("window", "pad", "online", "mobile", "self_service", "sms", "hotline")
# review channel distribution by case channel
CHANNEL_MAP = {
    "window": [0.55, 0.30, 0, 0, 0, 0.13, 0.02],
    "online": [0, 0, 0.88, 0, 0, 0.10, 0.02],
    "mobile": [0, 0, 0, 0.90, 0, 0.08, 0.02],
    "self_service": [0, 0, 0, 0, 0.85, 0.13, 0.02],
    "mail": [0, 0, 0, 0, 0, 0.85, 0.15],
    "assisted": [0.50, 0.30, 0, 0, 0, 0.18, 0.02],
}
REAL_NAME_P = np.array([0.97, 0.97, 0.99, 0.99, 0.9, 0.9, 0.6])


def _tag_probabilities() -> np.ndarray:
    """[class, combo] probabilities; class bit 0 = overdue case, bit 1 = rude-agency boost."""
    out = np.zeros((4, len(TAG_COMBOS)))
    for cls in range(4):
        w = TAG_WEIGHTS.copy()
        if cls & 1:
            w[TAGS.index("超时办理")] *= 8
            w[TAGS.index("办事效率低")] *= 2
        if cls & 2:
            w[TAGS.index("态度不好")] *= 6
        for size, p in TAG_SIZE_P.items():
            idx = [j for j, c in enumerate(TAG_COMBOS) if len(c) == size]
            raw = np.array([np.prod(w[list(TAG_COMBOS[j])]) for j in idx])
            out[cls, idx] = p * raw / raw.sum()
    return out


TAG_P = _tag_probabilities()


@dataclass
class Ratings:
    """Review rows as arrays (timestamps as day index + seconds; -1 day = null)."""

    case_row: np.ndarray  # row in the chunk's cases, -1 = not tied to a case
    agency: np.ndarray
    channel: np.ndarray
    rated_day: np.ndarray
    rated_sec: np.ndarray
    level: np.ndarray
    active: np.ndarray
    real_name: np.ndarray
    tag_combo: np.ndarray  # -1 = none
    callback_day: np.ndarray
    callback_sec: np.ndarray
    rectified_day: np.ndarray
    rectified_sec: np.ndarray
    appeal_upheld: np.ndarray


def _levels(rng: np.random.Generator, bad_mult: np.ndarray) -> np.ndarray:
    """Five-level ratings with the 差评 share scaled per rating."""
    p_bad = np.minimum((REVIEW_LEVEL_P[1] + REVIEW_LEVEL_P[2]) * bad_mult, 0.6)
    u = rng.random(len(bad_mult), dtype=np.float32)
    p3, p4 = REVIEW_LEVEL_P[3], REVIEW_LEVEL_P[4]
    lvl = np.where(u < p_bad, np.where(u < p_bad * REVIEW_LEVEL_P[1] / (REVIEW_LEVEL_P[1] + REVIEW_LEVEL_P[2]), 1, 2),
                   np.where(u < p_bad + p3, 3, np.where(u < p_bad + p3 + p4, 4, 5)))
    return lvl.astype(np.int8)


def _after_working_days(tl: Timeline, rng: np.random.Generator, day: np.ndarray,
                        sec: np.ndarray, delta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A moment at office hours on the working day whose working-day count is `delta` more
    than the rating day's (as the metrics count it), but never before the first office time
    after the rating: a rating at night or on a rest day is followed up the next working day
    at the earliest."""
    day = np.minimum(day, tl.n_days - 2)
    earliest = tl.next_work[day]
    after_hours = (earliest == day) & (sec >= LAST_FOLLOW_UP_S)
    earliest = np.where(after_hours, tl.next_work[day + 1], earliest)
    idx = np.clip(tl.ord[day] - 1 + delta, 0, len(tl.work_days) - 1)
    out_day = np.maximum(tl.work_days[idx], earliest)
    out_sec = office_clock(rng, len(day))
    same = out_day == day
    out_sec = np.where(same & (out_sec <= sec), sec + rng.integers(600, 1800, len(day)), out_sec)
    return out_day, out_sec.astype(np.int32)


def _follow_up(rng: np.random.Generator, tl: Timeline, r: Ratings) -> None:
    """Call-backs and rectifications for 差评, appeals (computed for 差评 only)."""
    n = len(r.level)
    r.callback_day = np.full(n, -1, np.int32)
    r.callback_sec = np.zeros(n, np.int32)
    r.rectified_day = np.full(n, -1, np.int32)
    r.rectified_sec = np.zeros(n, np.int32)
    r.appeal_upheld = np.zeros(n, bool)
    bad = np.flatnonzero(r.level <= 2)
    m = bad.size
    day, sec = r.rated_day[bad], r.rated_sec[bad]
    u = rng.random(m)
    cb_delta = np.where(u < CALLBACK_IN_TIME_P, rng.integers(0, 2, m), rng.integers(2, 5, m))
    has_cb = r.real_name[bad] & (u < CALLBACK_IN_TIME_P + CALLBACK_LATE_P)
    d, s = _after_working_days(tl, rng, day, sec, cb_delta)
    r.callback_day[bad] = np.where(has_cb, d, -1)
    r.callback_sec[bad] = s
    u = rng.random(m)
    rc_delta = np.where(u < RECTIFY_IN_TIME_P, rng.integers(1, 16, m), rng.integers(16, 41, m))
    has_rc = u < RECTIFY_IN_TIME_P + RECTIFY_LATE_P
    d, s = _after_working_days(tl, rng, day, sec, rc_delta)
    r.rectified_day[bad] = np.where(has_rc, d, -1)
    r.rectified_sec[bad] = s
    r.appeal_upheld[bad] = rng.random(m) < APPEAL_UPHELD_P


# rating lag by review channel: uniform [lo, lo + span) seconds, or exponential(mean) online
_LAG_LO = np.array([30, 30, 0, 0, 30, 3600, 86_400])
_LAG_SPAN = np.array([870, 870, 0, 0, 570, 47 * 3600, 9 * 86_400])
_LAG_EXP_MEAN = np.array([0, 0, 8 * 3600, 6 * 3600, 0, 0, 0])
_CHANNEL_TABLES = np.stack([
    quantile_table(np.array(CHANNEL_MAP[c], float), np.arange(len(REVIEW_CHANNELS), dtype=np.int8))
    for c in CASE_CHANNELS])


def rate_cases(rng: np.random.Generator, tl: Timeline, rows: np.ndarray, agency: np.ndarray,
               channel: np.ndarray, comp_day: np.ndarray, comp_sec: np.ndarray,
               late: np.ndarray, bad_mult: np.ndarray) -> Ratings:
    """Ratings for completed cases (arrays aligned with `rows`)."""
    p_review = np.array([REVIEW_P[c] for c in CASE_CHANNELS])[channel]
    keep = np.flatnonzero(rng.random(len(rows), dtype=np.float32) < p_review)
    rows, agency, channel, comp_day, comp_sec, late = (
        rows[keep], agency[keep], channel[keep], comp_day[keep], comp_sec[keep], late[keep])
    n = len(rows)
    active = rng.random(n, dtype=np.float32) < ACTIVE_P
    mult = bad_mult[agency] * np.where(late, BAD_IF_OVERDUE_MULT, 1.0)
    level = np.where(active, _levels(rng, mult), 5).astype(np.int8)
    rch = _CHANNEL_TABLES[channel, rng.integers(0, TABLE_SIZE, n, dtype=np.int32)]
    u = rng.random(n)
    lag = np.where(_LAG_EXP_MEAN[rch] > 0, -_LAG_EXP_MEAN[rch] * np.log1p(-u),
                   _LAG_LO[rch] + u * _LAG_SPAN[rch])
    lag = np.where(active, lag, DEFAULT_RATING_DAYS * 86_400 + u * 3600).astype(np.int64)
    total = comp_sec.astype(np.int64) + lag
    rated_day = (comp_day + total // 86_400).astype(np.int32)
    rated_sec = (total % 86_400).astype(np.int32)
    real = ~active | (rng.random(n, dtype=np.float32) < REAL_NAME_P[rch])
    r = Ratings(rows.astype(np.int64), agency, rch, rated_day, rated_sec, level, active, real,
                _tags(rng, level, late, bad_mult[agency] > 1), *([np.empty(0)] * 5))
    _follow_up(rng, tl, r)
    return r


def rate_hall(rng: np.random.Generator, tl: Timeline, n: int, month: int,
              agency_p: np.ndarray, bad_mult: np.ndarray) -> Ratings:
    """Hall-service ratings not tied to a case, on working days of one month."""
    lo, hi = tl.month_start[month], tl.month_start[month + 1]
    w = tl.intensity_offline[lo:hi]
    day = (lo + rng.choice(hi - lo, size=n, p=w / w.sum())).astype(np.int32)
    agency = rng.choice(len(agency_p), size=n, p=agency_p).astype(np.int32)
    level = _levels(rng, bad_mult[agency])
    rch = np.where(rng.random(n) < 0.6, 0, 1).astype(np.int8)
    r = Ratings(np.full(n, -1, np.int64), agency, rch, day, office_clock(rng, n), level,
                np.ones(n, bool), rng.random(n) < 0.8,
                _tags(rng, level, np.zeros(n, bool), bad_mult[agency] > 1), *([np.empty(0)] * 5))
    _follow_up(rng, tl, r)
    return r


def _tags(rng: np.random.Generator, level: np.ndarray, late: np.ndarray,
          rude: np.ndarray) -> np.ndarray:
    """Tag combination index for 差评 (-1 for other ratings)."""
    out = np.full(len(level), -1, np.int32)
    cls = late.astype(np.int8) + 2 * rude.astype(np.int8)
    for c in range(4):
        sel = np.flatnonzero((level <= 2) & (cls == c))
        if sel.size:
            out[sel] = rng.choice(len(TAG_COMBOS), size=sel.size, p=TAG_P[c])
    return out
