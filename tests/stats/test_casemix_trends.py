"""The 按时办结率 trend adjusted for case mix (observed against expected overdue counts, month by
month): its slopes and errors equal statsmodels' Poisson GLM with an offset; it finds the demo's
worsening office; and on a permutation null — the demo's outcomes shuffled within item × month
× channel, so that offices differ only by their mix — it flags nobody, where the unadjusted
trend flags offices whose item mix drifted (issue 19: 双溪县公安局, q = 0.03)."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from metrics.stats.casemix import adjusted_funnel, expected_overdue
from metrics.stats.settings import StatsSettings
from metrics.stats.trends import casemix_monthly, casemix_trends, monthly_counts, unit_trends
from queries.extracts import add_months
from xiaoneng.demo import LAGGING_AGENCIES

LAST = dt.date(2026, 10, 1)


def _cells(per_case: pl.DataFrame) -> pl.DataFrame:
    return per_case.group_by("agency_code", "item_code", "channel", "month").agg(
        pl.len().alias("n"), pl.col("overdue").cast(pl.Int64).sum())


def test_slopes_and_both_errors_equal_statsmodels_poisson_with_offset():
    rng = np.random.default_rng(5)
    months = [add_months(LAST, i - 11) for i in range(12)]
    rows = []
    for unit, drift in (("a", 0.06), ("b", 0.0), ("c", -0.03)):
        e = rng.uniform(3, 12, 12)
        o = rng.poisson(e * np.exp(drift * (np.arange(12) - 11)))
        rows += [(unit, m, 200, int(x), float(y)) for m, x, y in zip(months, o, e, strict=True)]
    oe = pl.DataFrame(rows, schema=["unit", "month", "cases", "observed", "expected"],
                      orient="row")
    out = casemix_trends(oe, LAST, StatsSettings(trend_min_cases=0))
    for unit in ("a", "b", "c"):
        d = oe.filter(pl.col("unit") == unit)
        x = sm.add_constant(np.arange(12) - 11.0)
        args = (d["observed"].to_numpy(), x)
        kw = {"family": sm.families.Poisson(), "offset": np.log(d["expected"].to_numpy())}
        model = sm.GLM(*args, **kw).fit()
        robust = sm.GLM(*args, **kw).fit(cov_type="HC0")
        row = out.filter(pl.col("unit") == unit).row(0, named=True)
        assert row["log_odds_slope"] == pytest.approx(model.params[1], rel=1e-7)
        assert row["log_odds_se"] == pytest.approx(max(model.bse[1], robust.bse[1]), rel=1e-6)
        overdue = d["observed"].sum() / d["cases"].sum()
        assert row["slope"] == pytest.approx(-model.params[1] * overdue, rel=1e-7)


def test_the_demo_office_that_really_worsens_is_found(demo_completed, demo_tables):
    code = next(i.agency_code for i in LAGGING_AGENCIES if i.effect == "worsening")
    trends = casemix_trends(casemix_monthly(_cells(demo_completed), LAST, items=demo_tables.items),
                            LAST)
    row = trends.filter(pl.col("unit") == code).row(0, named=True)
    assert row["worsening"] and row["slope"] < 0 and row["last_rate"] < row["first_rate"]
    assert set(trends.filter(pl.col("worsening"))["unit"]) == {code}


def test_a_permutation_null_flags_nobody_beyond_the_nominal_rate(demo_completed, demo_tables):
    """Four shuffles of the outcomes within item × month × channel: with the false discovery
    rate at 5% over ~130 offices, a null scan flags anyone in at most ~5% of the shuffles; the
    adjusted trend flags none, the unadjusted one flags offices for their mix alone."""
    adjusted, raw, alarms = [], [], []
    for seed in range(4):
        rng = np.random.default_rng(seed)
        null = demo_completed.with_columns(pl.Series("__r", rng.random(demo_completed.height))) \
            .with_columns(pl.col("overdue").sort_by("__r").over("item_code", "month", "channel"))
        cells = _cells(null)
        oe = casemix_monthly(cells, LAST, items=demo_tables.items)
        adjusted.append(int(casemix_trends(oe, LAST)["worsening"].sum()))
        on_time = cells.with_columns((pl.col("n") - pl.col("overdue")).alias("on_time"))
        raw.append(int(unit_trends(monthly_counts(on_time, "on_time", cases="n"), LAST)
                       ["worsening"].sum()))
        funnel = adjusted_funnel(expected_overdue(cells, (LAST, LAST), None, demo_tables.items))
        alarms.append(funnel.units.filter(pl.col("worse") & (pl.col("flag") == "alarm")).height)
    assert adjusted == [0, 0, 0, 0]
    assert sum(raw) >= 1  # what the unadjusted trend did on such a null
    assert sum(alarms) <= 2  # the 99.8% funnel: ~0.3 expected per shuffle of ~130 offices
