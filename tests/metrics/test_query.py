"""Query API on hand-made fact rows, on SQLite and on a real PostgreSQL.

The city: C with counties K1 and K2; town T1 under K1. Agencies: A0 (city department, C),
A1 (K1), A2 (town T1, so it belongs to K1), A3 (K2). Expected values are computed by hand or
by a plain-Python sum over the same row dicts that are inserted.
"""

from __future__ import annotations

import datetime as dt
import math
from fractions import Fraction

import polars as pl
import pytest
import sqlalchemy as sa

from metrics.query import Filters, case_list, metric_values, ranking
from queries import schema
from queries.errors import XiaonengError

D = dt.date
MAR, FEB, JAN = D(2024, 3, 1), D(2024, 2, 1), D(2024, 1, 1)

REGIONS = [
    {"region_code": "C", "name": "示例市", "parent_code": None, "level": "city"},
    {"region_code": "K1", "name": "甲县", "parent_code": "C", "level": "county"},
    {"region_code": "K2", "name": "乙区", "parent_code": "C", "level": "county"},
    {"region_code": "T1", "name": "某镇", "parent_code": "K1", "level": "town"},
]
AGENCIES = [
    {"agency_code": "A0", "name": "市局", "region_code": "C", "sector": "tax"},
    {"agency_code": "A1", "name": "甲县局", "region_code": "K1", "sector": "market"},
    {"agency_code": "A2", "name": "某镇所", "region_code": "T1", "sector": "market"},
    {"agency_code": "A3", "name": "乙区局", "region_code": "K2", "sector": "tax"},
]
ITEMS = [
    {"item_code": "I1", "name": "许可一", "item_type": "licensing", "sector": "market",
     "limit_unit": "working", "online_depth": 3},
    {"item_code": "I2", "name": "服务二", "item_type": "public_service", "sector": "tax",
     "limit_unit": "working", "online_depth": 4},
]


def _cf(month, agency, item, channel, **m):
    return {"month": month, "agency_code": agency, "item_code": item, "channel": channel, **m}


CASE_FACTS = [
    _cf(MAR, "A1", "I1", "window", accepted=4, online_accepted=1, completed=5,
        completed_with_deadline=5, completed_on_time=4, completed_overdue=1, overdue_open_eom=2,
        in_progress_eom=3, case_report_known=5, case_report_timely=5),
    _cf(MAR, "A2", "I2", "online", accepted=6, online_accepted=6, completed=2,
        completed_with_deadline=2, completed_on_time=2, in_progress_eom=1),
    _cf(MAR, "A3", "I1", "mobile", accepted=12, online_accepted=9, completed=5,
        completed_with_deadline=5, completed_on_time=4, completed_overdue=1, in_progress_eom=2),
    _cf(MAR, "A0", "I2", "window", accepted=0, completed=3, completed_with_deadline=3,
        completed_on_time=3),
    _cf(FEB, "A1", "I1", "window", accepted=10, online_accepted=5, completed=4,
        completed_with_deadline=4, completed_on_time=2, in_progress_eom=7),
    _cf(JAN, "A3", "I1", "mobile", accepted=8, online_accepted=8, completed=1,
        completed_with_deadline=1, completed_on_time=1, in_progress_eom=4),
    _cf(D(2023, 3, 1), "A1", "I1", "window", accepted=20, online_accepted=2, completed=10,
        completed_with_deadline=10, completed_on_time=9, in_progress_eom=5),
    _cf(D(2023, 6, 1), "A3", "I2", "window", accepted=3),
]
REVIEW_FACTS = [
    _cf(MAR, "A1", "I1", "window", reviews_valid=4, good=3, score_sum=3000,
        review_report_known=4, review_report_timely=3),
    _cf(MAR, "A3", "", "online", reviews_void=1),
]
HIST = [
    _cf(MAR, "A1", "I1", "window", used_wd=0, n=2),
    _cf(MAR, "A1", "I1", "window", used_wd=1, n=3),
    _cf(MAR, "A1", "I1", "window", used_wd=5, n=4),
    _cf(MAR, "A1", "I1", "window", used_wd=9, n=1),
    _cf(MAR, "A3", "I1", "mobile", used_wd=2, n=5),
]
BE = [
    {"month": MAR, "region_code": r, "indicator": "be_index", "pillar": "all", "value": v, "n": 10}
    for r, v in (("C", 75.0), ("K1", 80.0), ("K2", 70.0))
]


