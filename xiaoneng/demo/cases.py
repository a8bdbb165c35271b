"""What happens to drafted applications: intake, outcome, working time, facts — vectorised.

Each step works on whole arrays (one month of cases at a time):
1. intake: channel, submission time, acceptance time (window within minutes, online within
   working hours or days, mail one or two working days later);
2. outcome: not accepted, withdrawn, or worked on;
3. working time: k units of the case's own limit from a logistic lateness model, suspensions
   laid inside it, completion at hall hours (or still in progress at the as-of moment);
4. facts: visits, 全程网办, 结果电子化, 跨域通办, applicant, reporting lag, due date.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xiaoneng.demo import suspensions as sp
from xiaoneng.demo.clock import (
    advance,
    beta_table,
    draw,
    from_position,
    office_clock,
    online_clock,
    quantile_table,
    window_clock,
    working_position,
)
from xiaoneng.demo.drafts import Draft, sigmoid, workday_after
from xiaoneng.demo.effects import BASE_LATE_LOGIT, DIFF_LATE, MOBILE_A, MOBILE_B, WORSENING
from xiaoneng.demo.timeline import Timeline
from xiaoneng.demo.world import World

NOT_ACCEPTED_P = 0.012
WITHDRAWN_BEFORE_P = 0.005
WITHDRAWN_AFTER_P = 0.007
DENY_P = np.array([0.03, 0.01, 0.05, 0.3, 0.02, 0.01, 0.0])  # by item type (contract order)
OFFLINE_CHANNEL_P = {"window": 0.86, "self_service": 0.05, "mail": 0.02, "assisted": 0.07}
FULL_ONLINE_P = 0.92  # depth-4 items applied online are handled 全程网办
VISITS_NULL_P = 0.02
APPLICANT_NULL_P = 0.02
APPLICANT_SKEW = 1.6  # id = pool × U^skew: low ids (frequent applicants) are likelier
ENTERPRISE_ID0 = 1 << 41  # ordinary enterprises' ids, away from persons'
REPORT_NULL_P = 0.005
REPORT_LATE_DAYS = (2, 9)
NULL_TS = -1  # sentinel for a null timestamp (µs since 1970 are positive)
DUE_SEC = 17 * 3600 + 30 * 60  # due_at: the due date at the end of hall hours

# acceptance lag of online applications, in working minutes (inverse CDF, piecewise uniform):
# 55 % within 3 working hours, 35 % later the same or next working day, 10 % 2–6 days
ONLINE_LAG_Q = np.array([0.0, 0.55, 0.90, 1.0])
ONLINE_LAG_MIN = np.array([5.0, 180.0, 900.0, 2700.0])
# reporting lag in seconds for records reported in time (90 % within 6 h, the rest < 20 h)
REPORT_LAG_Q = np.array([0.0, 0.9, 1.0])
REPORT_LAG_S = np.array([60.0, 6 * 3600.0, 20 * 3600.0])

# channel codes and status codes (contract order)
WINDOW, ONLINE, MOBILE, SELF_SERVICE, MAIL, ASSISTED = range(6)
SUBMITTED, IN_PROGRESS, COMPLETED, NOT_ACCEPTED, WITHDRAWN = range(5)

_OFFLINE_TABLE = quantile_table(np.array(list(OFFLINE_CHANNEL_P.values())),
                                np.array([WINDOW, SELF_SERVICE, MAIL, ASSISTED], np.int8))
_ON_TIME_SHARE = beta_table(1.1, 2.2)  # share of the deadline used by on-time cases
_DIFF_EFFECT = np.array([DIFF_LATE[-1], DIFF_LATE[0], DIFF_LATE[1], DIFF_LATE[2]])


def _u(rng: np.random.Generator, n: int) -> np.ndarray:
    """Uniform draws in float32: plenty of resolution here, and cheaper at this scale."""
    return rng.random(n, dtype=np.float32)


@dataclass
class Intake:
    channel: np.ndarray
    sub_sec: np.ndarray
    acc_day: np.ndarray
    acc_sec: np.ndarray


def intake(rng: np.random.Generator, world: World, tl: Timeline, month: int,
           d: Draft) -> Intake:
    """Channel, submission time of day and acceptance moment of every application."""
    n = len(d.item)
    on_idx = np.flatnonzero(d.online)
    off_idx = np.flatnonzero(~d.online)
    mobile_p = sigmoid(MOBILE_A + MOBILE_B * (tl.month_t[month] - 2022.0))
    channel = draw(rng, _OFFLINE_TABLE, n)
    channel = np.where((channel == SELF_SERVICE) & (world.cat.depth[d.item] < 2), WINDOW,
                       channel).astype(np.int8)
    channel[on_idx] = np.where(_u(rng, on_idx.size) < mobile_p, MOBILE, ONLINE)
    sub_sec = np.empty(n, np.int32)
    sub_sec[on_idx] = online_clock(rng, on_idx.size)
    sub_sec[off_idx] = window_clock(rng, off_idx.size)

    acc_day = d.day.copy()
    acc_sec = np.minimum(sub_sec + rng.integers(60, 1200, n, dtype=np.int32), 86_399)
    lag = np.interp(_u(rng, on_idx.size), ONLINE_LAG_Q, ONLINE_LAG_MIN).astype(np.int64)
    pos = working_position(tl, d.day[on_idx], sub_sec[on_idx]) + lag
    acc_day[on_idx], sec = from_position(tl, pos)
    acc_sec[on_idx] = sec + rng.integers(0, 60, on_idx.size, dtype=np.int32)
    mail = np.flatnonzero(channel == MAIL)
    acc_day[mail] = workday_after(tl, d.day[mail], rng.integers(1, 3, mail.size))
    acc_sec[mail] = office_clock(rng, mail.size)
    return Intake(channel, sub_sec, acc_day, acc_sec)


@dataclass
class Outcome:
    not_accepted: np.ndarray
    withdrawn_before: np.ndarray
    withdrawn_after: np.ndarray
    accepted: np.ndarray  # has an acceptance time by the as-of moment
    working: np.ndarray  # accepted and worked on (not withdrawn)


def outcome(rng: np.random.Generator, tl: Timeline, acc_day: np.ndarray) -> Outcome:
    u = _u(rng, len(acc_day))
    p1 = NOT_ACCEPTED_P
    p2 = p1 + WITHDRAWN_BEFORE_P
    p3 = p2 + WITHDRAWN_AFTER_P
    not_accepted = u < p1
    withdrawn_before = (u >= p1) & (u < p2)
    withdrawn_after = (u >= p2) & (u < p3)
    accepted = ~(not_accepted | withdrawn_before) & (acc_day <= tl.asof_day)
    return Outcome(not_accepted, withdrawn_before, withdrawn_after, accepted,
                   accepted & ~withdrawn_after)


def late_probability(world: World, tl: Timeline, item: np.ndarray, agency: np.ndarray,
                     acc_day: np.ndarray) -> np.ndarray:
    """P(late) from the logistic model; the worsening ramp only where an agency has one."""
    eff = world.effects
    table = sigmoid(BASE_LATE_LOGIT + _DIFF_EFFECT[:, None] + eff.late_logit[None, :])
    p = table[world.cat.diff[item] + 1, agency]
    ramp = np.flatnonzero(eff.late_ramp[agency] > 0)
    if ramp.size:
        months = WORSENING.parameters["ramp_months"]
        acc_month = np.searchsorted(tl.month_start, acc_day[ramp], side="right") - 1
        frac = np.clip((acc_month - (len(tl.months) - 1 - months)) / months, 0.0, 1.0)
        i, a = item[ramp], agency[ramp]
        p[ramp] = sigmoid(BASE_LATE_LOGIT + _DIFF_EFFECT[world.cat.diff[i] + 1]
                          + eff.late_logit[a] + eff.late_ramp[a] * frac)
    return p


@dataclass
class Work:
    deadline: np.ndarray  # promised, else statutory, -1 = none
    late: np.ndarray
    comp_day: np.ndarray
    comp_sec: np.ndarray
    done: np.ndarray  # completed by the as-of moment
    sus: sp.Suspended


def work(rng: np.random.Generator, world: World, tl: Timeline, d: Draft, it: Intake,
         out: Outcome) -> Work:
    """Working time, suspensions and completion."""
    cat, eff = world.cat, world.effects
    n = len(d.item)
    deadline = np.where(cat.promised[d.item] >= 0, cat.promised[d.item], cat.statutory[d.item])
    natural = cat.natural[d.item]
    p_late = late_probability(world, tl, d.item, d.agency, it.acc_day)
    late = (deadline >= 0) & (_u(rng, n) < p_late)
    k = np.minimum((deadline + 1) * draw(rng, _ON_TIME_SHARE, n), deadline).astype(np.int32)
    li = np.flatnonzero(late)
    k[li] = deadline[li] + rng.geometric(eff.late_geom_p[d.agency[li]])
    nl = np.flatnonzero(deadline < 0)
    k[nl] = np.round(rng.gamma(1.5, 3.0, nl.size))

    cand = np.flatnonzero(out.working & (deadline > 0))
    sus = sp.simulate(rng, tl, cand, it.acc_day[cand], it.acc_sec[cand], k[cand],
                      natural[cand], cat.diff[d.item[cand]])
    # work resumes after the (merged) suspensions with what is left of k
    base_day = it.acc_day.copy()
    base_sec = it.acc_sec.copy()
    rem = k.copy()
    base_day[sus.rows] = sus.resume_day
    base_sec[sus.rows] = sus.resume_sec
    rem[sus.rows] = k[sus.rows] - sus.offset
    comp_day = advance(tl, base_day, rem, natural)
    comp_day = np.where(natural & ~tl.is_work[comp_day], tl.prev_work[comp_day], comp_day)
    comp_day = np.maximum(comp_day, base_day).astype(np.int32)
    comp_sec = office_clock(rng, n)
    same = np.flatnonzero(comp_day == base_day)
    comp_sec[same] = np.minimum(base_sec[same] + rng.integers(300, 7200, same.size), 86_399)
    done = out.working & (comp_day <= tl.asof_day)
    return Work(deadline, late, comp_day, comp_sec, done, sus)


def complete(rng: np.random.Generator, world: World, tl: Timeline, month: int, d: Draft,
             person_pool: int, enterprise_pool: int,
             ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Cases (as arrays), their suspensions, and the inputs for rating completed cases."""
    cat, eff = world.cat, world.effects
    n = len(d.item)
    item, agency, online = d.item, d.agency, d.online
    it = intake(rng, world, tl, month, d)
    out = outcome(rng, tl, it.acc_day)
    w = work(rng, world, tl, d, it, out)

    status = np.full(n, SUBMITTED, np.int8)
    status[out.working] = IN_PROGRESS
    status[w.done] = COMPLETED
    status[out.not_accepted] = NOT_ACCEPTED
    status[out.withdrawn_before | (out.withdrawn_after & out.accepted)] = WITHDRAWN
    deny = w.done & (_u(rng, n) < DENY_P[cat.item_type[item]])
    decision = np.where(w.done, deny.astype(np.int8), -1).astype(np.int8)

    # visits: none for 全程网办 and mail; a return trip now and then, mostly after 补正
    depth = cat.depth[item]
    full_online = online & (depth == 4) & (_u(rng, n) < FULL_ONLINE_P)
    maxv = cat.max_visits[item]
    corrected = np.zeros(n, bool)
    corrected[w.sus.rec_row[w.sus.rec_reason == 0]] = True
    u = _u(rng, n)
    extra = (u < 0.05) | (corrected & (u < 0.6))
    visits = np.where(online, (maxv > 0) + (corrected & (u < 0.3)), np.maximum(1, maxv) + extra)
    visits = np.where(it.channel == MAIL, 0, np.where(it.channel == SELF_SERVICE, 1, visits))
    visits = np.where(full_online, 0, visits).astype(np.int32)
    visits[_u(rng, n) < VISITS_NULL_P] = -1
    t = tl.month_t[month] - 2024.0
    e_p = np.clip(0.30 + 0.17 * t + 0.08 * (np.arange(5) - 3), 0.05, 0.95)[depth]
    u = _u(rng, n)
    e_result = np.where(w.done, np.where(u < 0.03, -1, u < 0.03 + 0.97 * e_p), -1)
    cross = _u(rng, n) < cat.cross[item]

    is_ent = (d.applicant >= 0) | (_u(rng, n) < cat.ent[item])
    pool = np.where(is_ent, enterprise_pool, person_pool)
    drawn = ((pool * _u(rng, n) ** APPLICANT_SKEW).astype(np.int64)
             + np.where(is_ent, ENTERPRISE_ID0, 0))
    applicant = np.where(d.applicant >= 0, d.applicant, drawn)
    applicant[_u(rng, n) < APPLICANT_NULL_P] = -1

    sub_us = tl.epoch_us(d.day, it.sub_sec)
    acc_us = np.where(out.accepted, tl.epoch_us(it.acc_day, it.acc_sec), NULL_TS)
    comp_us = np.where(w.done, tl.epoch_us(w.comp_day, w.comp_sec), NULL_TS)
    natural = cat.natural[item]
    due_day = advance(tl, it.acc_day, np.maximum(w.deadline, 0), natural)
    due_us = np.where(out.working & (w.deadline >= 0), tl.epoch_us(due_day, DUE_SEC), NULL_TS)
    event_us = np.where(w.done, comp_us, np.where(out.accepted, acc_us, sub_us))
    u = _u(rng, n)
    v = _u(rng, n)
    lo, hi = REPORT_LATE_DAYS
    rep_lag = np.where(u < eff.report_late_p[agency], (lo + v * (hi - lo)) * 86_400,
                       np.interp(v, REPORT_LAG_Q, REPORT_LAG_S)).astype(np.int64)
    rep_us = event_us + rep_lag * 1_000_000
    rep_us = np.where((rep_us > tl.asof_us) | (u > 1 - REPORT_NULL_P), NULL_TS, rep_us)

    cases = {
        "item": item, "agency": agency, "channel": it.channel,
        "enterprise": is_ent, "applicant": applicant, "bundle": d.bundle, "chain": d.chain,
        "submitted_us": sub_us, "accepted_us": acc_us, "completed_us": comp_us,
        "status": status, "decision": decision,
        "statutory": cat.statutory[item], "promised": cat.promised[item], "due_us": due_us,
        "natural": natural, "visits": visits, "full_online": full_online,
        "cross_region": cross, "e_result": e_result.astype(np.int8), "reported_us": rep_us,
    }

    # suspensions as records; only what had started by the as-of moment
    s = w.sus
    started = s.rec_start_day <= tl.asof_day
    ended = s.rec_end_day <= tl.asof_day
    susp = {
        "row": s.rec_row[started].astype(np.int64),
        "started_us": tl.epoch_us(s.rec_start_day, s.rec_start_sec)[started],
        "ended_us": np.where(ended, tl.epoch_us(s.rec_end_day, s.rec_end_sec), NULL_TS)[started],
        "reason": s.rec_reason[started],
        "approved": s.rec_approved[started],
    }

    rated = np.flatnonzero(w.done)
    rate_in = dict(rows=rated, agency=agency[rated], channel=it.channel[rated],
                   comp_day=w.comp_day[rated], comp_sec=w.comp_sec[rated], late=w.late[rated],
                   bad_mult=eff.bad_review_mult)
    return cases, susp, rate_in
