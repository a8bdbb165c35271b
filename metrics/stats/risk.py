"""Predicted overdue risk for cases in progress (a Cox model on the deadline clock) and its backtest.

The rule-based 预警 fires one working day before the deadline or at 80% of the promise — often
too late to act, and blind to which cases are likely to run over. Here the time scale is the
share of the deadline used, τ = used_wd / deadline_days, so "overdue" is τ > 1 for every case
whatever its limit, and the elapsed share of an open case is where it stands on that scale.
A Cox proportional-hazards model (statsmodels PHReg, Breslow ties) of time to completion on
that scale, with covariates

- the item's and the agency's historical overdue log-odds (shrunk towards the city rate with
  a prior of `PRIOR_CASES` cases, learnt on the training window only — a few hundred item and
  agency dummies would make the fit slow and noisy),
- channel (online, mobile vs. offline), log(deadline days + 1), natural-day limit,

gives each open, not-yet-overdue case at elapsed share τ₀ the probability of passing its due
date, P(T > 1 | T > τ₀) = exp(−(H₀(1) − H₀(τ₀))·exp(xβ)), with the Breslow baseline H₀
(computed here so that it is right-continuous: events at exactly τ count at τ).

Backtest: for each month m, the model learns at the end of month m − 1 on cases accepted in
the `risk_train_months` before (open ones censored at their elapsed share), and scores the
cases open then; the outcome is whether each case did pass its due date (cases still open and
within their deadline at the end of the data are dropped). Competitors, both learnt from the
past only: the naive base rate (the share of last month's open cases that went overdue) and
the rule-based 预警 as a probability (the overdue share among last month's flagged and
unflagged cases). Reported: Brier score, Brier skill vs. the base rate, AUC, a reliability table.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import warnings
from dataclasses import dataclass

import numpy as np
import polars as pl
from statsmodels.duration.hazard_regression import PHReg

from metrics.case_measures import warning_flag
from metrics.settings import Settings
from metrics.stats import data
from metrics.stats.settings import StatsSettings
from queries.extracts import add_months

PRIOR_CASES = 20.0  # shrinkage of item / agency overdue rates towards the city rate
FEATURES = ("item_logodds", "agency_logodds", "online", "mobile", "log_deadline", "natural")


@dataclass(frozen=True)
class RiskModel:
    """A fitted risk model: coefficients, the baseline cumulative hazard and the encodings."""

    beta: np.ndarray
    times: np.ndarray  # distinct event times (elapsed shares)
    cumhaz: np.ndarray  # Breslow H₀ at those times (right-continuous)
    item_enc: pl.DataFrame
    agency_enc: pl.DataFrame
    city_logodds: float
    trained_on: int
    as_of: dt.datetime
    # (a, b) of the logistic recalibration p' = expit(a + b·logit p) learnt on a held-out month
    # (`calibration_map`); None: the Cox probabilities as they are
    calibration: tuple[float, float] | None = None

    def baseline(self, tau: np.ndarray) -> np.ndarray:
        idx = np.searchsorted(self.times, tau, side="right")
        return np.where(idx > 0, self.cumhaz[np.maximum(idx - 1, 0)], 0.0)


def _encode(train: pl.DataFrame, key: str, city: float) -> pl.DataFrame:
    prior = 1 / (1 + np.exp(-city))
    return train.filter(pl.col("is_done")).group_by(key).agg(
        pl.col("late").sum().alias("__k"), pl.len().alias("__n"),
    ).select(
        key,
        # log odds as a native expression (a Python UDF inside Polars can deadlock when
        # several dashboard sessions query at once)
        ((pl.col("__k") + PRIOR_CASES * prior)
         / (pl.col("__n") + PRIOR_CASES - pl.col("__k") - PRIOR_CASES * prior))
        .cast(pl.Float64).log()
        .alias(f"{key.split('_')[0]}_logodds"),
    )


def _with_tau(clock: pl.DataFrame) -> pl.DataFrame:
    return clock.filter(pl.col("deadline_days") > 0).with_columns(
        (pl.col("used_wd") / pl.col("deadline_days")).alias("tau"),
        (pl.col("used_wd") > pl.col("deadline_days")).alias("late"),
    )


def _features(df: pl.DataFrame, model_or_encs: tuple[pl.DataFrame, pl.DataFrame, float]
              ) -> np.ndarray:
    item_enc, agency_enc, city = model_or_encs
    out = df.join(item_enc, on="item_code", how="left").join(agency_enc, on="agency_code",
                                                             how="left")
    out = out.select(
        pl.col("item_logodds").fill_null(city),
        pl.col("agency_logodds").fill_null(city),
        (pl.col("channel") == "online").cast(pl.Float64).alias("online"),
        (pl.col("channel") == "mobile").cast(pl.Float64).alias("mobile"),
        (pl.col("deadline_days").cast(pl.Float64) + 1).log().alias("log_deadline"),
        (pl.col("limit_unit") == "natural").cast(pl.Float64).alias("natural"),
    )
    return out.to_numpy().astype(float)


def _breslow(tau: np.ndarray, event: np.ndarray, risk: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray]:
    """Right-continuous Breslow cumulative baseline hazard at the distinct event times."""
    order = np.argsort(tau, kind="stable")
    tau, event, risk = tau[order], event[order], risk[order]
    times, first = np.unique(tau, return_index=True)
    at_risk = np.cumsum(risk[::-1])[::-1][first]  # Σ risk over τᵢ ≥ t
    deaths = np.add.reduceat(event.astype(float), first)
    keep = deaths > 0
    return times[keep], np.cumsum(deaths[keep] / at_risk[keep])


def fit_risk_model(clock: pl.DataFrame, as_of: dt.datetime, settings: StatsSettings | None = None
                   ) -> RiskModel:
    """Learn on a clock measured at `as_of` (data.clocked): cases with a deadline > 0 accepted
    in the `risk_train_months` months up to `as_of`; completed ones are events at their τ, open
    ones censored at their current τ. Larger sets are sampled (seeded) to `risk_max_train_cases`."""
    s = settings or StatsSettings()
    start = dt.datetime.combine(add_months(as_of.date().replace(day=1), -s.risk_train_months),
                                dt.time())
    train = _with_tau(clock.filter(pl.col("accepted_at") >= start))
    if train.height > s.risk_max_train_cases:
        train = train.sample(s.risk_max_train_cases, seed=s.risk_seed)
    if train.filter(pl.col("is_done")).height < 50:
        raise ValueError(f"too few completed cases to learn overdue risk before {as_of}")
    done = train.filter(pl.col("is_done"))
    p_city = (done["late"].sum() + 0.5) / (done.height + 1)
    city = float(np.log(p_city / (1 - p_city)))
    item_enc = _encode(train, "item_code", city)
    agency_enc = _encode(train, "agency_code", city)
    x = _features(train, (item_enc, agency_enc, city))
    tau = train["tau"].to_numpy().astype(float)
    event = train["is_done"].to_numpy().astype(float)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = PHReg(tau, x, status=event, ties="breslow").fit()
    beta = np.asarray(res.params)
    times, cumhaz = _breslow(tau, event, np.exp(x @ beta))
    return RiskModel(beta, times, cumhaz, item_enc, agency_enc, city, train.height, as_of)


@dataclass(frozen=True)
class RiskClock:
    """What the risk model reads at one moment, clocked without clocking the whole window."""

    train: pl.DataFrame  # clock of the training sample (accepted in the training window)
    open: pl.DataFrame  # clock of every case open at the moment
    window_cases: int  # cases with a deadline accepted in the training window (sampled from)
    fraction: float  # sampling fraction applied to them (1: all)
    also: pl.DataFrame | None = None  # clock of the `also` cases (`risk_clock`), if asked for


def risk_clock(tables: data.Tables, as_of: dt.datetime, settings: StatsSettings | None = None,
               rules: Settings | None = None) -> RiskClock:
    """The training cases and the open cases at `as_of`, clocked without clocking the window.

    Training: the cases with a deadline accepted in the `risk_train_months` months before
    `as_of`. When there are more than `risk_max_train_cases`, a seeded Bernoulli sample of
    them is drawn *before* clocking — a case is in it when hash(case_id, `risk_seed`) falls
    below the fraction risk_max_train_cases / window cases, so the sample does not depend on
    row order or on how the log was read, and open and completed cases are sampled alike (open
    ones are censored, dropping them would bias the fit). Polars does not promise the same
    hash across its versions: the sample is reproducible for a given Polars version. At 20 million cases that is ~100,000
    of ~3 million window cases; the Cox fit's standard errors at that size are a few per cent
    of the coefficients, and the backtest (docs/backtest.md) still beats the base rate.
    `fit_risk_model` trims a sample that came out larger to exactly the maximum (seeded).
    Open: every case accepted by `as_of` and not completed by then (scored, never sampled)."""
    return risk_clocks(tables, [as_of], settings, rules)[0]


def risk_rows(cases: data.Frame, moments: list[dt.datetime], s: StatsSettings
              ) -> data.RiskRows:
    """The rows of `cases` the risk model reads at each of `moments` (ascending), flagged per
    moment: its seeded training sample (`risk_clock`) and its open cases — from one scan of
    the log (a LazyFrame scans only these columns and rows). The database has its own reader
    with the same flags (`data.read_risk_rows`)."""
    starts = data.risk_train_starts(moments, s)
    acc, done_at = pl.col("accepted_at"), pl.col("completed_at")
    cases = cases.lazy().select(*data.CASE_COLUMNS).filter(acc <= moments[-1])
    deadline = pl.coalesce("promised_days", "statutory_days") > 0
    in_window = [deadline & acc.is_between(a, m) for a, m in zip(starts, moments, strict=True)]
    counts = cases.filter(acc >= min(starts)).select(
        *[w.sum().alias(f"n{k}") for k, w in enumerate(in_window)]).collect().row(0)
    fractions = data.risk_fractions(counts, s)
    buckets = 1 << 20
    bucket = pl.col("case_id").hash(s.risk_seed) % buckets
    flags = []
    for k, m in enumerate(moments):
        flags.append((in_window[k] & (bucket < int(round(fractions[k] * buckets))))
                     .alias(f"__s{k}"))
        flags.append(((acc <= m) & (done_at.is_null() | (done_at > m))).alias(f"__o{k}"))
    picked = cases.filter(pl.any_horizontal(flags)).with_columns(flags).collect()
    return data.RiskRows(tuple(moments), picked, tuple(int(n or 0) for n in counts),
                         tuple(fractions))


def risk_clocks(tables: data.Tables, moments: list[dt.datetime],
                settings: StatsSettings | None = None, rules: Settings | None = None,
                rows: data.RiskRows | None = None) -> list[RiskClock]:
    """`risk_clock` at each of `moments` (ascending) from one scan of the log: the candidate
    rows of every moment (its sample, its open cases) are read once (`risk_rows`, or `rows`
    read already, e.g. from the database by `data.read_risk_rows`), then clocked per moment
    in memory. Each clock after the first also has `also`: the cases open at the moment before,
    clocked at this one — their outcomes as known now, for the recalibration."""
    s = settings or (rules or Settings()).stats
    moments = sorted(moments)
    if rows is None:
        rows = risk_rows(tables.cases, moments, s)
    elif list(rows.moments) != moments:
        raise ValueError(f"risk rows were read for {rows.moments}, not {moments}")
    acc = pl.col("accepted_at")
    picked = rows.rows
    out = []
    for k, m in enumerate(moments):
        also = pl.col(f"__o{k - 1}") if k else pl.lit(False)
        chosen = picked.lazy().filter((acc <= m) & (pl.col(f"__s{k}") | pl.col(f"__o{k}") | also))
        clock = data.clock_lazy(tables, chosen.with_columns(also.alias("__also")), m,
                                rules).collect()
        flag_cols = [c for c in clock.columns if c.startswith("__s") or c.startswith("__o")]

        def part(keep: pl.Expr, clock: pl.DataFrame = clock, drop: list = flag_cols
                 ) -> pl.DataFrame:
            return clock.filter(keep).drop(*drop, "__also")

        out.append(RiskClock(part(pl.col(f"__s{k}")), part(pl.col(f"__o{k}")), rows.counts[k],
                             rows.fractions[k], part(pl.col("__also")) if k else None))
    return out


def risk_moments(as_of: dt.datetime, settings: StatsSettings) -> list[dt.datetime]:
    """The moments `fit_current_model` clocks at: the end of the previous month (the
    recalibration's held-out month) and `as_of`; `as_of` alone without recalibration."""
    if settings.risk_calibration == "none":
        return [as_of]
    return [data.month_end_moment(add_months(as_of.date().replace(day=1), -1)), as_of]


def fit_current_model(tables: data.Tables, as_of: dt.datetime,
                      settings: StatsSettings | None = None, rules: Settings | None = None,
                      rows: data.RiskRows | None = None) -> tuple[RiskModel, RiskClock]:
    """The model the 预测预警 list uses at `as_of`, and the clock it scores.

    With `risk_calibration = "platt"` (the default) it is recalibrated as in the backtest: the
    model learnt at the end of the previous month scored that moment's open cases; their
    outcomes as known at `as_of` (done, or already overdue) fit `calibration_map`, which is
    then applied to the current model's probabilities. Costs one more (sampled) fit.
    `rows`: the candidate rows at `risk_moments(as_of, …)` read already (the database reader
    `data.read_risk_rows`); by default they are taken from `tables.cases`."""
    s = settings or (rules or Settings()).stats
    if s.risk_calibration == "none":
        rc = risk_clocks(tables, [as_of], s, rules, rows)[0]
        return fit_risk_model(rc.train, as_of, s), rc
    prev = risk_moments(as_of, s)[0]
    rc_prev, rc = risk_clocks(tables, [prev, as_of], s, rules, rows)
    calibration = None
    try:
        held = predict_risk(fit_risk_model(rc_prev.train, prev, s),
                            open_cases(rc_prev.open, rules)).select("case_id", "p_cox")
        known = held.join(_outcomes(rc.also), on="case_id")
        calibration = calibration_map(known["p_cox"].to_numpy(), known["y"].to_numpy())
    except ValueError:  # too little history a month earlier: no recalibration
        pass
    model = dataclasses.replace(fit_risk_model(rc.train, as_of, s), calibration=calibration)
    return model, rc


def database_warnings(engine, month: dt.date, rules: Settings | None = None
                      ) -> pl.DataFrame | None:
    """The predicted 预警 list of the whole city at the end of `month` (or at the last
    recorded moment, if earlier) from the database, reading only what the model needs: the
    seeded training samples and the open cases at `risk_moments` (`data.read_risk_rows`) and
    their suspensions. None when there is too little history to learn the model."""
    rules = rules or Settings()
    s = rules.stats
    as_of = data.risk_as_of(engine, month)
    rows = data.read_risk_rows(engine, risk_moments(as_of, s), s)
    tables = data.read_risk_tables(engine, rows)
    try:
        model, rc = fit_current_model(tables, as_of, s, rules, rows)
    except ValueError:  # too few completed cases to learn from
        return None
    return predictive_warnings(model, rc.open, rules=rules)


def open_cases(clock: pl.DataFrame, settings: Settings | None = None) -> pl.DataFrame:
    """Cases open at the clock's moment, with a deadline > 0 and not yet overdue, with the
    rule-based 预警 flag (metrics.md §6) as `rule_warning`."""
    return _with_tau(clock.filter(~pl.col("is_done"))).filter(~pl.col("late")).with_columns(
        warning_flag(settings or Settings()).alias("rule_warning"))


def predict_risk(model: RiskModel, open_: pl.DataFrame) -> pl.DataFrame:
    """P(passing the due date) for each open case (`open_cases`), highest first."""
    if open_.is_empty():
        return open_.with_columns(pl.lit(None, dtype=pl.Float64).alias("p_overdue"))
    x = _features(open_, (model.item_enc, model.agency_enc, model.city_logodds))
    tau0 = open_["tau"].to_numpy().astype(float)
    h = model.baseline(np.full(len(tau0), 1.0)) - model.baseline(tau0)
    p = np.exp(-np.clip(h, 0, None) * np.exp(x @ model.beta))  # survival from τ₀ past 1
    out = open_.with_columns(pl.Series("p_cox", p),
                             pl.Series("p_overdue", recalibrate(p, model.calibration)))
    return out.sort("p_overdue", descending=True)


# ---------------------------------------------------------------------------------------------
# Calibration

CALIBRATION_MIN_CASES = 200  # fewer held-out cases with a known outcome: no recalibration


def _logit(p: np.ndarray) -> np.ndarray:
    q = np.clip(p, 1e-4, 1 - 1e-4)
    return np.log(q / (1 - q))


def calibration_map(p: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """(a, b) of Platt's logistic recalibration P(overdue) = expit(a + b·logit p), fitted on
    predictions p of a held-out month with their known outcomes y (None when there are too
    few, or only one kind of outcome).

    Why: the Cox probabilities rank cases well (AUC ~0.8) but are too high for most cases in
    the backtest — proportional hazards on the deadline-share scale do not hold exactly, and
    the conditional survival past τ = 1 inherits the misfit. Two parameters learnt on last
    month's open cases fix the level (a) and the spread (b) without touching the ranking
    (b > 0), and are too few to overfit a month of outcomes. Isotonic regression would also
    fix the shape but steps on a month of data and ties the top risks."""
    y = np.asarray(y, dtype=float)
    if len(y) < CALIBRATION_MIN_CASES or y.min() == y.max():
        return None
    from metrics.stats.casemix import fit_logistic

    x = np.column_stack([np.ones(len(y)), _logit(np.asarray(p, dtype=float))])
    beta, converged, _ = fit_logistic(x, y, np.ones(len(y)), ridge=0.0)
    if not converged or not np.all(np.isfinite(beta)) or beta[1] <= 0:
        return None
    return float(beta[0]), float(beta[1])


def recalibrate(p: np.ndarray, calibration: tuple[float, float] | None) -> np.ndarray:
    """Apply a `calibration_map` (identity for None)."""
    if calibration is None:
        return p
    a, b = calibration
    return 1 / (1 + np.exp(-(a + b * _logit(p))))


def predictive_warnings(model: RiskModel, clock: pl.DataFrame, settings: StatsSettings | None = None,
                        rules: Settings | None = None) -> pl.DataFrame:
    """The 预测预警 list: open cases whose predicted overdue probability reaches
    `risk_threshold`, with `ahead_of_rule` = not (yet) on the rule-based 预警 list."""
    s = settings or (rules or Settings()).stats
    scored = predict_risk(model, open_cases(clock, rules))
    return scored.filter(pl.col("p_overdue") >= s.risk_threshold).select(
        "case_id", "agency_code", "item_code", "channel", pl.col("a_date").alias("accepted_on"),
        "due_date", "used_wd", "deadline_days", pl.col("tau").alias("elapsed_share"),
        "p_overdue", "rule_warning", (~pl.col("rule_warning")).alias("ahead_of_rule"),
    )


# ---------------------------------------------------------------------------------------------
# Backtest


@dataclass(frozen=True)
class Backtest:
    months: pl.DataFrame  # per scored month: n, overdue share, Brier of each predictor, AUC
    reliability: pl.DataFrame  # predictor, bin, n, mean_predicted, observed
    overall: dict  # pooled Brier scores and skill
    settings: dict


def _outcomes(final_clock: pl.DataFrame) -> pl.DataFrame:
    """Whether each case passed its due date, where that is known at the end of the data."""
    c = final_clock.filter(pl.col("deadline_days") > 0)
    return c.filter(pl.col("is_done") | (pl.col("used_wd") > pl.col("deadline_days"))).select(
        "case_id", (pl.col("used_wd") > pl.col("deadline_days")).alias("y"))


def auc(y: np.ndarray, p: np.ndarray) -> float:
    """Area under the ROC curve by the rank (Mann–Whitney) formula, ties averaged."""
    from scipy.stats import rankdata

    pos = y.astype(bool)
    n1, n0 = pos.sum(), (~pos).sum()
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(p)
    return float((r[pos].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def backtest(tables: data.Tables, months: list[dt.date], settings: StatsSettings | None = None,
             rules: Settings | None = None) -> Backtest:
    """Train at the end of each month before `months[i]`, score the cases open then."""
    rules = rules or Settings()
    s = settings or rules.stats
    first_needed = add_months(months[0], -s.risk_train_months - 3)
    final = data.clocked(tables, data.month_end_moment(tables.last_month), first_needed, rules)
    outcome = _outcomes(final)
    cut = [data.month_end_moment(add_months(m, -1)) for m in months]
    prev_cut = data.month_end_moment(add_months(months[0], -2))
    snapshots: dict[dt.datetime, pl.DataFrame] = {}

    def snapshot(moment: dt.datetime) -> pl.DataFrame:
        if moment not in snapshots:
            accepted_from = add_months(moment.date().replace(day=1), -s.risk_train_months - 2)
            snapshots[moment] = data.clocked(tables, moment, accepted_from, rules)
        return snapshots[moment]

    rows, pooled = [], []
    previous = prev_cut
    # the previous month's model and its predictions: the held-out month of the recalibration
    prev_pred = predict_risk(fit_risk_model(snapshot(prev_cut), prev_cut, s),
                             open_cases(snapshot(prev_cut), rules)).select("case_id", "p_cox")
    for month, moment in zip(months, cut, strict=True):
        clock = snapshot(moment)
        held = prev_pred.join(_outcomes(clock), on="case_id")  # outcomes as known now
        calibration = (calibration_map(held["p_cox"].to_numpy(), held["y"].to_numpy())
                       if s.risk_calibration == "platt" else None)
        model = dataclasses.replace(fit_risk_model(clock, moment, s), calibration=calibration)
        predicted = predict_risk(model, open_cases(clock, rules))
        prev_pred = predicted.select("case_id", "p_cox")
        scored = predicted.join(outcome, on="case_id")
        # competitors learnt from last month's open cases, outcomes as known now
        past = open_cases(snapshot(previous), rules).select("case_id", "rule_warning").join(
            _outcomes(clock), on="case_id")
        base = float(past["y"].mean()) if past.height else 0.0
        flagged = past.filter(pl.col("rule_warning"))
        unflagged = past.filter(~pl.col("rule_warning"))
        p_rule_on = (flagged["y"].sum() + base) / (flagged.height + 1)
        p_rule_off = (unflagged["y"].sum() + base) / (unflagged.height + 1)
        y = scored["y"].cast(pl.Float64).to_numpy()
        preds = {
            "model": scored["p_cox"].to_numpy(),
            "model_calibrated": scored["p_overdue"].to_numpy(),
            "base_rate": np.full(len(y), base),
            "rule_calibrated": np.where(scored["rule_warning"].to_numpy(), p_rule_on, p_rule_off),
            "rule_binary": scored["rule_warning"].cast(pl.Float64).to_numpy(),
        }
        rows.append({
            "month": month, "scored_at": moment, "train_cases": model.trained_on,
            "cases": len(y), "overdue_share": float(y.mean()) if len(y) else float("nan"),
            **{f"brier_{k}": float(np.mean((v - y) ** 2)) for k, v in preds.items()},
            "auc_model": auc(y, preds["model"]),
            "auc_rule": auc(y, preds["rule_binary"]),
            "calibration_a": calibration[0] if calibration else None,
            "calibration_b": calibration[1] if calibration else None,
            "held_out_cases": held.height,
        })
        pooled.append(pl.DataFrame({"month": [month] * len(y), "y": y, **preds}))
        previous = moment
    per_month = pl.DataFrame(rows)
    allp = pl.concat(pooled)
    y = allp["y"].to_numpy()
    overall = {k: float(np.mean((allp[k].to_numpy() - y) ** 2))
               for k in ("model", "model_calibrated", "base_rate", "rule_calibrated",
                         "rule_binary")}
    overall["skill_vs_base"] = 1 - overall["model"] / overall["base_rate"]
    overall["skill_vs_rule"] = 1 - overall["model"] / overall["rule_calibrated"]
    overall["calibrated_skill_vs_base"] = 1 - overall["model_calibrated"] / overall["base_rate"]
    overall["calibrated_skill_vs_rule"] = (1 - overall["model_calibrated"]
                                           / overall["rule_calibrated"])
    overall["auc_model_calibrated"] = auc(y, allp["model_calibrated"].to_numpy())
    overall["cases"] = len(y)
    overall["overdue_share"] = float(y.mean())
    overall["auc_model"] = auc(y, allp["model"].to_numpy())
    overall["auc_rule"] = auc(y, allp["rule_binary"].to_numpy())
    return Backtest(per_month, reliability(allp, s.reliability_bins), overall, s.as_dict())


def reliability(pooled: pl.DataFrame, bins: int) -> pl.DataFrame:
    """Mean predicted vs. observed overdue share: the model (raw and, when present,
    recalibrated) by quantile bins of its prediction, the rule by flagged / not flagged, the
    base rate as one group."""
    cols = ["predictor", "bin", "cases", "mean_predicted", "observed", "from", "to"]

    def by_quantile(col: str) -> pl.DataFrame:
        # equal-count bins by rank (ties broken by order, so every bin has n/bins cases)
        order = ((pl.col(col).rank("ordinal") - 1) * bins / pl.len()).floor().cast(pl.Int64)
        return pooled.with_columns(
            pl.concat_str(pl.lit("q"), (order + 1).cast(pl.String)).alias("bin")
        ).group_by("bin").agg(
            pl.len().alias("cases"), pl.col(col).mean().alias("mean_predicted"),
            pl.col("y").mean().alias("observed"), pl.col(col).min().alias("from"),
            pl.col(col).max().alias("to"),
        ).sort("from").with_columns(pl.lit(col).alias("predictor"))

    parts = [by_quantile("model").select(cols)]
    if "model_calibrated" in pooled.columns:
        parts.append(by_quantile("model_calibrated").select(cols))
    rule = pooled.group_by(
        pl.when(pl.col("rule_binary") > 0).then(pl.lit("预警 flagged")).otherwise(
            pl.lit("not flagged")).alias("bin")
    ).agg(
        pl.len().alias("cases"), pl.col("rule_calibrated").mean().alias("mean_predicted"),
        pl.col("y").mean().alias("observed"), pl.col("rule_calibrated").min().alias("from"),
        pl.col("rule_calibrated").max().alias("to"),
    ).sort("bin").with_columns(pl.lit("rule_calibrated").alias("predictor"))
    base = pooled.select(
        pl.lit("all").alias("bin"), pl.len().alias("cases"),
        pl.col("base_rate").mean().alias("mean_predicted"), pl.col("y").mean().alias("observed"),
        pl.col("base_rate").min().alias("from"), pl.col("base_rate").max().alias("to"),
    ).with_columns(pl.lit("base_rate").alias("predictor"))
    return pl.concat([*parts, rule.select(cols), base.select(cols)], how="vertical_relaxed")


def backtest_markdown(bt: Backtest, source: str, command: str) -> str:
    """The backtest report as Markdown (docs/backtest.md)."""
    o = bt.overall

    def f(x: float, d: int = 4) -> str:
        return "—" if x is None or x != x else f"{x:.{d}f}"

    lines = [
        "# Predicted overdue risk: backtest",
        "",
        f"Generated by `{command}` — do not edit by hand. Data: {source}.",
        "",
        "For each month below, the Cox model (`metrics.stats.risk`) learnt at the end of the "
        "previous month on the cases accepted in the "
        f"{bt.settings['risk_train_months']} months before, and scored every case open then "
        "with a deadline and not yet overdue. The outcome is whether the case passed its due "
        "date (cases still open and within their deadline at the end of the data are left "
        "out). Competitors, learnt from the past only: the **base rate** (the overdue share "
        "among the previous month's open cases) and the **rule-based 预警** (metrics.md §6) "
        "as a probability — the overdue share among the previous month's flagged and "
        "unflagged cases — and as a plain 0/1 flag. Lower Brier scores are better.",
        "",
        "The **recalibrated** model is what the 预测预警 list uses (setting "
        "`risk_calibration = \"platt\"`): the Cox probabilities mapped by "
        "p′ = expit(a + b·logit p), with a and b fitted on the previous month's model's "
        "predictions for the cases open at the previous month end and their outcomes as known "
        "at scoring time (no outcome of the scored month is used). The Cox model ranks cases "
        "well but its probabilities run too high for most cases (see the reliability table); "
        "the two parameters fix the level and spread without changing the order within a "
        "month.",
        "",
        "## Summary",
        "",
        "| predictor | Brier score |",
        "|---|---|",
        f"| Cox model, recalibrated (the 预测预警 list) | {f(o['model_calibrated'])} |",
        f"| Cox model (predicted risk, not recalibrated) | {f(o['model'])} |",
        f"| naive base rate | {f(o['base_rate'])} |",
        f"| rule-based 预警 as a probability | {f(o['rule_calibrated'])} |",
        f"| rule-based 预警 as 0/1 | {f(o['rule_binary'])} |",
        "",
        f"Cases scored: {o['cases']:,}; overdue share {100 * o['overdue_share']:.1f}%. "
        f"Brier skill of the recalibrated model vs. the base rate "
        f"{100 * o['calibrated_skill_vs_base']:.1f}%, vs. the calibrated rule "
        f"{100 * o['calibrated_skill_vs_rule']:.1f}% (not recalibrated: "
        f"{100 * o['skill_vs_base']:.1f}% and {100 * o['skill_vs_rule']:.1f}%). AUC (pooled "
        f"over months): model {f(o['auc_model'], 3)}, recalibrated "
        f"{f(o['auc_model_calibrated'], 3)}, rule {f(o['auc_rule'], 3)}.",
        "",
        "## By month",
        "",
        "| month | training cases | cases scored | overdue share | Brier recalibrated | Brier "
        "model | Brier base rate | Brier rule (prob.) | Brier rule (0/1) | AUC model | AUC rule "
        "| recalibration a, b (held-out cases) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in bt.months.iter_rows(named=True):
        cal = ("none" if r["calibration_a"] is None else
               f"{r['calibration_a']:.2f}, {r['calibration_b']:.2f}")
        lines.append(
            f"| {r['month']:%Y-%m} | {r['train_cases']:,} | {r['cases']:,} | "
            f"{100 * r['overdue_share']:.1f}% | {f(r['brier_model_calibrated'])} | "
            f"{f(r['brier_model'])} | "
            f"{f(r['brier_base_rate'])} | {f(r['brier_rule_calibrated'])} | "
            f"{f(r['brier_rule_binary'])} | {f(r['auc_model'], 3)} | {f(r['auc_rule'], 3)} | "
            f"{cal} ({r['held_out_cases']:,}) |")
    lines += [
        "",
        "## Reliability",
        "",
        "Mean predicted probability against the observed overdue share: the model "
        "(`model`) and the recalibrated model (`model_calibrated`) each by "
        f"{bt.settings['reliability_bins']} equal-count bins of its prediction, the rule by "
        "flag, the base rate as one group.",
        "",
        "| predictor | group | cases | predicted range | mean predicted | observed |",
        "|---|---|---|---|---|---|",
    ]
    for r in bt.reliability.iter_rows(named=True):
        lines.append(
            f"| {r['predictor']} | {r['bin']} | {r['cases']:,} | {f(r['from'], 3)}–"
            f"{f(r['to'], 3)} | {f(r['mean_predicted'], 3)} | {f(r['observed'], 3)} |")
    lines += ["", "Settings: `" + ", ".join(
        f"{k}={bt.settings[k]}" for k in ("risk_train_months", "risk_max_train_cases",
                                          "risk_seed", "risk_calibration", "reliability_bins"))
        + "`.", ""]
    return "\n".join(lines)