def _t(hh: int, day: int = 5) -> dt.datetime:
    return dt.datetime(2024, 3, day, hh, 0)


def _case(cid, accepted, completed=None, **kw):
    row = {
        "case_id": cid, "item_code": "I1", "agency_code": "A1", "channel": "window",
        "applicant_type": "person", "submitted_at": accepted, "accepted_at": accepted,
        "completed_at": completed, "status": "completed" if completed else "in_progress",
        "limit_unit": "working", "full_online": False, "cross_region": False,
        "promised_days": 5, "statutory_days": 20,
    }
    row.update(kw)
    return row


# Seven cases accepted in March 2024 at A1; two share an acceptance time (order then by id).
CASES = [
    _case("c07", _t(9), _t(10, 8)),
    _case("c03", _t(9), _t(11, 20)),  # late (yellow card)
    _case("c05", _t(10, 1), _t(9, 2), channel="online"),
    _case("c01", _t(11, 12), None),  # still open, overdue by month end (card on 2024-03-25)
    _case("c02", _t(9, 15), _t(9, 18), channel="mobile"),
    _case("c06", _t(9, 20), None),
    _case("c04", _t(9, 28), _t(9, 29), agency_code="A3"),
    _case("c99", dt.datetime(2024, 2, 1, 9), dt.datetime(2024, 2, 2, 9)),  # another month
    _case("c98", _t(9, 4), None, status="withdrawn"),  # accepted, outside the clock
]
CARDS = [
    {"card_id": "yellow:c03", "kind": "yellow", "subject": "case", "case_id": "c03",
     "agency_code": "A1", "item_code": "I1", "channel": "window", "issued_on": D(2024, 3, 13),
     "month": MAR, "rule": "deadline", "days_over": 1, "still_open": False, "revoked": False},
    {"card_id": "yellow:c01", "kind": "yellow", "subject": "case", "case_id": "c01",
     "agency_code": "A1", "item_code": "I1", "channel": "window", "issued_on": D(2024, 3, 25),
     "month": MAR, "rule": "deadline", "days_over": 4, "still_open": True, "revoked": False},
]


@pytest.fixture
def seeded(any_engine: sa.Engine) -> sa.Engine:
    with any_engine.begin() as conn:
        conn.execute(sa.insert(schema.regions), REGIONS)
        conn.execute(sa.insert(schema.agencies), AGENCIES)
        conn.execute(sa.insert(schema.items), ITEMS)
        for table, rows in ((schema.case_facts, CASE_FACTS),
                            (schema.review_facts, REVIEW_FACTS),
                            (schema.used_days_hist, HIST),
                            (schema.be_scores, BE),
                            (schema.cases, CASES),
                            (schema.cards, CARDS)):
            for row in rows:  # rows differ in their measure columns: insert one by one
                conn.execute(sa.insert(table), row)
    return any_engine


def F(frm=MAR, to=MAR, **kw) -> Filters:
    return Filters(frm, to, **kw)


def _sum(rows, col, pred=lambda r: True):
    return sum(r.get(col, 0) for r in rows if pred(r))


def _one(df: pl.DataFrame, **eq) -> dict:
    for k, v in eq.items():
        df = df.filter(pl.col(k) == v)
    assert df.height == 1, df
    return df.row(0, named=True)


# ---------------------------------------------------------------------------------------------


def test_city_share_is_ratio_of_sums_not_mean_of_rates(seeded):
    df = metric_values(seeded, ["online_rate"], F(), "city")
    row = _one(df, period="2024-03")
    num = _sum(CASE_FACTS, "online_accepted", lambda r: r["month"] == MAR)
    den = _sum(CASE_FACTS, "accepted", lambda r: r["month"] == MAR)
    assert (num, den) == (16, 22)
    assert row["numerator"] == 16 and row["denominator"] == 22
    assert row["value"] == pytest.approx(16 / 22)
    assert row["value"] != pytest.approx((1 / 4 + 6 / 6 + 9 / 12) / 3)
    assert row["region_code"] == "C" and row["region_name"] == "示例市"


