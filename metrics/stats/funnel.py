"""Funnel plots with overdispersion adjustment (Spiegelhalter 2005; NHS SHMI and CQC practice).

A funnel plot compares each unit with the overall rate using limits that widen as the unit's
denominator shrinks, so a small office is not called an outlier for noise. When units differ
for reasons the indicator does not capture (they nearly always do, with large volumes), plain
binomial/Poisson limits flag almost everyone; the limits are then widened by the observed
between-unit spread:

- z-scores on a variance-stabilising scale: arcsine-square-root for proportions, square root
  (CQC) or log (SHMI) for observed/expected ratios, with s = the within-unit standard error;
- the extremes are tamed first — winsorised at the `trim_share` quantiles at each end (CQC
  practice) or truncated by the SHMI rule — so the outliers one is looking for do not widen
  the limits that should reveal them;
- the dispersion ratio φ = mean(z²) of the tamed z-scores of the units with at least
  `od_min_events` expected events (at least `od_min_units` of them, else no adjustment); I·φ is
  compared with χ²(I − 1) (the overdispersion test);
- when the test rejects, the limits become y₀ ± z·√φ·s (multiplicative) or
  y₀ ± z·√(s² + τ²) (additive, τ² by DerSimonian–Laird:
  τ² = max(0, (Iφ − (I − 1)) / (Σw − Σw²/Σw)), w = 1/s²), back-transformed.

Unadjusted limits are exact: Spiegelhalter's interpolated binomial limits for proportions
(the arcsine-scale normal limits flag ~3× too many units at an on-time rate of 97% with small
offices), and the Poisson limits χ²(2E)/2E … χ²(2E + 2)/2E for ratios (as FunnelPlotR draws
them); unadjusted flags use the exact tail probabilities these limits interpolate. A unit outside
the 99.8% limits is an "alarm", outside 95% an "alert"; the flag says on which side and whether
that side is the worse one for the indicator. Flags are decided against the limits evaluated at
the unit's own denominator, so what the table says is what the chart shows (up to the
interpolation of a discrete distribution in the unadjusted case, where O = 0 with a tiny
expected count must not be an outlier).

`verdict` is what a reader is told: a unit outside the limits on the *better* side is not a
warning but "outstanding" (beyond the 99.8% limit) or "better" than expected (beyond 95%) — a
100% on-time office, or one with almost no bad reviews, must not be shown like a laggard.
Which side is better comes from the metric registry's `direction` (`direction_higher`).

References: Spiegelhalter DJ (2005) Funnel plots for comparing institutional performance,
Stat Med 24:1185–1202; Spiegelhalter DJ (2005) Handling over-dispersion of performance
indicators, Qual Saf Health Care 14:347–351; Spiegelhalter et al. (2012) Statistical methods
for healthcare regulation, JRSS A 175:1–47; FunnelPlotR (NHS-R community), od_adjustment.R
and calculate_limits.R.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import polars as pl
from scipy import stats

from metrics.stats.intervals import normal_quantile
from metrics.stats.settings import StatsSettings

Kind = Literal["proportion", "ratio"]
FLAG_ORDER = {"alarm": 0, "alert": 1, "in_control": 2, "no_data": 3}
# what a unit is called, by flag and side: bad-side outliers keep the flag's name
VERDICTS = ("alarm", "alert", "in_control", "better", "outstanding", "no_data")
BETTER_VERDICT = {"alarm": "outstanding", "alert": "better"}


def direction_higher(metric_id: str) -> bool:
    """Whether higher is better for a registry metric (its `direction`): the funnel's worse
    side follows the registry — lower 差评率 is better, higher 网上办理率 is."""
    from metrics.registry import metric

    d = metric(metric_id).direction
    if d == "neutral":
        raise ValueError(f"metric {metric_id} has no better direction")
    return d == "higher"


@dataclass(frozen=True)
class Dispersion:
    """The overdispersion estimate behind a funnel."""

    phi: float  # dispersion ratio (1 = pure binomial/Poisson noise)
    tau2: float  # between-unit variance on the transformed scale (DerSimonian–Laird)
    statistic: float  # I·φ
    df: int  # I − 1
    pvalue: float  # P(χ²(I − 1) ≥ I·φ)
    n_used: int  # units whose z-scores entered φ (all, unless truncated)


@dataclass(frozen=True)
class Funnel:
    """A computed funnel: per-unit flags and the numbers needed to draw the limits."""

    kind: Kind
    target: float
    higher_is_better: bool
    dispersion: Dispersion
    adjusted: bool  # True when the flags use overdispersion-adjusted limits
    method: str  # "multiplicative", "additive" or "none" (what the limits use)
    transform: str  # "arcsine", "sqrt" or "log"
    units: pl.DataFrame
    settings: dict

    def curve(self, points: int = 200, at: Sequence[float] | None = None) -> pl.DataFrame:
        """The limits as functions of the denominator, for drawing: at the given denominators,
        or on a geometric grid spanning the units' denominators."""
        if at is not None:
            x = np.asarray(at, dtype=float)
        else:
            den = self.units.filter(pl.col("denominator") > 0)["denominator"].to_numpy()
            lo = max(float(den.min()) * 0.8, 1e-3) if len(den) else 1.0
            hi = float(den.max()) * 1.2 if len(den) else 10.0
            x = np.geomspace(lo, max(hi, lo * 1.01), points)
        points = len(x)
        s = StatsSettings(**_settings_args(self.settings))
        cols = _limits(self.kind, self.transform, self.target, x, s, self.dispersion,
                       self.method if self.adjusted else "none")
        return pl.DataFrame({"denominator": x, "target": np.full(points, self.target), **cols})

    def summary(self) -> dict:
        d = self.dispersion
        flags = self.units["flag"].value_counts()
        counts = dict(zip(flags["flag"].to_list(), flags["count"].to_list(), strict=True))
        verdicts = self.units["verdict"].value_counts()
        better = dict(zip(verdicts["verdict"].to_list(), verdicts["count"].to_list(),
                          strict=True))
        return {
            "kind": self.kind, "target": self.target, "phi": d.phi, "tau2": d.tau2,
            "od_pvalue": d.pvalue, "adjusted": self.adjusted, "method": self.method,
            "transform": self.transform, "units": self.units.height,
            **{f"n_{k}": counts.get(k, 0) for k in ("alarm", "alert", "in_control", "no_data")},
            **{f"n_{k}": better.get(k, 0) for k in ("outstanding", "better")},
        }


