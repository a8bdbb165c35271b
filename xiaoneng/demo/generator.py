"""`generate`: the seeded demo city, month by month.

The number of cases per month is drawn once (multinomial over the months' intake volume);
each month is then generated from its own random stream (seed, month), with ids derived
from the month, so months are independent of each other: the result does not depend on the
order they are computed in, and memory stays bounded by one month's temporaries plus the
finished frames.
"""

from __future__ import annotations

import datetime as dt
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import polars as pl

from xiaoneng.demo.agencies import agencies_frame
from xiaoneng.demo.effects import ONLINE_A, ONLINE_B
from xiaoneng.demo.frames import case_frame, review_frame, suspension_frame
from xiaoneng.demo.month import simulate_month
from xiaoneng.demo.regions import regions_frame
from xiaoneng.demo.timeline import Timeline, build_timeline
from xiaoneng.demo.world import World, build_world

PERSON_POOL_SHARE = 0.5  # distinct persons ≈ this share of cases (many apply repeatedly)
ENTERPRISE_POOL_SHARE = 0.06
THREADS_FROM_CASES = 200_000


def month_volumes(tl: Timeline) -> np.ndarray:
    """Expected relative intake per covered month (window and online intensities mixed by
    the month's online share)."""
    share = 1.0 / (1.0 + np.exp(-(ONLINE_A + ONLINE_B * (tl.month_t - 2022.0))))
    out = np.empty(len(tl.months))
    for m in range(len(tl.months)):
        lo, hi = tl.month_start[m], tl.month_start[m + 1]
        out[m] = ((1 - share[m]) * tl.intensity_offline[lo:hi].sum()
                  + share[m] * tl.intensity_online[lo:hi].sum())
    return out


MonthJob = tuple[World, Timeline, int, int, int, int, int, int]


def _month(job: MonthJob) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """One month's frames from its own random stream (seed, 1, month)."""
    world, tl, seed, m, n, case0, persons, enterprises = job
    rng = np.random.default_rng([seed, 1, m])
    yyyymm = tl.months[m].year * 100 + tl.months[m].month
    chunk = simulate_month(
        rng, world, tl, m, n, case0,
        bundle0=yyyymm * 1_000_000,
        chain0=tl.months[m].year * 1_000_000 + tl.months[m].month * 10_000,
        person_pool=persons, enterprise_pool=enterprises,
    )
    return (case_frame(world, chunk.cases, chunk.bundles, chunk.chains),
            suspension_frame(chunk.suspensions),
            review_frame(world, chunk.reviews, yyyymm * 10_000_000))


def generate(cases: int, seed: int, start: dt.date, end: dt.date,
             workers: int | None = None) -> dict[str, pl.DataFrame]:
    """The six contract tables of a seeded demo city (work_calendar is seeded separately).

    `start`/`end` are the first days of the first and last covered months. The same
    arguments always give identical frames (`workers` only changes speed)."""
    if cases < 0:
        raise ValueError("cases must be ≥ 0")
    world: World = build_world()
    tl = build_timeline(start, end)
    vol = month_volumes(tl)
    counts = np.random.default_rng([seed, 0]).multinomial(cases, vol / vol.sum())
    case0 = np.concatenate([[0], np.cumsum(counts)[:-1]])
    persons = max(1_000, int(cases * PERSON_POOL_SHARE))
    enterprises = max(200, int(cases * ENTERPRISE_POOL_SHARE))
    jobs: list[MonthJob] = [
        (world, tl, seed, m, int(counts[m]), int(case0[m]), persons, enterprises)
        for m in range(len(tl.months))
    ]
    if workers is None:  # threads pay off once months are large
        workers = min(2, os.cpu_count() or 1) if cases >= THREADS_FROM_CASES else 1
    if workers > 1 and len(jobs) > 1:
        with ThreadPoolExecutor(workers) as pool:
            parts = list(pool.map(_month, jobs))
    else:
        parts = [_month(j) for j in jobs]
    return {
        "regions": regions_frame(),
        "agencies": agencies_frame(),
        "items": world.cat.frame,
        "cases": pl.concat([p[0] for p in parts], rechunk=False),
        "suspensions": pl.concat([p[1] for p in parts], rechunk=False),
        "reviews": pl.concat([p[2] for p in parts], rechunk=False),
    }