def test_region_grain_rolls_town_agency_into_its_county(seeded):
    df = metric_values(seeded, ["accepted", "completed"], F(), "region")
    acc = df.filter(pl.col("metric_id") == "accepted")
    assert _one(acc, region_code="K1")["value"] == 4 + 6  # A1 (county) + A2 (town T1)
    assert _one(acc, region_code="K2")["value"] == 12
    # the city's own department forms its own row, not part of any county
    city_own = _one(df.filter(pl.col("metric_id") == "completed"), region_code="C")
    assert city_own["value"] == 3 and city_own["region_name"] == "示例市本级"
    assert _one(acc, region_code="K1")["region_name"] == "甲县"


def test_region_filter_narrows_to_the_subtree(seeded):
    df = metric_values(seeded, ["accepted"], F(region_code="K1"), "city")
    assert _one(df, period="2024-03")["value"] == 10
    by_unit = metric_values(seeded, ["accepted"], F(region_code="K1"), "region")
    assert _one(by_unit, region_code="T1")["value"] == 6
    assert _one(by_unit, region_code="K1")["value"] == 4  # K1's own agency A1


def test_zero_denominator_gives_null_not_zero(seeded):
    df = metric_values(seeded, ["online_rate"], F(), "agency")
    a0 = _one(df, agency_code="A0")
    assert a0["value"] is None and a0["denominator"] == 0
    assert a0["ci_low"] is None and a0["ci_high"] is None
    assert _one(df, agency_code="A2")["value"] == 1.0


def test_count_metrics_sum_numerator_and_have_no_denominator(seeded):
    df = metric_values(seeded, ["accepted", "overdue"], F(), "city")
    assert _one(df, metric_id="accepted")["value"] == 22
    assert _one(df, metric_id="accepted")["denominator"] is None
    # overdue = completed overdue + open and overdue at month end
    assert _one(df, metric_id="overdue")["value"] == (1 + 1) + 2


def test_metric_spanning_two_fact_tables_and_score_factor(seeded):
    df = metric_values(seeded, ["report_timely_rate", "review_score"], F(), "city")
    rt = _one(df, metric_id="report_timely_rate")
    assert (rt["numerator"], rt["denominator"]) == (5 + 3, 5 + 4)
    assert _one(df, metric_id="review_score")["value"] == pytest.approx(30 / 4)


def test_quarter_sums_flows_and_takes_stocks_at_period_end(seeded):
    df = metric_values(seeded, ["accepted", "in_progress", "on_time_rate"], F(JAN, MAR),
                       "city", "quarter")
    assert df["period"].unique().to_list() == ["2024-Q1"]
    q1 = [r for r in CASE_FACTS if JAN <= r["month"] <= MAR]
    assert _one(df, metric_id="accepted")["value"] == _sum(q1, "accepted") == 40
    # in progress is a month-end stock: the March snapshot, not Jan + Feb + Mar
    assert _one(df, metric_id="in_progress")["value"] == 3 + 1 + 2
    ot = _one(df, metric_id="on_time_rate")
    assert ot["numerator"] == _sum(q1, "completed_on_time")
    assert ot["denominator"] == _sum(q1, "completed_with_deadline")


def test_r12_window_covers_the_twelve_months_ending_at_each_month(seeded):
    df = metric_values(seeded, ["accepted"], F(), "city", "r12")
    row = _one(df, period="2024-03")
    window = [r for r in CASE_FACTS if D(2023, 4, 1) <= r["month"] <= MAR]
    assert row["value"] == _sum(window, "accepted") == 22 + 10 + 8 + 3
    assert row["period_start"] == D(2023, 4, 1) and row["period_end"] == MAR
    # the previous window (Mar 2023 – Feb 2024) has March 2023 but not March 2024
    assert row["mom"] == (22 + 10 + 8 + 3) - (20 + 3 + 8 + 10)


