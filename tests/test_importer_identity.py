"""Identity: nothing misattributed. A stored key is updated only by the same case; another case
with the same id is quarantined naming where the stored row came from; keys scoped to their
source keep both; parallel suspensions are two suspensions, merged by the clock.

Expected values are worked out by hand in the comments (the official 2025 calendar: 端午节
31 May – 2 June off).
"""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from metrics.jobs import run_compute
from queries import schema
from queries.calendar import seed_official
from queries.importer import import_paths
from tests.test_importer_helpers import BASE, assert_reconciles, quarantined, write

CASE_HEAD = ("case_id,item_code,agency_code,channel,applicant_type,submitted_at,accepted_at,"
             "completed_at,status,statutory_days,promised_days,limit_unit\n")
SUSP_HEAD = "case_id,started_at,ended_at,reason\n"


def _case(engine: sa.Engine, case_id: str) -> dict:
    c = schema.cases
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(c).where(c.c.case_id == case_id)).mappings().one())


def test_parallel_suspensions_are_both_kept_and_merged_by_the_clock_13_days(any_engine, tmp_path):
    """Accepted Sat 2025-06-07, suspended 06-07→06-10 (检验检测) and 06-07→06-11 (专家评审),
    completed 06-30. Working days after the acceptance day up to 06-30: 9–13, 16–20, 23–27 and
    30 June = 16. Suspended: the union 06-07→06-11 = ord(06-11) − ord(06-07) = 9, 10, 11 June
    = 3. used = 16 − 3 = 13 (keeping only the first suspension, as a (case, start) key did,
    gives 16 − 2 = 14)."""
    seed_official(any_engine, 2025, 2025)
    cases = write(tmp_path / "cases.csv", CASE_HEAD + (
        "S1,I1,A1,window,person,2025-06-07 09:00,2025-06-07 10:00,2025-06-30 16:00,completed,"
        "20,15,working\n"))
    susp = write(tmp_path / "suspensions.csv", SUSP_HEAD + (
        "S1,2025-06-07,2025-06-10,检验检测\n"
        "S1,2025-06-07,2025-06-11,专家评审\n"))
    report = import_paths(any_engine, [BASE, cases, susp], progress=False)
    assert_reconciles(any_engine, report)
    assert report.tables["suspensions"].inserted == 2
    s = schema.suspensions.c
    with any_engine.connect() as conn:
        keys = conn.execute(sa.select(s.suspension_key).order_by(s.suspension_key)).scalars().all()
    assert keys == ["2025-06-07 00:00:00/expert_review", "2025-06-07 00:00:00/inspection"]

    run_compute(any_engine, [dt.date(2025, 6, 1)], as_of=dt.datetime(2025, 7, 15))
    f = schema.case_facts.c
    with any_engine.connect() as conn:
        used, completed, on_time = conn.execute(
            sa.select(sa.func.sum(f.used_wd_sum), sa.func.sum(f.completed),
                      sa.func.sum(f.completed_on_time)).where(f.month == dt.date(2025, 6, 1))
        ).one()
    assert (used, completed, on_time) == (13, 1, 1)  # 13 ≤ 15 promised: on time

    again = import_paths(any_engine, [susp], progress=False)  # exact duplicates: idempotent
    assert (again.tables["suspensions"].inserted, again.tables["suspensions"].unchanged) == (0, 2)


def test_a_suspension_id_keeps_two_suspensions_with_the_same_start_and_reason(any_engine,
                                                                              tmp_path):
    cases = write(tmp_path / "cases.csv", CASE_HEAD + (
        "S1,I1,A1,window,person,2025-06-03 09:00,2025-06-03 10:00,,in_progress,20,15,working\n"))
    susp = write(tmp_path / "suspensions.csv", "case_id,suspension_id,started_at,ended_at,reason\n"
                 "S1,GQ-1,2025-06-04,2025-06-05,检测\nS1,GQ-2,2025-06-04,2025-06-09,检测\n")
    report = import_paths(any_engine, [BASE, cases, susp], progress=False)
    assert_reconciles(any_engine, report)
    s = schema.suspensions.c
    with any_engine.connect() as conn:
        got = conn.execute(sa.select(s.suspension_key, s.ended_at).order_by(s.suspension_key)).all()
    assert [tuple(r) for r in got] == [("GQ-1", dt.datetime(2025, 6, 5)),
                                       ("GQ-2", dt.datetime(2025, 6, 9))]
    # a later export of GQ-1 with its end corrected updates that suspension only
    fixed = write(tmp_path / "later" / "suspensions.csv",
                  "case_id,suspension_id,started_at,ended_at,reason\nS1,GQ-1,2025-06-04,"
                  "2025-06-06,检测\n")
    later = import_paths(any_engine, [fixed], progress=False)
    assert later.tables["suspensions"].updated == 1


EXPORT = ("case_no,agency_code,item_code,channel,applicant_type,submitted_at,accepted_at,"
          "completed_at,status,limit_unit\n")
MAPPING = """
[[sources]]
file = "{source}_2024.csv"
source = "{source}"
[[sources.tables]]
name = "cases"
[sources.tables.columns]
case_id = "case_no"

[[sources]]
file = "{source}_susp.csv"
source = "{source}"
[[sources.tables]]
name = "suspensions"
"""


