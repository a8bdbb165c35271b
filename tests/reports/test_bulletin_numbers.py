"""The bulletin's numbers are the query API's numbers for the same month and scope."""

from __future__ import annotations

import dataclasses
import math

import polars as pl
import pytest

from metrics.bulletin import Bulletin, BulletinRules, build_bulletin, parse_scope, scope_filters
from metrics.bulletin.build import OVERALL_IDS
from metrics.bulletin.model import compute_hash
from metrics.bulletin.rules import composite_scores, praise_and_criticism, rank_units
from metrics.query import metric_values
from metrics.registry import METRIC_BY_ID
from queries import bulletin_extracts as bx
from tests.reports.conftest import MONTH


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
        row, exp = rows[METRIC_BY_ID[mid].zh], expected[mid]
        assert _close(row["value"], exp["value"]), mid
        rel = METRIC_BY_ID[mid].fmt == "int"
        assert _close(row["mom"], exp["mom_rel"] if rel else exp["mom"]), mid
        assert _close(row["yoy"], exp["yoy_rel"] if rel else exp["yoy"]), mid


def test_narrative_is_generated_from_the_numbers(city_bulletin):
    overall = {r["metric"]: r for r in city_bulletin.table("overall").records()}
    text = "".join(city_bulletin.sections[0].paragraphs)
    accepted = overall["受理量"]
    assert f"{int(accepted['value']):,}件" in text
    word = "增长" if accepted["mom"] > 0 else "下降"
    assert f"环比{word}{abs(accepted['mom']) * 100:.1f}%" in text
    assert f"按时办结率{overall['按时办结率']['value'] * 100:.1f}%" in text


def test_region_ranking_equals_metric_values(demo_engine, city_bulletin):
    f = scope_filters(city_bulletin.scope, MONTH)
    mv = metric_values(demo_engine, ["accepted", "on_time_rate", "overdue", "red_cards"], f,
                       "region")
    for rec in city_bulletin.table("rank_regions").records():
        got = mv.filter(pl.col("region_code") == rec["code"])
        vals = {r["metric_id"]: r["value"] for r in got.iter_rows(named=True)}
        assert rec["accepted"] == vals["accepted"]
        assert _close(rec["on_time_rate"], vals["on_time_rate"])
        assert rec["overdue"] == vals["overdue"]
        assert rec["red_cards"] == vals.get("red_cards", 0)


def test_rankings_follow_the_rules(city_bulletin):
    rules = BulletinRules(**city_bulletin.provenance["rules"])
    for tid in ("rank_regions", "rank_agencies"):
        recs = city_bulletin.table(tid).records()
        ranked = [r for r in recs if r["rank"] is not None]
        # ranked units first, better score first, ties share the smallest rank
        assert recs[: len(ranked)] == ranked
        for a, b in zip(ranked, ranked[1:], strict=False):
            assert a["score"] >= b["score"]
            assert b["rank"] == (a["rank"] if b["score"] == a["score"] else ranked.index(b) + 1)
        for r in recs[len(ranked):]:
            assert r["rank_note"] is not None
    praised = {u.code for u in city_bulletin.praise}
    for u in city_bulletin.praise:
        assert u.rank is not None and u.rank <= rules.top_n
    for u in city_bulletin.criticism:
        assert u.code not in praised
        recs = city_bulletin.table("rank_regions" if u.level == "region" else
                                   "rank_agencies").records()
        scores = sorted(r["score"] for r in recs if r["rank"] is not None)
        assert u.score <= scores[min(rules.top_n, len(scores)) - 1]


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
    b = build_bulletin(demo_engine, MONTH, county)
    exp = metric_values(demo_engine, ["accepted"], scope_filters(county, MONTH), "city")
    assert b.table("overall").records()[0]["value"] == exp["value"][0]
    sector = parse_scope(demo_engine, "sector:税务")
    s = build_bulletin(demo_engine, MONTH, sector)
    exp = metric_values(demo_engine, ["accepted"], scope_filters(sector, MONTH), "city")
    assert s.table("overall").records()[0]["value"] == exp["value"][0]
    assert "不适用" in s.sections[4].paragraphs[0]


def test_bulletin_round_trips_through_json_and_hash_covers_numbers(city_bulletin):
    again = Bulletin.from_json(city_bulletin.to_json())
    assert again == city_bulletin
    assert compute_hash(again) == city_bulletin.content_hash
    t = city_bulletin.table("overall")
    changed_rows = ((t.rows[0][0], t.rows[0][1] + 1, *t.rows[0][2:]), *t.rows[1:])
    sec0 = dataclasses.replace(city_bulletin.sections[0],
                               tables=(dataclasses.replace(t, rows=changed_rows),))
    other = dataclasses.replace(city_bulletin, sections=(sec0, *city_bulletin.sections[1:]))
    assert compute_hash(other) != city_bulletin.content_hash


