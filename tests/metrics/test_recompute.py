"""Recompute any month under any settings (issue 17, point 7).

With every threshold changed after a full run, recomputing the months one at a time must not
fail (it used to end in `UNIQUE constraint failed: cards.card_id` when a card's issue date moved
to another month) and must leave exactly what `--all` under the new settings stores.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from metrics.jobs import month_range, run_compute
from metrics.settings import Settings
from tests.metrics.logs import demo_database, stored_facts

JAN, JUN = dt.date(2025, 1, 1), dt.date(2025, 6, 1)
AS_OF = dt.datetime(2025, 6, 30, 18)
# every threshold that shapes a stored number, changed (rectify_days beyond the 92-day look-back
# the one-month read used to assume)
CHANGED = Settings(
    warn_days=2, warn_share=0.6, red_grace_days=1, rectify_days=60, callback_days=2,
    report_lag_days=3, online_channels=("online", "mobile", "self_service"),
    review_score_scale=(0, 2, 5, 8, 10),
    be_weights={"startup_days": 2.0, "on_time_rate": 0.5},
)


@pytest.fixture
def demo(sqlite_engine):
    return demo_database(sqlite_engine, 8000, 5, JAN, JUN)[0]


@pytest.fixture
def demo_any(any_engine):
    """The same log on SQLite and on PostgreSQL."""
    return demo_database(any_engine, 8000, 5, JAN, JUN)[0]


def test_single_months_under_changed_settings_equal_a_full_recompute(demo):
    run_compute(demo, None, as_of=AS_OF)
    before = stored_facts(demo)["cards"]
    for month in month_range(JAN, JUN):
        run_compute(demo, [month], as_of=AS_OF, settings=CHANGED)
    one_by_one = stored_facts(demo)
    run_compute(demo, None, as_of=AS_OF, settings=CHANGED)
    full = stored_facts(demo)
    for name, df in full.items():
        assert df.height > 0, name
        assert one_by_one[name].equals(df, null_equal=True), name
    # the changes did move cards: red cards come a grace day earlier, some in an earlier month
    cards = full["cards"]
    moved = before.join(cards, on="card_id", suffix="_new").filter(
        pl.col("month") != pl.col("month_new"))
    assert moved.height > 0 and set(moved["kind"]) >= {"red"}
    # ids are stable: the same case and rule keep their card id whatever the settings
    assert moved["card_id"].str.starts_with("red:case:").any()


def test_recomputing_a_month_moves_a_card_out_of_the_month_that_held_it(demo_any):
    """Only the later month recomputed: the card leaves the earlier month's cards and that
    month's card counts follow, so no card is counted twice."""
    run_compute(demo_any, None, as_of=AS_OF)
    earlier = stored_facts(demo_any)["cards"]
    run_compute(demo_any, [dt.date(2025, 5, 1)], as_of=AS_OF, settings=CHANGED)
    after = stored_facts(demo_any)
    cards, counts = after["cards"], after["card_facts"]
    assert cards["card_id"].is_unique().all()
    came = cards.filter(pl.col("month") == dt.date(2025, 5, 1)).join(
        earlier.filter(pl.col("month") != dt.date(2025, 5, 1)), on="card_id", suffix="_old")
    assert came.height > 0  # cards the new settings issue in May that were stored elsewhere
    per_month = cards.group_by("month").agg(
        (pl.col("kind") == "yellow").sum().alias("y"), (pl.col("kind") == "red").sum().alias("r"))
    stored = counts.group_by("month").agg(pl.col("yellow_cards").sum().alias("y"),
                                          pl.col("red_cards").sum().alias("r"))
    assert per_month.sort("month").equals(stored.sort("month").cast(per_month.schema))
