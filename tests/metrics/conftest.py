"""Fixtures for metric tests: the official calendar index built independently of WorkCalendar."""

from __future__ import annotations

import polars as pl
import pytest

from queries.calendar import official_calendar


@pytest.fixture(scope="session")
def cal_index() -> pl.DataFrame:
    """date, is_workday, ord (cumulative working days), ord_nat (day number), 2023–2026."""
    return official_calendar(2023, 2026).with_columns(
        pl.col("is_workday").cast(pl.Int32).cum_sum().alias("ord"),
        pl.int_range(pl.len(), dtype=pl.Int32).alias("ord_nat"),
    )
