"""Reading the log in slices of acceptance months changes nothing in the results.

The full recompute reads cases, their suspensions and reviews one slice at a time to bound its
memory (queries.case_sources). These tests compute the same demo city in one piece and in
slices — from frames, from Parquet files and from a real database (SQLite and PostgreSQL) —
and require identical facts, histograms, cards, 预警 and 营商环境 scores. The demo data has
bundles and project chains that cross slice boundaries, suspensions and reviews, so a bundle
counted twice, a review read twice or lost, or a chain cut in two would show.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from metrics.calendar import WorkCalendar
from metrics.jobs import JOB_CASE_COLUMNS, compute_frames, compute_source, month_range, run_compute
from metrics.settings import Settings
from queries.calendar import official_calendar, seed_official
from queries.case_sources import ParquetSource, plan_slices
from queries.importer import import_frames
from xiaoneng.demo import generate, write_parquet

FIRST, LAST = dt.date(2025, 1, 1), dt.date(2025, 12, 1)
AS_OF = dt.datetime(2025, 12, 20, 18, 0)
MONTHS = month_range(FIRST, LAST)
COMPARED = ("case_facts", "used_days_hist", "review_facts", "cards", "card_facts", "warnings",
            "be_scores", "catalogue_facts")


@pytest.fixture(scope="module")
def demo() -> dict[str, pl.DataFrame]:
    return generate(cases=6000, seed=7, start=FIRST, end=LAST)


@pytest.fixture(scope="module")
def calendar() -> WorkCalendar:
    cal = WorkCalendar.from_frame(official_calendar(2004, 2026))
    return cal.cover(dt.date(2023, 1, 1), dt.date(2028, 1, 1))


@pytest.fixture(scope="module")
def whole(demo, calendar) -> dict[str, pl.DataFrame]:
    return compute_frames(demo, MONTHS, AS_OF, Settings(), calendar)


def _same(a: pl.DataFrame, b: pl.DataFrame, name: str) -> None:
    """Equal rows; integers exactly, floats (营商环境 scores) to 1e-12 relative: a sum of the
    same floats in another order may differ in the last bit."""
    assert a.height == b.height, name
    cols = sorted(a.columns)
    keys = [c for c in cols if not a.schema[c].is_float()]
    a, b = a.select(cols).sort(keys, nulls_last=True), b.select(cols).sort(keys, nulls_last=True)
    assert_frame_equal(a, b, check_exact=False, rel_tol=1e-12, abs_tol=1e-12)


def _check(frames: dict[str, pl.DataFrame], whole: dict[str, pl.DataFrame]) -> None:
    for name in COMPARED:
        _same(frames[name], whole[name], name)


def test_the_demo_crosses_slice_boundaries_with_bundles_and_reviews(demo, whole):
    # Guard the test's own power: the things that could break under slicing are present.
    assert demo["cases"]["bundle_id"].drop_nulls().n_unique() > 10
    assert demo["suspensions"].height > 0 and demo["reviews"].height > 1000
    assert whole["case_facts"]["bundles_started"].sum() > 10
    assert whole["cards"].height > 0 and whole["warnings"].height > 0
    assert whole["be_scores"].height > 0


@pytest.mark.parametrize("months_per_slice", [1, 2, 5])
def test_sliced_frames_equal_the_whole_computation(demo, calendar, whole, months_per_slice):
    frames = compute_frames(demo, MONTHS, AS_OF, Settings(), calendar, months_per_slice)
    _check(frames, whole)


def test_every_case_and_review_is_read_exactly_once(demo, calendar):
    from queries.case_sources import FrameSource

    _, rows = compute_source(FrameSource(demo), MONTHS, AS_OF, Settings(), calendar, 2)
    assert rows["cases"] == demo["cases"].height
    assert rows["reviews"] == demo["reviews"].height
    assert rows["suspensions"] == demo["suspensions"].height


def test_parquet_slices_equal_the_whole_computation(demo, calendar, whole, tmp_path: Path):
    write_parquet(demo, tmp_path)
    # Only the columns the job reads (what the benchmark scans).
    source = ParquetSource(tmp_path, JOB_CASE_COLUMNS)
    frames, rows = compute_source(source, MONTHS, AS_OF, Settings(), calendar, 3)
    assert rows["cases"] == demo["cases"].height
    _check(frames, whole)


def test_full_recompute_from_the_database_reads_slices_and_stores_the_same_facts(
        any_engine, demo, whole):
    seed_official(any_engine, 2024, 2026)
    assert import_frames(any_engine, demo, source="test", progress=False).ok
    result = run_compute(any_engine, None, as_of=AS_OF)
    assert result.input_rows["cases"] == demo["cases"].height
    assert result.input_rows["reviews"] == demo["reviews"].height
    for name in COMPARED:
        got = result.frames[name].filter(pl.col("month").is_in(MONTHS)) \
            if "month" in result.frames[name].columns else result.frames[name]
        _same(got, whole[name], name)


def test_slices_partition_the_key_axis_without_gaps():
    plan = plan_slices(dt.date(2024, 1, 1), dt.date(2024, 12, 1), 5)
    assert [(s.lo, s.hi) for s in plan] == [
        (None, dt.datetime(2024, 6, 1)),
        (dt.datetime(2024, 6, 1), dt.datetime(2024, 11, 1)),
        (dt.datetime(2024, 11, 1), None),
    ]
    assert [(s.lo, s.hi) for s in plan_slices(None, None, 5)] == [(None, None)]
