"""Settings of the statistics layer (funnels, case-mix, trends, forecasts, predicted risk).

These are the choices a supervision office may want to change and must be able to state in a
bulletin ("units outside the 99.8% limits of the overdispersion-adjusted funnel"). They are part
of the deployment settings: `metrics.settings.Settings.stats`, the `[stats]` table of the
settings file (`XIAONENG_SETTINGS`), validated when the file is loaded — an invalid value is
refused with a message naming it (`stats.min_n must be …`) — recorded in the settings digest
and listed on the 指标口径 page. Every function takes a `StatsSettings` and records `as_dict()`
with its output so a flag can be traced to the rules that raised it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Literal

from queries.errors import XiaonengError

IntervalMethod = Literal["wilson", "jeffreys"]
OdMethod = Literal["multiplicative", "additive", "none"]
TrimMethod = Literal["winsorise", "truncate"]
RatioTransform = Literal["sqrt", "log"]
Calibration = Literal["platt", "none"]


@dataclass(frozen=True)
class StatsSettings:
    # --- intervals and ranking ------------------------------------------------------------
    interval: IntervalMethod = "wilson"  # interval shown on every share in a ranking
    confidence: float = 0.95
    min_n: int = 30  # units with a smaller denominator are shown but not ranked
    # --- funnel plots -----------------------------------------------------------------------
    alert_level: float = 0.95  # outside these limits: "alert" (预警线)
    alarm_level: float = 0.998  # outside these limits: "alarm" (报警线)
    od_method: OdMethod = "additive"  # overdispersion adjustment: τ² (DerSimonian–Laird) or φ
    trim: TrimMethod = "winsorise"  # how extreme z-scores are tamed before estimating φ / τ²
    trim_share: float = 0.10  # share winsorised (or truncated) at each end
    trim_correct: bool = True  # rescale the tamed φ to be consistent under normal variation
    od_min_events: float = 5.0  # units expecting fewer events do not enter φ / τ²
    od_min_units: int = 10  # fewer such units: no overdispersion estimate, exact limits
    od_test_alpha: float = 0.05  # adjust only when the overdispersion test rejects at this level
    ratio_transform: RatioTransform = "sqrt"  # z-scores of O/E ratios (sqrt: CQC, log: SHMI)
    # --- case-mix adjustment ------------------------------------------------------------------
    casemix_months: int = 6  # months (ending at the assessed month) the expected model learns on
    casemix_min_item_cases: int = 30  # rarer items share a level per sector and item type
    # --- trends ----------------------------------------------------------------------------------
    trend_months: int = 12
    trend_min_months: int = 6  # fewer months with data: no trend reported
    trend_min_cases: int = 5  # a month with fewer cases is left out of the unit's trend
    fdr_q: float = 0.05  # Benjamini–Hochberg false discovery rate over all units scanned
    # --- forecasts -------------------------------------------------------------------------------
    forecast_horizon: int = 3
    forecast_level: float = 0.95
    forecast_min_months: int = 15  # shorter histories get no forecast
    # --- predicted overdue risk ------------------------------------------------------------
    risk_train_months: int = 6
    risk_max_train_cases: int = 100_000  # larger training sets are sampled (seeded) to this
    risk_seed: int = 20_240_611
    risk_threshold: float = 0.5  # open cases at or above this probability form the 预测预警 list
    # recalibrate the Cox probabilities on last month's open cases (Platt), or use them as is
    risk_calibration: Calibration = "platt"
    reliability_bins: int = 10

    def __post_init__(self) -> None:
        problems = _problems(self)
        if problems:
            raise XiaonengError("invalid statistics settings: " + "; ".join(problems))

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self), sort_keys=True))

    def digest(self) -> str:
        blob = json.dumps(self.as_dict(), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], prefix: str = "stats.") -> StatsSettings:
        """Settings from a settings-file table (defaults for what it leaves out). Unknown names
        and invalid values are refused with every problem named as the file spells it
        (`stats.min_n must be a whole number ≥ 0, got -1`)."""
        if not isinstance(raw, Mapping):
            raise XiaonengError(f"invalid settings: {prefix.rstrip('.')} must be a table of "
                                f"settings, got {raw!r}")
        names = [f.name for f in dataclasses.fields(cls)]
        unknown = sorted(set(raw) - set(names))
        if unknown:
            raise XiaonengError("invalid settings: unknown setting(s) "
                                f"{[prefix + k for k in unknown]}")
        values = {**{n: getattr(cls, n) for n in names}, **dict(raw)}
        problems = _problems(SimpleNamespace(**values))  # type: ignore[arg-type]
        if problems:
            raise XiaonengError("invalid settings: " + "; ".join(prefix + p for p in problems))
        return cls(**values)


def _problems(s: StatsSettings) -> list[str]:
    out: list[str] = []

    def choice(name: str, allowed: tuple[str, ...]) -> None:
        if getattr(s, name) not in allowed:
            out.append(f"{name} must be one of {', '.join(allowed)}, got {getattr(s, name)!r}")

    def share(name: str, lo_open: bool = True, hi: float = 1.0) -> None:
        v = getattr(s, name)
        ok = isinstance(v, int | float) and not isinstance(v, bool) and v < hi and (
            v > 0 if lo_open else v >= 0)
        if not ok:
            out.append(f"{name} must be in {'(' if lo_open else '['}0, {hi}), got {v!r}")

    def count(name: str, minimum: int) -> None:
        v = getattr(s, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < minimum:
            out.append(f"{name} must be a whole number ≥ {minimum}, got {v!r}")

    choice("interval", ("wilson", "jeffreys"))
    choice("od_method", ("multiplicative", "additive", "none"))
    choice("trim", ("winsorise", "truncate"))
    choice("ratio_transform", ("sqrt", "log"))
    choice("risk_calibration", ("platt", "none"))
    for name in ("confidence", "alert_level", "alarm_level", "fdr_q", "forecast_level",
                 "risk_threshold"):
        share(name)
    share("trim_share", lo_open=False, hi=0.5)
    share("od_test_alpha", hi=1.0 + 1e-12)
    if not (isinstance(s.alert_level, float) and isinstance(s.alarm_level, float)
            and s.alert_level < s.alarm_level):
        out.append("alert_level must be below alarm_level (e.g. 0.95 and 0.998)")
    if not isinstance(s.trim_correct, bool):
        out.append(f"trim_correct must be true or false, got {s.trim_correct!r}")
    if not isinstance(s.od_min_events, int | float) or s.od_min_events < 0:
        out.append(f"od_min_events must be ≥ 0, got {s.od_min_events!r}")
    count("od_min_units", 2)
    count("min_n", 0)
    count("casemix_months", 1)
    count("casemix_min_item_cases", 0)
    count("trend_months", 3)
    count("trend_min_months", 3)
    count("trend_min_cases", 0)
    count("forecast_horizon", 1)
    count("forecast_min_months", 6)
    count("risk_train_months", 1)
    count("risk_max_train_cases", 100)
    count("risk_seed", 0)
    count("reliability_bins", 2)
    if isinstance(s.trend_months, int) and isinstance(s.trend_min_months, int) \
            and s.trend_min_months > s.trend_months:
        out.append("trend_min_months must not exceed trend_months")
    return out
