"""Forecasts of monthly volume (受理量) per region or sector, with prediction intervals.

Monthly intake moves with the number of working days and with the Spring Festival, whose
month wanders between January and February: a plain seasonal model learns "February is low"
and is wrong every other year. The model here is a regression with SARIMA errors on the log
of the monthly count:

    log y_t = a + b·t + c·log(working days_t) + d·pre_t + e·post_t + u_t,   u_t ~ AR(1)

(the model of statsmodels' SARIMAX(1, 0, 0) with these regressors, fitted by exact maximum
likelihood in `_fit_one` at a fraction of SARIMAX's cost; a seasonal AR term at lag 12 was
slower and less accurate with three years of history in the demo backtest),

where pre_t / post_t are the shares of the 14 days before lunar new year and of the 14 days
after the holiday week that fall in month t. Working days come from the calendar (Monday–Friday
beyond the published notices), lunar new year from a table. Forecasts and 95% prediction
intervals are back-transformed (the median on the count scale). A series the model cannot fit
falls back to the seasonal-naive value with an interval from last year's log changes, and the
`model` column says which was used.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import polars as pl
from scipy import optimize, stats

from metrics.calendar import WorkCalendar
from metrics.stats.settings import StatsSettings
from queries.extracts import add_months

# Lunar new year's day (春节), Gregorian dates.
LUNAR_NEW_YEAR = {
    2015: dt.date(2015, 2, 19), 2016: dt.date(2016, 2, 8), 2017: dt.date(2017, 1, 28),
    2018: dt.date(2018, 2, 16), 2019: dt.date(2019, 2, 5), 2020: dt.date(2020, 1, 25),
    2021: dt.date(2021, 2, 12), 2022: dt.date(2022, 2, 1), 2023: dt.date(2023, 1, 22),
    2024: dt.date(2024, 2, 10), 2025: dt.date(2025, 1, 29), 2026: dt.date(2026, 2, 17),
    2027: dt.date(2027, 2, 6), 2028: dt.date(2028, 1, 26), 2029: dt.date(2029, 2, 13),
    2030: dt.date(2030, 2, 3), 2031: dt.date(2031, 1, 23), 2032: dt.date(2032, 2, 11),
    2033: dt.date(2033, 1, 31), 2034: dt.date(2034, 2, 19), 2035: dt.date(2035, 2, 8),
}
SF_WINDOW = 14


def _share_in_month(start: dt.date, days: int, month: dt.date) -> float:
    nxt = add_months(month, 1)
    lo, hi = max(start, month), min(start + dt.timedelta(days=days), nxt)
    return max((hi - lo).days, 0) / days


def regressors(months: list[dt.date], calendar: WorkCalendar) -> np.ndarray:
    """log(working days), pre-festival share, post-festival share for each month."""
    out = []
    for m in months:
        nxt = add_months(m, 1)
        wd = calendar.ord_of(nxt - dt.timedelta(days=1)) - calendar.ord_of(m - dt.timedelta(days=1))
        pre = post = 0.0
        for y in (m.year - 1, m.year, m.year + 1):
            d = LUNAR_NEW_YEAR.get(y)
            if d is None:
                continue
            pre += _share_in_month(d - dt.timedelta(days=SF_WINDOW), SF_WINDOW, m)
            post += _share_in_month(d + dt.timedelta(days=7), SF_WINDOW, m)
        out.append((np.log(max(wd, 1)), pre, post))
    return np.array(out, dtype=float)


def agency_volume(cases: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    """agency_code, month, value: accepted cases per agency and month — two columns of the log
    read once, whatever the grouping the forecasts then use."""
    return cases.lazy().filter(pl.col("accepted_at").is_not_null()).group_by(
        "agency_code", pl.col("accepted_at").dt.truncate("1mo").cast(pl.Date).alias("month"),
    ).agg(pl.len().cast(pl.Int64).alias("value")).collect()


def monthly_volume(cases: pl.DataFrame | pl.LazyFrame, agencies: pl.DataFrame, by: str,
                   per_agency: pl.DataFrame | None = None) -> pl.DataFrame:
    """unit, month, value: accepted cases per month by "sector" or "region_code" (the agency's).
    `per_agency` (`agency_volume`) saves reading the cases again for a second grouping."""
    per = per_agency if per_agency is not None else agency_volume(cases)
    return per.join(agencies.select("agency_code", pl.col(by).alias("unit")), on="agency_code",
                    how="left").group_by("unit", "month").agg(pl.col("value").sum()) \
        .sort("unit", "month")


def _design_ar1(z: np.ndarray, y: np.ndarray, rho: float) -> tuple[np.ndarray, np.ndarray]:
    """Prais–Winsten transform: with u_t = ρu_{t−1} + ε_t, the rows (√(1−ρ²)·row₁,
    row_t − ρ·row_{t−1}) have independent N(0, σ²) errors."""
    zs, ys = np.empty_like(z), np.empty_like(y)
    c = np.sqrt(1 - rho * rho)
    zs[0], ys[0] = c * z[0], c * y[0]
    zs[1:], ys[1:] = z[1:] - rho * z[:-1], y[1:] - rho * y[:-1]
    return zs, ys


def _profile(z: np.ndarray, y: np.ndarray, rho: float) -> tuple[float, np.ndarray, float]:
    """(−log-likelihood up to a constant, β, σ²) at a given ρ, β and σ² concentrated out."""
    zs, ys = _design_ar1(z, y, rho)
    beta, *_ = np.linalg.lstsq(zs, ys, rcond=None)
    sigma2 = float(np.sum((ys - zs @ beta) ** 2)) / len(y)
    return 0.5 * len(y) * np.log(max(sigma2, 1e-300)) - 0.5 * np.log(1 - rho * rho), beta, sigma2


def fit_ar1(z: np.ndarray, ly: np.ndarray) -> tuple[float, np.ndarray, float]:
    """(ρ, β, σ²) of ly = zβ + u, u AR(1), by exact maximum likelihood (see `_fit_one`)."""
    res = optimize.minimize_scalar(lambda r: _profile(z, ly, r)[0], bounds=(-0.99, 0.99),
                                   method="bounded", options={"xatol": 1e-7})
    rho = float(res.x)
    _, beta, sigma2 = _profile(z, ly, rho)
    return rho, beta, sigma2


def _fit_one(y: np.ndarray, x: np.ndarray, x_new: np.ndarray, level: float
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, str]:
    """Regression with AR(1) errors on log y, by exact maximum likelihood, and its forecast.

    The model is the one SARIMAX(1, 0, 0) with these regressors fits (statsmodels, exact
    likelihood with the stationary start, scale concentrated out), fitted directly: for a given ρ
    the Prais–Winsten transform makes the errors independent, so β and σ² are least squares and
    only ρ is searched (bounded scalar minimisation of the profile likelihood). That is
    milliseconds per series instead of a Kalman-filter optimisation — forecasts scale with the
    number of series. tests/stats check it against SARIMAX: at least as high a SARIMAX
    likelihood (SARIMAX's own optimiser can stop short), and SARIMAX's forecast at these
    parameters. The h-step forecast is
    z'β + ρʰ·u_n with variance σ²·Σ_{j<h} ρ^{2j} (parameters taken as known, as SARIMAX does)."""
    n = len(y)
    trend = np.arange(n, dtype=float)[:, None] / 12
    trend_new = np.arange(n, n + len(x_new), dtype=float)[:, None] / 12
    z = np.hstack([np.ones((n, 1)), trend, x])
    z_new = np.hstack([np.ones((len(x_new), 1)), trend_new, x_new])
    ly = np.log(y)
    rho, beta, sigma2 = fit_ar1(z, ly)
    h = np.arange(1, len(x_new) + 1)
    u_n = ly[-1] - z[-1] @ beta
    mean = z_new @ beta + rho ** h * u_n
    var = sigma2 * np.cumsum(rho ** (2 * (h - 1)))
    half = stats.norm.ppf(0.5 + level / 2) * np.sqrt(var)
    if not (np.all(np.isfinite(mean)) and np.all(np.isfinite(half))):
        raise ValueError("non-finite forecast")
    return np.exp(mean), np.exp(mean - half), np.exp(mean + half), "ar1_regression"


def _seasonal_naive(y: np.ndarray, h: int, level: float):
    base = y[-12:][:h] if len(y) >= 12 else np.repeat(y[-1], h)
    ch = np.diff(np.log(y[-13:])) if len(y) >= 13 else np.array([0.1])
    sd = float(np.std(ch)) or 0.1
    z = stats.norm.ppf(0.5 + level / 2)
    return base, base * np.exp(-z * sd), base * np.exp(z * sd), "seasonal_naive"


def forecast_volume(monthly: pl.DataFrame, calendar: WorkCalendar, last_month: dt.date,
                    settings: StatsSettings | None = None) -> pl.DataFrame:
    """History and the next `forecast_horizon` months per unit: unit, month, kind
    ("history"/"forecast"), value, lower, upper, model."""
    s = settings or StatsSettings()
    parts = []
    new = [add_months(last_month, k) for k in range(1, s.forecast_horizon + 1)]
    x_new = regressors(new, calendar)
    x_cache: dict[tuple[dt.date, dt.date], np.ndarray] = {}  # most series share their months
    for unit, frame in monthly.filter(pl.col("month") <= last_month).group_by("unit",
                                                                             maintain_order=True):
        unit = unit[0]
        frame = frame.sort("month")
        first = frame["month"][0]
        months = []
        m = first
        while m <= last_month:
            months.append(m)
            m = add_months(m, 1)
        y = pl.DataFrame({"month": months}).join(frame, on="month", how="left")["value"] \
            .fill_null(0).to_numpy().astype(float)
        if len(y) < s.forecast_min_months or (y <= 0).any():
            continue
        key = (months[0], months[-1])
        if key not in x_cache:
            x_cache[key] = regressors(months, calendar)
        try:
            mean, lo, hi, model = _fit_one(y, x_cache[key], x_new, s.forecast_level)
        except Exception:  # noqa: BLE001 - any fitting failure falls back, and says so
            mean, lo, hi, model = _seasonal_naive(y, s.forecast_horizon, s.forecast_level)
        parts.append(pl.DataFrame({
            "unit": [unit] * (len(y) + len(new)), "month": months + new,
            "kind": ["history"] * len(y) + ["forecast"] * len(new),
            "value": np.concatenate([y, mean]),
            "lower": np.concatenate([np.full(len(y), np.nan), lo]),
            "upper": np.concatenate([np.full(len(y), np.nan), hi]),
            "model": [model] * (len(y) + len(new)),
        }))
    if not parts:
        return pl.DataFrame(schema={"unit": pl.String, "month": pl.Date, "kind": pl.String,
                                    "value": pl.Float64, "lower": pl.Float64,
                                    "upper": pl.Float64, "model": pl.String})
    return pl.concat(parts).with_columns(pl.col("lower", "upper").fill_nan(None))
