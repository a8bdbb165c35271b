"""The lagging-unit list on the demo month, volume forecasts, intervals and the CLI."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest

from metrics.stats.forecast import LUNAR_NEW_YEAR, forecast_volume, monthly_volume, regressors
from metrics.stats.intervals import jeffreys_bounds, poisson_ratio_bounds, with_share_interval
from metrics.stats.lagging import assess
from metrics.stats.settings import StatsSettings
from queries.calendar import official_calendar
from xiaoneng.demo import LAGGING_AGENCIES


def code(effect: str) -> str:
    return next(i.agency_code for i in LAGGING_AGENCIES if i.effect == effect)


def test_lagging_list_names_the_injected_laggards_with_reasons(demo_tables):
    a = assess(demo_tables, dt.date(2026, 10, 1))
    rows = {r["unit"]: r for r in a.lagging.iter_rows(named=True)}
    assert set(rows) == {code("overdue"), code("worsening")}
    assert rows[code("worsening")]["reasons"] == ["casemix_alarm", "worsening"]
    assert rows[code("overdue")]["reasons"] == ["casemix_alarm"]
    zh = rows[code("overdue")]["reason_zh"]
    assert "超期办结" in zh and "预期" in zh and "99.8%" in zh
    assert "按时办结率" in rows[code("worsening")]["reason_zh"]
    assert code("hard_mix") not in rows  # its raw rate is low, its case mix explains it
    assert rows[code("overdue")]["name"] == "石浦县自然资源和规划局"


def test_share_alarms_enter_the_list_only_on_request(demo_tables):
    a = assess(demo_tables, dt.date(2026, 10, 1), include_share_alarms=True)
    reasons = {c for rs in a.lagging["reasons"].to_list() for c in rs}
    assert "online_alarm" in reasons
    assert a.online is not None and a.bad_reviews is not None


def test_spring_festival_regressors_follow_lunar_new_year(demo_tables):
    # 2026-02-17: the 14 days before fall in February; of the 14 days from 02-24, 5 are in
    # February and 9 in March
    x = regressors([dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)],
                   demo_tables.calendar)
    assert x[:, 1].tolist() == [0.0, 1.0, 0.0]
    assert x[:, 2].tolist() == pytest.approx([0.0, 5 / 14, 9 / 14])
    feb = official_calendar(2026, 2026).filter(pl.col("date").dt.month() == 2)
    assert np.exp(x[1, 0]) == pytest.approx(feb["is_workday"].sum())  # 16 with the 调休 days


def test_lunar_new_year_table_agrees_with_the_official_spring_festival_holidays():
    cal = official_calendar(2015, 2026)
    spring = cal.filter(pl.col("name").str.contains("春节") & ~pl.col("is_workday"))
    for year in range(2015, 2027):
        days = set(spring.filter(pl.col("date").dt.year() == year)["date"].to_list())
        lny = LUNAR_NEW_YEAR[year]
        assert lny in days or lny - dt.timedelta(days=1) in days, year


def test_forecasts_of_held_out_months_are_close_and_within_their_intervals(demo_tables):
    mv = monthly_volume(demo_tables.cases, demo_tables.agencies, "region_code")
    fc = forecast_volume(mv, demo_tables.calendar, dt.date(2025, 12, 1))
    held = fc.filter(pl.col("kind") == "forecast").join(
        mv.rename({"value": "actual"}), on=["unit", "month"])
    assert held.height == 27  # 9 regions × 3 months (January–March 2026, Spring Festival)
    err = ((held["value"] - held["actual"]).abs() / held["actual"]).to_numpy()
    inside = ((held["actual"] >= held["lower"]) & (held["actual"] <= held["upper"])).mean()
    assert np.median(err) < 0.06 and err.max() < 0.2
    assert inside >= 0.7
    assert set(fc["model"]) == {"ar1_regression"}


def test_direct_ar1_fit_is_the_sarimax_maximum_likelihood_and_forecast(demo_tables):
    """The direct exact-likelihood fit is the SARIMAX(1,0,0)-with-regressors model: its
    parameters reach at least SARIMAX's own maximum of SARIMAX's likelihood, and SARIMAX's
    forecast and interval at those parameters are the ones returned."""
    import warnings

    from statsmodels.tsa.statespace.sarimax import SARIMAX

    from metrics.stats.forecast import _fit_one, fit_ar1

    mv = monthly_volume(demo_tables.cases, demo_tables.agencies, "region_code")
    series = mv.filter(pl.col("unit") == mv["unit"].min(), pl.col("month") <= dt.date(2025, 12, 1))
    y = series["value"].to_numpy().astype(float)
    new = [dt.date(2026, 1, 1), dt.date(2026, 2, 1), dt.date(2026, 3, 1)]
    x = regressors(series["month"].to_list(), demo_tables.calendar)
    x_new = regressors(new, demo_tables.calendar)
    mean, lo, hi, _ = _fit_one(y, x, x_new, 0.95)

    n = len(y)
    exog = np.hstack([np.arange(n)[:, None] / 12, x])
    exog_new = np.hstack([np.arange(n, n + 3)[:, None] / 12, x_new])
    model = SARIMAX(np.log(y), exog=exog, order=(1, 0, 0), trend="c", concentrate_scale=True)
    rho, beta, _ = fit_ar1(np.hstack([np.ones((n, 1)), exog]), np.log(y))
    # SARIMAX's trend c sits in the AR equation: c = intercept · (1 − ρ)
    ours = np.r_[beta[0] * (1 - rho), beta[1:], rho]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        own = model.fit(disp=False, maxiter=200)
        assert model.loglike(ours) >= own.llf - 1e-6
        fc = model.filter(ours).get_forecast(3, exog=exog_new)
    ci = np.exp(np.asarray(fc.conf_int(alpha=0.05)))
    np.testing.assert_allclose(mean, np.exp(np.asarray(fc.predicted_mean)), rtol=1e-6)
    np.testing.assert_allclose(lo, ci[:, 0], rtol=1e-6)
    np.testing.assert_allclose(hi, ci[:, 1], rtol=1e-6)


def test_short_histories_get_no_forecast(demo_tables):
    mv = monthly_volume(demo_tables.cases, demo_tables.agencies, "sector")
    fc = forecast_volume(mv.filter(pl.col("month") >= dt.date(2026, 1, 1)), demo_tables.calendar,
                         dt.date(2026, 10, 1), StatsSettings(forecast_min_months=15))
    assert fc.is_empty()


def test_jeffreys_and_wilson_intervals_on_a_ranking_frame():
    from scipy import stats

    df = pl.DataFrame({"numerator": [0, 9, 30], "denominator": [10, 10, 0]})
    w = with_share_interval(df)
    # Wilson for 9/10 at 95% (Newcombe 1998 method 3: 0.5958–0.9821)
    assert w["ci_low"][1] == pytest.approx(0.5958, abs=1e-4)
    assert w["ci_high"][1] == pytest.approx(0.9821, abs=1e-4)
    assert w["share"][2] is None and w["ci_low"][2] is None
    lo, hi = jeffreys_bounds(np.array([0, 9]), np.array([10, 10]))
    assert lo[0] == 0.0 and hi[0] == pytest.approx(stats.beta.ppf(0.975, 0.5, 10.5))
    j = with_share_interval(df, settings=StatsSettings(interval="jeffreys"))
    assert j["ci_low"][1] == pytest.approx(stats.beta.ppf(0.025, 9.5, 1.5))


def test_poisson_ratio_interval_for_observed_over_expected():
    lo, hi = poisson_ratio_bounds(np.array([0, 10]), np.array([2.0, 5.0]))
    assert lo[0] == 0.0 and hi[0] == pytest.approx(3.688879 / 2, rel=1e-6)  # −ln(0.025)
    assert lo[1] == pytest.approx(4.795389 / 5, rel=1e-6)  # Garwood lower limit for 10
    assert hi[1] == pytest.approx(18.390356 / 5, rel=1e-6)


def test_cli_lagging_and_backtest_run_on_a_small_demo(tmp_path, capsys):
    from xiaoneng.cli import main

    assert main(["stats", "lagging", "--demo", "--cases", "30000", "--format", "csv"]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("unit,name,reasons")
    report = tmp_path / "backtest.md"
    assert main(["stats", "backtest", "--demo", "--cases", "30000", "--months", "2",
                 "--out", str(report)]) == 0
    assert "Brier" in report.read_text(encoding="utf-8")
