"""Trends: closed-form WLS + HC3 equals statsmodels; FDR; the worsening demo agency."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from metrics.stats.settings import StatsSettings
from metrics.stats.trends import monthly_counts, unit_trends
from queries.extracts import add_months
from xiaoneng.demo import LAGGING_AGENCIES

LAST = dt.date(2026, 10, 1)


def months(k: int) -> list[dt.date]:
    return [add_months(LAST, i - k + 1) for i in range(k)]


def test_slopes_and_both_standard_errors_equal_statsmodels_glm():
    rng = np.random.default_rng(3)
    rows = []
    for unit in ("a", "b", "c"):
        den = rng.integers(40, 400, 12)
        p = 0.95 - 0.004 * np.arange(12) * (unit == "a")
        num = rng.binomial(den, p)
        rows += [(unit, m, int(x), int(n)) for m, x, n in zip(months(12), num, den, strict=True)]
    monthly = pl.DataFrame(rows, schema=["unit", "month", "numerator", "denominator"],
                           orient="row")
    out = unit_trends(monthly, LAST, settings=StatsSettings(trend_min_cases=0))
    for unit in ("a", "b", "c"):
        d = monthly.filter(pl.col("unit") == unit)
        y = np.column_stack([d["numerator"], d["denominator"] - d["numerator"]])
        x = sm.add_constant(np.arange(12) - 11.0)
        model = sm.GLM(y, x, family=sm.families.Binomial()).fit()
        robust = sm.GLM(y, x, family=sm.families.Binomial()).fit(cov_type="HC0")
        row = out.filter(pl.col("unit") == unit).row(0, named=True)
        assert row["log_odds_slope"] == pytest.approx(model.params[1], rel=1e-8)
        assert row["log_odds_se"] == pytest.approx(max(model.bse[1], robust.bse[1]), rel=1e-6)
        pbar = d["numerator"].sum() / d["denominator"].sum()
        assert row["slope"] == pytest.approx(model.params[1] * pbar * (1 - pbar), rel=1e-8)
        half = 1.959964 * row["log_odds_se"] * pbar * (1 - pbar)
        assert row["slope_ci_low"] == pytest.approx(row["slope"] - half, rel=1e-6)


def test_a_unit_late_only_in_its_last_months_keeps_the_binomial_error_not_a_tiny_sandwich():
    # 100% on time for ten months, then 2 late of 45 twice: the sandwich sees almost no
    # residual spread and would shrink the error below what chance alone gives
    num = [45] * 10 + [43, 43]
    monthly = pl.DataFrame({"unit": ["a"] * 12, "month": months(12), "numerator": num,
                            "denominator": [45] * 12})
    row = unit_trends(monthly, LAST).row(0, named=True)
    y = np.column_stack([num, [45 - v for v in num]])
    x = sm.add_constant(np.arange(12) - 11.0)
    model = sm.GLM(y, x, family=sm.families.Binomial()).fit()
    robust = sm.GLM(y, x, family=sm.families.Binomial()).fit(cov_type="HC0")
    assert robust.bse[1] < model.bse[1]
    assert row["log_odds_se"] == pytest.approx(model.bse[1], rel=1e-6)
    assert row["p_worse"] > 0.01  # with the sandwich alone it would be ~1e-4


def test_fdr_control_keeps_pure_noise_units_unflagged():
    # 200 units with a constant true rate: at q = 5% and no real trend, BH flags (almost) none
    rng = np.random.default_rng(11)
    rows = []
    for u in range(200):
        den = rng.integers(50, 300, 12)
        num = rng.binomial(den, 0.95)
        rows += [(f"u{u}", m, int(x), int(n)) for m, x, n in zip(months(12), num, den,
                                                                 strict=True)]
    monthly = pl.DataFrame(rows, schema=["unit", "month", "numerator", "denominator"],
                           orient="row")
    out = unit_trends(monthly, LAST)
    raw_hits = int((out["p_worse"] < 0.05).sum())
    assert raw_hits >= 3  # uncorrected, noise alone gives about 5% "worsening" units
    assert int(out["worsening"].sum()) <= 1


def test_worsening_demo_agency_is_flagged_after_fdr(demo_completed):
    code = next(i.agency_code for i in LAGGING_AGENCIES if i.effect == "worsening")
    on_time = demo_completed.with_columns((~pl.col("overdue")).alias("on_time"))
    trends = unit_trends(monthly_counts(on_time, "on_time"), LAST)
    row = trends.filter(pl.col("unit") == code).row(0, named=True)
    assert row["worsening"] and row["slope"] < -0.01 and row["slope_ci_high"] < 0
    flagged = set(trends.filter(pl.col("worsening"))["unit"])
    assert len(flagged) <= 4, flagged


def test_units_with_too_few_months_get_no_trend():
    monthly = pl.DataFrame({"unit": ["a"] * 4, "month": months(4), "numerator": [9, 8, 7, 6],
                            "denominator": [10] * 4})
    assert unit_trends(monthly, LAST).is_empty()
