"""Intervals on shares and ratios, and ranking with a minimum denominator.

A league table that shows 100% for a unit with 3 cases invites criticism of everyone else for
noise. So every share in a ranking carries an interval (Wilson by default, Jeffreys on request:
both keep their nominal coverage near 0 and 1, where the Wald interval fails), and a unit whose
denominator is below `min_n` is listed but not ranked. The Wilson interval is the one of the
query API (`metrics.query.wilson_interval`), so a share has the same interval on every page.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy import stats

from metrics.query import wilson_interval
from metrics.stats.settings import StatsSettings


def normal_quantile(confidence: float) -> float:
    """Two-sided normal quantile for a confidence level (1.959964 for 0.95)."""
    return float(stats.norm.ppf(0.5 + confidence / 2))


def jeffreys_bounds(num: np.ndarray, den: np.ndarray, confidence: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray]:
    """Jeffreys interval: quantiles of Beta(x + ½, n − x + ½); 0 / 1 at the boundaries.

    (Brown, Cai & DasGupta 2001.) NaN where the denominator is 0 or missing."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    a = (1 - confidence) / 2
    ok = np.isfinite(num) & np.isfinite(den) & (den > 0)
    x = np.where(ok, num, 0.0)
    n = np.where(ok, den, 1.0)
    lo = np.where(x > 0, stats.beta.ppf(a, x + 0.5, n - x + 0.5), 0.0)
    hi = np.where(x < n, stats.beta.ppf(1 - a, x + 0.5, n - x + 0.5), 1.0)
    return np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


def poisson_ratio_bounds(observed: np.ndarray, expected: np.ndarray, confidence: float = 0.95
                         ) -> tuple[np.ndarray, np.ndarray]:
    """Exact (Garwood) interval for an observed/expected ratio, E treated as known.

    Lower = χ²_{α/2}(2O)/2 / E, upper = χ²_{1−α/2}(2O + 2)/2 / E — the limits FunnelPlotR draws
    for standardised ratios."""
    o = np.asarray(observed, dtype=float)
    e = np.asarray(expected, dtype=float)
    a = (1 - confidence) / 2
    ok = np.isfinite(o) & np.isfinite(e) & (e > 0)
    e_safe = np.where(ok, e, 1.0)
    lo = np.where(o > 0, stats.chi2.ppf(a, 2 * np.maximum(o, 1e-300)) / 2, 0.0) / e_safe
    hi = stats.chi2.ppf(1 - a, 2 * o + 2) / 2 / e_safe
    return np.where(ok, lo, np.nan), np.where(ok, hi, np.nan)


def with_share_interval(
    df: pl.DataFrame, numerator: str = "numerator", denominator: str = "denominator",
    settings: StatsSettings | None = None, prefix: str = "",
) -> pl.DataFrame:
    """Add `{prefix}share`, `{prefix}ci_low`, `{prefix}ci_high` (null when the denominator is 0)."""
    s = settings or StatsSettings()
    num, den = pl.col(numerator).cast(pl.Float64), pl.col(denominator).cast(pl.Float64)
    share = pl.when(den > 0).then(num / den).otherwise(None).alias(f"{prefix}share")
    if s.interval == "wilson":
        lo, hi = wilson_interval(num, den, normal_quantile(s.confidence))
        return df.with_columns(share, lo.alias(f"{prefix}ci_low"), hi.alias(f"{prefix}ci_high"))
    lo_a, hi_a = jeffreys_bounds(df[numerator].to_numpy(), df[denominator].to_numpy(),
                                 s.confidence)
    return df.with_columns(
        share,
        pl.Series(f"{prefix}ci_low", lo_a).fill_nan(None),
        pl.Series(f"{prefix}ci_high", hi_a).fill_nan(None),
    )


def rank_units(
    df: pl.DataFrame, value: str, denominator: str | None, higher_is_better: bool,
    min_n: int, key: str = "unit",
) -> pl.DataFrame:
    """Rank units by `value`, best first; units below `min_n` (or without a value) are shown
    after the ranked ones with rank null and `rank_note` "below_min_n" / "no_data".

    The same rule as `metrics.query.ranking`, for frames the statistics layer builds itself
    (adjusted ratios, for instance). Ties share the smallest rank."""
    small = (pl.col(denominator) < min_n) if denominator else pl.lit(False)
    out = df.with_columns(
        pl.when(pl.col(value).is_null() | pl.col(value).is_nan()).then(pl.lit("no_data"))
        .when(small).then(pl.lit("below_min_n")).otherwise(None).alias("rank_note")
    ).with_columns(pl.col("rank_note").is_null().alias("ranked"))
    rank = pl.when(pl.col("ranked")).then(pl.col(value)).otherwise(None).rank(
        "min", descending=higher_is_better)
    return out.with_columns(rank.cast(pl.Int64).alias("rank")).sort(
        ["rank", value, key], descending=[False, higher_is_better, False], nulls_last=True)
