"""Per-unit trends: the monthly slope of a rate with a robust interval, scanned with FDR control.

"Getting worse" should mean more than one bad month. For each unit the monthly counts are fitted
by a logistic regression on the month index (a binomial GLM: a month of 3 cases weighs what
3 cases weigh, and a rate near 100% is not pushed past 1). The slope's standard error is the
sandwich (HC0) estimate — robust to months being noisier than binomial — floored at the
model-based binomial error: with a dozen points the sandwich runs small (a unit on time in ten
months out of twelve has almost no residual spread), and an interval narrower than pure chance
allows would call noise a trend. The test of worsening is one-sided (slope in the indicator's
bad direction). Scanning 130 units at 5% would flag six by chance alone, so the flag uses
Benjamini–Hochberg adjusted p-values (q-values) across all units scanned.

For reading, the log-odds slope is also given on the rate scale at the unit's mean rate
(β·p̄(1 − p̄), the average marginal effect: −0.018 = 1.8 percentage points worse per month),
with the interval transformed the same way, so the sign and the significance never disagree.

Newton's method runs for all units at once (two parameters per unit: per-unit sums with
`np.bincount`), which keeps a scan of thousands of units cheap; tests check the slopes and both
standard errors against statsmodels' GLM.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from scipy import special, stats
from statsmodels.stats.multitest import multipletests

from metrics.stats.settings import StatsSettings
from queries.extracts import add_months

TREND_COLUMNS = (
    "unit", "months", "cases", "first_rate", "last_rate", "slope", "slope_se", "slope_ci_low",
    "slope_ci_high", "p_worse", "q_worse", "worsening",
)


def monthly_counts(per_case: pl.DataFrame, event: str, unit: str = "agency_code",
                   month: str = "month", cases: str | None = None) -> pl.DataFrame:
    """unit, month, numerator (Σ event), denominator (cases) from one row per case — or, with
    `cases` naming a count column, from rows that are already counts (`event` a count too)."""
    den = pl.col(cases).sum() if cases else pl.len()
    return per_case.group_by(pl.col(unit).alias("unit"), pl.col(month).alias("month")).agg(
        pl.col(event).cast(pl.Int64).sum().alias("numerator"),
        den.cast(pl.Int64).alias("denominator"),
    ).sort("unit", "month")


def _month_index(months: pl.Series) -> np.ndarray:
    return (months.dt.year().cast(pl.Int64) * 12 + months.dt.month().cast(pl.Int64)).to_numpy()


def _logistic_slopes(g: np.ndarray, t: np.ndarray, x: np.ndarray, n: np.ndarray, units: int,
                     iterations: int = 30) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-group logistic regression of x/n on t: (slope, model SE, HC0 SE), vectorised."""
    def gsum(v: np.ndarray) -> np.ndarray:
        return np.bincount(g, weights=v, minlength=units)

    # start from the weighted mean rate (clipped away from 0/1) and zero slope
    p0 = np.clip((gsum(x) + 0.5) / (gsum(n) + 1.0), 1e-4, 1 - 1e-4)
    b0, b1 = np.log(p0 / (1 - p0)), np.zeros(units)
    for _ in range(iterations):
        p = special.expit(b0[g] + b1[g] * t)
        w = n * p * (1 - p)
        r = x - n * p
        h00, h01, h11 = gsum(w), gsum(w * t), gsum(w * t * t)
        s0, s1 = gsum(r), gsum(r * t)
        det = h00 * h11 - h01 ** 2
        det = np.where(det > 1e-12, det, np.nan)
        d0 = (h11 * s0 - h01 * s1) / det
        d1 = (-h01 * s0 + h00 * s1) / det
        # a unit with every month at 0% or 100% has no finite fit: stop moving it
        d0, d1 = np.nan_to_num(np.clip(d0, -5, 5)), np.nan_to_num(np.clip(d1, -5, 5))
        b0, b1 = b0 + d0, b1 + d1
        if np.max(np.abs(d1), initial=0) < 1e-10 and np.max(np.abs(d0), initial=0) < 1e-10:
            break
    p = special.expit(b0[g] + b1[g] * t)
    w = n * p * (1 - p)
    r = x - n * p
    h00, h01, h11 = gsum(w), gsum(w * t), gsum(w * t * t)
    det = h00 * h11 - h01 ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        model_var = h00 / det  # [H⁻¹]₁₁
        # sandwich: H⁻¹ (Σ sᵢsᵢᵀ) H⁻¹, row 1 of H⁻¹ = (−h01, h00)/det
        a = (-h01 / det)[g] + (h00 / det)[g] * t  # row 1 of H⁻¹ applied to (1, t)
        hc0_var = gsum((a * r) ** 2)
    return b1, np.sqrt(model_var), np.sqrt(hc0_var)


