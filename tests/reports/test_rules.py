"""The 考核 rules on hand-made units: the [scoring] table, deductions, ranking with ties and a
minimum N, lists never more than a third, tie blocks all in or all out, criticism only where
the statistics confirm the gap (or by rank, when the office says so)."""

from __future__ import annotations

import dataclasses

import polars as pl
import pytest

from metrics.bulletin.rules import BulletinRules, composite_scores, rank_units, select_lists
from metrics.settings import ScoreComponent, ScoringSettings, Settings, load_settings
from queries.errors import XiaonengError


def _units(rows: dict[str, dict]) -> pl.DataFrame:
    base = {"on_time_rate": None, "online_rate": None, "good_review_rate": None,
            "bad_review_rectified_rate": None, "net_cards": 0, "overdue": 0, "completed": 100,
            "min_n_base": 100}
    return pl.DataFrame([{"code": k, **base, **v} for k, v in rows.items()],
                        schema_overrides={k: pl.Float64 for k in (
                            "on_time_rate", "online_rate", "good_review_rate",
                            "bad_review_rectified_rate")})


def _ranked(rows: dict[str, dict], rules: BulletinRules | None = None) -> pl.DataFrame:
    rules = rules or BulletinRules()
    return rank_units(composite_scores(_units(rows), rules.scoring), rules.min_n, "code")


def test_default_scoring_gives_points_and_deductions_computed_by_hand():
    df = composite_scores(_units({"a": {"on_time_rate": 0.975, "online_rate": 0.6,
                                        "good_review_rate": 0.95,
                                        "bad_review_rectified_rate": 0.5, "net_cards": 3,
                                        "completed": 200}}), ScoringSettings()).row(0, named=True)
    # 30 × (1 − 0.975) = 0.75; 20 × 0.4 = 8; 20 × 0.05 = 1; 10 × 0.5 = 5;
    # cards: 3 per 200 = 1.5 per 100 completed, 2 points each = 3
    assert (df["ded_on_time_rate"], df["ded_online_rate"], df["ded_good_review_rate"],
            df["ded_bad_review_rectified_rate"], df["ded_net_cards"]) == (0.75, 8, 1, 5, 3)
    assert df["score"] == pytest.approx(100 - 17.75)


def test_a_component_without_data_is_left_out_and_the_rest_scaled_to_100():
    df = composite_scores(_units({"a": {"on_time_rate": 0.9, "online_rate": 0.5}}),
                          ScoringSettings()).row(0, named=True)
    # reviews and rectification have no data: (30 − 3) + (20 − 10) + 20 of 70 points
    assert df["ded_good_review_rate"] is None and df["ded_net_cards"] == 0
    assert df["score"] == pytest.approx(round(100 * (70 - 13) / 70, 2))


def test_an_office_sets_its_own_components_bounds_caps_and_deductions():
    scoring = ScoringSettings(components=(
        ScoreComponent("on_time_rate", 60, zero_at=0.9),  # 90% or less: nothing
        ScoreComponent("overdue", 40, "deduct", per=0.5, cap=10, per_100=False),
    ))
    df = composite_scores(_units({"a": {"on_time_rate": 0.95, "overdue": 7},
                                  "b": {"on_time_rate": 0.85, "overdue": 30}}), scoring)
    a, b = df.row(0, named=True), df.row(1, named=True)
    assert (a["ded_on_time_rate"], a["ded_overdue"], a["score"]) == (30, 3.5, 66.5)
    assert (b["ded_on_time_rate"], b["ded_overdue"], b["score"]) == (60, 10, 30)


