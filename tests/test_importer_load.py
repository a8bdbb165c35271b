"""Load behaviour: upsert idempotence, all-or-nothing transactions, COPY on PostgreSQL, frames,
deadlines derived from due_at with the working-day calendar of the same load."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from queries import bulk, schema
from queries.errors import XiaonengError
from queries.importer import import_frames, import_paths
from tests.test_importer_helpers import BASE, CORPUS, assert_reconciles, count, rows, write

GOOD_CASES = CORPUS / "gbk" / "cases.csv"
CONTRACT = ("regions", "agencies", "items", "cases")


def _snapshot(engine: sa.Engine) -> dict[str, list[tuple]]:
    return {t: rows(engine, t) for t in CONTRACT}


def test_importing_the_same_files_twice_changes_nothing(any_engine):
    first = import_paths(any_engine, [BASE, GOOD_CASES], progress=False)
    assert_reconciles(any_engine, first)
    before = _snapshot(any_engine)

    second = import_paths(any_engine, [BASE, GOOD_CASES], progress=False)
    assert_reconciles(any_engine, second)
    for name, c in second.tables.items():
        assert (c.inserted, c.updated, c.unchanged) == (0, 0, first.tables[name].inserted), name
    assert _snapshot(any_engine) == before


def test_a_changed_row_is_updated_and_the_rest_left_unchanged(any_engine, tmp_path):
    import_paths(any_engine, [BASE, GOOD_CASES], progress=False)
    changed = GOOD_CASES.read_bytes().decode("gbk").replace("掌上办", "窗口")
    path = write(tmp_path / "cases.csv", changed, encoding="gbk")
    report = import_paths(any_engine, [path], progress=False)
    assert_reconciles(any_engine, report)
    c = report.tables["cases"]
    assert (c.inserted, c.updated, c.unchanged) == (0, 1, 1)
    with any_engine.connect() as conn:
        channels = conn.execute(
            sa.select(schema.cases.c.channel).order_by(schema.cases.c.case_id)
        ).scalars().all()
    assert channels == ["window", "window"]


def test_a_failure_mid_load_rolls_everything_back(any_engine, monkeypatch, tmp_path):
    import_paths(any_engine, [BASE], progress=False)
    before = _snapshot(any_engine)
    quarantine_before = count(any_engine, "quarantine")
    real = bulk.upsert_frame
    calls: list[str] = []

    def fail_after_first_table(conn, table, df, key=None, **kwargs):
        calls.append(table.name)
        if len(calls) > 1:
            raise RuntimeError("disk full (simulated)")
        return real(conn, table, df, key, **kwargs)

    monkeypatch.setattr(bulk, "upsert_frame", fail_after_first_table)
    new_region = write(tmp_path / "regions.csv",
                       "region_code,name,parent_code,level\n330226,宁海县,330200,county\n")
    with pytest.raises(XiaonengError, match="rolled back.*disk full"):
        import_paths(any_engine, [new_region, CORPUS / "bad_enum" / "cases.csv"], progress=False)

    assert calls[0] == "regions" and len(calls) == 2  # the first table was written, then it died
    assert _snapshot(any_engine) == before
    assert count(any_engine, "quarantine") == quarantine_before
    lr = schema.load_runs
    with any_engine.connect() as conn:
        failed = conn.execute(sa.select(lr).where(lr.c.status == "failed")).mappings().one()
    assert "disk full" in failed["error"]
    assert failed["finished_at"] is not None


def test_postgres_loads_through_copy(pg_engine, monkeypatch):
    real = bulk.copy_frame
    copied: list[str] = []

    def spy(conn, table, df, columns=None):
        copied.append(table if isinstance(table, str) else table.name)
        return real(conn, table, df, columns)

    monkeypatch.setattr(bulk, "copy_frame", spy)
    report = import_paths(pg_engine, [BASE, CORPUS / "bad_enum" / "cases.csv"], progress=False)
    assert_reconciles(pg_engine, report)
    # staging tables for the four contract tables and for the quarantine (upserted by
    # fingerprint, so that a re-import does not add its rows again)
    assert sum(name.startswith("_xn_stage_") for name in copied) >= 5


def test_sqlite_never_tries_copy(sqlite_engine, monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("COPY on SQLite")

    monkeypatch.setattr(bulk, "copy_frame", forbidden)
    report = import_paths(sqlite_engine, [BASE, GOOD_CASES], progress=False)
    assert_reconciles(sqlite_engine, report)


CAL_HEAD = "date,is_workday,name,source\n"


def _national_day_2024() -> str:
    """2024-09-27 … 10-13 as in the State Council notice: Oct 1–7 off, Sep 29 and Oct 12 on."""
    lines = []
    day = dt.date(2024, 9, 27)
    while day <= dt.date(2024, 10, 13):
        if dt.date(2024, 10, 1) <= day <= dt.date(2024, 10, 7):
            work, name = "否", "国庆节"
        elif day in (dt.date(2024, 9, 29), dt.date(2024, 10, 12)):
            work, name = "是", "国庆节调休上班"
        else:
            work, name = ("是" if day.weekday() < 5 else "否"), ""
        lines.append(f"{day},{work},{name},国办发明电〔2023〕7号")
        day += dt.timedelta(days=1)
    return CAL_HEAD + "\n".join(lines) + "\n"


def test_promised_days_are_derived_from_due_at_in_working_and_natural_days(any_engine, tmp_path):
    cal = write(tmp_path / "work_calendar.csv", _national_day_2024())
    cases = write(tmp_path / "cases.csv", (
        "case_id,item_code,agency_code,channel,applicant_type,submitted_at,accepted_at,status,"
        "due_at,promised_days,limit_unit\n"
        # Fri 27 Sep → Wed 9 Oct: Sun 29 Sep (调休), Mon 30 Sep, Tue 8, Wed 9 Oct = 4 working days
        "W1,I1,A1,window,person,2024-09-27 09:00,2024-09-27 23:00,in_progress,2024-10-09 17:00,,working\n"
        # same dates in natural days: 12
        "N1,I1,A1,window,person,2024-09-27 09:00,2024-09-27 23:00,in_progress,2024-10-09 00:00,,natural\n"
        # a promised_days given in the file wins over due_at
        "G1,I1,A1,window,person,2024-09-27 09:00,2024-09-27 23:00,in_progress,2024-10-09 00:00,3,working\n"
        # due before the acceptance date
        "B1,I1,A1,window,person,2024-09-27 09:00,2024-09-27 23:00,in_progress,2024-09-26 00:00,,natural\n"
    ))
    report = import_paths(any_engine, [BASE, cal, cases], progress=False)
    assert_reconciles(any_engine, report)
    assert report.warnings == []  # every working day came from the calendar, no fallback
    c = schema.cases.c
    with any_engine.connect() as conn:
        got = dict(conn.execute(sa.select(c.case_id, c.promised_days)).all())
    assert got == {"W1": 4, "N1": 12, "G1": 3}
    assert report.tables["cases"].quarantined == 1


def test_working_days_fall_back_to_monday_to_friday_with_a_warning(sqlite_engine, tmp_path):
    cases = write(tmp_path / "cases.csv", (
        "case_id,item_code,agency_code,channel,applicant_type,submitted_at,accepted_at,status,"
        "due_at,limit_unit\n"
        "W1,I1,A1,window,person,2025-09-26 09:00,2025-09-26 10:00,in_progress,2025-10-09 17:00,working\n"
    ))
    report = import_paths(sqlite_engine, [BASE, cases], progress=False)
    assert_reconciles(sqlite_engine, report)
    # Fri 26 Sep 2025 → Thu 9 Oct 2025 with no calendar rows: 9 weekdays in between (29,30 Sep; 1,2,3,6,7,8,9 Oct)
    with sqlite_engine.connect() as conn:
        assert conn.execute(sa.select(schema.cases.c.promised_days)).scalar_one() == 9
    assert any("Monday–Friday fallback for 2025" in w for w in report.warnings)


def _frames(n: int) -> dict[str, pl.DataFrame]:
    """Typed frames like the demo generator's: canonical columns, real dtypes."""
    start = dt.datetime(2024, 3, 4, 9, 0)
    cases = pl.DataFrame({
        "case_id": [f"K{i:06d}" for i in range(n)],
        "item_code": ["I1"] * n,
        "agency_code": ["A1"] * n,
        "channel": ["online", "window"] * (n // 2),
        "applicant_type": ["person"] * n,
        "submitted_at": [start + dt.timedelta(minutes=i) for i in range(n)],
        "accepted_at": [start + dt.timedelta(minutes=i, hours=1) for i in range(n)],
        "completed_at": [start + dt.timedelta(minutes=i, days=2) for i in range(n)],
        "status": ["completed"] * n,
        "promised_days": pl.Series([5] * n, dtype=pl.Int32),
        "limit_unit": ["working"] * n,
        "full_online": [True, False] * (n // 2),
    })
    regions = pl.DataFrame({"region_code": ["330200"], "name": ["宁波市"],
                            "parent_code": [None], "level": ["city"]},
                           schema_overrides={"parent_code": pl.String})
    agencies = pl.DataFrame({"agency_code": ["A1"], "name": ["局"], "region_code": ["330200"],
                             "sector": ["市场监管"]})
    items = pl.DataFrame({"item_code": ["I1"], "name": ["事项"], "item_type": ["licensing"],
                          "sector": ["市场监管"], "limit_unit": ["working"], "online_depth": [3]})
    return {"cases": cases, "items": items, "agencies": agencies, "regions": regions}


def test_import_frames_loads_typed_frames_in_load_order_and_in_batches(any_engine, monkeypatch):
    from queries.importer import readers

    monkeypatch.setattr(readers, "DEFAULT_BATCH_ROWS", 1_000)
    frames = _frames(2_500)
    report = import_frames(any_engine, frames, source="test frames", progress=False)
    assert_reconciles(any_engine, report)
    assert report.tables["cases"].inserted == 2_500
    assert list(report.tables) == ["regions", "agencies", "items", "cases"]
    c = schema.cases.c
    with any_engine.connect() as conn:
        last = conn.execute(sa.select(c.submitted_at, c.full_online, c.promised_days)
                            .where(c.case_id == "K002499")).one()
    assert tuple(last) == (dt.datetime(2024, 3, 4, 9, 0) + dt.timedelta(minutes=2499), False, 5)


def test_import_frames_reports_bad_rows_by_row_number(sqlite_engine):
    frames = _frames(4)
    frames["cases"] = frames["cases"].with_columns(
        pl.when(pl.col("case_id") == "K000002").then(pl.lit("fax")).otherwise(pl.col("channel"))
        .alias("channel")
    )
    report = import_frames(sqlite_engine, frames, source="gen", progress=False)
    assert_reconciles(sqlite_engine, report)
    with sqlite_engine.connect() as conn:
        reasons = conn.execute(sa.select(schema.quarantine.c.reasons)).scalar_one()
    assert reasons.startswith("gen:cases row 3: column channel: 'fax'")


def test_duplicate_keys_are_found_across_batches(sqlite_engine, monkeypatch, tmp_path):
    from queries.importer import readers

    monkeypatch.setattr(readers, "DEFAULT_BATCH_ROWS", 100)
    head = "case_id,item_code,agency_code,channel,applicant_type,submitted_at,accepted_at,status,limit_unit\n"
    body = [f"D{i},I1,A1,window,person,2024-03-04 09:00,2024-03-04 10:00,in_progress,working"
            for i in range(250)]
    body.append("D7,I1,A1,online,person,2024-03-04 09:00,2024-03-04 10:00,in_progress,working")
    path = write(tmp_path / "cases.csv", head + "\n".join(body) + "\n")
    report = import_paths(sqlite_engine, [BASE, path], progress=False)
    assert_reconciles(sqlite_engine, report)
    c = report.tables["cases"]
    assert (c.read, c.inserted, c.quarantined) == (251, 250, 1)
    with sqlite_engine.connect() as conn:
        line, reasons = conn.execute(
            sa.select(schema.quarantine.c.source_line, schema.quarantine.c.reasons)).one()
    assert line == 252  # header = 1, D0 = 2, …, D249 = 251
    assert "key 'D7' already appears on line 9" in reasons