def _settings_args(d: dict) -> dict:
    names = {f.name for f in dataclasses.fields(StatsSettings)}
    return {k: v for k, v in d.items() if k in names}


# ---------------------------------------------------------------------------------------------
# Transforms


def _transform_name(kind: Kind, s: StatsSettings) -> str:
    return "arcsine" if kind == "proportion" else s.ratio_transform


def _to_scale(transform: str, value: np.ndarray, num: np.ndarray, den: np.ndarray
              ) -> tuple[np.ndarray, np.ndarray]:
    """(y, s): the transformed value and its within-unit standard error."""
    with np.errstate(divide="ignore", invalid="ignore"):
        if transform == "arcsine":
            return np.arcsin(np.sqrt(np.clip(value, 0, 1))), 1 / (2 * np.sqrt(den))
        if transform == "sqrt":
            return np.sqrt(value), 1 / (2 * np.sqrt(den))
        # log (SHMI): a zero count would give −∞; use ½ an event, the usual continuity fix.
        return np.log(np.where(num > 0, num, 0.5) / den), 1 / np.sqrt(den)


def _centre(transform: str, target: float) -> float:
    if transform == "arcsine":
        return float(np.arcsin(np.sqrt(target)))
    if transform == "sqrt":
        return float(np.sqrt(target))
    return float(np.log(target))