def test_the_hash_ignores_a_last_bit_and_the_run_id_but_not_a_published_digit(city_bulletin):
    import math

    t = city_bulletin.table("overall")
    i = next(i for i, r in enumerate(t.rows) if isinstance(r[1], float) and r[1])

    def with_value(v: float):
        rows = tuple((*r[:1], v, *r[2:]) if j == i else r for j, r in enumerate(t.rows))
        sec0 = dataclasses.replace(city_bulletin.sections[0],
                                   tables=(dataclasses.replace(t, rows=rows),))
        return dataclasses.replace(city_bulletin, sections=(sec0, *city_bulletin.sections[1:]))

    value = t.rows[i][1]
    assert compute_hash(with_value(math.nextafter(value, math.inf))) == city_bulletin.content_hash
    assert compute_hash(with_value(value * (1 + 1e-6))) != city_bulletin.content_hash
    rerun = dataclasses.replace(city_bulletin, provenance={
        **city_bulletin.provenance, "job_run_id": "another-run"})
    assert compute_hash(rerun) == city_bulletin.content_hash


def test_rebuilding_gives_the_same_hash(demo_engine, city_bulletin):
    again = build_bulletin(demo_engine, MONTH, city_bulletin.scope)
    assert again.content_hash == city_bulletin.content_hash


def test_provenance_names_as_of_calendar_settings_and_definitions(city_bulletin):
    p = city_bulletin.provenance
    assert p["as_of"].startswith("2025-06-30 18:00")
    # the demo log stops at its last event of 2025-06-30 (the cut-off its load recorded)
    assert p["data_cutoff"].startswith("2025-06-30")
    para = city_bulletin.sections[-1].paragraphs[0]
    assert para.startswith(f"本通报数据截至{p['data_cutoff'][:16]}（指标计算时点2025-06-30 18:00）")
    assert p["calendar_version"].startswith("2024-2026:")
    assert p["settings_digest"] and p["definitions_version"]
    assert p["rules"]["top_n"] == 3


# --- ranking rules on a hand-made frame -------------------------------------------------------

def _units(scores: dict[str, tuple[float | None, int]]) -> pl.DataFrame:
    rows = []
    for code, (on_time, n) in scores.items():
        rows.append({"code": code, "on_time_rate": on_time, "online_rate": None,
                     "good_review_rate": None, "bad_review_rectified_rate": None,
                     "net_cards": 0, "completed": 0, "min_n_base": n})
    return pl.DataFrame(rows, schema={"code": pl.String, "on_time_rate": pl.Float64,
                                      "online_rate": pl.Float64, "good_review_rate": pl.Float64,
                                      "bad_review_rectified_rate": pl.Float64,
                                      "net_cards": pl.Int64, "completed": pl.Int64,
                                      "min_n_base": pl.Int64})


def test_ties_share_rank_small_units_are_not_ranked_and_lists_include_ties():
    rules = BulletinRules(top_n=2, min_n=30)
    df = _units({"A": (0.99, 100), "B": (0.95, 100), "C": (0.95, 100), "D": (0.90, 100),
                 "E": (1.0, 3), "F": (0.80, 100), "G": (None, 100)})
    ranked = rank_units(composite_scores(df, rules), rules, "code")
    order = ranked["code"].to_list()
    assert order[:5] == ["A", "B", "C", "D", "F"]
    assert dict(zip(ranked["code"], ranked["rank"], strict=True)) == {
        "A": 1, "B": 2, "C": 2, "D": 4, "F": 5, "E": None, "G": None}
    top, bottom = praise_and_criticism(ranked, rules, "code")
    assert [r["code"] for r in top] == ["A", "B", "C"]  # the tie at rank 2 is included
    assert [r["code"] for r in bottom] == ["F", "D"]


def test_interview_flag_needs_bottom_two_months_running(demo_engine, city_bulletin):
    crit = city_bulletin.criticism
    assert crit, "the demo month has criticised units"
    first = crit[0]
    flagged = build_bulletin(demo_engine, MONTH, city_bulletin.scope,
                             previous_bottom={(first.level, first.code)}, previous_source="测试")
    assert [u.interview for u in flagged.criticism] == [u == first for u in crit]
    none = build_bulletin(demo_engine, MONTH, city_bulletin.scope, previous_bottom=set(),
                          previous_source="测试")
    assert not any(u.interview for u in none.criticism)
    assert "约谈" not in "".join(none.sections[5].paragraphs)


@pytest.mark.parametrize("top_n", [1, 5])
def test_top_n_is_configurable(demo_engine, city_bulletin, top_n):
    b = build_bulletin(demo_engine, MONTH, city_bulletin.scope, rules=BulletinRules(top_n=top_n))
    regions = [u for u in b.praise if u.level == "region"]
    assert len(regions) >= top_n and all(u.rank <= top_n for u in regions)


def test_review_section_states_the_actual_review_rate_of_the_metric(demo_engine, city_bulletin):
    rate = metric_values(demo_engine, ["actual_review_rate"],
                         scope_filters(city_bulletin.scope, MONTH), "city")["value"][0]
    # the demo's default ratings (a quarter) make it lower than 参评率, but not empty
    assert 0 < rate < 1
    text = "".join(s for sec in city_bulletin.sections if sec.id == "reviews"
                   for s in sec.paragraphs)
    assert f"实际评价率{rate * 100:.1f}%" in text
