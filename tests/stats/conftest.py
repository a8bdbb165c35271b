"""Shared fixtures: one seeded demo city (200,000 cases, the documented seed), clocked once.

Generating and clocking take a few seconds, so the frames are built once per session and
every test reads them without mutation.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from metrics.stats import data
from xiaoneng.demo import generate

DEMO_START, DEMO_END = dt.date(2024, 1, 1), dt.date(2026, 10, 1)
DEMO_CASES, DEMO_SEED = 200_000, 20241


@pytest.fixture(scope="session")
def demo_tables() -> data.Tables:
    return data.from_frames(generate(cases=DEMO_CASES, seed=DEMO_SEED, start=DEMO_START,
                                     end=DEMO_END))


@pytest.fixture(scope="session")
def demo_clock(demo_tables) -> pl.DataFrame:
    return data.clocked(demo_tables, data.month_end_moment(DEMO_END))


@pytest.fixture(scope="session")
def demo_completed(demo_clock) -> pl.DataFrame:
    return data.completed_with_deadline(demo_clock)