def unit_trends(
    monthly: pl.DataFrame,
    last_month: dt.date,
    higher_is_better: bool = True,
    settings: StatsSettings | None = None,
) -> pl.DataFrame:
    """Trend per unit over the `trend_months` months ending at `last_month`.

    `monthly`: unit, month, numerator, denominator (`monthly_counts`). Columns of the result:
    TREND_COLUMNS plus log_odds_slope/log_odds_se — `slope` is in rate units per month at the
    unit's mean rate, with its `confidence` interval. Units with fewer than `trend_min_months`
    months holding at least `trend_min_cases` cases are left out."""
    s = settings or StatsSettings()
    first = add_months(last_month, 1 - s.trend_months)
    df = monthly.filter(pl.col("month").is_between(first, last_month)
                        & (pl.col("denominator") >= max(s.trend_min_cases, 1)))
    df = df.with_columns(
        pl.Series("t", _month_index(df["month"]) - _month_index(pl.Series([last_month]))[0],
                  dtype=pl.Float64),
    ).with_columns(pl.len().over("unit").alias("k")).filter(pl.col("k") >= s.trend_min_months)
    if df.is_empty():
        return pl.DataFrame(schema={**{c: pl.Float64 for c in TREND_COLUMNS},
                                    "unit": pl.String, "months": pl.UInt32, "cases": pl.Int64,
                                    "worsening": pl.Boolean})
    df = df.sort("unit", "t")
    keys, g = np.unique(df["unit"].to_numpy(), return_inverse=True)
    x = df["numerator"].to_numpy().astype(float)
    n = df["denominator"].to_numpy().astype(float)
    t = df["t"].to_numpy()
    beta, model_se, hc0_se = _logistic_slopes(g, t, x, n, len(keys))
    se = np.fmax(model_se, hc0_se)
    per = df.group_by("unit", maintain_order=True).agg(
        pl.col("k").first().alias("months"),
        pl.col("denominator").sum().cast(pl.Int64).alias("cases"),
        (pl.col("numerator").sum() / pl.col("denominator").sum()).alias("__pbar"),
        (pl.col("numerator") / pl.col("denominator")).first().alias("first_rate"),
        (pl.col("numerator") / pl.col("denominator")).last().alias("last_rate"),
    )
    assert per["unit"].to_list() == list(keys)
    pbar = per["__pbar"].to_numpy()
    scale = pbar * (1 - pbar)
    zq = stats.norm.ppf(0.5 + s.confidence / 2)
    bad = -beta if higher_is_better else beta  # > 0 when getting worse
    with np.errstate(divide="ignore", invalid="ignore"):
        zstat = np.where(se > 0, bad / se, 0.0)
    p_worse = np.where(np.isfinite(zstat), stats.norm.sf(zstat), 1.0)
    q = multipletests(p_worse, alpha=s.fdr_q, method="fdr_bh")[1]
    return per.with_columns(
        pl.Series("slope", beta * scale),
        pl.Series("slope_se", se * scale),
        pl.Series("slope_ci_low", (beta - zq * se) * scale),
        pl.Series("slope_ci_high", (beta + zq * se) * scale),
        pl.Series("log_odds_slope", beta),
        pl.Series("log_odds_se", se),
        pl.Series("p_worse", p_worse),
        pl.Series("q_worse", q),
    ).with_columns((pl.col("q_worse") <= s.fdr_q).alias("worsening")).select(
        *TREND_COLUMNS, "log_odds_slope", "log_odds_se").sort("q_worse", "unit")