def test_mom_and_yoy_by_hand(seeded):
    df = metric_values(seeded, ["online_rate", "accepted"], F(), "agency")
    a1 = _one(df, agency_code="A1", metric_id="online_rate")
    assert a1["mom"] == pytest.approx(1 / 4 - 5 / 10)
    assert a1["yoy"] == pytest.approx(1 / 4 - 2 / 20)
    acc = _one(df, agency_code="A1", metric_id="accepted")
    assert acc["mom"] == 4 - 10 and acc["mom_rel"] == pytest.approx(4 / 10 - 1)
    assert acc["yoy"] == 4 - 20
    # A2 had no rows a month before: no data, so no change
    assert _one(df, agency_code="A2", metric_id="accepted")["mom"] is None
    # only the requested month is returned, the earlier months were read for the changes
    assert df["period"].unique().to_list() == ["2024-03"]


def test_wilson_interval_matches_statsmodels(seeded):
    from statsmodels.stats.proportion import proportion_confint

    df = metric_values(seeded, ["online_rate", "on_time_rate", "avg_used_days"], F(), "agency")
    checked = 0
    for row in df.filter(pl.col("metric_id") != "avg_used_days").iter_rows(named=True):
        if not row["denominator"]:
            continue
        lo, hi = proportion_confint(row["numerator"], row["denominator"], alpha=0.05,
                                    method="wilson")
        assert row["ci_low"] == pytest.approx(lo, abs=1e-6)
        assert row["ci_high"] == pytest.approx(hi, abs=1e-6)
        checked += 1
    assert checked >= 6
    assert df.filter(pl.col("metric_id") == "avg_used_days")["ci_low"].null_count() == \
        df.filter(pl.col("metric_id") == "avg_used_days").height


def _inverted_cdf(rows, q: str) -> int:
    """Independent definition: the ceil(q·N)-th smallest value (1-based) of the expanded data."""
    values = sorted(v for r in rows for v in [r["used_wd"]] * r["n"])
    k = math.ceil(Fraction(q) * len(values))
    return values[k - 1]


def test_quantile_from_histogram(seeded):
    df = metric_values(seeded, ["median_used_days", "p90_used_days"], F(), "city")
    assert _one(df, metric_id="median_used_days")["value"] == _inverted_cdf(HIST, "0.5") == 2
    assert _one(df, metric_id="p90_used_days")["value"] == _inverted_cdf(HIST, "0.9") == 5
    assert _one(df, metric_id="median_used_days")["denominator"] == 15
    by_agency = metric_values(seeded, ["p90_used_days"], F(), "agency")
    a1 = [r for r in HIST if r["agency_code"] == "A1"]
    assert _one(by_agency, agency_code="A1")["value"] == _inverted_cdf(a1, "0.9") == 5


def test_median_of_an_even_count_is_the_mean_of_the_two_middle_values(seeded):
    # A1 alone: 0 0 1 1 1 | 5 5 5 5 9 — ten cases, the 5th is 1 and the 6th is 5 → 3.0
    # (the lower middle value, 1, is what an inverted CDF would give); the city's fifteen
    # cases are odd: the 8th value, 2.
    df = metric_values(seeded, ["median_used_days"], F(), "agency")
    assert _one(df, agency_code="A1")["value"] == 3.0
    assert _one(df, agency_code="A3")["value"] == 2.0  # five cases, all 2
    a1 = sorted(r["used_wd"] for r in HIST if r["agency_code"] == "A1" for _ in range(r["n"]))
    import statistics
    assert statistics.median(a1) == 3.0


def test_coverage_counts_agencies_with_cases_and_valid_reviews(seeded):
    df = metric_values(seeded, ["review_coverage_rate"], F(), "city")
    row = _one(df, period="2024-03")
    # agencies with cases in March: A0, A1, A2, A3; with a valid review: A1 (A3's is void)
    assert (row["numerator"], row["denominator"]) == (1, 4)
    region = metric_values(seeded, ["review_coverage_rate"], F(), "region")
    assert _one(region, region_code="K1")["value"] == 0.5


