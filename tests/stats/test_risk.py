"""Predicted overdue risk: the Breslow baseline by hand, the conditional probability, and the
backtest against the base rate and the rule-based 预警."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from metrics.stats import data
from metrics.stats.risk import (
    RiskModel,
    _breslow,
    auc,
    backtest,
    backtest_markdown,
    calibration_map,
    open_cases,
    predict_risk,
    recalibrate,
)


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


def test_recalibrated_model_beats_the_raw_model_and_the_base_rate(demo_backtest):
    o = demo_backtest.overall
    assert o["model_calibrated"] < o["model"] < o["base_rate"]
    assert o["model_calibrated"] < o["rule_calibrated"]
    # recalibration used last month's held-out cases every month, never the scored month's
    assert demo_backtest.months["calibration_b"].null_count() == 0
    assert (demo_backtest.months["held_out_cases"] >= 200).all()
    # calibration in the large: the recalibrated mean is closer to the observed share
    rel = demo_backtest.reliability.group_by("predictor").agg(
        (pl.col("mean_predicted") * pl.col("cases")).sum() / pl.col("cases").sum())
    mean = dict(rel.iter_rows())
    share = o["overdue_share"]
    assert abs(mean["model_calibrated"] - share) < abs(mean["model"] - share)


def test_calibration_map_recovers_a_known_distortion_and_keeps_the_order():
    rng = np.random.default_rng(3)
    true = rng.uniform(0.01, 0.6, 20_000)
    y = (rng.random(true.size) < true).astype(float)
    logit = np.log(true / (1 - true))
    reported = 1 / (1 + np.exp(-(0.5 * logit + 1.0)))  # too high and too flat
    a, b = calibration_map(reported, y)
    # the inverse of the distortion: logit p = 2·(logit reported − 1) → a = −2, b = 2
    assert a == pytest.approx(-2.0, abs=0.1) and b == pytest.approx(2.0, abs=0.1)
    fixed = recalibrate(reported, (a, b))
    assert np.all(np.diff(fixed[np.argsort(reported)]) >= 0)
    assert np.mean((fixed - y) ** 2) < np.mean((reported - y) ** 2)
    assert recalibrate(reported, None) is reported
    assert calibration_map(reported[:50], y[:50]) is None  # too few held-out cases
    assert calibration_map(reported, np.zeros_like(y)) is None  # one kind of outcome only


def test_current_model_is_recalibrated_on_the_previous_month(demo_tables):
    from metrics.stats.risk import fit_current_model
    from metrics.stats.settings import StatsSettings

    moment = data.month_end_moment(dt.date(2026, 9, 1))
    model, rc = fit_current_model(demo_tables, moment)
    assert model.calibration is not None and model.calibration[1] > 0
    scored = predict_risk(model, open_cases(rc.open))
    assert np.allclose(scored["p_overdue"].to_numpy(),
                       recalibrate(scored["p_cox"].to_numpy(), model.calibration))
    raw, _ = fit_current_model(demo_tables, moment, StatsSettings(risk_calibration="none"))
    assert raw.calibration is None and np.allclose(raw.beta, model.beta)


def test_reliability_table_counts_every_scored_case_once_per_predictor(demo_backtest):
    rel = demo_backtest.reliability
    totals = rel.group_by("predictor").agg(pl.col("cases").sum())
    assert set(totals["cases"]) == {demo_backtest.overall["cases"]}
    top = rel.filter(pl.col("predictor") == "model").sort("from")["observed"]
    assert top[-1] > 3 * top[0]  # the highest-risk bin really is riskier
    text = backtest_markdown(demo_backtest, "demo", "xiaoneng stats backtest --demo")
    assert "| Cox model, recalibrated (the 预测预警 list) |" in text and "## Reliability" in text


def test_open_cases_exclude_overdue_and_instant_items(demo_tables):
    from metrics.stats.risk import open_cases

    clock = data.clocked(demo_tables, data.month_end_moment(dt.date(2026, 6, 1)),
                         dt.date(2025, 12, 1))
    o = open_cases(clock)
    assert (o["deadline_days"] > 0).all() and (o["used_wd"] <= o["deadline_days"]).all()
    assert not o["is_done"].any()
