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


def _glm_slopes(g: np.ndarray, t: np.ndarray, x: np.ndarray, n: np.ndarray, units: int,
                iterations: int = 30, offset: np.ndarray | None = None
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-group regression on t, vectorised: (slope, model SE, HC0 SE).

    Without `offset`: logistic, x events of n trials. With `offset` (log expected counts):
    Poisson, x events with mean exp(offset + b0 + b1·t) — the observed-over-expected trend.
    Both are two-parameter Newton steps on per-group sums; only the weights and residuals differ.
    """
    def gsum(v: np.ndarray) -> np.ndarray:
        return np.bincount(g, weights=v, minlength=units)

    poisson = offset is not None
    if poisson:  # start from the group's O/E (smoothed) and zero slope
        b0 = np.log((gsum(x) + 0.5) / (gsum(np.exp(offset)) + 0.5))
    else:  # start from the weighted mean rate (clipped away from 0/1) and zero slope
        p0 = np.clip((gsum(x) + 0.5) / (gsum(n) + 1.0), 1e-4, 1 - 1e-4)
        b0 = np.log(p0 / (1 - p0))
    b1 = np.zeros(units)

    def weights_residuals() -> tuple[np.ndarray, np.ndarray]:
        if poisson:
            mu = np.exp(offset + b0[g] + b1[g] * t)
            return mu, x - mu
        p = special.expit(b0[g] + b1[g] * t)
        return n * p * (1 - p), x - n * p

    for _ in range(iterations):
        w, r = weights_residuals()
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
    w, r = weights_residuals()
    h00, h01, h11 = gsum(w), gsum(w * t), gsum(w * t * t)
    det = h00 * h11 - h01 ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        model_var = h00 / det  # [H⁻¹]₁₁
        # sandwich: H⁻¹ (Σ sᵢsᵢᵀ) H⁻¹, row 1 of H⁻¹ = (−h01, h00)/det
        a = (-h01 / det)[g] + (h00 / det)[g] * t  # row 1 of H⁻¹ applied to (1, t)
        hc0_var = gsum((a * r) ** 2)
    return b1, np.sqrt(model_var), np.sqrt(hc0_var)


def _window(monthly: pl.DataFrame, last_month: dt.date, s: StatsSettings) -> pl.DataFrame:
    """The trend window's unit-months with at least `trend_min_cases` cases (`denominator`),
    units with at least `trend_min_months` of them, sorted, with `t` (0 at `last_month`) and
    `k` (the unit's months)."""
    first = add_months(last_month, 1 - s.trend_months)
    df = monthly.filter(pl.col("month").is_between(first, last_month)
                        & (pl.col("denominator") >= max(s.trend_min_cases, 1)))
    return df.with_columns(
        pl.Series("t", _month_index(df["month"]) - _month_index(pl.Series([last_month]))[0],
                  dtype=pl.Float64),
    ).with_columns(pl.len().over("unit").alias("k")).filter(
        pl.col("k") >= s.trend_min_months).sort("unit", "t")


def _empty_trends() -> pl.DataFrame:
    return pl.DataFrame(schema={**{c: pl.Float64 for c in TREND_COLUMNS},
                                "unit": pl.String, "months": pl.UInt32, "cases": pl.Int64,
                                "worsening": pl.Boolean, "log_odds_slope": pl.Float64,
                                "log_odds_se": pl.Float64})


def _scan(per: pl.DataFrame, beta: np.ndarray, se: np.ndarray, scale: np.ndarray,
          bad: np.ndarray, s: StatsSettings) -> pl.DataFrame:
    """Slopes on the rate scale (`scale` per unit: d rate / d coefficient, signed), one-sided
    p-values of getting worse (`bad` > 0 when worse), BH q-values and the flag."""
    zq = stats.norm.ppf(0.5 + s.confidence / 2)
    with np.errstate(divide="ignore", invalid="ignore"):
        zstat = np.where(se > 0, bad / se, 0.0)
    p_worse = np.where(np.isfinite(zstat), stats.norm.sf(zstat), 1.0)
    q = multipletests(p_worse, alpha=s.fdr_q, method="fdr_bh")[1]
    ends = np.sort(np.column_stack([(beta - zq * se) * scale, (beta + zq * se) * scale]), axis=1)
    return per.with_columns(
        pl.Series("slope", beta * scale),
        pl.Series("slope_se", se * np.abs(scale)),
        pl.Series("slope_ci_low", ends[:, 0]),
        pl.Series("slope_ci_high", ends[:, 1]),
        pl.Series("log_odds_slope", beta),
        pl.Series("log_odds_se", se),
        pl.Series("p_worse", p_worse),
        pl.Series("q_worse", q),
    ).with_columns((pl.col("q_worse") <= s.fdr_q).alias("worsening")).select(
        *TREND_COLUMNS, "log_odds_slope", "log_odds_se").sort("q_worse", "unit")


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
    months holding at least `trend_min_cases` cases are left out.

    Not adjusted for case mix: a unit whose items get harder month by month "worsens" here
    although it handles each item as its peers do. As evidence against a unit use
    `casemix_trends`."""
    s = settings or StatsSettings()
    df = _window(monthly, last_month, s)
    if df.is_empty():
        return _empty_trends()
    keys, g = np.unique(df["unit"].to_numpy(), return_inverse=True)
    x = df["numerator"].to_numpy().astype(float)
    n = df["denominator"].to_numpy().astype(float)
    beta, model_se, hc0_se = _glm_slopes(g, df["t"].to_numpy(), x, n, len(keys))
    per = df.group_by("unit", maintain_order=True).agg(
        pl.col("k").first().alias("months"),
        pl.col("denominator").sum().cast(pl.Int64).alias("cases"),
        (pl.col("numerator").sum() / pl.col("denominator").sum()).alias("__pbar"),
        (pl.col("numerator") / pl.col("denominator")).first().alias("first_rate"),
        (pl.col("numerator") / pl.col("denominator")).last().alias("last_rate"),
    )
    assert per["unit"].to_list() == list(keys)
    pbar = per["__pbar"].to_numpy()
    bad = -beta if higher_is_better else beta  # > 0 when getting worse
    return _scan(per, beta, np.fmax(model_se, hc0_se), pbar * (1 - pbar), bad, s)


# --- adjusted for case mix ---------------------------------------------------------------------


def casemix_monthly(completed: pl.DataFrame, last_month: dt.date,
                    settings: StatsSettings | None = None, items: pl.DataFrame | None = None,
                    unit: str = "agency_code") -> pl.DataFrame:
    """Observed and expected overdue completions per unit and month over the trend window.

    One case-mix model (item, channel and month; `casemix.expected_overdue`) is fitted on every
    unit's completions of the window, and each unit-month's expected count is the sum of the
    model's probabilities over that month's cases: what the unit's items, channels and month
    would give at the city's performance. `completed` is what `expected_overdue` takes (one row
    per case, or cells with `n`). Columns: unit, month, cases, observed, expected."""
    from metrics.stats.casemix import expected_overdue  # casemix imports this module's peers

    s = settings or StatsSettings()
    first = add_months(last_month, 1 - s.trend_months)
    window = completed.filter(pl.col("month").is_between(
        min(first, add_months(last_month, 1 - s.casemix_months)), last_month))
    if window.is_empty():
        return pl.DataFrame(schema={"unit": pl.String, "month": pl.Date, "cases": pl.Int64,
                                    "observed": pl.Int64, "expected": pl.Float64})
    keyed = window.with_columns(pl.concat_str(pl.col(unit).fill_null(""), pl.lit("\x1f"),
                                              pl.col("month").cast(pl.String)).alias("__um"))
    cm = expected_overdue(keyed, (first, last_month), s, items, unit="__um")
    parts = pl.col("unit").str.split_exact("\x1f", 1)
    return cm.units.select(
        parts.struct.field("field_0").alias("unit"),
        parts.struct.field("field_1").str.to_date().alias("month"),
        pl.col("cases").cast(pl.Int64), pl.col("observed").cast(pl.Int64),
        pl.col("expected").cast(pl.Float64),
    ).filter(pl.col("unit") != "").sort("unit", "month")


def casemix_trends(oe: pl.DataFrame, last_month: dt.date,
                   settings: StatsSettings | None = None) -> pl.DataFrame:
    """按时办结率 trend per unit adjusted for case mix: is the unit's observed overdue count
    drifting away from what its own items, channels and months lead one to expect?

    `oe`: unit, month, cases, observed, expected (`casemix_monthly`). Per unit, a Poisson
    regression of the monthly observed counts with the expected counts as offset,
    O_t ~ Poisson(E_t · exp(a + b·t)): b > 0 means more overdue cases than expected as months
    pass — getting worse whatever its mix did. Standard errors, the one-sided test, the floor
    at the model-based error and the BH control over all units are `unit_trends`'. Columns are
    TREND_COLUMNS: `first_rate` / `last_rate` are the observed 按时办结率 of the first and last
    month, `slope` the change of the 按时办结率 per month the adjusted trend implies at the
    unit's mean overdue rate (−b · p̄, negative when worsening), with its interval;
    log_odds_slope / log_odds_se hold b and its error (log scale)."""
    s = settings or StatsSettings()
    df = _window(oe.rename({"cases": "denominator"}), last_month, s)
    if df.is_empty():
        return _empty_trends()
    keys, g = np.unique(df["unit"].to_numpy(), return_inverse=True)
    x = df["observed"].to_numpy().astype(float)
    e = np.maximum(df["expected"].to_numpy().astype(float), 1e-12)
    beta, model_se, hc0_se = _glm_slopes(g, df["t"].to_numpy(), x, e, len(keys),
                                         offset=np.log(e))
    rate = 1 - pl.col("observed") / pl.col("denominator")
    per = df.group_by("unit", maintain_order=True).agg(
        pl.col("k").first().alias("months"),
        pl.col("denominator").sum().cast(pl.Int64).alias("cases"),
        (pl.col("observed").sum() / pl.col("denominator").sum()).alias("__overdue"),
        rate.first().alias("first_rate"), rate.last().alias("last_rate"),
    )
    assert per["unit"].to_list() == list(keys)
    return _scan(per, beta, np.fmax(model_se, hc0_se), -per["__overdue"].to_numpy(), beta, s)
