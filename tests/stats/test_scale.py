"""The 20-million-case path gives the same answers as the per-case one: cell counts instead of
case rows, scanned Parquet instead of frames in memory, a hashed sample for the risk model."""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
import pytest
import statsmodels.api as sm

from metrics.reviews import review_facts
from metrics.settings import Settings
from metrics.stats import data
from metrics.stats.casemix import _design, expected_overdue, fit_logistic
from metrics.stats.lagging import assess, share_funnels
from metrics.stats.risk import fit_risk_model, open_cases, risk_clock
from metrics.stats.settings import StatsSettings

MONTH = dt.date(2026, 9, 1)


def test_binomial_fit_on_cell_counts_equals_per_case_logistic_regression():
    """Aggregating cases to cells (events out of trials) before the GLM loses nothing: the
    coefficients equal statsmodels' logistic regression on one row per case."""
    rng = np.random.default_rng(11)
    n = 4000
    cases = pl.DataFrame({
        "item_level": rng.choice(["a", "b", "c"], n),
        "channel": rng.choice(["window", "online"], n),
        "month_key": rng.choice(["2026-01", "2026-02", "2026-03"], n),
    })
    x_case = _design(cases).toarray()
    truth = np.array([-2.0, 0.8, -0.5, 0.6, 0.3, -0.4])
    y = rng.random(n) < 1 / (1 + np.exp(-(x_case @ truth)))
    per_case = sm.Logit(y.astype(float), x_case).fit(disp=False, tol=1e-12, maxiter=100).params

    cells = cases.with_columns(pl.Series("y", y)).group_by(*cases.columns).agg(
        pl.len().alias("n"), pl.col("y").sum().alias("events")).sort(*cases.columns)
    beta, converged, _ = fit_logistic(_design(cells), cells["events"].to_numpy().astype(float),
                                      cells["n"].to_numpy().astype(float), ridge=0.0)
    assert converged and cells.height == 18
    np.testing.assert_allclose(beta, per_case, rtol=1e-6, atol=1e-8)


def test_completed_cells_count_exactly_the_per_case_population(demo_tables, demo_clock):
    months = (dt.date(2025, 10, 1), MONTH)
    cells = data.completed_cells(demo_tables, months, data.month_end_moment(MONTH))
    per_case = data.completed_with_deadline(demo_clock, months).group_by(
        "agency_code", "item_code", "channel", "month").agg(
        pl.len().cast(pl.Int64).alias("n"), pl.col("overdue").cast(pl.Int64).sum())
    keys = ["agency_code", "item_code", "channel", "month"]
    assert cells.sort(keys).equals(per_case.select(cells.columns).sort(keys))
    assert cells["n"].sum() > 50_000


def test_case_mix_from_cells_equals_case_mix_from_case_rows(demo_tables, demo_completed):
    s = StatsSettings()
    rows = expected_overdue(demo_completed, (MONTH, MONTH), s, demo_tables.items)
    cells = data.completed_cells(demo_tables, (dt.date(2026, 4, 1), MONTH),
                                 data.month_end_moment(MONTH))
    agg = expected_overdue(cells, (MONTH, MONTH), s, demo_tables.items)
    assert agg.cells == rows.cells and agg.pooled_items == rows.pooled_items
    a, b = rows.units.sort("unit"), agg.units.sort("unit")
    assert a["unit"].equals(b["unit"])
    assert a["cases"].to_list() == b["cases"].to_list()
    assert a["observed"].to_list() == b["observed"].to_list()
    np.testing.assert_allclose(a["expected"].to_numpy(), b["expected"].to_numpy(), rtol=1e-9)


def test_bad_review_funnel_needs_no_case_join(demo_tables):
    """review_facts takes only the item from the cases; the per-agency 差评率 funnel is the
    same without joining the case log."""
    rules = Settings()
    _, bad = share_funnels(demo_tables, MONTH, StatsSettings(), rules)
    full = review_facts(demo_tables.reviews.lazy(), demo_tables.cases.lazy(), demo_tables.calendar,
                        [MONTH], rules, data.month_end_moment(MONTH)).group_by("agency_code").agg(
        pl.col("bad").sum(), pl.col("reviews_valid").sum()).collect()
    got = bad.units.select(pl.col("unit").alias("agency_code"), "numerator", "denominator")
    both = full.join(got, on="agency_code", how="full", coalesce=True)
    assert both.height == full.height == got.height
    assert (both["bad"] == both["numerator"]).all()
    assert (both["reviews_valid"] == both["denominator"]).all()


def test_parquet_scan_gives_the_same_assessment_as_frames(demo_tables, tmp_path):
    for name in ("cases", "suspensions", "agencies", "items", "regions", "reviews"):
        getattr(demo_tables, name).write_parquet(tmp_path / f"{name}.parquet")
    scanned = data.read_parquet_dir(tmp_path)
    assert isinstance(scanned.cases, pl.LazyFrame) and scanned.last_month == demo_tables.last_month
    a, b = assess(demo_tables, MONTH), assess(scanned, MONTH)
    assert a.lagging.equals(b.lagging)
    assert a.adjusted.units.select("unit", "flag").equals(b.adjusted.units.select("unit", "flag"))
    assert a.trends.equals(b.trends)


def test_risk_sample_is_seeded_sized_and_scores_every_open_case(demo_tables):
    moment = data.month_end_moment(MONTH)
    s = StatsSettings(risk_max_train_cases=5_000)
    rc = risk_clock(demo_tables, moment, s)
    again = risk_clock(demo_tables, moment, s)
    assert rc.train["case_id"].equals(again.train["case_id"])  # seeded: the same sample
    assert rc.fraction == pytest.approx(5_000 / rc.window_cases)
    # a Bernoulli sample: within 4 standard deviations of its expected size
    sd = (rc.window_cases * rc.fraction * (1 - rc.fraction)) ** 0.5
    assert abs(rc.train.height - 5_000) < 4 * sd
    other = risk_clock(demo_tables, moment, StatsSettings(risk_max_train_cases=5_000, risk_seed=1))
    assert not rc.train["case_id"].equals(other.train["case_id"])
    # every open case is scored, exactly as from the full clock
    full = data.clocked(demo_tables, moment)
    want = open_cases(full)["case_id"].sort()
    assert open_cases(rc.open)["case_id"].sort().equals(want)
    model = fit_risk_model(rc.train, moment, s)
    assert model.trained_on <= 5_000