def _back(transform: str, y: np.ndarray) -> np.ndarray:
    if transform == "arcsine":
        return np.sin(np.clip(y, 0, np.pi / 2)) ** 2
    if transform == "sqrt":
        return np.clip(y, 0, None) ** 2
    return np.exp(y)


def _binomial_limit(prob: float, n: np.ndarray, target: float) -> np.ndarray:
    """Spiegelhalter's (2005, appendix) interpolated exact binomial limit: with r the `prob`
    quantile of Binomial(n, target), the limit is (r − a)/n, a = (F(r) − prob)/(F(r) − F(r − 1)),
    a smooth curve through the discrete quantiles."""
    n_safe = np.where(np.isfinite(n) & (n > 0), n, 1.0)
    n_int = np.maximum(np.round(n_safe), 1)
    r = stats.binom.ppf(prob, n_int, target)
    f_r = stats.binom.cdf(r, n_int, target)
    f_prev = stats.binom.cdf(r - 1, n_int, target)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = np.where(f_r > f_prev, (f_r - prob) / (f_r - f_prev), 0.0)
    out = np.clip((r - a) / n_int, 0.0, 1.0)
    return np.where(np.isfinite(n) & (n > 0), out, np.nan)


def _limits(kind: Kind, transform: str, target: float, den: np.ndarray, s: StatsSettings,
            disp: Dispersion, method: str) -> dict[str, np.ndarray]:
    """lo95/hi95/lo998/hi998 (the names follow the configured levels) at denominators `den`."""
    out: dict[str, np.ndarray] = {}
    y0 = _centre(transform, target)
    with np.errstate(divide="ignore", invalid="ignore"):
        for name, level in (("alert", s.alert_level), ("alarm", s.alarm_level)):
            z = normal_quantile(level)
            tail = (1 - level) / 2
            if method == "none" and kind == "proportion":
                lo = _binomial_limit(tail, den, target)
                hi = _binomial_limit(1 - tail, den, target)
            elif method == "none" and kind == "ratio":
                # exact Poisson limits for O/E with E as the expected count (FunnelPlotR "SR")
                lo = target * stats.chi2.ppf(tail, 2 * den) / 2 / den
                hi = target * stats.chi2.ppf(1 - tail, 2 * (den + 1)) / 2 / den
            else:
                _, se = _to_scale(transform, np.ones_like(den), np.ones_like(den), den)
                if method == "multiplicative":
                    width = z * np.sqrt(max(disp.phi, 1.0)) * se
                elif method == "additive":
                    width = z * np.sqrt(se ** 2 + disp.tau2)
                else:
                    width = z * se
                lo, hi = _back(transform, y0 - width), _back(transform, y0 + width)
                if transform == "sqrt":  # below zero on the root scale means a limit of 0
                    lo = np.where(y0 - width < 0, 0.0, lo)
            out[f"lower_{name}"] = lo
            out[f"upper_{name}"] = hi
    return out


# ---------------------------------------------------------------------------------------------
# Dispersion


def _trimmed(z: np.ndarray, s: StatsSettings) -> np.ndarray:
    """The z-scores that estimate φ: winsorised at the trim quantiles, or SHMI-truncated."""
    if s.trim_share == 0 or len(z) < 3:
        return z
    if s.trim == "winsorise":
        # numpy's default (linear) quantile is R's type 7, the one FunnelPlotR uses
        lo, hi = np.quantile(z, [s.trim_share, 1 - s.trim_share])
        return np.clip(z, lo, hi)
    # SHMI truncation: split ranks into 1/trim groups, drop the lowest and highest group
    k = 1 / s.trim_share
    rank = stats.rankdata(z, method="average")
    group = np.floor(rank * k / (len(z) + 1))
    return z[(group > 0) & (group < k - 1)]


