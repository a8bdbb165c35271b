"""The bulletin's numbers are the query API's numbers for the same period and scope, ranked by
the documented rules within peer groups."""

from __future__ import annotations

import dataclasses
import datetime as dt
import math

import polars as pl
import pytest

from metrics.bulletin import (
    Bulletin,
    BulletinRules,
    build_bulletin,
    parse_scope,
    period_bounds,
    scope_filters,
)
from metrics.bulletin import text as tx
from metrics.bulletin.build import OVERALL_IDS
from metrics.bulletin.model import compute_hash
from metrics.bulletin.text import shown_diff
from metrics.query import metric_values
from metrics.registry import METRIC_BY_ID
from queries import bulletin_extracts as bx
from queries import extracts
from tests.reports.conftest import ISSUED, MONTH


def _close(a, b) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return math.isclose(a, b, rel_tol=1e-12, abs_tol=1e-12)


def test_overall_table_equals_metric_values(demo_engine, city_bulletin):
    scope = city_bulletin.scope
    expected = {r["metric_id"]: r for r in metric_values(
        demo_engine, list(OVERALL_IDS), scope_filters(scope, MONTH), "city").iter_rows(named=True)}
    rows = {r["metric"]: r for r in city_bulletin.table("overall").records()}
    for mid in OVERALL_IDS:
        met = METRIC_BY_ID[mid]
        row, exp = rows[met.zh], expected[mid]
        assert _close(row["value"], exp["value"]), mid
        prev = None if exp["mom"] is None else exp["value"] - exp["mom"]
        assert _close(row["prev"], prev), mid
        if met.fmt == "int":  # counts: the relative change
            assert _close(row["mom"], exp["mom_rel"]), mid
        else:  # shares and days: the change of the printed values (so 1.1 vs 1.0 is +0.1)
            assert _close(row["mom"], shown_diff(exp["value"], prev, met.fmt)), mid


def test_narrative_is_generated_from_the_numbers(city_bulletin):
    overall = {r["metric"]: r for r in city_bulletin.table("overall").records()}
    text = "".join(city_bulletin.sections[0].paragraphs)
    accepted = overall["受理量"]
    assert f"{int(accepted['value']):,}件" in text
    word = "增长" if accepted["mom"] > 0 else "下降"
    assert f"环比{word}{abs(accepted['mom']) * 100:.2f}%" in text
    assert f"按时办结率{overall['按时办结率']['value'] * 100:.2f}%" in text


def test_region_ranking_equals_metric_values(demo_engine, city_bulletin):
    f = scope_filters(city_bulletin.scope, MONTH)
    mv = metric_values(demo_engine, ["accepted", "on_time_rate", "overdue"], f, "region")
    recs = city_bulletin.table("rank_regions").records()
    assert {r["code"] for r in recs} == set(mv["region_code"]) - {city_bulletin.scope.region_code}
    for rec in recs:
        vals = {r["metric_id"]: r["value"] for r in
                mv.filter(pl.col("region_code") == rec["code"]).iter_rows(named=True)}
        assert rec["accepted"] == vals["accepted"]
        assert _close(rec["on_time_rate"], vals["on_time_rate"])
        assert rec["overdue"] == vals["overdue"]


def test_peer_groups_follow_the_scope(demo_engine, city_bulletin):
    """City: counties and 市直部门; county: its 县直部门 (no counties inside a county);
    sector: the sector's county offices, and its city office apart."""
    ids = {t.id for t in city_bulletin.tables}
    assert {"rank_regions", "rank_departments"} <= ids
    county = build_bulletin(demo_engine, MONTH, parse_scope(demo_engine, "county:331221"),
                            issued_on=ISSUED)
    assert "rank_departments" in {t.id for t in county.tables}
    assert "rank_regions" not in {t.id for t in county.tables}  # the demo's towns have no office
    assert not any("县（市、区）" in p for p in county.sections[1].paragraphs)
    agencies = {r["code"] for r in county.table("rank_departments").records()}
    region_of = dict(extracts.load_agencies(demo_engine).select("agency_code", "region_code")
                     .iter_rows())
    assert {region_of[a] for a in agencies} == {"331221"}
    sector = build_bulletin(demo_engine, MONTH, parse_scope(demo_engine, "sector:市场监管"),
                            issued_on=ISSUED)
    local = sector.table("rank_sector_local").records()
    assert all(region_of[r["code"]] != "331200" for r in local)
    assert [region_of[r["code"]] for r in sector.table("rank_sector_city").records()] == \
        ["331200"]


