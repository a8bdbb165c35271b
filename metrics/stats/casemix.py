"""Case-mix adjustment: expected overdue counts from a logistic model, observed/expected ratios.

An office that handles only hard items (施工许可, 消防验收 …) is late more often than one that
issues certificates, without being worse at its job. Indirect standardisation asks instead:
given the items, channels and months of *this* unit's cases, how many would be overdue at the
city's usual performance? A binomial GLM with a logit link on item, channel and month (no unit
term) is fitted on all units' completed cases; a unit's expected count E is the sum of the
fitted probabilities over its cases, and O/E > 1 means more overdue than its case mix explains.

The model is fitted on cell counts (item × channel × month: successes and trials) rather than
on cases — the likelihood is the same (the per-case Bernoulli terms of a cell add up to its
binomial term, up to a constant), and a month of 600,000 cases becomes a few thousand rows.
The input may itself be counts per unit × item × channel × month (`data.completed_cells`, what
the 20-million-case path uses) or one row per case; both give the same expected counts.
Items with fewer than `casemix_min_item_cases` cases in the window share one level per sector
and item type, so a rare item with no overdue case does not drive its coefficient to −∞.
With an intercept and the same data, Σ E over all units equals Σ O in the fitting window (the
GLM score equations), so the ratios are centred on 1 by construction.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import polars as pl
from scipy import linalg, sparse, special

from metrics.stats.funnel import Funnel, direction_higher, funnel
from metrics.stats.intervals import poisson_ratio_bounds, rank_units, with_share_interval
from metrics.stats.settings import StatsSettings
from queries.extracts import add_months

FACTORS = ("item_level", "channel", "month_key")
RIDGE = 1e-3  # weak ridge on the dummies (a N(0, 1000) prior): only matters for empty levels


@dataclass(frozen=True)
class CaseMix:
    """Expected counts per unit and the model behind them."""

    units: pl.DataFrame  # unit, cases, observed, expected, ratio, ci_low, ci_high, rates …
    cells: int
    params: int
    converged: bool
    pooled_items: int  # items merged into a pooled level
    window: tuple[dt.date, dt.date]  # months the model learnt on
    period: tuple[dt.date, dt.date]  # months assessed


def _as_cells(completed: pl.DataFrame, unit: str) -> pl.DataFrame:
    """unit × item × channel × month counts (`n` cases, `overdue`), from one row per case or
    from such counts already (a frame with an `n` column)."""
    n = pl.col("n").sum() if "n" in completed.columns else pl.len()
    return completed.group_by(unit, "item_code", "channel", "month").agg(
        n.cast(pl.Int64).alias("n"), pl.col("overdue").cast(pl.Int64).sum().alias("overdue"))


def _item_levels(train: pl.DataFrame, items: pl.DataFrame | None, min_cases: int) -> pl.DataFrame:
    counts = train.group_by("item_code").agg(pl.col("n").sum().alias("__n"))
    if items is not None and {"sector", "item_type"} <= set(items.columns):
        counts = counts.join(items.select("item_code", "sector", "item_type"), on="item_code",
                             how="left")
        pool = pl.concat_str(pl.lit("pool:"), pl.col("sector").fill_null("?"), pl.lit(":"),
                             pl.col("item_type").fill_null("?"))
    else:
        pool = pl.lit("pool")
    return counts.select(
        "item_code",
        pl.when(pl.col("__n") >= min_cases).then(pl.col("item_code")).otherwise(pool)
        .alias("item_level"),
        (pl.col("__n") < min_cases).alias("__pooled"),
    )


def _design(cells: pl.DataFrame) -> sparse.csr_matrix:
    """Intercept plus treatment-coded dummies of each factor (first level dropped), sparse:
    each row has at most one 1 per factor, so the Gram matrix costs almost nothing."""
    n = cells.height
    rows = [np.arange(n)]
    cols = [np.zeros(n, dtype=np.int64)]
    offset = 1
    for f in FACTORS:
        codes = cells[f].cast(pl.String).to_numpy()
        levels, idx = np.unique(codes, return_inverse=True)
        keep = idx > 0
        rows.append(np.arange(n)[keep])
        cols.append(offset + idx[keep] - 1)
        offset += len(levels) - 1
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sparse.csr_matrix((np.ones(len(r)), (r, c)), shape=(n, offset))


def fit_logistic(x: sparse.csr_matrix | np.ndarray, events: np.ndarray, trials: np.ndarray,
                 ridge: float = RIDGE, max_iter: int = 50, tol: float = 1e-9
                 ) -> tuple[np.ndarray, bool, int]:
    """Binomial GLM (logit link) on grouped counts by iteratively reweighted least squares.

    Newton steps solve (XᵀWX + λP)Δ = Xᵀ(y − np) − λPβ with a Cholesky factorisation, P the
    identity without the intercept. The tiny ridge λ keeps a level with no event at all at a
    large negative (not infinite) coefficient — its fitted probability is ~0, as observed — and
    leaves the intercept free, so Σ fitted = Σ observed still holds. (statsmodels' GLM gives the
    same fit but solves each step by a pseudo-inverse, ~100× slower at a few hundred dummies;
    tests/stats check the two agree.) Returns (coefficients, converged, iterations)."""
    x = sparse.csr_matrix(x)
    xt = x.T.tocsr()
    k = x.shape[1]
    pen = np.full(k, ridge)
    pen[0] = 0.0
    beta = np.zeros(k)
    p0 = np.clip(events.sum() / max(trials.sum(), 1), 1e-6, 1 - 1e-6)
    beta[0] = np.log(p0 / (1 - p0))

    def objective(b: np.ndarray) -> float:
        eta = x @ b
        # binomial log-likelihood (without the constant) minus the ridge, stable for any eta
        return float(events @ eta - trials @ np.logaddexp(0, eta) - 0.5 * pen @ b ** 2)

    current = objective(beta)
    for it in range(1, max_iter + 1):
        p = special.expit(x @ beta)
        w = trials * p * (1 - p)
        grad = xt @ (events - trials * p) - pen * beta
        hess = (xt @ x.multiply(w[:, None]).tocsr()).toarray() + np.diag(pen)
        step = linalg.cho_solve(linalg.cho_factor(hess + 1e-10 * np.eye(k)), grad)
        t = 1.0
        while True:  # step halving keeps every iteration an ascent
            trial = objective(beta + t * step)
            if trial >= current - 1e-12 * abs(current) or t < 1e-4:
                break
            t /= 2
        beta = beta + t * step
        gain = trial - current
        current = trial
        if np.max(np.abs(t * step)) < 1e-8 or abs(gain) < tol * (1 + abs(current)):
            return beta, True, it
    return beta, False, max_iter


def expected_overdue(
    completed: pl.DataFrame,
    period: tuple[dt.date, dt.date],
    settings: StatsSettings | None = None,
    items: pl.DataFrame | None = None,
    unit: str = "agency_code",
) -> CaseMix:
    """Observed and expected overdue counts per `unit` for completions in `period`.

    `completed`: one row per completed case with a deadline (`data.completed_with_deadline`:
    unit column, item_code, channel, month, overdue) or counts per unit × item × channel ×
    month (`data.completed_cells`: the same columns plus `n`, with `overdue` a count). The
    model learns on the `casemix_months` months ending at the period's last month (and the
    whole period, if longer)."""
    s = settings or StatsSettings()
    first, last = period
    start = min(first, add_months(last, 1 - s.casemix_months))
    train = _as_cells(completed.filter(pl.col("month").is_between(start, last)), unit)
    if train.is_empty():
        raise ValueError(f"no completed cases with a deadline between {start} and {last}")
    levels = _item_levels(train, items, s.casemix_min_item_cases)
    keyed = train.join(levels.select("item_code", "item_level"), on="item_code", how="left") \
        .with_columns(pl.col("month").cast(pl.String).alias("month_key"),
                      pl.col("channel").fill_null("?"))
    cells = keyed.group_by(*FACTORS).agg(
        pl.col("n").sum().alias("n"), pl.col("overdue").sum().alias("events"),
    ).sort(*FACTORS)
    x = _design(cells)
    beta, converged, _ = fit_logistic(x, cells["events"].to_numpy().astype(float),
                                      cells["n"].to_numpy().astype(float))
    p = np.clip(special.expit(x @ beta), 1e-12, 1 - 1e-12)
    cells = cells.with_columns(pl.Series("p_hat", p))
    scored = keyed.filter(pl.col("month").is_between(first, last)).join(
        cells.select(*FACTORS, "p_hat"), on=list(FACTORS), how="left")
    per_unit = scored.group_by(pl.col(unit).alias("unit")).agg(
        pl.col("n").sum().alias("cases"),
        pl.col("overdue").sum().alias("observed"),
        (pl.col("n") * pl.col("p_hat")).sum().alias("expected"),
    ).sort("unit")
    o, e = per_unit["observed"].to_numpy(), per_unit["expected"].to_numpy()
    lo, hi = poisson_ratio_bounds(o, e, s.confidence)
    overall = float(o.sum() / per_unit["cases"].sum()) if per_unit["cases"].sum() else np.nan
    units = per_unit.with_columns(
        pl.Series("ratio", np.where(e > 0, o / np.where(e > 0, e, 1), np.nan)).fill_nan(None),
        pl.Series("ratio_ci_low", lo).fill_nan(None),
        pl.Series("ratio_ci_high", hi).fill_nan(None),
        (pl.col("expected") / pl.col("cases")).alias("expected_overdue_rate"),
    ).with_columns(
        # indirectly standardised rates: the city's rate scaled by the unit's O/E
        (pl.col("ratio") * overall).alias("adjusted_overdue_rate"),
        (1 - pl.col("ratio") * overall).alias("adjusted_on_time_rate"),
        (pl.col("cases") - pl.col("observed")).alias("on_time"),
    )
    units = with_share_interval(units, "on_time", "cases", s, prefix="on_time_")
    return CaseMix(units, cells.height, x.shape[1], converged,
                   int(levels["__pooled"].sum()), (start, last), (first, last))


def adjusted_funnel(casemix: CaseMix, settings: StatsSettings | None = None) -> Funnel:
    """The funnel on the case-mix-adjusted indicator: O/E of overdue cases, precision E (fewer
    overdue cases are better: the registry's 超期件 direction)."""
    return funnel(casemix.units.select("unit", "observed", "expected", "cases"), kind="ratio",
                  higher_is_better=direction_higher("overdue"), settings=settings,
                  numerator="observed", denominator="expected")


def raw_funnel(casemix: CaseMix, settings: StatsSettings | None = None) -> Funnel:
    """The funnel on the raw 按时办结率 of the same cases (what a league table would use)."""
    return funnel(casemix.units.select("unit", "on_time", "cases"), kind="proportion",
                  higher_is_better=direction_higher("on_time_rate"), settings=settings,
                  numerator="on_time", denominator="cases")


def raw_vs_adjusted(casemix: CaseMix, settings: StatsSettings | None = None) -> pl.DataFrame:
    """Side by side, one row per unit: raw on-time rate (Wilson interval, rank, funnel flag)
    and the case-mix-adjusted view (O/E with interval, adjusted rate, rank, funnel flag), with
    `changed` naming what the adjustment changed — so a reader sees why a unit moved."""
    s = settings or StatsSettings()
    raw = raw_funnel(casemix, s).units.select("unit", pl.col("flag").alias("raw_flag"),
                                              pl.col("worse").alias("raw_worse"))
    adj = adjusted_funnel(casemix, s).units.select("unit", pl.col("flag").alias("adj_flag"),
                                                   pl.col("worse").alias("adj_worse"))
    base = casemix.units.select(
        "unit", "cases", "observed", "expected", pl.col("on_time_share").alias("raw_on_time_rate"),
        pl.col("on_time_ci_low").alias("raw_ci_low"), pl.col("on_time_ci_high").alias("raw_ci_high"),
        "expected_overdue_rate", "ratio", "ratio_ci_low", "ratio_ci_high", "adjusted_on_time_rate",
    )
    ranked_raw = rank_units(base, "raw_on_time_rate", "cases", True, s.min_n).select(
        "unit", pl.col("rank").alias("raw_rank"), "rank_note")
    ranked_adj = rank_units(base, "ratio", "cases", False, s.min_n).select(
        "unit", pl.col("rank").alias("adj_rank"))
    out = (base.join(ranked_raw, on="unit").join(ranked_adj, on="unit")
           .join(raw, on="unit").join(adj, on="unit"))
    changed = (
        pl.when(pl.col("raw_worse") & ~pl.col("adj_worse"))
        .then(pl.lit("raw flag explained by case mix"))
        .when(~pl.col("raw_worse") & pl.col("adj_worse"))
        .then(pl.lit("flagged only after adjustment"))
        .when(pl.col("raw_flag") != pl.col("adj_flag")).then(pl.lit("flag level changed"))
        .otherwise(None)
    )
    return out.with_columns(changed.alias("changed"),
                            (pl.col("adj_rank") - pl.col("raw_rank")).alias("rank_change")) \
        .sort("adj_rank", "unit", nulls_last=True)