def test_the_scoring_table_is_read_from_the_settings_file_and_validated(tmp_path):
    path = tmp_path / "settings.toml"
    path.write_text('[scoring]\ncriticism = "rank"\n[scoring.components.on_time_rate]\n'
                    'points = 70\n[scoring.components.net_cards]\npoints = 30\n'
                    'method = "deduct"\nper = 3\n', encoding="utf-8")
    s = load_settings(path)
    assert s.scoring.criticism == "rank"
    assert [(c.id, c.points, c.method, c.per) for c in s.scoring.components] == [
        ("on_time_rate", 70, "share", 1.0), ("net_cards", 30, "deduct", 3)]
    assert Settings().digest() != s.digest()  # recorded with every version's provenance
    again = load_settings(overrides={"scoring": s.as_dict()["scoring"]})  # the stored form
    assert again.scoring == s.scoring
    for bad, message in [
        ({"components": {"on_time_rate": {"points": -1}}}, "scoring.components.on_time_rate"
                                                           ".points"),
        ({"components": {"avg_used_days": {"points": 10}}}, "a share component must be"),
        ({"components": {"overdue": {"points": 10, "method": "deduct", "per": 0}}},
         "scoring.components.overdue.per"),
        ({"max_share": 0.5}, "scoring.max_share"),
        ({"criticism": "always"}, "scoring.criticism"),
        ({"weights": {}}, "unknown setting(s) ['scoring.weights']"),
    ]:
        with pytest.raises(XiaonengError, match=message.replace("(", r"\(").replace(
                ")", r"\)").replace("[", r"\[").replace("]", r"\]").replace(".", r"\.")):
            load_settings(path / "none", overrides={"scoring": bad})
    with pytest.raises(XiaonengError, match=r"\[scoring\.components\.<id>\]"):
        load_settings(path / "none", overrides={"weights": {"on_time_rate": 0.5}})


def test_ties_share_rank_and_small_units_are_not_ranked():
    df = _ranked({"A": {"on_time_rate": 0.99}, "B": {"on_time_rate": 0.95},
                  "C": {"on_time_rate": 0.95}, "D": {"on_time_rate": 0.90},
                  "E": {"on_time_rate": 1.0, "min_n_base": 3}, "F": {"on_time_rate": 0.80},
                  "G": {"completed": 0}})
    assert df["code"].to_list()[:5] == ["A", "B", "C", "D", "F"]
    assert dict(zip(df["code"], df["rank"], strict=True)) == {
        "A": 1, "B": 2, "C": 2, "D": 4, "F": 5, "E": None, "G": None}
    assert dict(zip(df["code"], df["rank_note"], strict=True))["E"] == "有时限办结不足30件"


def test_lists_never_hold_more_than_a_third_of_the_group():
    six = _ranked({c: {"on_time_rate": 0.9 + i / 100} for i, c in enumerate("ABCDEF")})
    lists = select_lists(six, BulletinRules(top_n=3), "code", confirmed=set("ABCDEF"))
    assert (lists.ranked, lists.places) == (6, 2)
    assert [r["code"] for r in lists.praise] == ["F", "E"]
    assert [r["code"] for r in lists.criticism] == ["A", "B"]
    two = _ranked({"A": {"on_time_rate": 0.9}, "B": {"on_time_rate": 0.8}})
    assert select_lists(two, BulletinRules(), "code", {"A", "B"}).places == 0


def test_a_tied_block_crossing_the_limit_is_left_out_whole():
    # six units, at most two each way; B and C tie for second place: naming one is arbitrary
    df = _ranked({"A": {"on_time_rate": 0.99}, "B": {"on_time_rate": 0.98},
                  "C": {"on_time_rate": 0.98}, "D": {"on_time_rate": 0.9},
                  "E": {"on_time_rate": 0.8}, "F": {"on_time_rate": 0.7}})
    lists = select_lists(df, BulletinRules(), "code", confirmed=set("ABCDEF"))
    assert [r["code"] for r in lists.praise] == ["A"]
    assert [r["code"] for r in lists.criticism] == ["F", "E"]


def test_the_bottom_is_criticised_only_where_the_statistics_confirm_the_gap():
    df = _ranked({c: {"on_time_rate": 0.9 + i / 100} for i, c in enumerate("ABCDEFGHI")})
    lists = select_lists(df, BulletinRules(), "code", confirmed={"B", "E"})
    assert [r["code"] for r in lists.bottom] == ["A", "B", "C"]
    assert [r["code"] for r in lists.criticism] == ["B"]  # E is lagging but not at the bottom
    assert [r["code"] for r in lists.reminded] == ["A", "C"]
    no_stats = select_lists(df, BulletinRules(), "code", confirmed=None)
    assert no_stats.criticism == [] and len(no_stats.reminded) == 3
    by_rank = dataclasses.replace(BulletinRules(), scoring=ScoringSettings(criticism="rank"))
    assert [r["code"] for r in select_lists(df, by_rank, "code", set()).criticism] == \
        ["A", "B", "C"]
