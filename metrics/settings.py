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

The bulletin's 考核 (composite score, its components, points, caps and deductions, and the
rule for 通报批评) is the `scoring` field, a `[scoring]` table (`ScoringSettings`, below; the
rules in docs/bulletin.md):

    [scoring]
    criticism = "confirmed"          # or "rank": rank alone suffices
    [scoring.components.on_time_rate]
    points = 40
    [scoring.components.net_cards]
    points = 20
    method = "deduct"
    per = 2.0                        # points per net card per 100 completed cases
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

from metrics.registry import METRIC_BY_ID
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


# --- 考核 scoring ([scoring]) -------------------------------------------------------------------

# Counts a component may deduct points for, besides the registry's count metrics below.
EXTRA_COUNTS: dict[str, str] = {"net_cards": "红黄牌净数", "bad_reviews": "差评数"}
SCORED_COUNTS = ("overdue", "red_cards", "yellow_cards")


def scored_shares() -> tuple[str, ...]:
    """Registry shares a component may score: per unit and month, with a good direction."""
    return tuple(m.id for m in METRIC_BY_ID.values()
                 if m.kind == "share" and m.direction in ("higher", "lower")
                 and m.family in ("timeliness", "online", "reviews"))


def component_label(cid: str) -> str:
    """The Chinese name of a scoring component: the registry's, or EXTRA_COUNTS'."""
    return EXTRA_COUNTS[cid] if cid in EXTRA_COUNTS else METRIC_BY_ID[cid].zh


@dataclass(frozen=True)
class ScoreComponent:
    """One part of the composite score, worth `points`.

    - method "share" (a registry share): points × clip((v − zero_at) / (full_at − zero_at), 0, 1)
      — by default the share itself for a higher-is-better metric (97.5% of 30 points = 29.25),
      and 1 − share for a lower-is-better one;
    - method "deduct" (a count): min(cap, per × x) points deducted, x the count, or the count per
      100 completed cases with `per_100` (fair to large offices).
    """

    id: str
    points: float
    method: str = "share"  # share | deduct
    zero_at: float | None = None
    full_at: float | None = None
    per: float = 1.0
    cap: float | None = None  # default: all the component's points
    per_100: bool = True

    @property
    def label(self) -> str:
        return component_label(self.id)

    def bounds(self) -> tuple[float, float]:
        """(zero_at, full_at) of a share component, defaults by the metric's direction."""
        lower = METRIC_BY_ID[self.id].direction == "lower"
        zero = self.zero_at if self.zero_at is not None else (1.0 if lower else 0.0)
        full = self.full_at if self.full_at is not None else (0.0 if lower else 1.0)
        return zero, full

    @property
    def max_deduction(self) -> float:
        return self.points if self.cap is None else min(self.cap, self.points)


def _default_components() -> tuple[ScoreComponent, ...]:
    """The composite of issue 5 as points: the same scores as its weighted mean."""
    return (ScoreComponent("on_time_rate", 30), ScoreComponent("online_rate", 20),
            ScoreComponent("good_review_rate", 20), ScoreComponent("bad_review_rectified_rate", 10),
            ScoreComponent("net_cards", 20, "deduct", per=2.0))