def trim_consistency(s: StatsSettings) -> float:
    """E[trimmed Z²] for a standard normal Z: how much taming shrinks φ when nothing is wrong.

    Winsorising 10% at each end leaves 0.679 of the variance, truncating 0.438, so the raw
    NHS/CQC φ understates the spread of ordinary units and the adjusted limits flag several
    times the nominal share (2–3% at 99.8% in our simulations). With `trim_correct` the
    tamed φ is divided by this factor (a consistent estimate under normal between-unit
    variation); without it the published practice is reproduced exactly."""
    if not s.trim_correct or s.trim_share == 0:
        return 1.0
    q = s.trim_share
    a = float(stats.norm.ppf(1 - q))
    central = (1 - 2 * q) - 2 * a * float(stats.norm.pdf(a))  # E[Z²; |Z| < a]
    if s.trim == "winsorise":
        return central + 2 * q * a * a
    return central / (1 - 2 * q)


def dispersion(z: np.ndarray, se: np.ndarray, s: StatsSettings) -> Dispersion:
    """φ, τ² and the overdispersion test from unit z-scores and standard errors."""
    ok = np.isfinite(z) & np.isfinite(se) & (se > 0)
    z, se = z[ok], se[ok]
    if len(z) < 2:
        return Dispersion(1.0, 0.0, float("nan"), 0, float("nan"), len(z))
    zt = _trimmed(z, s)
    n = len(zt)
    phi = float(np.mean(zt ** 2)) / trim_consistency(s)
    stat = n * phi
    df = n - 1
    p = float(stats.chi2.sf(stat, df))
    w = 1 / se ** 2
    denom = w.sum() - (w ** 2).sum() / w.sum()
    tau2 = max(0.0, (stat - df) / denom) if denom > 0 and stat > df else 0.0
    return Dispersion(phi, float(tau2), float(stat), int(df), p, int(n))


# ---------------------------------------------------------------------------------------------
# The funnel


