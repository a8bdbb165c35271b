"""Funnel limits, dispersion and flags, checked against published values and hand computation."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from metrics.stats.funnel import direction_higher, funnel, trim_consistency
from metrics.stats.settings import StatsSettings
from queries.errors import XiaonengError

# FunnelPlotR (NHS-R community), tests/testthat/test-classes_methods.R and test-funnel_plot.R:
# six units with observed / expected counts; the package's default (standardised ratio,
# SHMI log transform, 10% truncation) gives phi = 2.948033.
FPR_OBSERVED = [100, 150, 180, 80, 120, 225]
FPR_EXPECTED = [108, 112, 165, 95, 100, 220]
FPR_PHI = 2.948033


def six_units() -> pl.DataFrame:
    return pl.DataFrame({"unit": list("abcdef"), "numerator": FPR_OBSERVED,
                         "denominator": FPR_EXPECTED})


def test_poisson_limits_reproduce_funnelplotr_published_values():
    # FunnelPlotR tests/testthat/test-poisson_limits.R: calculate_limits() at expected counts
    # 15, 20, 30 with target 1 (unadjusted standardised-ratio limits).
    f = funnel(six_units(), kind="ratio", settings=StatsSettings(od_method="none"))
    lim = f.curve(at=[15, 20, 30])
    assert lim["lower_alert"].round(7).to_list() == [0.5596924, 0.6108260, 0.6746958]
    assert lim["upper_alert"].round(6).to_list() == [1.649348, 1.544419, 1.427562]
    assert lim["lower_alarm"].round(7).to_list() == [0.3862650, 0.4479107, 0.5289724]
    assert lim["upper_alarm"].round(6).to_list() == [2.082907, 1.902094, 1.702771]


def test_dispersion_ratio_reproduces_funnelplotr_published_phi():
    s = StatsSettings(ratio_transform="log", trim="truncate", trim_share=0.1, trim_correct=False,
                      od_min_units=2)
    f = funnel(six_units(), kind="ratio", settings=s)
    assert round(f.dispersion.phi, 6) == FPR_PHI
    assert f.dispersion.n_used == 6  # SHMI truncation of 10% removes no unit out of six


def test_dersimonian_laird_tau2_and_test_match_hand_computation():
    s = StatsSettings(ratio_transform="log", trim="truncate", trim_correct=False, od_min_units=2)
    f = funnel(six_units(), kind="ratio", settings=s)
    o, e = np.array(FPR_OBSERVED, float), np.array(FPR_EXPECTED, float)
    z = np.sqrt(e) * np.log(o / e)  # SHMI z-score
    phi = np.mean(z ** 2)
    w = e  # 1 / s², s = 1/√E
    tau2 = (6 * phi - 5) / (w.sum() - (w ** 2).sum() / w.sum())
    assert f.dispersion.tau2 == pytest.approx(tau2, rel=1e-12)
    assert f.dispersion.statistic == pytest.approx(6 * phi)
    # P(χ²₅ ≥ x), closed form for 5 degrees of freedom:
    # erfc(√(x/2)) + √(2/π)·e^(−x/2)·(√x + x^(3/2)/3)
    x = 6 * phi
    p_hand = math.erfc(math.sqrt(x / 2)) + math.sqrt(2 / math.pi) * math.exp(-x / 2) * (
        math.sqrt(x) + x ** 1.5 / 3)
    assert f.dispersion.pvalue == pytest.approx(p_hand, rel=1e-6)
    assert f.adjusted and f.method == "additive"
    # unit b (O/E = 1.34) is an alarm on exact Poisson limits, in control once adjusted
    b = f.units.filter(pl.col("unit") == "b").row(0, named=True)
    assert b["raw_flag"] == "alarm" and b["flag"] == "in_control"
    limit = math.exp(3.090232 * math.sqrt(1 / 112 + tau2))
    assert b["upper_alarm"] == pytest.approx(limit, rel=1e-6)


def test_proportion_limits_adjusted_on_the_arcsine_scale_by_hand():
    df = pl.DataFrame({"unit": ["a", "b", "c", "d", "e"], "numerator": [90, 180, 400, 55, 700],
                       "denominator": [100, 200, 500, 60, 800]})
    s = StatsSettings(od_method="multiplicative", od_test_alpha=1.0, trim_share=0.0,
                      od_min_units=2)
    f = funnel(df, settings=s)
    target = 1425 / 1660
    assert f.target == pytest.approx(target)
    y0 = math.asin(math.sqrt(target))
    num = np.array([90, 180, 400, 55, 700.0])
    den = np.array([100, 200, 500, 60, 800.0])
    z = (np.arcsin(np.sqrt(num / den)) - y0) * 2 * np.sqrt(den)
    phi = float(np.mean(z ** 2))
    assert f.dispersion.phi == pytest.approx(phi)
    c = f.units.filter(pl.col("unit") == "c").row(0, named=True)
    half = 1.959964 * math.sqrt(phi) / (2 * math.sqrt(500))
    assert c["lower_alert"] == pytest.approx(math.sin(y0 - half) ** 2, rel=1e-6)
    assert c["upper_alert"] == pytest.approx(math.sin(y0 + half) ** 2, rel=1e-6)
    assert c["z_adj"] == pytest.approx(z[2] / math.sqrt(phi))


def test_exact_binomial_limits_interpolate_the_binomial_quantiles():
    # Spiegelhalter (2005) appendix: limit = (r − a)/n with r the quantile and a the
    # interpolation; at n = 100, target 0.9, p = 0.025: r = 84, F(84) = 0.0399, F(83) = 0.0206
    from scipy import stats

    df = pl.DataFrame({"unit": ["x"], "numerator": [90], "denominator": [100]})
    f = funnel(df, settings=StatsSettings(od_method="none"), target=0.9)
    lim = f.curve(at=[100]).row(0, named=True)
    r = stats.binom.ppf(0.025, 100, 0.9)
    assert r == 84
    f_r, f_prev = stats.binom.cdf(84, 100, 0.9), stats.binom.cdf(83, 100, 0.9)
    assert lim["lower_alert"] == pytest.approx((84 - (f_r - 0.025) / (f_r - f_prev)) / 100)


def test_flags_name_the_worse_side_for_the_indicator_direction():
    df = pl.DataFrame({"unit": ["low", "mid", "high"], "numerator": [850, 950, 995],
                       "denominator": [1000, 1000, 1000]})
    s = StatsSettings(od_method="none")
    on_time = funnel(df, higher_is_better=True, settings=s).units
    bad_reviews = funnel(df, higher_is_better=False, settings=s).units
    row = {r["unit"]: r for r in on_time.iter_rows(named=True)}
    assert row["low"]["flag"] == "alarm" and row["low"]["worse"] and row["low"]["side"] == "low"
    assert row["high"]["flag"] == "alarm" and not row["high"]["worse"]
    assert on_time["unit"][0] == "low"  # worst first
    # target 2795/3000 = 93.2%: "mid" (95.0%, 2.3 binomial SDs above) is an alert on the high
    # side, which is the worse side when higher is worse
    worse = {r["unit"]: (r["flag"], r["worse"]) for r in bad_reviews.iter_rows(named=True)}
    assert worse == {"low": ("alarm", False), "mid": ("alert", True), "high": ("alarm", True)}


def test_better_side_outliers_are_outstanding_or_better_not_warnings():
    """Same three units as above: on an on-time rate (registry: higher is better) the 99.5%
    unit is "outstanding", not an alarm; on 差评率 (registry: lower is better) the 85% unit is
    the outstanding one and the 99.5% unit the alarm; the 95% unit (2.3 binomial SDs above the
    target 93.2%) is "better" than expected where higher is better, an alert where it is not."""
    assert direction_higher("on_time_rate") and direction_higher("online_rate")
    assert not direction_higher("bad_review_rate") and not direction_higher("overdue")
    with pytest.raises(ValueError, match="no better direction"):
        direction_higher("accepted")
    df = pl.DataFrame({"unit": ["low", "mid", "high"], "numerator": [850, 950, 995],
                       "denominator": [1000, 1000, 1000]})
    s = StatsSettings(od_method="none")
    on_time = funnel(df, higher_is_better=direction_higher("on_time_rate"), settings=s)
    bad = funnel(df, higher_is_better=direction_higher("bad_review_rate"), settings=s)
    verdict = dict(on_time.units.select("unit", "verdict").iter_rows())
    assert verdict == {"low": "alarm", "mid": "better", "high": "outstanding"}
    verdict = dict(bad.units.select("unit", "verdict").iter_rows())
    assert verdict == {"low": "outstanding", "mid": "alert", "high": "alarm"}
    summary = on_time.summary()
    assert (summary["n_alarm"], summary["n_outstanding"], summary["n_better"]) == (2, 1, 1)


def test_a_unit_with_every_case_on_time_is_outstanding_not_an_alarm():
    # 2,000 of 2,000 on time against a city rate of 90%: far outside the limits, on the good side
    df = pl.DataFrame({"unit": [f"u{i}" for i in range(20)] + ["perfect"],
                       "numerator": [900] * 20 + [2000], "denominator": [1000] * 20 + [2000]})
    units = funnel(df, higher_is_better=True, settings=StatsSettings(od_method="none")).units
    row = units.filter(pl.col("unit") == "perfect").row(0, named=True)
    assert row["flag"] == "alarm" and row["side"] == "high" and not row["worse"]
    assert row["verdict"] == "outstanding"
    assert set(units.filter(pl.col("unit") != "perfect")["verdict"]) == {"in_control"}


def test_units_without_denominator_are_listed_as_no_data():
    df = pl.DataFrame({"unit": ["a", "b", "c"], "numerator": [5, 0, 40],
                       "denominator": [10, 0, 50]})
    units = funnel(df).units
    assert units.filter(pl.col("unit") == "b")["flag"].item() == "no_data"
    assert units.filter(pl.col("unit") == "b")["value"].item() is None


def test_trim_consistency_factors_are_the_normal_moments():
    # E[winsorised Z²] and E[Z² | |Z| < a] at the 10% / 90% quantiles, by numerical integration
    from scipy import integrate, stats

    a = stats.norm.ppf(0.9)
    inner = integrate.quad(lambda x: x * x * stats.norm.pdf(x), -a, a)[0]
    assert trim_consistency(StatsSettings()) == pytest.approx(inner + 0.2 * a * a, rel=1e-9)
    assert trim_consistency(StatsSettings(trim="truncate")) == pytest.approx(inner / 0.8)
    assert trim_consistency(StatsSettings(trim_correct=False)) == 1.0


def _null_alarm_share(kind: str, rate: float, seeds: int, units: int = 60,
                      sd: float = 0.0, settings: StatsSettings | None = None) -> float:
    """Share of units flagged "alarm" over many seeded simulated cities with no real effect:
    denominators log-uniform on 30–3000, every unit with the same true rate (or, with sd > 0,
    a normal between-unit effect on the logit scale)."""
    from scipy.special import expit, logit

    flagged = total = 0
    for seed in range(seeds):
        rng = np.random.default_rng([20_241, seed])
        n = np.round(np.exp(rng.uniform(np.log(30), np.log(3000), units)))
        p = expit(logit(rate) + rng.normal(0, sd, units)) if sd else np.full(units, rate)
        if kind == "proportion":
            num, den = rng.binomial(n.astype(int), p), n
        else:
            den = n * rate
            num = rng.poisson(den * p / rate)
        f = funnel(pl.DataFrame({"unit": np.arange(units), "numerator": num,
                                 "denominator": den}), kind=kind, settings=settings)
        flagged += int((f.units["flag"] == "alarm").sum())
        total += units
    return flagged / total


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "rate"), [("proportion", 0.97), ("proportion", 0.5),
                                            ("ratio", 0.05)])
def test_share_flagged_at_99_8_stays_near_nominal_without_real_effects(kind, rate):
    # 150 seeds × 60 units = 9,000 units; nominal 0.2% (exact tests are slightly conservative)
    share = _null_alarm_share(kind, rate, seeds=150)
    assert 0.0005 <= share <= 0.0035, share


@pytest.mark.slow
def test_adjusted_funnel_absorbs_ordinary_between_unit_variation():
    # A normal between-unit effect (sd 0.3 on the logit scale), no unit singled out: plain
    # limits call ~9% of the units alarms; the adjusted ones ~1% (above the nominal 0.2%,
    # since the effects are not normal on the arcsine scale and τ² is itself estimated).
    adjusted = _null_alarm_share("proportion", 0.95, seeds=60, units=100, sd=0.3)
    plain = _null_alarm_share("proportion", 0.95, seeds=60, units=100, sd=0.3,
                              settings=StatsSettings(od_method="none"))
    assert plain > 0.05
    assert adjusted < min(0.02, plain / 4), (adjusted, plain)


def test_invalid_settings_are_refused_with_the_setting_named():
    with pytest.raises(XiaonengError, match="od_method"):
        StatsSettings(od_method="both")
    with pytest.raises(XiaonengError, match="alert_level must be below alarm_level"):
        StatsSettings(alert_level=0.999, alarm_level=0.95)
    with pytest.raises(XiaonengError, match="min_n"):
        StatsSettings(min_n=-1)