@dataclass(frozen=True)
class ScoringSettings:
    """The office's 考核 rules: the components of the composite score (full marks = Σ points,
    scaled to 100), who is praised and criticised, when a unit is summoned (约谈)."""

    components: tuple[ScoreComponent, ...] = field(default_factory=_default_components)
    # "confirmed": the bottom of the ranking is criticised only where the statistics confirm
    # its gap; "rank": rank alone suffices (the bulletin says so)
    criticism: str = "confirmed"
    max_share: float = 1 / 3  # praise / criticism lists never exceed this share of a peer group
    interview_after: int = 2  # 约谈 after this many consecutive periods criticised

    @classmethod
    def from_mapping(cls, raw: Any) -> ScoringSettings:
        """From the `[scoring]` table; components keyed by id (`[scoring.components.<id>]`)."""
        if isinstance(raw, ScoringSettings):
            return raw
        if not isinstance(raw, dict):
            raise XiaonengError(f"invalid settings: scoring must be a table, got {raw!r}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(raw) - known)
        if unknown:
            raise XiaonengError(
                f"invalid settings: unknown setting(s) {['scoring.' + k for k in unknown]}")
        values = dict(raw)
        if "components" in values:
            comps = values["components"]
            if isinstance(comps, list | tuple):  # as_dict()'s form: a list with ids
                comps = {c.get("id"): {k: v for k, v in c.items() if k != "id" and v is not None}
                         for c in comps if isinstance(c, dict)}
            if not isinstance(comps, dict) or not comps:
                raise XiaonengError("invalid settings: scoring.components must be a table of "
                                    "components keyed by metric id")
            fields_ = {f.name for f in dataclasses.fields(ScoreComponent)} - {"id"}
            built = []
            for cid, spec in comps.items():
                if not isinstance(spec, dict) or set(spec) - fields_:
                    raise XiaonengError(
                        f"invalid settings: scoring.components.{cid} takes {sorted(fields_)}, "
                        f"got {spec!r}")
                try:
                    built.append(ScoreComponent(cid, **spec))
                except TypeError as exc:
                    raise XiaonengError(f"invalid settings: scoring.components.{cid}: {exc}") \
                        from exc
            values["components"] = tuple(built)
        return cls(**values)

    def as_mapping(self) -> dict[str, Any]:
        """The `[scoring]` table form (what the file and the 数据管理 page store)."""
        d = dataclasses.asdict(self)
        d["components"] = {c.pop("id"): {k: v for k, v in c.items() if v is not None}
                           for c in d["components"]}
        return d


def _scoring_problems(s: ScoringSettings) -> list[str]:
    out: list[str] = []
    shares, counts = scored_shares(), (*SCORED_COUNTS, *EXTRA_COUNTS)
    ids = [c.id for c in s.components]
    if not ids:
        out.append("scoring.components must name at least one component")
    if len(ids) != len(set(ids)):
        out.append("scoring.components names a component twice")
    for c in s.components:
        name = f"scoring.components.{c.id}"
        num = lambda v: isinstance(v, int | float) and not isinstance(v, bool)  # noqa: E731
        if not num(c.points) or c.points <= 0:
            out.append(f"{name}.points must be a number > 0, got {c.points!r}")
        if c.method == "share":
            if c.id not in shares:
                out.append(f"{name}: a share component must be one of {list(shares)}")
                continue
            zero, full = c.bounds()
            if not (num(zero) and num(full)) or zero == full or not (
                    0 <= zero <= 1 and 0 <= full <= 1):
                out.append(f"{name}: zero_at and full_at must be distinct shares in [0, 1]")
        elif c.method == "deduct":
            if c.id not in counts:
                out.append(f"{name}: a deduct component must be one of {list(counts)}")
            if not num(c.per) or c.per <= 0:
                out.append(f"{name}.per must be a number > 0, got {c.per!r}")
            if c.cap is not None and (not num(c.cap) or c.cap <= 0):
                out.append(f"{name}.cap must be a number > 0, got {c.cap!r}")
            if not isinstance(c.per_100, bool):
                out.append(f"{name}.per_100 must be true or false")
        else:
            out.append(f"{name}.method must be share or deduct, got {c.method!r}")
    if s.criticism not in ("confirmed", "rank"):
        out.append(f"scoring.criticism must be confirmed or rank, got {s.criticism!r}")
    if not isinstance(s.max_share, int | float) or not 0 < s.max_share <= 1 / 3 + 1e-12:
        out.append(f"scoring.max_share must be in (0, 1/3], got {s.max_share!r}")
    if not isinstance(s.interview_after, int) or isinstance(s.interview_after, bool) \
            or s.interview_after < 1:
        out.append(f"scoring.interview_after must be a whole number ≥ 1, got "
                   f"{s.interview_after!r}")
    return out


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
    # the bulletin's 考核: composite score components, criticism rule ([scoring])
    scoring: ScoringSettings = field(default_factory=ScoringSettings)

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
    if isinstance(s.scoring, ScoringSettings):
        yield_ += _scoring_problems(s.scoring)
    else:
        yield_.append(f"scoring must be a [scoring] table, got {s.scoring!r}")
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
        hint = ("; the composite score's weights are the points of [scoring.components.<id>]"
                if "weights" in unknown else "")
        raise XiaonengError(f"invalid settings: unknown setting(s) {unknown}{hint}")
    out = dict(raw)
    for key in ("online_channels", "review_score_scale"):
        if key in out:
            out[key] = tuple(out[key])
    if "stats" in out and not isinstance(out["stats"], StatsSettings):
        out["stats"] = StatsSettings.from_mapping(out["stats"])
    if "scoring" in out:
        out["scoring"] = ScoringSettings.from_mapping(out["scoring"])
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