def funnel(
    df: pl.DataFrame,
    kind: Kind = "proportion",
    higher_is_better: bool = True,
    settings: StatsSettings | None = None,
    target: float | None = None,
    unit: str = "unit",
    numerator: str = "numerator",
    denominator: str = "denominator",
) -> Funnel:
    """Funnel-plot every unit of `df` (one row per unit).

    kind "proportion": numerator = events, denominator = cases; value = share; target by
    default Σ numerator / Σ denominator (the overall rate, metrics.md §3).
    kind "ratio": numerator = observed count O, denominator = expected count E from a model;
    value = O/E; target 1.
    Returns per-unit columns unit, numerator, denominator, value, z (unadjusted, transformed
    scale), z_adj, the limits at the unit's denominator (raw_* unadjusted, lower_/upper_* used
    for the flag; unadjusted flags come from exact binomial/Poisson tail probabilities), flag
    (alarm / alert / in_control / no_data), side (high / low), worse (flagged on the worse side)
    and verdict (alarm / alert on the worse side, outstanding / better on the better side,
    in_control, no_data).
    """
    s = settings or StatsSettings()
    base = df.select(
        pl.col(unit).alias("unit"),
        pl.col(numerator).cast(pl.Float64).alias("numerator"),
        pl.col(denominator).cast(pl.Float64).alias("denominator"),
        *[c for c in df.columns if c not in (unit, numerator, denominator)],
    )
    num = base["numerator"].fill_null(0).to_numpy()
    den = base["denominator"].fill_null(0).to_numpy()
    has = den > 0
    if target is None:
        target = 1.0 if kind == "ratio" else (
            float(num[has].sum() / den[has].sum()) if den[has].sum() > 0 else float("nan"))
    transform = _transform_name(kind, s)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = np.where(has, num / np.where(has, den, 1), np.nan)
    y, se = _to_scale(transform, value, num, np.where(has, den, np.nan))
    y0 = _centre(transform, target) if 0 < target < (np.inf if kind == "ratio" else 1) \
        else float("nan")
    z = (y - y0) / se
    # Only units where the normal approximation holds estimate φ: with an expected count of 1
    # a single event is a z of 2, and small units would make φ describe the discreteness of
    # counts rather than real differences between units.
    expected_events = den * (1.0 if kind == "ratio" else min(target, 1 - target))
    sizeable = has & (expected_events >= s.od_min_events)
    disp = dispersion(z[sizeable], se[sizeable], s) if sizeable.sum() >= s.od_min_units \
        else Dispersion(1.0, 0.0, float("nan"), 0, float("nan"), int(sizeable.sum()))
    overdispersed = bool(disp.phi > 1 and disp.pvalue < s.od_test_alpha)
    adjusted = s.od_method != "none" and overdispersed
    method = s.od_method if adjusted else "none"
    if method == "multiplicative":
        z_adj = z / np.sqrt(disp.phi)
    elif method == "additive":
        z_adj = (y - y0) / np.sqrt(se ** 2 + disp.tau2)
    else:
        z_adj = z
    den_eval = np.where(has, den, np.nan)
    raw = _limits(kind, transform, target, den_eval, s, disp, "none")
    used = _limits(kind, transform, target, den_eval, s, disp, method)

    # Exact tails for unadjusted flags: the drawn limits interpolate a discrete distribution,
    # and with an expected count below ~4 a unit with O = 0 would otherwise fall under a
    # positive lower limit although P(O = 0) is large.
    o_int = np.round(num)
    if kind == "ratio":
        p_low = stats.poisson.cdf(o_int, np.where(has, den, 1.0))
        p_high = stats.poisson.sf(o_int - 1, np.where(has, den, 1.0))
    else:  # exact binomial tails, likewise (the arcsine scale is poor near 0 and 1)
        n_int = np.maximum(np.round(np.where(has, den, 1.0)), 1)
        p_low = stats.binom.cdf(o_int, n_int, target)
        p_high = stats.binom.sf(o_int - 1, n_int, target)

    def outside(lims: dict[str, np.ndarray], name: str, method_used: str) -> np.ndarray:
        if method_used == "none":
            tail = (1 - (s.alarm_level if name == "alarm" else s.alert_level)) / 2
            return has & ((p_low < tail) | (p_high < tail))
        return has & ((value < lims[f"lower_{name}"]) | (value > lims[f"upper_{name}"]))

    def flag_of(lims: dict[str, np.ndarray], method_used: str) -> np.ndarray:
        return np.where(~has, "no_data", np.where(
            outside(lims, "alarm", method_used), "alarm", np.where(
                outside(lims, "alert", method_used), "alert", "in_control")))

    side = np.where(has & (value > target), "high", np.where(has & (value < target), "low", ""))
    worse_side = "low" if higher_is_better else "high"
    flag = flag_of(used, method)
    units = base.with_columns(
        pl.Series("value", value).fill_nan(None),
        pl.Series("z", z).fill_nan(None),
        pl.Series("z_adj", z_adj).fill_nan(None),
        *[pl.Series(f"raw_{k}", v).fill_nan(None) for k, v in raw.items()],
        *[pl.Series(k, v).fill_nan(None) for k, v in used.items()],
        pl.Series("raw_flag", flag_of(raw, "none")),
        pl.Series("flag", flag),
        pl.Series("side", side, dtype=pl.String).replace("", None),
    ).with_columns(
        ((pl.col("side") == worse_side) & pl.col("flag").is_in(["alarm", "alert"]))
        .fill_null(False).alias("worse"),
    ).with_columns(
        pl.when(pl.col("flag").is_in(["alarm", "alert"]) & ~pl.col("worse"))
        .then(pl.col("flag").replace_strict(BETTER_VERDICT, default=None, return_dtype=pl.String))
        .otherwise(pl.col("flag")).alias("verdict"),
    ).sort(pl.col("flag").replace_strict(FLAG_ORDER, return_dtype=pl.Int8), "z_adj",
           descending=[False, not higher_is_better], nulls_last=True)
    return Funnel(kind, float(target), higher_is_better, disp, adjusted, method, transform,
                  units, s.as_dict())
