"""How the metric job reads its slices: integer case keys that point at the right case, coded
grain, Arrow reads from PostgreSQL equal to the CSV COPY reads, and prefetching that changes
nothing but the timing."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from metrics.jobs import JOB_CASE_COLUMNS
from queries import inputs, schema
from queries.case_sources import (
    CASE_KEY,
    DatabaseSource,
    FrameSource,
    ParquetSource,
    iter_slices,
)
from queries.importer import import_frames
from xiaoneng.demo import generate, write_parquet

FIRST, LAST = dt.date(2025, 1, 1), dt.date(2025, 6, 1)


@pytest.fixture(scope="module")
def demo() -> dict[str, pl.DataFrame]:
    return generate(cases=1500, seed=11, start=FIRST, end=LAST)


def _check_keys(tables: dict[str, pl.DataFrame]) -> None:
    """Every suspension's and review's case_key names the slice's case with its case_id."""
    cases = tables["cases"].select(CASE_KEY, pl.col("case_id").alias("__id"),
                                   pl.col("item_code").cast(pl.String).alias("__item"))
    assert cases[CASE_KEY].is_unique().all()
    assert tables["cases"].schema["agency_code"] == pl.Categorical
    for name in ("suspensions", "reviews"):
        keyed = tables[name].filter(pl.col(CASE_KEY).is_not_null())
        joined = keyed.join(cases, on=CASE_KEY, how="left")
        assert (joined["case_id"] == joined["__id"]).all(), name
    reviews = tables["reviews"].join(cases, on=CASE_KEY, how="left")
    expected_item = reviews["__item"].fill_null("")
    assert (reviews["item_code"].cast(pl.String) == expected_item).all()


@pytest.mark.parametrize("months_per_slice", [0, 2])
def test_frame_and_parquet_slices_key_every_row_to_its_case(demo, tmp_path: Path,
                                                            months_per_slice):
    write_parquet(demo, tmp_path)
    for source in (FrameSource(demo), ParquetSource(tmp_path, JOB_CASE_COLUMNS)):
        slices = list(iter_slices(source, months_per_slice))
        for tables in slices:
            _check_keys(tables)
        assert sum(t["reviews"].height for t in slices) == demo["reviews"].height


def test_prefetched_slices_equal_the_slices_read_in_turn(demo):
    plain = list(iter_slices(FrameSource(demo), 1))
    ahead = list(iter_slices(FrameSource(demo), 1, prefetch=True))
    assert len(plain) == len(ahead) > 3
    for a, b in zip(plain, ahead, strict=True):
        for name in ("cases", "suspensions", "reviews"):
            assert_frame_equal(a[name], b[name])


def test_database_slices_key_every_row_to_its_case(any_engine, demo):
    assert import_frames(any_engine, demo, source="test", progress=False).ok
    for tables in iter_slices(DatabaseSource(any_engine, JOB_CASE_COLUMNS), 2, prefetch=True):
        _check_keys(tables)
        assert set(tables["cases"].columns) == {CASE_KEY, *JOB_CASE_COLUMNS}


def test_arrow_reads_equal_csv_copy_reads_on_postgresql(pg_engine, demo):
    assert inputs.arrow_reads_available()
    assert import_frames(pg_engine, demo, source="test", progress=False).ok
    c = schema.cases.c
    statements = {
        "cases": sa.select(*schema.contract_columns("cases"))
        .where(c.accepted_at < dt.datetime(2025, 3, 1)),
        "suspensions": sa.select(*schema.contract_columns("suspensions")),
        "reviews": sa.select(*schema.contract_columns("reviews")),
        "items": sa.select(*schema.contract_columns("items")),
    }
    for table, stmt in statements.items():
        by_copy = inputs.read_select(pg_engine, stmt, table, method="copy")
        by_arrow = inputs.read_select(pg_engine, stmt, table, method="adbc")
        assert by_copy.height > 0, table
        key = by_copy.columns[0]
        assert_frame_equal(by_arrow.sort(key, nulls_last=True),
                           by_copy.sort(key, nulls_last=True), check_exact=True)
    empty = inputs.read_select(pg_engine, statements["cases"].where(sa.false()), "cases",
                               method="adbc")
    assert empty.height == 0 and empty.schema == inputs.polars_schema("cases")
