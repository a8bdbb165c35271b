"""实际评价率 (actual_review_rate, metrics.md §7): only *active* valid reviews count.

Five cases completed in March 2024 at one agency, reviewed by hand:

| case | reviews                                   | 参评 | 实际评价 |
|------|-------------------------------------------|------|----------|
| c1   | one active                                | yes  | yes      |
| c2   | one system default (active = false)       | yes  | no       |
| c3   | active but void (申诉成立) + one default  | yes  | no       |
| c4   | none                                      | no   | no       |
| c5   | one default and one active                | yes  | yes      |

So 参评率 = 4/5 and 实际评价率 = 2/5. The case list (queries.extracts.CASE_RULES) is the
metric's twin: its numerator lists exactly c1 and c5.
"""

from __future__ import annotations

import datetime as dt

import pytest

from metrics.jobs import run_compute
from metrics.query import Filters, case_list, metric_values
from metrics.registry import METRIC_BY_ID
from queries.calendar import seed_official
from queries.importer import import_frames
from tests.metrics.logs import one_agency_city
from tests.metrics.test_oracle import frame

T = dt.datetime
MAR = dt.date(2024, 3, 1)


def _case(cid: str, day: int) -> dict:
    return dict(case_id=cid, item_code="I1", agency_code="A1", channel="window",
                applicant_type="person", submitted_at=T(2024, 3, day, 9),
                accepted_at=T(2024, 3, day, 9), completed_at=T(2024, 3, day + 1, 10),
                status="completed", statutory_days=20, promised_days=5, limit_unit="working",
                full_online=False, cross_region=False)


def _review(rid: str, cid: str, active: bool, void: bool = False) -> dict:
    return dict(review_id=rid, case_id=cid, agency_code="A1", channel="window",
                rated_at=T(2024, 3, 20, 10), level=5, active=active, real_name=False,
                appeal_upheld=void)


TABLES = dict(
    **one_agency_city("市场监管", statutory=20, promised=5),
    cases=frame("cases", [_case(f"c{i}", 3 + i) for i in range(1, 6)]),
    suspensions=frame("suspensions", []),
    reviews=frame("reviews", [
        _review("r1", "c1", active=True),
        _review("r2", "c2", active=False),
        _review("r3", "c3", active=True, void=True),
        _review("r4", "c3", active=False),
        _review("r5", "c5", active=False),
        _review("r6", "c5", active=True),
    ]),
)


@pytest.fixture
def computed(any_engine):
    seed_official(any_engine, 2024, 2024)
    assert import_frames(any_engine, TABLES, source="test", progress=False).ok
    run_compute(any_engine, [MAR], as_of=T(2024, 3, 31, 23, 0))
    return any_engine


def test_actual_review_rate_counts_only_cases_with_an_active_valid_review(computed):
    df = metric_values(computed, ["review_participation_rate", "actual_review_rate"],
                       Filters(MAR, MAR), "city")
    got = {r["metric_id"]: (r["numerator"], r["denominator"], r["value"])
           for r in df.iter_rows(named=True)}
    assert got["review_participation_rate"] == (4, 5, pytest.approx(0.8))
    assert got["actual_review_rate"] == (2, 5, pytest.approx(0.4))


def test_actual_review_case_list_is_the_twin_of_the_metric(computed):
    hit, n_hit = case_list(computed, "actual_review_rate", Filters(MAR, MAR), MAR)
    miss, n_miss = case_list(computed, "actual_review_rate", Filters(MAR, MAR), MAR,
                             part="complement")
    assert sorted(hit["case_id"]) == ["c1", "c5"] and n_hit == 2
    assert sorted(miss["case_id"]) == ["c2", "c3", "c4"] and n_miss == 3


def test_actual_review_rate_is_a_registered_share_of_completed_cases():
    m = METRIC_BY_ID["actual_review_rate"]
    assert (m.zh, m.family, m.kind) == ("实际评价率", "reviews", "share")
    assert m.numerator == ("completed_actively_reviewed",) and m.denominator == ("completed",)


def test_export_carries_the_actual_review_rate(computed):
    from metrics.export import export_frame

    df = export_frame(computed, "city", MAR, MAR)
    row = df.filter(df["metric_id"] == "actual_review_rate").row(0, named=True)
    assert (row["numerator"], row["denominator"], row["value"]) == (2, 5, pytest.approx(0.4))
    # every row states the facts' as-of time and where the data stop (the last rating)
    assert (row["as_of"], row["data_cutoff"]) == ("2024-03-31 23:00:00", "2024-03-20 10:00:00")
