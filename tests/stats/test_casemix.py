"""Case-mix adjustment: the logistic fit, the expected counts, and the hard-items agency."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from metrics.stats.casemix import (
    _design,
    adjusted_funnel,
    expected_overdue,
    fit_logistic,
    raw_funnel,
    raw_vs_adjusted,
)
from metrics.stats.settings import StatsSettings
from xiaoneng.demo import LAGGING_AGENCIES

YEAR = (dt.date(2025, 11, 1), dt.date(2026, 10, 1))  # the last 12 demo months


def code(effect: str) -> str:
    return next(i.agency_code for i in LAGGING_AGENCIES if i.effect == effect)


def test_logistic_fit_agrees_with_statsmodels_glm():
    rng = np.random.default_rng(5)
    cells = pl.DataFrame({
        "item_level": rng.choice(["a", "b", "c", "d"], 300),
        "channel": rng.choice(["window", "online", "mobile"], 300),
        "month_key": rng.choice(["2026-01", "2026-02"], 300),
    }).unique().sort("item_level", "channel", "month_key")
    x = _design(cells)
    n = rng.integers(20, 200, cells.height).astype(float)
    events = rng.binomial(n.astype(int), 0.1 + 0.05 * x.toarray()[:, 1]).astype(float)
    beta, converged, _ = fit_logistic(x, events, n, ridge=0.0)
    ref = sm.GLM(np.column_stack([events, n - events]), x.toarray(),
                 family=sm.families.Binomial()).fit()
    assert converged
    np.testing.assert_allclose(beta, ref.params, rtol=1e-6, atol=1e-8)


def test_an_item_with_no_overdue_case_gets_a_near_zero_probability_not_a_crash():
    cells = pl.DataFrame({"item_level": ["a", "a", "b", "b"], "channel": ["w", "o", "w", "o"],
                          "month_key": ["m"] * 4})
    x = _design(cells)
    beta, converged, _ = fit_logistic(x, np.array([5.0, 8, 0, 0]), np.array([50.0, 60, 40, 30]))
    p = 1 / (1 + np.exp(-(x @ beta)))
    assert converged and p[2] < 1e-3 and p[3] < 1e-3


def test_expected_counts_sum_to_observed_over_the_fitting_window(demo_completed, demo_tables):
    cm = expected_overdue(demo_completed, YEAR, StatsSettings(casemix_months=12),
                          items=demo_tables.items)
    assert cm.window == YEAR and cm.converged
    total = cm.units.select(pl.col("observed").sum(), pl.col("expected").sum()).row(0)
    assert total[1] == pytest.approx(total[0], rel=1e-6)


@pytest.fixture(scope="module")
def year_view(demo_completed, demo_tables) -> pl.DataFrame:
    cm = expected_overdue(demo_completed, YEAR, StatsSettings(casemix_months=12),
                          items=demo_tables.items)
    return raw_vs_adjusted(cm)


def test_hard_items_agency_ranks_near_the_bottom_raw_but_average_after_adjustment(year_view):
    # docs/demo_data.md: 越川市住房和城乡建设局 handles only 住建 items of difficulty ≥ 1, and its
    # own lateness effect is exactly 0 — its raw rate is low because its items are hard.
    ranked = year_view.filter(pl.col("raw_rank").is_not_null())
    n = ranked.height
    row = year_view.filter(pl.col("unit") == code("hard_mix")).row(0, named=True)
    assert row["raw_rank"] > 0.85 * n  # bottom 15% on the raw 按时办结率
    assert 0.25 * n < row["adj_rank"] < 0.85 * n  # mid-table once its case mix is allowed for
    assert row["ratio_ci_low"] < 1 < row["ratio_ci_high"]  # O/E consistent with 1
    assert row["expected_overdue_rate"] > 3 * (1 - ranked["raw_on_time_rate"].median())
    assert row["raw_worse"] and not row["adj_worse"]
    assert row["changed"] == "raw flag explained by case mix"


def test_overdue_agency_is_an_alarm_raw_and_adjusted(year_view):
    row = year_view.filter(pl.col("unit") == code("overdue")).row(0, named=True)
    assert row["raw_flag"] == "alarm" and row["adj_flag"] == "alarm" and row["adj_worse"]
    assert row["ratio_ci_low"] > 2


def test_adjusted_funnel_for_one_month_flags_the_injected_laggards(demo_completed, demo_tables):
    # October 2026: the standing laggard and the worsening agency (27% overdue by then)
    month = (dt.date(2026, 10, 1), dt.date(2026, 10, 1))
    cm = expected_overdue(demo_completed, month, items=demo_tables.items)
    f = adjusted_funnel(cm)
    alarms = set(f.units.filter(pl.col("worse") & (pl.col("flag") == "alarm"))["unit"])
    assert {code("overdue"), code("worsening")} <= alarms
    assert len(alarms) <= 5
    assert raw_funnel(cm).units.height == f.units.height
