"""The clock of metrics.md §1 on hand-computed cases (2024 official calendar)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from metrics.clock import add_clock

D, T = dt.date, dt.datetime
SUSP_SCHEMA = {"case_id": pl.String, "started_at": pl.Datetime("us"),
               "ended_at": pl.Datetime("us"), "approved_days": pl.Int32}


def clock(cal, rows: list[dict], susp: list[dict] | None = None) -> dict[str, dict]:
    frame = pl.DataFrame(rows, schema_overrides={"statutory_days": pl.Int32,
                                                  "promised_days": pl.Int32})
    frame = frame.with_columns(pl.col("case_id").alias("row_id"))
    if "limit_unit" not in frame.columns:
        frame = frame.with_columns(limit_unit=pl.lit("working"))
    s = pl.DataFrame(susp or [], schema=SUSP_SCHEMA)
    out = add_clock(frame.lazy(), s.lazy(), cal).collect()
    return {r["case_id"]: r for r in out.to_dicts()}


def test_case_spanning_spring_festival_counts_only_working_days_and_the_tiaoxiu_sunday(cal_index):
    # Accepted Wed 2024-02-07; holiday 02-10..02-17; Sunday 02-18 is a 调休 working day.
    # Working days after 02-07 up to 02-20: 02-08, 02-09, 02-18, 02-19, 02-20 = 5.
    r = clock(cal_index, [dict(case_id="c", a_date=D(2024, 2, 7), e_date=D(2024, 2, 20),
                               statutory_days=10, promised_days=3)])["c"]
    assert r["used_wd"] == 5
    assert r["overdue_wd"] == 2 and r["on_time"] is False
    assert r["due_date"] == D(2024, 2, 18)  # the 3rd working day after acceptance
    assert r["yellow_date"] == D(2024, 2, 19)  # first day with used_wd = 4 > 3
    assert r["red_date"] is None  # red threshold min(10, 3 + 3) = 6 > 5


def test_completed_on_the_acceptance_day_used_zero(cal_index):
    r = clock(cal_index, [dict(case_id="c", a_date=D(2024, 3, 4), e_date=D(2024, 3, 4),
                               statutory_days=5, promised_days=0)])["c"]
    assert r["used_wd"] == 0 and r["on_time"] is True and r["yellow_date"] is None


def test_instant_case_finished_next_day_gets_a_yellow_card_that_day(cal_index):
    r = clock(cal_index, [dict(case_id="c", a_date=D(2024, 3, 4), e_date=D(2024, 3, 5),
                               statutory_days=None, promised_days=0)])["c"]
    assert r["used_wd"] == 1 and r["overdue_wd"] == 1
    assert r["yellow_date"] == D(2024, 3, 5)
    assert r["red_days"] == 3 and r["red_date"] is None  # missing statutory is ignored


def test_overlapping_suspensions_merge_and_a_suspension_is_cut_to_its_approved_days(cal_index):
    # Accepted Mon 2024-03-04, completed Wed 03-20: ord difference 12.
    # S1 [03-06, 03-08] counts 03-07, 03-08. S2 [03-07, 03-13] approved 3 → [03-07, 03-12]
    # counts 03-08, 03-11, 03-12. Union: 03-07, 03-08, 03-11, 03-12 = 4. used = 8.
    r = clock(
        cal_index,
        [dict(case_id="c", a_date=D(2024, 3, 4), e_date=D(2024, 3, 20),
              statutory_days=20, promised_days=5)],
        [dict(case_id="c", started_at=T(2024, 3, 6, 10), ended_at=T(2024, 3, 8, 10),
              approved_days=None),
         dict(case_id="c", started_at=T(2024, 3, 7, 9), ended_at=T(2024, 3, 13, 9),
              approved_days=3)],
    )["c"]
    assert r["suspended_wd"] == 4 and r["used_wd"] == 8 and r["overdue_wd"] == 3
    # used_wd: 03-05 → 1, 03-06 → 2, suspended to 03-12, 03-13 → 3, 03-14 → 4, 03-15 → 5,
    # 03-18 → 6 > 5: the yellow card is dated 03-18.
    assert r["yellow_date"] == D(2024, 3, 18)
    assert r["due_date"] == D(2024, 3, 15)  # ord(a) + 5 + 4


def test_open_suspension_runs_to_the_measuring_date_and_is_clipped_there(cal_index):
    r = clock(
        cal_index,
        [dict(case_id="c", a_date=D(2024, 3, 4), e_date=D(2024, 3, 8),
              statutory_days=20, promised_days=10)],
        [dict(case_id="c", started_at=T(2024, 3, 6, 10), ended_at=None, approved_days=None)],
    )["c"]
    assert r["suspended_wd"] == 2 and r["used_wd"] == 2  # 03-05, 03-06 used; 03-07, 03-08 not


def test_natural_day_limits_count_every_day(cal_index):
    r = clock(cal_index, [dict(case_id="c", a_date=D(2024, 2, 7), e_date=D(2024, 2, 20),
                               statutory_days=None, promised_days=10, limit_unit="natural")])["c"]
    assert r["used_wd"] == 13 and r["overdue_wd"] == 3
    assert r["due_date"] == D(2024, 2, 17)
    assert r["yellow_date"] == D(2024, 2, 18)


def test_case_without_any_limit_has_no_deadline_and_no_verdict(cal_index):
    r = clock(cal_index, [dict(case_id="c", a_date=D(2024, 3, 4), e_date=D(2024, 3, 20),
                               statutory_days=None, promised_days=None)])["c"]
    assert r["deadline_days"] is None and r["on_time"] is None and r["yellow_date"] is None