def test_the_same_id_from_another_source_is_quarantined_never_moved(any_engine, tmp_path):
    agencies = write(tmp_path / "agencies.csv", "agency_code,name,region_code,sector\n"
                     "A2,鄞州区市场监督管理局,330225,市场监管\n")
    beilun = write(tmp_path / "beilun_2024.csv", EXPORT + (
        "6038724,A1,I1,window,person,2024-03-04 09:00,2024-03-04 10:00,,in_progress,working\n"))
    yinzhou = write(tmp_path / "yinzhou_2024.csv", EXPORT + (
        "6038724,A2,I1,online,enterprise,2024-05-06 09:00,2024-05-06 10:00,2024-05-08 10:00,"
        "completed,working\n"))
    y_susp = write(tmp_path / "yinzhou_susp.csv", SUSP_HEAD + "6038724,2024-05-07,2024-05-08,补正\n")
    mapping = write(tmp_path / "mapping.toml",
                    MAPPING.format(source="beilun") + MAPPING.format(source="yinzhou"))
    first = import_paths(any_engine, [BASE, agencies, beilun], mapping=mapping, progress=False)
    before = _case(any_engine, "6038724")

    second = import_paths(any_engine, [yinzhou, y_susp], mapping=mapping, progress=False)
    assert_reconciles(any_engine, second)
    c, s = second.tables["cases"], second.tables["suspensions"]
    assert (c.read, c.inserted, c.updated, c.quarantined) == (1, 0, 0, 1)
    assert (s.read, s.inserted, s.quarantined) == (1, 0, 1)
    assert _case(any_engine, "6038724") == before  # not moved: agency, dates, origin as before
    assert before["agency_code"] == "A1" and before["origin_line"] == 2
    rows = {q["table_name"]: q for q in quarantined(any_engine, second.load_id)}
    case_q, susp_q = rows["cases"], rows["suspensions"]
    assert case_q["rules"] == "key_conflict"
    for text in (f"{yinzhou} line 2", "agency_code 'A1' (this row 'A2')",
                 f"written by load {first.load_id}, {beilun} line 2 (source 'beilun')",
                 "This row's source: 'yinzhou'"):
        assert text in case_q["reasons"]
    assert susp_q["rules"] == "reference_to_conflict"
    assert "quarantined as a key conflict" in susp_q["reasons"]
    with any_engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(schema.suspensions)
                            ).scalar_one() == 0  # not attached to beilun's case


def test_a_key_template_keeps_both_municipalities_cases(any_engine, tmp_path):
    agencies = write(tmp_path / "agencies.csv", "agency_code,name,region_code,sector\n"
                     "A2,鄞州区市场监督管理局,330225,市场监管\n")
    head = "municipality," + EXPORT
    beilun = write(tmp_path / "beilun_2024.csv", head + (
        "beilun,6038724,A1,I1,window,person,2024-03-04 09:00,2024-03-04 10:00,,in_progress,"
        "working\n"))
    yinzhou = write(tmp_path / "yinzhou_2024.csv", head + (
        "yinzhou,6038724,A2,I1,online,enterprise,2024-05-06 09:00,2024-05-06 10:00,,in_progress,"
        "working\n"))
    mapping = write(tmp_path / "mapping.yaml", """
sources:
  - file: "*_2024.csv"
    tables:
      - name: cases
        columns: {case_id: "{municipality}-{case_no}"}
""")
    import_paths(any_engine, [BASE, agencies, beilun], mapping=mapping, progress=False)
    report = import_paths(any_engine, [yinzhou], mapping=mapping, progress=False)
    assert_reconciles(any_engine, report)
    assert _case(any_engine, "beilun-6038724")["agency_code"] == "A1"
    assert _case(any_engine, "yinzhou-6038724")["agency_code"] == "A2"


def test_acceptance_and_completion_update_but_a_changed_acceptance_time_conflicts(any_engine,
                                                                                  tmp_path):
    submitted = write(tmp_path / "a" / "cases.csv", CASE_HEAD + (
        "U1,I1,A1,window,person,2024-03-04 09:00,,,submitted,20,10,working\n"))
    accepted = write(tmp_path / "b" / "cases.csv", CASE_HEAD + (
        "U1,I1,A1,window,person,2024-03-04 09:00,2024-03-04 10:00,,in_progress,20,10,working\n"))
    completed = write(tmp_path / "c" / "cases.csv", CASE_HEAD + (
        "U1,I1,A1,window,person,2024-03-04 09:00,2024-03-04 10:00,2024-03-06 15:00,completed,"
        "20,10,working\n"))
    moved = write(tmp_path / "d" / "cases.csv", CASE_HEAD + (
        "U1,I1,A1,window,person,2024-03-04 09:00,2024-03-05 10:00,2024-03-06 15:00,completed,"
        "20,10,working\n"))
    import_paths(any_engine, [BASE, submitted], progress=False)
    for path, status in ((accepted, "in_progress"), (completed, "completed")):
        report = import_paths(any_engine, [path], progress=False)
        assert report.tables["cases"].updated == 1
        assert _case(any_engine, "U1")["status"] == status
    report = import_paths(any_engine, [moved], progress=False)
    assert_reconciles(any_engine, report)
    assert report.tables["cases"].quarantined == 1
    [q] = quarantined(any_engine, report.load_id)
    assert "accepted_at '2024-03-04 10:00:00' (this row '2024-03-05 10:00:00')" in q["reasons"]
    assert _case(any_engine, "U1")["accepted_at"] == dt.datetime(2024, 3, 4, 10, 0)
