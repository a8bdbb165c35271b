"""Behavioural parameters of the demo city, including the deliberately lagging agencies.

Every number that shapes a story in the dashboard lives here, so docs/demo_data.md and the
tests can quote them exactly. Lateness is a logistic model:
    logit P(late) = BASE_LATE_LOGIT + DIFF_LATE[item difficulty] + agency effect (+ ramp)
so an agency that only handles difficult items is slower in raw terms without being worse.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from xiaoneng.demo.agencies import AGENCIES, agency_by_name

# --- lateness ------------------------------------------------------------------------------
BASE_LATE_LOGIT = -3.6
DIFF_LATE = {-1: -0.8, 0: 0.0, 1: 1.2, 2: 1.8}
AGENCY_LATE_SD = 0.35  # random agency effect (fixed seed), except for injected agencies
AGENCY_EFFECT_SEED = 20_190_511
LATE_EXTRA_GEOM_P = 0.35  # overdue days beyond the deadline: 1 + Geometric(p)

# --- online share --------------------------------------------------------------------------
# logit(online share) = ONLINE_A + ONLINE_B * (year - 2022) + depth effect + agency effect
ONLINE_A = -1.1
ONLINE_B = 0.38
ONLINE_DEPTH_EFFECT = {1: None, 2: -0.9, 3: 0.0, 4: 0.7}  # None = cannot be applied online
MOBILE_A = -0.8  # logit(mobile share among online cases) = MOBILE_A + MOBILE_B * (year - 2022)
MOBILE_B = 0.3

# --- reviews -------------------------------------------------------------------------------
REVIEW_LEVEL_P = {5: 0.87, 4: 0.095, 3: 0.025, 2: 0.006, 1: 0.004}  # baseline
BAD_IF_OVERDUE_MULT = 6.0  # 差评 probability multiplier for an overdue case

# --- reporting (数据汇集) -------------------------------------------------------------------
REPORT_LATE_P = 0.04  # share of records reported 2–9 days after the event


@dataclass(frozen=True)
class Injection:
    """One deliberately injected effect, for docs, tests and the dashboard's story."""

    agency_code: str
    agency_name: str
    effect: str  # short id: overdue | worsening | bad_reviews | low_online | late_reporting | hard_mix
    description: str
    parameters: dict = field(default_factory=dict)


def _inj(name: str, effect: str, description: str, **parameters) -> Injection:
    return Injection(agency_by_name(name).code, name, effect, description, parameters)


OVERDUE = _inj(
    "石浦县自然资源和规划局", "overdue",
    "many overdue cases: lateness logit raised for every month, and overdue cases run longer",
    late_logit=2.4, late_extra_geom_p=0.15,
)
WORSENING = _inj(
    "双溪县公安局", "worsening",
    "on-time rate worsens over the last months: lateness logit ramps linearly from 0 in the "
    "7th-to-last covered month to the full value in the last month (by acceptance month)",
    late_logit_ramp=3.2, ramp_months=6,
)
BAD_REVIEWS = _inj(
    "越川市公安局望江分局", "bad_reviews",
    "high 差评 rate: the probability of a level 1–2 review is multiplied, tags lean to 态度不好",
    bad_review_mult=7.0,
)
LOW_ONLINE = _inj(
    "龙湫县医疗保障局", "low_online",
    "low online share: online (online+mobile) logit lowered for all its cases",
    online_logit=-2.8,
)
LATE_REPORTING = _inj(
    "临渚市交通运输局", "late_reporting",
    "data reach the platform late: a large share of cases and reviews are reported 2–9 days "
    "after the event (数据汇集及时率 low)",
    report_late_p=0.6,
)
HARD_MIX = _inj(
    "越川市住房和城乡建设局", "hard_mix",
    "handles only difficult items (住建 items with difficulty ≥ 1: 施工许可, 消防审查/验收, 商品房预售, "
    "资质核准 …), so its raw on-time rate is low; its own agency effect is exactly 0, so after "
    "case-mix adjustment it is average",
    agency_late_logit=0.0, min_item_difficulty=1, volume_mult=3.0,
)

LAGGING_AGENCIES: tuple[Injection, ...] = (
    OVERDUE, WORSENING, BAD_REVIEWS, LOW_ONLINE, LATE_REPORTING, HARD_MIX,
)


@dataclass(frozen=True)
class AgencyEffects:
    """Per-agency arrays (indexed like AGENCIES) the generator reads."""

    late_logit: np.ndarray
    late_ramp: np.ndarray  # extra logit reached in the last month (0 = none)
    late_geom_p: np.ndarray
    online_logit: np.ndarray
    bad_review_mult: np.ndarray
    report_late_p: np.ndarray


def agency_effects() -> AgencyEffects:
    """Random agency effects (fixed seed) with the injections applied on top."""
    n = len(AGENCIES)
    rng = np.random.default_rng(AGENCY_EFFECT_SEED)
    late = rng.normal(0.0, AGENCY_LATE_SD, n)
    online = rng.normal(0.0, 0.25, n)
    pos = {a.code: i for i, a in enumerate(AGENCIES)}
    ramp = np.zeros(n)
    geom = np.full(n, LATE_EXTRA_GEOM_P)
    bad = np.ones(n)
    report = np.full(n, REPORT_LATE_P)
    for inj in LAGGING_AGENCIES:  # injected agencies have no random noise: exact parameters
        i = pos[inj.agency_code]
        late[i] = 0.0
        online[i] = 0.0
    late[pos[OVERDUE.agency_code]] = OVERDUE.parameters["late_logit"]
    geom[pos[OVERDUE.agency_code]] = OVERDUE.parameters["late_extra_geom_p"]
    ramp[pos[WORSENING.agency_code]] = WORSENING.parameters["late_logit_ramp"]
    bad[pos[BAD_REVIEWS.agency_code]] = BAD_REVIEWS.parameters["bad_review_mult"]
    online[pos[LOW_ONLINE.agency_code]] = LOW_ONLINE.parameters["online_logit"]
    report[pos[LATE_REPORTING.agency_code]] = LATE_REPORTING.parameters["report_late_p"]
    late[pos[HARD_MIX.agency_code]] = HARD_MIX.parameters["agency_late_logit"]
    return AgencyEffects(late, ramp, geom, online, bad, report)
