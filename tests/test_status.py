"""The data status every page view reads: exact where cheap, never a scan of a big table."""

from __future__ import annotations

import sqlalchemy as sa

from queries import schema
from queries.calendar import seed_official
from queries.migrate import upgrade
from queries.status import EXACT_COUNT_LIMIT, data_status


def test_an_empty_database_is_empty_with_exact_zero_counts(any_engine):
    upgrade(any_engine)
    s = data_status(any_engine)
    assert s.schema_ready and s.empty
    assert s.table_rows["cases"] == 0 and not s.approximate


def test_a_database_without_schema_says_so(tmp_path):
    s = data_status(sa.create_engine(f"sqlite:///{tmp_path / 'none.db'}"))
    assert not s.schema_ready and s.empty


def test_small_tables_are_counted_exactly(any_engine):
    upgrade(any_engine)
    seed_official(any_engine, 2024, 2024)
    with any_engine.begin() as conn:
        conn.execute(schema.regions.insert(), [
            {"region_code": "330200", "name": "市", "parent_code": None, "level": "city"}])
    s = data_status(any_engine)
    assert s.table_rows["regions"] == 1 and "regions" not in s.approximate
    assert s.table_rows["work_calendar"] == 366 and s.calendar_years == (2024,)


def test_big_analysed_postgresql_tables_use_the_planner_estimate(pg_engine):
    """Above EXACT_COUNT_LIMIT rows the count is pg_class.reltuples (no scan), marked as
    approximate; cases being present is an exact EXISTS either way."""
    upgrade(pg_engine)
    n = EXACT_COUNT_LIMIT + 1000
    with pg_engine.begin() as conn:
        conn.execute(sa.text(
            "INSERT INTO work_calendar (date, is_workday, source) "
            "SELECT DATE '1500-01-01' + g, true, 'test' FROM generate_series(0, :n - 1) g"),
            {"n": n})
        conn.exec_driver_sql("ANALYZE work_calendar")
    s = data_status(pg_engine)
    assert "work_calendar" in s.approximate
    assert abs(s.table_rows["work_calendar"] - n) <= n * 0.02  # an estimate, close to exact
    assert s.empty and "cases" not in s.approximate
