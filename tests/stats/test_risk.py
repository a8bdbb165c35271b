"""Predicted overdue risk: the Breslow baseline by hand, the conditional probability, and the
backtest against the base rate and the rule-based 预警."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from metrics.stats import data
from metrics.stats.risk import RiskModel, _breslow, auc, backtest, backtest_markdown, predict_risk


def test_breslow_baseline_is_right_continuous_and_matches_hand_computation():
    # times 1, 2, 2, 3 (the 3 censored), risk scores 1, 2, 1, 1:
    # H(1) = 1/5, H(2) = 1/5 + 2/4 (two events, risk set {2, 2, 3} sums to 4)
    tau = np.array([1.0, 2.0, 2.0, 3.0])
    event = np.array([1, 1, 1, 0])
    risk = np.array([1.0, 2.0, 1.0, 1.0])
    times, cumhaz = _breslow(tau, event, risk)
    assert times.tolist() == [1.0, 2.0]
    assert cumhaz.tolist() == pytest.approx([0.2, 0.7])


def _model(beta: float = 0.0) -> RiskModel:
    empty = pl.DataFrame(schema={"item_code": pl.String, "item_logodds": pl.Float64})
    agencies = pl.DataFrame(schema={"agency_code": pl.String, "agency_logodds": pl.Float64})
    return RiskModel(np.array([beta, 0, 0, 0, 0, 0]), np.array([0.5, 1.0, 1.5]),
                     np.array([0.4, 1.0, 1.3]), empty, agencies, 0.0, 100, dt.datetime(2026, 1, 1))


def test_probability_of_passing_the_due_date_is_survival_from_the_elapsed_share():
    open_ = pl.DataFrame({
        "case_id": ["a", "b", "c"], "item_code": ["i"] * 3, "agency_code": ["g"] * 3,
        "channel": ["window"] * 3, "deadline_days": [10, 10, 10], "limit_unit": ["working"] * 3,
        "tau": [0.0, 0.5, 1.0],
    })
    p = dict(predict_risk(_model(), open_).select("case_id", "p_overdue").iter_rows())
    # exp(−(H(1) − H(τ₀))) with the covariate term exp(0·…) = 1
    assert p["a"] == pytest.approx(np.exp(-1.0))
    assert p["b"] == pytest.approx(np.exp(-0.6))
    assert p["c"] == pytest.approx(1.0)  # due today and still open: overdue tomorrow


def test_auc_by_ranks_matches_pairwise_definition():
    y = np.array([0, 0, 1, 1, 0, 1])
    p = np.array([0.1, 0.4, 0.35, 0.8, 0.4, 0.4])
    pairs = [(i, j) for i in range(6) for j in range(6) if y[i] == 1 and y[j] == 0]
    direct = np.mean([1.0 if p[i] > p[j] else 0.5 if p[i] == p[j] else 0.0 for i, j in pairs])
    assert auc(y, p) == pytest.approx(direct)


@pytest.fixture(scope="module")
def demo_backtest(demo_tables):
    return backtest(demo_tables, [dt.date(2026, 7, 1), dt.date(2026, 8, 1), dt.date(2026, 9, 1)])


def test_backtest_model_beats_base_rate_and_the_rule_based_warning(demo_backtest):
    o = demo_backtest.overall
    assert o["cases"] > 500
    assert o["model"] < o["base_rate"] and o["model"] < o["rule_calibrated"]
    assert o["model"] < o["rule_binary"]
    assert o["auc_model"] > o["auc_rule"]
    assert (demo_backtest.months["brier_model"] < demo_backtest.months["brier_base_rate"]).all()


def test_reliability_table_counts_every_scored_case_once_per_predictor(demo_backtest):
    rel = demo_backtest.reliability
    totals = rel.group_by("predictor").agg(pl.col("cases").sum())
    assert set(totals["cases"]) == {demo_backtest.overall["cases"]}
    top = rel.filter(pl.col("predictor") == "model").sort("from")["observed"]
    assert top[-1] > 3 * top[0]  # the highest-risk bin really is riskier
    text = backtest_markdown(demo_backtest, "demo", "xiaoneng stats backtest --demo")
    assert "| Cox model (predicted risk) |" in text and "## Reliability" in text


def test_open_cases_exclude_overdue_and_instant_items(demo_tables):
    from metrics.stats.risk import open_cases

    clock = data.clocked(demo_tables, data.month_end_moment(dt.date(2026, 6, 1)),
                         dt.date(2025, 12, 1))
    o = open_cases(clock)
    assert (o["deadline_days"] > 0).all() and (o["used_wd"] <= o["deadline_days"]).all()
    assert not o["is_done"].any()
