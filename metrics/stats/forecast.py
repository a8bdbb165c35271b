"""Forecasts of monthly volume (受理量) per region or sector, with prediction intervals.

Monthly intake moves with the number of working days and with the Spring Festival, whose
month wanders between January and February: a plain seasonal model learns "February is low"
and is wrong every other year. The model here is a regression with SARIMA errors on the log
of the monthly count (statsmodels SARIMAX):

    log y_t = a + b·t + c·log(working days_t) + d·pre_t + e·post_t + u_t,
    u_t ~ AR(1) (a seasonal AR(1) at lag 12 is available with ≥ 36 months; off by default:
    with three years of history it was slower and less accurate in the demo backtest),

where pre_t / post_t are the shares of the 14 days before lunar new year and of the 14 days
after the holiday week that fall in month t. Working days come from the calendar (Monday–Friday
beyond the published notices), lunar new year from a table. Forecasts and 95% prediction
intervals are back-transformed (the median on the count scale). A series the model cannot fit
falls back to the seasonal-naive value with an interval from last year's log changes, and the
`model` column says which was used.
"""

from __future__ import annotations

import datetime as dt
import warnings

import numpy as np
import polars as pl
from scipy import stats
from statsmodels.tsa.statespace.sarimax import SARIMAX

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


def monthly_volume(cases: pl.DataFrame, agencies: pl.DataFrame, by: str) -> pl.DataFrame:
    """unit, month, value: accepted cases per month by "sector" or "region_code" (the agency's)."""
    return cases.filter(pl.col("accepted_at").is_not_null()).join(
        agencies.select("agency_code", pl.col(by).alias("unit")), on="agency_code", how="left"
    ).group_by("unit", pl.col("accepted_at").dt.truncate("1mo").cast(pl.Date).alias("month")) \
        .agg(pl.len().alias("value")).sort("unit", "month")


def _fit_one(y: np.ndarray, x: np.ndarray, x_new: np.ndarray, level: float,
             seasonal_ar: bool = False):
    n = len(y)
    trend = np.arange(n, dtype=float)[:, None] / 12
    trend_new = np.arange(n, n + len(x_new), dtype=float)[:, None] / 12
    exog = np.hstack([trend, x])
    exog_new = np.hstack([trend_new, x_new])
    seasonal = (1, 0, 0, 12) if seasonal_ar and n >= 36 else (0, 0, 0, 0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ly = np.log(y)
        design = np.hstack([np.ones((n, 1)), exog])
        coef, *_ = np.linalg.lstsq(design, ly, rcond=None)
        resid = ly - design @ coef
        rho = float(np.clip(np.corrcoef(resid[:-1], resid[1:])[0, 1], -0.9, 0.9)) \
            if n > 3 else 0.0
        model = SARIMAX(ly, exog=exog, order=(1, 0, 0), seasonal_order=seasonal, trend="c",
                        concentrate_scale=True)
        # start from least squares and the lag-1 residual correlation: few iterations needed
        start = np.concatenate([coef, [rho], [0.0] * (seasonal[0])])
        res = model.fit(start_params=start, disp=False, maxiter=50)
        fc = res.get_forecast(len(x_new), exog=exog_new)
        mean = np.asarray(fc.predicted_mean)
        ci = np.asarray(fc.conf_int(alpha=1 - level))
    if not np.all(np.isfinite(ci)):
        raise ValueError("non-finite forecast")
    return np.exp(mean), np.exp(ci[:, 0]), np.exp(ci[:, 1]), "sarimax"


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
        new = [add_months(last_month, k) for k in range(1, s.forecast_horizon + 1)]
        try:
            mean, lo, hi, model = _fit_one(y, regressors(months, calendar), regressors(new, calendar),
                                           s.forecast_level)
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
