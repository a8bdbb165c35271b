"""Suspensions (挂起 / 特别程序): time that does not count against the deadline.

A suspension is placed inside the case's working time: it starts `s` units after acceptance
(s ≤ the case's own working time k) and the remaining k − s units of work happen after it
ends. So a suspension never makes a case late by itself — unless it runs past its approved
length, which is exactly the situation the metrics must catch (time beyond approved_days
counts again). Some cases get a second suspension that overlaps or touches the first, to
exercise interval merging; suspensions still running at the as-of moment stay open.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xiaoneng.demo.clock import advance, office_clock
from xiaoneng.demo.timeline import Timeline

REASONS = ("correction", "hearing", "inspection", "expert_review", "publicity", "other")
# reason probabilities for normal items and for difficult ones (difficulty ≥ 1)
REASON_P_NORMAL = np.array([0.80, 0.01, 0.05, 0.04, 0.06, 0.04])
REASON_P_HARD = np.array([0.55, 0.03, 0.12, 0.18, 0.08, 0.04])
# probability that an accepted case with a deadline is suspended, by item difficulty −1..2
SUSPEND_P = np.array([0.02, 0.05, 0.15, 0.30])
# approved-days choices per reason (-1 = no approved length, all of it is excluded)
APPROVED_CHOICES = {
    "correction": ([-1, 5, 10], [0.55, 0.3, 0.15]),
    "hearing": ([20], [1.0]),
    "inspection": ([10, 15, 20, 30], [0.3, 0.3, 0.2, 0.2]),
    "expert_review": ([15, 20, 30], [0.4, 0.35, 0.25]),
    "publicity": ([5, 7, 10], [0.5, 0.3, 0.2]),
    "other": ([-1], [1.0]),
}
EXCEED_P = 0.15  # share of suspensions with an approved length that run past it
SECOND_P = 0.10  # share of suspended cases with a second, overlapping or touching suspension


@dataclass
class Suspended:
    """Per suspended case: where the work resumes; plus the suspension records."""

    rows: np.ndarray  # row index (into the chunk) of each suspended case
    offset: np.ndarray  # s: units of work done before the first suspension
    resume_day: np.ndarray  # end day of the (merged) suspensions
    resume_sec: np.ndarray
    rec_row: np.ndarray  # one entry per suspension record
    rec_start_day: np.ndarray
    rec_start_sec: np.ndarray
    rec_end_day: np.ndarray
    rec_end_sec: np.ndarray
    rec_reason: np.ndarray
    rec_approved: np.ndarray


def _lengths(rng: np.random.Generator, reason: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(length in units, approved days or -1) for each suspension."""
    n = len(reason)
    approved = np.full(n, -1, np.int32)
    for r, name in enumerate(REASONS):
        sel = np.flatnonzero(reason == r)
        if sel.size:
            values, p = APPROVED_CHOICES[name]
            approved[sel] = rng.choice(np.array(values, np.int32), size=sel.size, p=p)
    free = 1 + np.round(rng.gamma(2.0, 2.0, n)).astype(np.int32)
    exceed = rng.random(n) < EXCEED_P
    within = np.maximum(1, np.round(approved * rng.beta(5.0, 1.5, n))).astype(np.int32)
    over = approved + rng.geometric(0.3, n).astype(np.int32)
    length = np.where(approved < 0, free, np.where(exceed, over, within))
    return length.astype(np.int32), approved


def _to_workday(tl: Timeline, day: np.ndarray, natural: np.ndarray) -> np.ndarray:
    """Natural-day offsets may land on a rest day; paperwork moves to the next working day."""
    return np.where(natural, tl.next_work[np.minimum(day, tl.n_days - 1)], day).astype(np.int32)


def simulate(rng: np.random.Generator, tl: Timeline, rows: np.ndarray, acc_day: np.ndarray,
             acc_sec: np.ndarray, k: np.ndarray, natural: np.ndarray,
             diff: np.ndarray) -> Suspended:
    """Decide which candidate cases are suspended and lay their suspensions out in time.

    All arrays are per candidate (aligned with `rows`)."""
    pick = rng.random(len(rows)) < SUSPEND_P[np.clip(diff + 1, 0, 3)]
    rows, acc_day, acc_sec, k, natural, diff = (
        rows[pick], acc_day[pick], acc_sec[pick], k[pick], natural[pick], diff[pick])
    n = len(rows)
    offset = np.minimum((rng.random(n) * (k + 1)).astype(np.int32), k)
    u = rng.random(n)
    reason = np.where(
        diff >= 1,
        np.searchsorted(np.cumsum(REASON_P_HARD), u, side="right"),
        np.searchsorted(np.cumsum(REASON_P_NORMAL), u, side="right"),
    ).clip(0, len(REASONS) - 1).astype(np.int8)
    length, approved = _lengths(rng, reason)
    start = _to_workday(tl, advance(tl, acc_day, offset, natural), natural)
    end = _to_workday(tl, advance(tl, start, length, natural), natural)
    start_sec = office_clock(rng, n)
    same = start == acc_day
    start_sec = np.where(same, np.minimum(np.maximum(start_sec, acc_sec + 600), 86_399), start_sec)
    end_sec = office_clock(rng, n)

    two = np.flatnonzero(rng.random(n) < SECOND_P)
    off2 = np.maximum(1, length[two] // 2)
    start2 = _to_workday(tl, advance(tl, start[two], off2, natural[two]), natural[two])
    reason2 = np.where(rng.random(two.size) < 0.5, 0,
                       rng.integers(1, len(REASONS), two.size)).astype(np.int8)
    length2, approved2 = _lengths(rng, reason2)
    end2 = _to_workday(tl, advance(tl, start2, length2, natural[two]), natural[two])
    start2_sec = office_clock(rng, two.size)
    end2_sec = office_clock(rng, two.size)

    resume_day = end.copy()
    resume_sec = end_sec.copy()
    later = end2 > end[two]
    resume_day[two[later]] = end2[later]
    resume_sec[two[later]] = end2_sec[later]
    tie = end2 == end[two]
    resume_sec[two[tie]] = np.maximum(end_sec[two[tie]], end2_sec[tie])

    return Suspended(
        rows=rows, offset=offset, resume_day=resume_day, resume_sec=resume_sec,
        rec_row=np.concatenate([rows, rows[two]]),
        rec_start_day=np.concatenate([start, start2]),
        rec_start_sec=np.concatenate([start_sec, start2_sec]),
        rec_end_day=np.concatenate([end, end2]),
        rec_end_sec=np.concatenate([end_sec, end2_sec]),
        rec_reason=np.concatenate([reason, reason2]),
        rec_approved=np.concatenate([approved, approved2]),
    )