def test_scores_are_points_minus_deductions(city_bulletin):
    """With every component present, 综合得分 = 100 − Σ 扣分 (the table adds up)."""
    rules = BulletinRules.from_dict(city_bulletin.provenance["rules"])
    keys = [f"ded_{c.id}" for c in rules.scoring.components]
    for t in ("score_regions", "score_departments"):
        for r in city_bulletin.table(t).records():
            if all(r[k] is not None for k in keys):
                assert r["score"] == pytest.approx(100 - sum(r[k] for k in keys), abs=1e-9)


def test_rankings_follow_the_rules(city_bulletin):
    rules = BulletinRules.from_dict(city_bulletin.provenance["rules"])
    for tid in ("score_regions", "score_departments"):
        recs = city_bulletin.table(tid).records()
        ranked = [r for r in recs if r["rank"] is not None]
        assert recs[: len(ranked)] == ranked  # ranked units first
        for a, b in zip(ranked, ranked[1:], strict=False):
            assert a["score"] >= b["score"]
            assert b["rank"] == (a["rank"] if b["score"] == a["score"] else ranked.index(b) + 1)
        for r in recs[len(ranked):]:
            assert r["rank_note"] is not None
        group = {r["code"] for r in recs}
        praised = [u for u in city_bulletin.praise if u.code in group]
        crit = [u for u in city_bulletin.criticism if u.code in group]
        assert len(praised) <= min(rules.top_n, len(ranked) // 3)
        assert len(crit) <= min(rules.top_n, len(ranked) // 3)
        assert not {u.code for u in praised} & {u.code for u in crit}


def test_lists_agree_with_their_counts(demo_engine, city_bulletin):
    scope = city_bulletin.scope
    f = scope_filters(scope, MONTH)
    vals = {r["metric_id"]: r for r in metric_values(
        demo_engine, ["overdue", "yellow_cards", "red_cards", "reviews", "good_review_rate"], f,
        "city").iter_rows(named=True)}
    codes = None  # the city is the whole tree here
    _, total = bx.overdue_cases(demo_engine, MONTH, f, codes, 5)
    assert total == vals["overdue"]["value"]
    cards = bx.card_counts(demo_engine, MONTH, f, codes)
    assert cards["yellow"].sum() == vals["yellow_cards"]["value"]
    assert cards["red"].sum() == vals["red_cards"]["value"]
    levels = {r["level"]: r["count"] for r in city_bulletin.table("reviews_levels").records()}
    assert sum(levels.values()) == vals["reviews"]["value"]
    assert levels["非常满意"] + levels["满意"] == vals["good_review_rate"]["numerator"]


def test_county_and_sector_scopes_read_their_own_numbers(demo_engine):
    county = parse_scope(demo_engine, "county:331221")
    b = build_bulletin(demo_engine, MONTH, county, issued_on=ISSUED)
    exp = metric_values(demo_engine, ["accepted"], scope_filters(county, MONTH), "city")
    assert b.table("overall").records()[0]["value"] == exp["value"][0]
    sector = parse_scope(demo_engine, "sector:税务")
    s = build_bulletin(demo_engine, MONTH, sector, issued_on=ISSUED)
    exp = metric_values(demo_engine, ["accepted"], scope_filters(sector, MONTH), "city")
    assert s.table("overall").records()[0]["value"] == exp["value"][0]
    assert "business_env" not in {sec.id for sec in s.sections}  # a region index: no sector


@pytest.mark.parametrize("period, months", [("quarter", 3), ("year", 12)])
def test_quarterly_and_annual_bulletins_sum_their_months(demo_engine, period, months):
    """`--period quarter|year`: the same facts summed over the period containing the month."""
    scope = parse_scope(demo_engine, "city")
    b = build_bulletin(demo_engine, MONTH, scope, period=period, issued_on=ISSUED)
    first, last = period_bounds(MONTH, period)
    assert (last.month - first.month + 1) == months
    per_month = metric_values(demo_engine, ["accepted"], scope_filters(scope, first, last),
                              "city")  # one row per month
    assert b.table("overall").records()[0]["value"] == per_month["value"].sum()
    assert b.period == period and b.month == f"{last:%Y-%m}"
    assert ("第二季度" if period == "quarter" else "2025年全市") in b.title


def test_bulletin_round_trips_through_json_and_hash_covers_numbers(city_bulletin):
    again = Bulletin.from_json(city_bulletin.to_json())
    assert again == city_bulletin
    assert compute_hash(again) == city_bulletin.content_hash
    t = city_bulletin.table("overall")
    changed_rows = ((t.rows[0][0], t.rows[0][1] + 1, *t.rows[0][2:]), *t.rows[1:])
    a0 = dataclasses.replace(city_bulletin.attachments[0],
                             tables=(dataclasses.replace(t, rows=changed_rows),))
    other = dataclasses.replace(city_bulletin,
                                attachments=(a0, *city_bulletin.attachments[1:]))
    assert compute_hash(other) != city_bulletin.content_hash


def test_the_hash_ignores_a_last_bit_and_the_run_id_but_not_a_published_digit(city_bulletin):
    import math

    t = city_bulletin.table("overall")
    i = next(i for i, r in enumerate(t.rows) if isinstance(r[1], float) and r[1])

    def with_value(v: float):
        rows = tuple((*r[:1], v, *r[2:]) if j == i else r for j, r in enumerate(t.rows))
        a0 = dataclasses.replace(city_bulletin.attachments[0],
                                 tables=(dataclasses.replace(t, rows=rows),))
        return dataclasses.replace(city_bulletin,
                                   attachments=(a0, *city_bulletin.attachments[1:]))

    value = t.rows[i][1]
    assert compute_hash(with_value(math.nextafter(value, math.inf))) == city_bulletin.content_hash
    assert compute_hash(with_value(value * (1 + 1e-6))) != city_bulletin.content_hash
    rerun = dataclasses.replace(city_bulletin, provenance={
        **city_bulletin.provenance, "job_run_id": "another-run"})
    assert compute_hash(rerun) == city_bulletin.content_hash


def test_rebuilding_gives_the_same_hash(demo_engine, city_bulletin):
    again = build_bulletin(demo_engine, MONTH, city_bulletin.scope, issued_on=ISSUED)
    assert again.content_hash == city_bulletin.content_hash


def test_provenance_names_as_of_calendar_settings_and_definitions(city_bulletin):
    p = city_bulletin.provenance
    assert p["as_of"].startswith("2025-06-30 18:00")
    # the demo log stops at its last event of 2025-06-30 (the cut-off its load recorded)
    assert p["data_cutoff"].startswith("2025-06-30")
    cutoff = tx.datetime_zh(dt.datetime.fromisoformat(p["data_cutoff"]))
    assert f"（数据统计截至{cutoff}）" in city_bulletin.opening[0]
    rows = dict(city_bulletin.table("provenance").rows)
    assert rows["数据截至"] == cutoff and rows["指标计算时点"] == "2025年6月30日18时"
    assert p["calendar_version"].startswith("2024-2026:")
    assert p["settings_digest"] and p["definitions_version"]
    assert p["rules"]["top_n"] == 3 and p["rules"]["scoring"]["criticism"] == "confirmed"


def test_interview_flag_needs_criticism_two_periods_running(demo_engine, city_bulletin):
    crit = city_bulletin.criticism
    assert crit, "the demo month has criticised units"
    first = crit[0]
    flagged = build_bulletin(demo_engine, MONTH, city_bulletin.scope,
                             previous_bottom={(first.level, first.code)}, previous_source="测试",
                             issued_on=ISSUED)
    assert [u.interview for u in flagged.criticism] == [u == first for u in crit]
    assert "约谈其主要负责人" in "".join(flagged.sections[-2].paragraphs)
    none = build_bulletin(demo_engine, MONTH, city_bulletin.scope, previous_bottom=set(),
                          previous_source="测试", issued_on=ISSUED)
    assert not any(u.interview for u in none.criticism)
    praise = next(s for s in none.sections if s.id == "praise")
    assert "约谈其主要负责人" not in "".join(praise.paragraphs)


@pytest.mark.parametrize("top_n", [1, 5])
def test_top_n_is_configurable_within_a_third(demo_engine, city_bulletin, top_n):
    b = build_bulletin(demo_engine, MONTH, city_bulletin.scope, rules=BulletinRules(top_n=top_n),
                       issued_on=ISSUED)
    regions = [u for u in b.praise if u.level == "region"]
    ranked = sum(1 for r in b.table("score_regions").records() if r["rank"] is not None)
    assert len(regions) == min(top_n, ranked // 3)  # 8 ranked counties: at most 2
    assert all(u.rank <= top_n for u in regions)


def test_review_section_states_the_actual_review_rate_of_the_metric(demo_engine, city_bulletin):
    rate = metric_values(demo_engine, ["actual_review_rate"],
                         scope_filters(city_bulletin.scope, MONTH), "city")["value"][0]
    # the demo's default ratings (a quarter) make it lower than 参评率, but not empty
    assert 0 < rate < 1
    text = "".join(s for sec in city_bulletin.sections if sec.id == "reviews"
                   for s in sec.paragraphs)
    assert f"实际评价率{rate * 100:.2f}%" in text
