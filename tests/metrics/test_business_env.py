"""营商环境指数 (metrics.md §8) on hand-made regions, bundles and facts (2024 calendar).

Region tree: province 33 > city 3302 > counties 330201 (A), 330202 (B), 330203 (C),
330204 (D); town 330201001 lies in A. Agencies: agT (the town), agA, agB, agC, agD, agCity.

Calendar facts (ord = working days on or before the date):
- Spring Festival 2024: 02-10..02-17 off; Sun 02-04 and Sun 02-18 are 调休 working days.
  ord: 02-02 → 273, 02-07 → 277, 02-08 → 278, 02-19 → 281, 02-20 → 282, 02-23 → 285.
- Qingming 2024: 04-04..04-06 off, Sun 04-07 worked.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from metrics.business_env import BE_SCHEMA, be_scores, distance_to_frontier
from metrics.settings import Settings
from queries.schema import CASE_MEASURES, REVIEW_MEASURES
from queries.schema import be_scores as be_table

D, T = dt.date, dt.datetime
FEB, JAN = D(2024, 2, 1), D(2024, 1, 1)

REGIONS = pl.DataFrame(
    {
        "region_code": ["33", "3302", "330201", "330202", "330203", "330204", "330201001"],
        "name": ["省", "市", "A县", "B县", "C县", "D县", "A镇"],
        "parent_code": [None, "33", "3302", "3302", "3302", "3302", "330201"],
        "level": ["province", "city", "county", "county", "county", "county", "town"],
    }
)
AGENCIES = pl.DataFrame(
    {
        "agency_code": ["agT", "agA", "agB", "agC", "agD", "agCity"],
        "region_code": ["330201001", "330201", "330202", "330203", "330204", "3302"],
        "sector": ["市场监管"] * 6,
    }
)
ITEMS = pl.DataFrame(
    {
        "item_code": ["S1", "S2", "X", "K1", "P1"],
        "be_indicator": ["business_startup", "business_startup", None, "construction_permit",
                         "property_registration"],
    }
)
CASE_SCHEMA = {
    "case_id": pl.String, "item_code": pl.String, "agency_code": pl.String,
    "channel": pl.String, "bundle_id": pl.String, "project_code": pl.String,
    "accepted_at": pl.Datetime("us"), "completed_at": pl.Datetime("us"), "status": pl.String,
    "statutory_days": pl.Int32, "promised_days": pl.Int32, "limit_unit": pl.String,
}
SUSP_SCHEMA = {"case_id": pl.String, "started_at": pl.Datetime("us"),
               "ended_at": pl.Datetime("us"), "reason": pl.String, "approved_days": pl.Int32}


def case(case_id, item, agency, accepted, completed=None, status=None, bundle=None,
         project=None) -> dict:
    return dict(case_id=case_id, item_code=item, agency_code=agency, channel="window",
                bundle_id=bundle, project_code=project, accepted_at=accepted,
                completed_at=completed, status=status or ("completed" if completed else
                                                          "in_progress"),
                statutory_days=20, promised_days=10, limit_unit="working")


def cases_frame(rows: list[dict]) -> pl.LazyFrame:
    return pl.DataFrame(rows, schema=CASE_SCHEMA).lazy()


def facts_frame(rows: list[dict], measures: tuple[str, ...]) -> pl.LazyFrame:
    """Fact rows at the grain with every measure 0 unless given."""
    full = [{"item_code": "I", "channel": "window", **{m: 0 for m in measures}, **r}
            for r in rows]
    schema = {"month": pl.Date, "agency_code": pl.String, "item_code": pl.String,
              "channel": pl.String, **{m: pl.Int64 for m in measures}}
    return pl.DataFrame(full, schema=schema).lazy()


NO_REVIEWS = facts_frame([], REVIEW_MEASURES)
NO_CASE_FACTS = facts_frame([], CASE_MEASURES)

STARTUP_CASES = [
    # B1: first accepted Wed 02-07 (ord 277) at the town agency → county A; last completed
    # Tue 02-20 (ord 282) at a city agency: 282 − 277 = 5 working days.
    case("b1a", "S1", "agT", T(2024, 2, 7, 9), T(2024, 2, 8, 9), bundle="B1"),
    case("b1b", "S2", "agCity", T(2024, 2, 8, 9), T(2024, 2, 20, 15), bundle="B1"),
    # Same bundle id on a non-startup item: not part of the startup bundle.
    case("b1x", "X", "agCity", T(2024, 2, 8, 9), T(2024, 2, 29, 15), bundle="B1"),
    # B2: Thu 02-08 (278) → Mon 02-19 (281): 3. Its withdrawn case is outside the clock.
    case("b2a", "S1", "agA", T(2024, 2, 8, 9), T(2024, 2, 19, 9), bundle="B2"),
    case("b2w", "S2", "agA", T(2024, 2, 8, 10), None, status="withdrawn", bundle="B2"),
    # B3: Fri 02-02 (273) → Fri 02-23 (285): 12 (counts Sun 02-04 and Sun 02-18).
    case("b3a", "S1", "agA", T(2024, 2, 2, 9), T(2024, 2, 5, 9), bundle="B3"),
    case("b3b", "S2", "agA", T(2024, 2, 5, 9), T(2024, 2, 23, 9), bundle="B3"),
    # B4: one case still in progress → not finished, left out.
    case("b4a", "S1", "agA", T(2024, 2, 1, 9), T(2024, 2, 2, 9), bundle="B4"),
    case("b4b", "S2", "agA", T(2024, 2, 1, 9), None, bundle="B4"),
    # B5: finished in March → not a February bundle.
    case("b5a", "S1", "agA", T(2024, 2, 26, 9), T(2024, 3, 4, 9), bundle="B5"),
]


AS_OF = T(2024, 3, 31, 23)


def run(cases, case_facts=NO_CASE_FACTS, review_facts=NO_REVIEWS, months=(FEB,),
        settings=None, as_of=AS_OF, suspensions=None, cal=None) -> pl.DataFrame:
    return be_scores(cases, ITEMS.lazy(), AGENCIES.lazy(), REGIONS.lazy(), case_facts,
                     review_facts, cal, list(months), settings or Settings(), as_of,
                     suspensions=suspensions).collect()


def row(out: pl.DataFrame, region: str, indicator: str, month: dt.date = FEB) -> dict:
    sel = out.filter((pl.col("month") == month) & (pl.col("region_code") == region)
                     & (pl.col("indicator") == indicator))
    assert sel.height == 1, (region, indicator, month)
    return sel.row(0, named=True)


def test_distance_to_frontier_for_lower_and_higher_is_better_with_clipping():
    x = pl.DataFrame({"x": [5.0, 0.5, 25.0, None]})
    # startup_days, lower is better: frontier 1, worst 20.
    low = x.select(distance_to_frontier(pl.col("x"), 1.0, 20.0)).to_series().to_list()
    # 5 → 100 × (20 − 5) / (20 − 1) = 1500 / 19; 0.5 beats the frontier → 105.3 → clipped 100;
    # 25 is past the worst → −26.3 → clipped 0; null stays null.
    assert low[0] == pytest.approx(1500 / 19) and low[1:] == [100.0, 0.0, None]
    # on_time_rate, higher is better: frontier 1.0, worst 0.8.
    y = pl.DataFrame({"x": [0.9, 1.0, 0.7]})
    high = y.select(distance_to_frontier(pl.col("x"), 1.0, 0.8)).to_series().to_list()
    # 0.9 → 100 × (0.8 − 0.9) / (0.8 − 1.0) = 50; 1.0 → 100; 0.7 → −50 → clipped 0.
    assert high == pytest.approx([50.0, 100.0, 0.0])


def test_startup_days_is_the_median_over_finished_bundles_across_the_spring_festival(cal_index):
    out = run(cases_frame(STARTUP_CASES), cal=cal_index)
    a = row(out, "330201", "startup_days")
    # Bundles finished in February in county A: B1 = 5, B2 = 3, B3 = 12 → median 5.
    assert (a["value"], a["n"]) == (5.0, 3)
    assert a["pillar"] == "business_startup"
    assert a["score"] == pytest.approx(100 * (20 - 5) / (20 - 1))  # 78.947…
    # The city row is the whole city: the same three bundles.
    assert (row(out, "3302", "startup_days")["value"], row(out, "3302", "startup_days")["n"]) == (
        5.0, 3)
    # Counties with no finished bundle have no value and no score (not 0).
    b = row(out, "330202", "startup_days")
    assert b["value"] is None and b["score"] is None and b["rank"] is None


def test_startup_days_median_of_an_even_number_of_bundles_is_the_mean_of_the_middle_two(
        cal_index):
    # Without B3 (12 days) county A has two finished bundles, B1 = 5 and B2 = 3: the median
    # of metrics.md §1 is (3 + 5) / 2 = 4.0, not the lower middle value 3.
    rows = [c for c in STARTUP_CASES if c["bundle_id"] != "B3"]
    a = row(run(cases_frame(rows), cal=cal_index), "330201", "startup_days")
    assert (a["value"], a["n"]) == (4.0, 2)


def test_be_scores_have_the_columns_of_the_table_and_one_row_per_region_and_indicator(cal_index):
    out = run(cases_frame(STARTUP_CASES), cal=cal_index)
    assert out.columns == [c.name for c in be_table.columns] == list(BE_SCHEMA)
    # 5 scoring regions (4 counties + the city) × (9 sub-indicators + the index); the town
    # and the province are not scoring regions.
    assert out.height == 5 * 10
    assert set(out["region_code"]) == {"3302", "330201", "330202", "330203", "330204"}


def test_construction_days_and_property_days(cal_index):
    rows = [
        # Project K: accepted Mon 04-01, last completion Wed 04-10 in county B. Working days
        # after 04-01: 04-02, 04-03, [Qingming 04-04..06], Sun 04-07, 04-08, 04-09, 04-10 = 6.
        case("k1", "K1", "agB", T(2024, 4, 1, 9), T(2024, 4, 3, 9), project="K"),
        case("k2", "K1", "agB", T(2024, 4, 3, 9), T(2024, 4, 10, 9), project="K"),
        # Property registration in county A, March (no holiday): accepted Mon 03-04.
        case("p1", "P1", "agA", T(2024, 3, 4, 9), T(2024, 3, 7, 9)),  # used 3
        case("p2", "P1", "agA", T(2024, 3, 4, 9), T(2024, 3, 5, 9)),  # used 1
        case("p3", "P1", "agA", T(2024, 3, 4, 9), T(2024, 3, 8, 9)),  # 4 − 2 suspended = 2
    ]
    susp = pl.DataFrame(
        [dict(case_id="p3", started_at=T(2024, 3, 5, 9), ended_at=T(2024, 3, 7, 9),
              reason="inspection", approved_days=None)],
        schema=SUSP_SCHEMA,
    ).lazy()
    mar, apr = D(2024, 3, 1), D(2024, 4, 1)
    out = run(cases_frame(rows), months=(mar, apr), as_of=T(2024, 4, 30), suspensions=susp,
              cal=cal_index)
    k = row(out, "330202", "construction_days", apr)
    assert (k["value"], k["n"]) == (6.0, 1)
    # 6 beats the frontier of 30: 100 × (200 − 6) / (200 − 30) = 114.1 → clipped to 100.
    assert k["score"] == 100.0
    p = row(out, "330201", "property_days", mar)
    # Mean used_wd (3 + 1 + 2) / 3 = 2; score 100 × (15 − 2) / (15 − 1) = 1300 / 14.
    assert (p["value"], p["n"]) == (2.0, 3)
    assert p["score"] == pytest.approx(1300 / 14)


# Two pillars for hand-computable weights: startup (weight 1/2 × 1/1 = 0.5) and service
# (on_time_rate, online_rate: 1/2 × 1/2 = 0.25 each).
SMALL = Settings(be_pillars={"startup": ["startup_days"],
                             "service": ["on_time_rate", "online_rate"]})


def gov_facts(with_january: bool = True) -> pl.LazyFrame:
    def f(month, agency, accepted, online, with_deadline, on_time):
        return dict(month=month, agency_code=agency, accepted=accepted,
                    online_accepted=online, completed_with_deadline=with_deadline,
                    completed_on_time=on_time)
    rows = [
        f(FEB, "agA", 10, 8, 10, 9),  # online 0.8, on time 0.9
        f(FEB, "agB", 10, 2, 10, 10),  # online 0.2, on time 1.0
        f(FEB, "agC", 10, 2, 10, 10),  # same as B → ties
        f(FEB, "agD", 10, 2, 10, 8),  # online 0.2, on time 0.8 (both at the worst)
    ]
    if with_january:
        rows.append(f(JAN, "agA", 10, 8, 10, 8))  # online 0.8, on time 0.8
    return facts_frame(rows, CASE_MEASURES)


def test_index_is_the_weighted_mean_of_available_scores_and_contributions_sum_to_it(cal_index):
    out = run(cases_frame(STARTUP_CASES), gov_facts(), settings=SMALL, cal=cal_index)
    # County A: startup 5 → 1500/19 = 78.947…; on time 0.9 → 100 × (0.8 − 0.9)/(0.8 − 1) = 50;
    # online 0.8 → 100 × (0.2 − 0.8)/(0.2 − 1) = 75.
    # Index = 0.5 × 78.947 + 0.25 × 50 + 0.25 × 75 = 39.474 + 12.5 + 18.75 = 70.724 (Σw = 1).
    startup = 1500 / 19
    a_index = 0.5 * startup + 0.25 * 50 + 0.25 * 75
    a = row(out, "330201", "be_index")
    assert a["value"] == pytest.approx(a_index) and a["score"] == pytest.approx(a_index)
    assert a["pillar"] == "index" and a["weight"] is None and a["contribution"] is None
    contrib = {i: row(out, "330201", i)["contribution"]
               for i in ("startup_days", "on_time_rate", "online_rate")}
    assert contrib == pytest.approx({"startup_days": 0.5 * startup, "on_time_rate": 12.5,
                                     "online_rate": 18.75})
    assert sum(contrib.values()) == pytest.approx(a_index)
    # County B has no startup bundle: its index re-weights over the two scored indicators.
    # on time 1.0 → 100, online 0.2 → 0: (0.25 × 100 + 0.25 × 0) / 0.5 = 50.
    b = row(out, "330202", "be_index")
    assert b["value"] == pytest.approx(50.0)
    assert row(out, "330202", "on_time_rate")["contribution"] == pytest.approx(50.0)
    assert row(out, "330202", "startup_days")["contribution"] is None
    # The city (全市): online 14/40 = 0.35 → 100 × (0.2 − 0.35)/(0.2 − 1) = 18.75; on time
    # 37/40 = 0.925 → 62.5; startup 5 → 78.947. Index 0.5 × 78.947 + 0.25 × (62.5 + 18.75).
    city = row(out, "3302", "be_index")
    assert city["value"] == pytest.approx(0.5 * startup + 0.25 * (62.5 + 18.75))
    assert row(out, "3302", "online_rate")["n"] == 40


def test_counties_are_ranked_with_ties_sharing_the_min_rank_and_the_city_unranked(cal_index):
    out = run(cases_frame(STARTUP_CASES), gov_facts(), settings=SMALL, cal=cal_index)

    def ranks(indicator):
        return {r: row(out, r, indicator)["rank"]
                for r in ("330201", "330202", "330203", "330204", "3302")}

    # Index: A 70.7, B 50, C 50, D 0 → 1, 2, 2, 4.
    assert ranks("be_index") == {"330201": 1, "330202": 2, "330203": 2, "330204": 4,
                                 "3302": None}
    # On time scores: A 50, B 100, C 100, D 0 → 3, 1, 1, 4.
    assert ranks("on_time_rate") == {"330201": 3, "330202": 1, "330203": 1, "330204": 4,
                                     "3302": None}


def test_change_is_the_score_difference_from_the_previous_month(cal_index):
    out = run(cases_frame(STARTUP_CASES), gov_facts(), settings=SMALL, cal=cal_index)
    assert set(out["month"]) == {FEB}  # January is computed for `change` only
    # County A in January: on time 0.8 → 0, online 0.8 → 75, no startup bundle;
    # index (0.25 × 0 + 0.25 × 75) / 0.5 = 37.5.
    assert row(out, "330201", "on_time_rate")["change"] == pytest.approx(50.0)  # 50 − 0
    assert row(out, "330201", "online_rate")["change"] == pytest.approx(0.0)  # 75 − 75
    assert row(out, "330201", "startup_days")["change"] is None  # no January value
    a_index = 0.5 * 1500 / 19 + 0.25 * 50 + 0.25 * 75
    assert row(out, "330201", "be_index")["change"] == pytest.approx(a_index - 37.5)
    assert row(out, "330202", "on_time_rate")["change"] is None  # B had no January data


def test_change_of_facts_based_indicators_is_null_when_the_facts_miss_the_previous_month(
    cal_index,
):
    out = run(cases_frame(STARTUP_CASES), gov_facts(with_january=False), settings=SMALL,
              cal=cal_index)
    # Without January facts the January index would be partial, so no change is reported.
    assert row(out, "330201", "online_rate")["change"] is None
    assert row(out, "330201", "be_index")["change"] is None
    assert row(out, "330201", "online_rate")["score"] == pytest.approx(75.0)
