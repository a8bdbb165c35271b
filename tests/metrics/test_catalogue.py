"""事项目录 snapshot measures (metrics.md §4 catalogue compression, §5 catalogue rates)."""

from __future__ import annotations

import datetime as dt

import polars as pl

from metrics.catalogue import catalogue_facts
from queries.schema import CATALOGUE_MEASURES

ITEMS = pl.DataFrame(
    [
        # I1: Ⅳ级 全程网办 (zero visits by depth even with max_visits unknown); compressible.
        dict(item_code="I1", sector="市场监管", item_type="licensing", online_depth=4,
             max_visits=None, materials=5, steps=3, statutory_days=20, promised_days=5),
        # I2: online-capable, 零跑动 by max_visits; no promise → not compressible; steps unknown.
        dict(item_code="I2", sector="公安", item_type="confirmation", online_depth=2,
             max_visits=0, materials=3, steps=None, statutory_days=10, promised_days=None),
        # I3: window only; statutory 0 → not compressible; materials unknown.
        dict(item_code="I3", sector="公安", item_type="public_service", online_depth=1,
             max_visits=2, materials=None, steps=4, statutory_days=0, promised_days=0),
        # I4: online-capable, one visit; compressible.
        dict(item_code="I4", sector=None, item_type="licensing", online_depth=3,
             max_visits=1, materials=4, steps=2, statutory_days=15, promised_days=10),
    ],
    schema={"item_code": pl.String, "sector": pl.String, "item_type": pl.String,
            "online_depth": pl.Int64, "max_visits": pl.Int64, "materials": pl.Int64,
            "steps": pl.Int64, "statutory_days": pl.Int64, "promised_days": pl.Int64},
)


def run() -> pl.DataFrame:
    return catalogue_facts(ITEMS.lazy(), dt.date(2024, 5, 17)).collect()


def test_catalogue_facts_are_one_row_per_item_stamped_with_the_snapshot_month():
    out = run()
    assert out.columns == ["month", "item_code", "sector", "item_type", *CATALOGUE_MEASURES]
    assert out["month"].unique().to_list() == [dt.date(2024, 5, 1)]
    assert out["item_code"].to_list() == ["I1", "I2", "I3", "I4"]
    assert out.filter(pl.col("item_code") == "I4")["sector"].item() == ""  # NOT NULL column
    assert all(out.schema[m] == pl.Int64 for m in CATALOGUE_MEASURES)


def test_catalogue_rates_on_four_hand_made_items():
    t = run().select(pl.col(CATALOGUE_MEASURES).sum()).to_dicts()[0]
    assert t["items"] == 4
    assert t["online_capable_items"] == 3  # depth ≥ 2: I1, I2, I4 → 网上可办率 3/4
    assert t["full_online_items"] == 1  # depth 4: I1 → 1/4
    assert t["zero_visit_items"] == 2  # I1 (depth 4), I2 (max_visits 0) → 2/4
    # Averages over items whose count is known: materials (5 + 3 + 4) / 3 = 4,
    # steps (3 + 4 + 2) / 3 = 3.
    assert (t["materials_sum"], t["materials_known"]) == (12, 3)
    assert (t["steps_sum"], t["steps_known"]) == (9, 3)
    # Compressible: I1 (20, 5) and I4 (15, 10). Σ statutory = 35, Σ gap = 15 + 5 = 20,
    # catalogue compression rate 20 / 35.
    assert (t["cat_statutory"], t["cat_gap"]) == (35, 20)