def test_index_metric_reads_be_scores_at_region_grain_only(seeded):
    df = metric_values(seeded, ["be_index"], F(), "region")
    assert _one(df, region_code="K1")["value"] == 80.0
    assert _one(df, region_code="K2")["value"] == 70.0
    assert _one(metric_values(seeded, ["be_index"], F(), "city"), region_code="C")["value"] == 75
    assert metric_values(seeded, ["be_index"], F(), "agency").is_empty()


def test_sector_and_item_type_filters(seeded):
    df = metric_values(seeded, ["accepted"], F(sectors=["tax"]), "city")
    assert _one(df, period="2024-03")["value"] == 12  # A0 (0) + A3 (12)
    df = metric_values(seeded, ["accepted"], F(item_types=["public_service"]), "city")
    assert _one(df, period="2024-03")["value"] == 6
    df = metric_values(seeded, ["accepted"], F(), "sector")
    assert _one(df, sector="market")["value"] == 10


def test_allowed_agencies_always_intersects(seeded):
    df = metric_values(seeded, ["accepted"], F(sectors=["market"], allowed_agencies=["A2", "A3"]),
                       "city")
    assert _one(df, period="2024-03")["value"] == 6
    assert metric_values(seeded, ["accepted"], F(allowed_agencies=[]), "city").is_empty()


def test_filters_are_hashable_and_normalised():
    a = Filters(D(2024, 3, 15), MAR, sectors=["b", "a", "a"])
    b = Filters(MAR, MAR, sectors=("a", "b"))
    assert a == b and hash(a) == hash(b)
    with pytest.raises(XiaonengError):
        Filters(MAR, FEB)


def test_unknown_metric_id_is_a_user_error(seeded):
    with pytest.raises(XiaonengError, match="valid ids"):
        metric_values(seeded, ["no_such_metric"], F(), "city")


def test_ranking_ties_share_rank_and_small_units_are_not_ranked(seeded):
    df = ranking(seeded, "on_time_rate", F(), "agency", MAR, min_n=3)
    rows = {r["agency_code"]: r for r in df.iter_rows(named=True)}
    assert rows["A0"]["rank"] == 1  # 3/3
    assert rows["A1"]["rank"] == rows["A3"]["rank"] == 2  # 4/5 each
    assert rows["A2"]["rank"] is None and rows["A2"]["rank_note"] == "below_min_n"  # 2/2
    assert df["agency_code"].to_list()[-1] == "A2"
    # lower-is-better metric ranks ascending
    overdue = ranking(seeded, "overdue", F(), "agency", MAR, min_n=0)
    assert overdue["agency_code"][0] in ("A2", "A0")
    assert _one(overdue, agency_code="A1")["rank"] == 4  # 3 overdue, the most


def test_case_list_pages_are_complete_stable_and_ordered(seeded):
    pages, total = [], None
    for page in (1, 2, 3):
        df, total = case_list(seeded, "accepted", F(agency_codes=["A1"]), MAR, page, 3)
        pages.append(df)
    assert total == 7  # c98 is withdrawn but was accepted: it counts
    assert [p.height for p in pages] == [3, 3, 1]
    ids = pl.concat(pages)["case_id"].to_list()
    assert len(set(ids)) == 7
    expected = sorted(
        (c for c in CASES if c["agency_code"] == "A1" and c["accepted_at"].month == 3),
        key=lambda c: (c["accepted_at"], c["case_id"]),
    )
    assert ids == [c["case_id"] for c in expected]
    again, _ = case_list(seeded, "accepted", F(agency_codes=["A1"]), MAR, 2, 3)
    assert again["case_id"].to_list() == ids[3:6]
    assert pages[0]["agency_name"][0] == "甲县局"


def test_case_list_on_time_parts_use_yellow_cards(seeded):
    late, n_late = case_list(seeded, "on_time_rate", F(), MAR, part="complement")
    ok, n_ok = case_list(seeded, "on_time_rate", F(), MAR, part="numerator")
    _, n_all = case_list(seeded, "on_time_rate", F(), MAR, part="denominator")
    assert late["case_id"].to_list() == ["c03"]
    assert n_ok == 4 and n_all == n_ok + n_late  # c07, c05, c02, c04 completed on time
    overdue, n = case_list(seeded, "overdue", F(), MAR)
    assert sorted(overdue["case_id"].to_list()) == ["c01", "c03"] and n == 2


