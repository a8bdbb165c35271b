"""Case measures by month on a hand-made log (2024 official calendar; arithmetic in comments)."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from metrics.case_measures import case_facts
from metrics.settings import Settings
from queries.inputs import polars_schema

T, D = dt.datetime, dt.date
FEB, MAR = D(2024, 2, 1), D(2024, 3, 1)
AS_OF = T(2024, 3, 31, 23, 59)


def _frame(table: str, rows: list[dict]) -> pl.DataFrame:
    schema = polars_schema(table)
    full = [{k: r.get(k) for k in schema} for r in rows]
    return pl.DataFrame(full, schema=schema)


def _case(case_id, channel, accepted, completed=None, status=None, stat=None, prom=None, **kw):
    return dict(case_id=case_id, item_code="I1", agency_code="A1", channel=channel,
                applicant_type="person", submitted_at=accepted, accepted_at=accepted,
                completed_at=completed,
                status=status or ("completed" if completed else "in_progress"),
                statutory_days=stat, promised_days=prom, limit_unit="working",
                full_online=kw.pop("full_online", False), cross_region=False, **kw)


CASES = [
    # c1: accepted Wed 02-07, done Tue 02-20 across the Spring Festival: used 5 (02-08, 02-09,
    # 调休 Sun 02-18, 02-19, 02-20) > promised 3 → overdue. Reported next working day: timely.
    _case("c1", "window", T(2024, 2, 7, 9), T(2024, 2, 20, 10), stat=10, prom=3, visits=1,
          e_result=True, reported_at=T(2024, 2, 21, 9), bundle_id="B1"),
    # c2: 即办件 done the same day; reported 02-26 = 8 working days later: late.
    _case("c2", "online", T(2024, 2, 8, 10), T(2024, 2, 8, 15), stat=5, prom=0, visits=0,
          full_online=True, reported_at=T(2024, 2, 26, 9), bundle_id="B1"),
    # c3: open since Mon 02-26, promised 2: at 02-29 used 3 → overdue at February's end.
    _case("c3", "online", T(2024, 2, 26, 10), stat=20, prom=2, visits=0),
    # c4: withdrawn: accepted counts, never in progress.
    _case("c4", "window", T(2024, 2, 28, 10), status="withdrawn", stat=10, prom=5),
    # c5: no limits at all: completed without a deadline; used 1 (Fri 03-01 → Mon 03-04).
    _case("c5", "mobile", T(2024, 3, 1, 10), T(2024, 3, 4, 10)),
    # c6: open since Wed 03-27, promised 3: at 03-31 used 2 (03-28, 03-29), remaining 1 → 预警.
    _case("c6", "online", T(2024, 3, 27, 10), stat=10, prom=3),
]
REVIEWS = [
    dict(review_id="r1", case_id="c1", agency_code="A1", channel="window",
         rated_at=T(2024, 2, 20, 11), level=5, active=True, real_name=True, appeal_upheld=False),
    dict(review_id="r2", case_id="c2", agency_code="A1", channel="online",
         rated_at=T(2024, 2, 8, 16), level=1, active=True, real_name=True, appeal_upheld=True),
]


@pytest.fixture(scope="module")
def facts(cal_index) -> dict[tuple, dict]:
    f, hist = case_facts(
        _frame("cases", CASES).lazy(), _frame("suspensions", []).lazy(),
        _frame("reviews", REVIEWS).lazy(), cal_index, [FEB, MAR], Settings(), AS_OF,
    )
    out = {(r["month"], r["channel"]): r for r in f.collect().to_dicts()}
    out["hist"] = hist.collect().sort("month", "channel", "used_wd").to_dicts()
    return out


def test_intake_measures_belong_to_the_month_of_acceptance(facts):
    w = facts[(FEB, "window")]
    assert w["accepted"] == 2  # c1, c4 (withdrawn still counts as accepted)
    assert (w["cmp_statutory"], w["cmp_gap"]) == (10 + 10, (10 - 3) + (10 - 5))
    assert (w["visits_known"], w["no_visit"], w["max_one_visit"]) == (1, 0, 1)
    assert w["bundles_started"] == 1  # B1 opened by c1, counted once
    o = facts[(FEB, "online")]
    assert o["accepted"] == 2 and o["online_accepted"] == 2 and o["full_online_accepted"] == 1
    assert (o["cmp_statutory"], o["cmp_gap"]) == (5 + 20, 5 + 18)
    assert o["instant_accepted"] == 1 and o["bundles_started"] == 0


def test_completion_measures_belong_to_the_month_of_completion(facts):
    w = facts[(FEB, "window")]
    assert (w["completed"], w["used_wd_sum"], w["completed_on_time"], w["completed_overdue"]) == (
        1, 5, 0, 1)
    assert (w["spd_statutory"], w["spd_statutory_gap"]) == (10, 10 - 5)
    assert (w["spd_promised"], w["spd_promised_gap"]) == (3, 3 - 5)
    assert (w["e_result_known"], w["e_result_yes"]) == (1, 1)
    assert (w["case_report_known"], w["case_report_timely"]) == (1, 1)
    assert w["completed_reviewed"] == 1
    assert w["completed_actively_reviewed"] == 1  # r1 is active
    o = facts[(FEB, "online")]
    assert (o["completed"], o["completed_same_day"], o["completed_on_time"]) == (1, 1, 1)
    assert o["spd_promised"] == 0  # promised 0 is not > 0
    assert (o["case_report_known"], o["case_report_timely"]) == (1, 0)
    assert o["completed_reviewed"] == 0  # its only review is void
    assert o["completed_actively_reviewed"] == 0  # active, but void
    m = facts[(MAR, "mobile")]
    assert (m["completed"], m["completed_with_deadline"], m["completed_no_deadline"]) == (1, 0, 1)
    assert m["used_wd_sum"] == 1


def test_month_end_snapshot_counts_open_cases_overdue_and_warned(facts):
    assert facts[(FEB, "online")]["in_progress_eom"] == 1  # c3
    assert facts[(FEB, "online")]["overdue_open_eom"] == 1
    assert facts[(FEB, "window")]["in_progress_eom"] == 0  # c4 withdrawn is outside the clock
    mar = facts[(MAR, "online")]
    assert (mar["in_progress_eom"], mar["overdue_open_eom"], mar["warnings_eom"]) == (2, 1, 1)


def test_used_days_histogram_has_one_entry_per_completed_case(facts):
    hist = [(h["month"], h["channel"], h["used_wd"], h["n"]) for h in facts["hist"]]
    assert hist == [(FEB, "online", 0, 1), (FEB, "window", 5, 1), (MAR, "mobile", 1, 1)]
