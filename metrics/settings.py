"""Deployment settings: the configurable rules of metrics.md with their defaults.

One validated object. Defaults are metrics.md's; a deployment overrides them in a TOML file
(`XIAONENG_SETTINGS`, default `settings.toml` in the working directory, optional) and the
supervision office can change them in the database (`settings` table, written by the app).
Every job run and report records `Settings.digest()` and the full values, so a number can always
be traced to the rules that produced it. An invalid value is refused with a message that names
the setting and the rule.

The statistics of the 单位分析 page and the bulletin's criticism (funnel limits, minimum N,
overdispersion method, winsorising, FDR level, risk model — `metrics.stats.settings`) are the
`stats` field, a `[stats]` table in the file:

    [stats]
    min_n = 50
    od_method = "multiplicative"
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from metrics.stats.settings import StatsSettings
from queries.contract import CHANNELS, UNKNOWN
from queries.errors import XiaonengError

SUB_INDICATORS = (
    "startup_days", "construction_days", "property_days", "online_rate", "full_online_rate",
    "on_time_rate", "promise_compression_rate", "good_review_rate", "no_visit_rate",
)


def _default_bounds() -> dict[str, dict[str, float]]:
    """Fixed frontier / worst values for the distance-to-frontier score (metrics.md §8).

    They are fixed, not re-derived each month, so scores stay comparable over time. Days are
    working days; rates are shares 0–1.
    """
    return {
        "startup_days": {"frontier": 1.0, "worst": 20.0},
        "construction_days": {"frontier": 30.0, "worst": 200.0},
        "property_days": {"frontier": 1.0, "worst": 15.0},
        "online_rate": {"frontier": 1.0, "worst": 0.2},
        "full_online_rate": {"frontier": 1.0, "worst": 0.0},
        "on_time_rate": {"frontier": 1.0, "worst": 0.8},
        "promise_compression_rate": {"frontier": 0.9, "worst": 0.0},
        "good_review_rate": {"frontier": 1.0, "worst": 0.8},
        "no_visit_rate": {"frontier": 1.0, "worst": 0.2},
    }


def _default_pillars() -> dict[str, list[str]]:
    return {
        "business_startup": ["startup_days"],
        "construction": ["construction_days"],
        "property": ["property_days"],
        "government_service": [
            "online_rate", "full_online_rate", "on_time_rate", "promise_compression_rate",
            "good_review_rate", "no_visit_rate",
        ],
    }


@dataclass(frozen=True)
class Settings:
    warn_days: int = 1
    warn_share: float = 0.8
    red_grace_days: int = 3
    rectify_days: int = 15
    callback_days: int = 1
    report_lag_days: int = 1
    online_channels: tuple[str, ...] = ("online", "mobile")
    review_score_scale: tuple[float, float, float, float, float] = (0, 3, 6, 8, 10)  # levels 1..5
    be_bounds: dict[str, dict[str, float]] = field(default_factory=_default_bounds)
    be_pillars: dict[str, list[str]] = field(default_factory=_default_pillars)
    be_weights: dict[str, float] = field(default_factory=dict)  # sub-indicator → weight
    targets: dict[str, float] = field(default_factory=dict)  # metric id → target override
    min_n_rank: int = 30  # units with fewer cases are shown but not ranked
    top_n: int = 3
    # funnels, case mix, trends, forecasts, predicted risk ([stats] in the settings file)
    stats: StatsSettings = field(default_factory=StatsSettings)

    def __post_init__(self) -> None:
        problems = list(_problems(self))
        if problems:
            raise XiaonengError("invalid settings: " + "; ".join(problems))

    def as_dict(self) -> dict[str, Any]:
        return json.loads(json.dumps(dataclasses.asdict(self), sort_keys=True))

    def digest(self) -> str:
        """A stable hash of every value (recorded with each job run and report)."""
        blob = json.dumps(self.as_dict(), sort_keys=True, ensure_ascii=False)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def weight(self, indicator: str) -> float:
        """Default: equal across pillars, equal within a pillar (metrics.md §8)."""
        if indicator in self.be_weights:
            return self.be_weights[indicator]
        pillar = next(p for p, inds in self.be_pillars.items() if indicator in inds)
        return 1.0 / len(self.be_pillars) / len(self.be_pillars[pillar])

    def pillar_of(self, indicator: str) -> str:
        return next(p for p, inds in self.be_pillars.items() if indicator in inds)


def _problems(s: Settings):
    def nonneg_int(name: str) -> None:
        v = getattr(s, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < 0:
            yield_.append(f"{name} must be a whole number ≥ 0, got {v!r}")

    yield_: list[str] = []
    if not isinstance(s.stats, StatsSettings):
        yield_.append(f"stats must be statistics settings (a [stats] table), got {s.stats!r}")
    for name in ("warn_days", "red_grace_days", "rectify_days", "callback_days",
                 "report_lag_days", "min_n_rank", "top_n"):
        nonneg_int(name)
    if not isinstance(s.warn_share, int | float) or not 0 < s.warn_share <= 1:
        yield_.append(f"warn_share must be in (0, 1], got {s.warn_share!r}")
    known = [c for c in CHANNELS if c != UNKNOWN]  # an unrecorded channel is never "online"
    bad = [c for c in s.online_channels if c not in known]
    if bad or not s.online_channels:
        yield_.append(f"online_channels must be a non-empty subset of {known}, got "
                      f"{list(s.online_channels)!r}")
    if len(s.review_score_scale) != 5 or any(not isinstance(x, int | float)
                                               for x in s.review_score_scale):
        yield_.append("review_score_scale must be 5 numbers for levels 1..5")
    for ind, b in s.be_bounds.items():
        if ind not in SUB_INDICATORS:
            yield_.append(f"be_bounds names unknown sub-indicator {ind!r}")
        elif set(b) != {"frontier", "worst"} or b["frontier"] == b["worst"]:
            yield_.append(f"be_bounds.{ind} needs distinct frontier and worst values")
    listed = [i for inds in s.be_pillars.values() for i in inds]
    for ind in listed:
        if ind not in s.be_bounds:
            yield_.append(f"sub-indicator {ind!r} in be_pillars has no be_bounds")
    for ind, w in s.be_weights.items():
        if ind not in listed:
            yield_.append(f"be_weights names {ind!r}, which is in no pillar")
        elif not isinstance(w, int | float) or w < 0:
            yield_.append(f"be_weights.{ind} must be ≥ 0")
    return yield_


def _coerce(raw: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in dataclasses.fields(Settings)}
    unknown = sorted(set(raw) - names)
    if unknown:
        raise XiaonengError(f"invalid settings: unknown setting(s) {unknown}")
    out = dict(raw)
    for key in ("online_channels", "review_score_scale"):
        if key in out:
            out[key] = tuple(out[key])
    if "stats" in out and not isinstance(out["stats"], StatsSettings):
        out["stats"] = StatsSettings.from_mapping(out["stats"])
    return out


def load_settings(path: Path | None = None, overrides: dict[str, Any] | None = None) -> Settings:
    """Defaults ← settings file (if any) ← overrides (e.g. from the settings table)."""
    values: dict[str, Any] = {}
    path = path or Path(os.environ.get("XIAONENG_SETTINGS", "settings.toml"))
    if path.exists():
        try:
            values.update(tomllib.loads(path.read_text(encoding="utf-8")))
        except tomllib.TOMLDecodeError as exc:
            raise XiaonengError(f"invalid settings file {path}: {exc}") from exc
    values.update(overrides or {})
    return Settings(**_coerce(values))