def test_case_list_online_rate_and_cards(seeded):
    df, n = case_list(seeded, "online_rate", F(), MAR)
    assert sorted(df["case_id"].to_list()) == ["c02", "c05"] and n == 2
    cards, n = case_list(seeded, "yellow_cards", F(), MAR)
    assert n == 2 and set(cards["card_id"].to_list()) == {"yellow:c01", "yellow:c03"}
    with pytest.raises(XiaonengError):
        case_list(seeded, "accepted", F(), MAR, part="complement")
    with pytest.raises(XiaonengError):
        case_list(seeded, "accepted", F(), MAR, page=0)


@pytest.mark.parametrize("field", ["agency_codes", "sectors", "item_codes", "channels"])
def test_sql_metacharacters_in_filters_match_nothing(seeded, field):
    evil = "x' OR '1'='1"
    df, total = case_list(seeded, "accepted", F(**{field: [evil]}), MAR)
    assert total == 0 and df.is_empty()
    df, total = case_list(seeded, "accepted", F(region_code=evil + "; DROP TABLE cases; --"), MAR)
    assert total == 0
    assert metric_values(seeded, ["accepted"], F(**{field: [evil]}), "city").is_empty()
    # nothing was broken: the unfiltered list still works
    assert case_list(seeded, "accepted", F(), MAR)[1] == 8


def test_catalogue_metric_takes_the_latest_snapshot_of_a_quarter(seeded):
    snaps = [
        {"month": JAN, "item_code": "I1", "sector": "market", "item_type": "licensing",
         "items": 10, "online_capable_items": 5},
        {"month": FEB, "item_code": "I1", "sector": "market", "item_type": "licensing",
         "items": 10, "online_capable_items": 8},
        {"month": FEB, "item_code": "I2", "sector": "tax", "item_type": "public_service",
         "items": 10, "online_capable_items": 10},
    ]
    with seeded.begin() as conn:
        for row in snaps:
            conn.execute(sa.insert(schema.catalogue_facts), row)
    df = metric_values(seeded, ["online_capable_item_rate"], F(JAN, MAR), "city", "quarter")
    row = _one(df, period="2024-Q1")
    assert (row["numerator"], row["denominator"]) == (8 + 10, 20)  # February, not Jan + Feb
    by_sector = metric_values(seeded, ["online_capable_item_rate"], F(FEB, FEB), "sector")
    assert _one(by_sector, sector="market")["value"] == 0.8
    # the catalogue is not per agency: no agency-grain rows, none under an agency filter
    assert metric_values(seeded, ["online_capable_item_rate"], F(FEB, FEB), "agency").is_empty()
    assert metric_values(seeded, ["online_capable_item_rate"], F(FEB, FEB, agency_codes=["A1"]),
                         "city").is_empty()


def test_a_catalogue_snapshot_holds_until_the_next_and_stands_in_before_the_first(seeded):
    # one snapshot stamped February (the data cut-off of the run that took it): January takes
    # it (no earlier catalogue is known), March carries it forward; then a March snapshot
    # replaces it for March only
    def snap(month, capable):
        return {"month": month, "item_code": "I1", "sector": "market", "item_type": "licensing",
                "items": 10, "online_capable_items": capable}

    with seeded.begin() as conn:
        conn.execute(sa.insert(schema.catalogue_facts), snap(FEB, 6))
    df = metric_values(seeded, ["online_capable_item_rate"], F(JAN, MAR), "city")
    assert dict(df.select("period", "value").iter_rows()) == {
        "2024-01": 0.6, "2024-02": 0.6, "2024-03": 0.6}
    with seeded.begin() as conn:
        conn.execute(sa.insert(schema.catalogue_facts), snap(MAR, 9))
    df = metric_values(seeded, ["online_capable_item_rate"], F(JAN, MAR), "city")
    assert dict(df.select("period", "value").iter_rows()) == {
        "2024-01": 0.6, "2024-02": 0.6, "2024-03": 0.9}
    assert df.filter(pl.col("period") == "2024-03")["mom"][0] == pytest.approx(0.3)
