"""The metric job on a real database: facts stored equal the pure computation, reruns are
identical and atomic, each run is recorded, and a failed run leaves the previous facts intact."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from metrics.jobs import month_range, run_compute
from queries import schema
from queries.calendar import seed_official
from queries.importer import import_frames
from tests.metrics.test_oracle import AS_OF, frame, random_log

MONTHS = month_range(dt.date(2025, 1, 1), dt.date(2025, 6, 1))


def _tables(seed: int = 3) -> dict[str, pl.DataFrame]:
    cases, susps = random_log(seed)
    cases = [c for c in cases if c["accepted_at"] >= dt.datetime(2024, 10, 1)]
    ids = {c["case_id"] for c in cases}
    susps = [s for s in susps if s["case_id"] in ids]
    return dict(
        regions=frame("regions", [
            dict(region_code="330200", name="示例市", parent_code=None, level="city"),
            dict(region_code="330201", name="甲区", parent_code="330200", level="county"),
            dict(region_code="330202", name="乙县", parent_code="330200", level="county")]),
        agencies=frame("agencies", [
            dict(agency_code=f"A{i}", name=f"局{i}", region_code="330201" if i < 3 else "330202",
                 sector="市场监管") for i in range(5)]),
        items=frame("items", [
            dict(item_code=f"I{i}", name=f"事项{i}", item_type="licensing", sector="市场监管",
                 statutory_days=20, promised_days=5, limit_unit="working", online_depth=i + 1)
            for i in range(4)]),
        cases=frame("cases", cases),
        suspensions=frame("suspensions", susps),
        reviews=frame("reviews", [
            dict(review_id=f"r{i}", case_id=c["case_id"], agency_code=c["agency_code"],
                 channel="window", rated_at=c["completed_at"] + dt.timedelta(hours=1),
                 level=1 + i % 5, active=True, real_name=True, appeal_upheld=i % 17 == 0)
            for i, c in enumerate(cases) if c["completed_at"] is not None and i % 3 == 0]),
    )


@pytest.fixture
def loaded(any_engine):
    seed_official(any_engine, 2024, 2026)
    report = import_frames(any_engine, _tables(), source="test", progress=False)
    assert report.ok, report.format()
    return any_engine


def _facts(engine, table: str) -> pl.DataFrame:
    t = schema.metadata.tables[table]
    with engine.connect() as conn:
        rows = conn.execute(sa.select(t)).mappings().all()
    df = pl.DataFrame([dict(r) for r in rows], infer_schema_length=None)
    return df.sort(df.columns)


def test_stored_facts_equal_the_computed_frames_and_the_run_is_recorded(loaded):
    result = run_compute(loaded, MONTHS, as_of=AS_OF)
    stored = _facts(loaded, "case_facts")
    computed = result.frames["case_facts"]
    assert stored.height == computed.height > 0
    for m in ("accepted", "completed", "completed_on_time", "used_wd_sum", "in_progress_eom"):
        assert stored[m].sum() == computed[m].sum()
    with loaded.connect() as conn:
        run = conn.execute(sa.select(schema.job_runs)).mappings().one()
    assert run["status"] == "ok" and run["months"] == "2025-01..2025-06"
    assert run["input_rows"]["cases"] == result.input_rows["cases"] > 0
    assert run["settings_hash"] and run["calendar_version"]
    assert run["fallback_years"] == ""  # 2024–2026 are official years


def test_rerunning_a_month_gives_identical_facts(loaded):
    run_compute(loaded, MONTHS, as_of=AS_OF)
    first = {t: _facts(loaded, t) for t in ("case_facts", "review_facts", "cards", "be_scores")}
    run_compute(loaded, MONTHS[2:3], as_of=AS_OF)  # one month incremental, from a window read
    for t, df in first.items():
        assert _facts(loaded, t).equals(df), t


def test_a_failed_run_leaves_the_previous_facts_intact_and_is_recorded(loaded, monkeypatch):
    run_compute(loaded, MONTHS, as_of=AS_OF)
    before = _facts(loaded, "case_facts")
    from queries import facts_store

    real_insert = facts_store._insert

    def failing(conn, table, df):
        if table.name == "cards":
            raise RuntimeError("disk full")
        return real_insert(conn, table, df)

    monkeypatch.setattr(facts_store, "_insert", failing)
    with pytest.raises(RuntimeError):
        run_compute(loaded, MONTHS, as_of=AS_OF)
    assert _facts(loaded, "case_facts").equals(before)
    with loaded.connect() as conn:
        statuses = conn.execute(sa.select(schema.job_runs.c.status)).scalars().all()
    assert sorted(statuses) == ["failed", "ok"]


def test_a_load_and_a_job_leave_planner_statistics_and_a_vacuumed_table_on_postgresql(pg_engine):
    """Without ANALYZE after a bulk write, PostgreSQL plans the dashboard's queries from empty
    statistics (reltuples = -1 means 'never analysed' since PostgreSQL 14)."""
    seed_official(pg_engine, 2024, 2026)
    tables = _tables()
    assert import_frames(pg_engine, tables, source="test", progress=False).ok
    run_compute(pg_engine, MONTHS, as_of=AS_OF)

    def reltuples(name: str) -> float:
        with pg_engine.connect() as conn:
            return conn.execute(sa.text("SELECT reltuples FROM pg_class WHERE relname = :n"),
                                {"n": name}).scalar_one()

    assert reltuples("cases") == tables["cases"].height
    assert reltuples("reviews") == tables["reviews"].height
    with pg_engine.connect() as conn:
        facts = conn.execute(sa.select(sa.func.count()).select_from(schema.case_facts)).scalar()
    assert reltuples("case_facts") == facts > 0
    # VACUUM ran too: the visibility map is set, so reads of the facts can be index-only
    with pg_engine.connect() as conn:
        visible = conn.execute(sa.text(
            "SELECT relallvisible FROM pg_class WHERE relname = 'case_facts'")).scalar_one()
    assert visible > 0
