"""Cases (办件) for one month of intake, fully vectorised.

A month's cases are drafted first — which item, which agency, online or not, which day —
from three sources: ordinary applications drawn from the offerings, 企业开办 bundles and
工程建设 project chains. The draft is then completed in one pass: times of day, acceptance,
outcome, working time (k working days from a logistic lateness model), suspensions,
completion, channel facts (visits, 全程网办), reporting lag and ratings.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xiaoneng.demo import reviews as rv
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
from xiaoneng.demo.effects import (
    BASE_LATE_LOGIT,
    DIFF_LATE,
    MOBILE_A,
    MOBILE_B,
    ONLINE_A,
    ONLINE_B,
    ONLINE_DEPTH_EFFECT,
)
from xiaoneng.demo.timeline import Timeline
from xiaoneng.demo.world import BUNDLE_ONLINE_P, CHAIN_INDUSTRIES, CHAIN_ONLINE_P, World

BUNDLE_CASE_SHARE = 0.03  # share of cases that belong to a 企业开办 bundle
CHAIN_CASE_SHARE = 0.012  # share of cases that belong to a 工程建设 chain
NOT_ACCEPTED_P = 0.012
WITHDRAWN_BEFORE_P = 0.005
WITHDRAWN_AFTER_P = 0.007
DENY_P = np.array([0.03, 0.01, 0.05, 0.3, 0.02, 0.01, 0.0])  # by item type (contract order)
OFFLINE_CHANNEL_P = {"window": 0.86, "self_service": 0.05, "mail": 0.02, "assisted": 0.07}
FULL_ONLINE_P = 0.92  # depth-4 items applied online are handled 全程网办
VISITS_NULL_P = 0.02
CROSS_REGION_BASE = 1.0  # multiplier on the item's 跨域通办 probability
REPORT_NULL_P = 0.005
NULL_TS = -1  # sentinel for a null timestamp (µs since 1970 are positive)
DUE_SEC = 17 * 3600 + 30 * 60  # due_at: the due date at the end of hall hours

# channel codes (contract order)
WINDOW, ONLINE, MOBILE, SELF_SERVICE, MAIL, ASSISTED = range(6)
# status codes (contract order)
SUBMITTED, IN_PROGRESS, COMPLETED, NOT_ACCEPTED, WITHDRAWN = range(5)


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass
class Draft:
    """Who applied for what, where and on which day (before anything happened)."""

    item: np.ndarray
    agency: np.ndarray
    online: np.ndarray
    day: np.ndarray
    applicant: np.ndarray  # fixed applicant id (bundles/chains), -1 = draw one
    bundle: np.ndarray  # index into this month's bundles, -1 = none
    chain: np.ndarray  # index into this month's project chains, -1 = none

    def take(self, order: np.ndarray) -> Draft:
        return Draft(*(getattr(self, f)[order] for f in self.__dataclass_fields__))

    @staticmethod
    def concat(parts: list[Draft]) -> Draft:
        return Draft(*(np.concatenate([getattr(p, f) for p in parts])
                       for f in Draft.__dataclass_fields__))


def _draft(item, agency, online, day, applicant=None, bundle=None, chain=None) -> Draft:
    n = len(item)

    def fill(a, dt):
        return np.full(n, -1, dt) if a is None else a.astype(dt)

    return Draft(item.astype(np.int32), agency.astype(np.int32), online.astype(bool),
                 day.astype(np.int32), fill(applicant, np.int64), fill(bundle, np.int32),
                 fill(chain, np.int32))


def online_logit(world: World, tl: Timeline, month: int, item: np.ndarray,
                 agency: np.ndarray) -> np.ndarray:
    """logit of applying online; -inf for items that cannot be applied online (depth 1)."""
    depth_eff = np.array([-np.inf if v is None else v
                          for v in (ONLINE_DEPTH_EFFECT[d] for d in (1, 1, 2, 3, 4))])
    t = tl.month_t[month] - 2022.0
    return (ONLINE_A + ONLINE_B * t + depth_eff[world.cat.depth[item]]
            + world.effects.online_logit[agency])


def _days(rng: np.random.Generator, tl: Timeline, month: int, online: np.ndarray) -> np.ndarray:
    """Submission days within the month, by each group's daily intensity."""
    lo, hi = int(tl.month_start[month]), int(tl.month_start[month + 1])
    out = np.empty(len(online), np.int32)
    for flag, w in ((True, tl.intensity_online[lo:hi]), (False, tl.intensity_offline[lo:hi])):
        sel = np.flatnonzero(online == flag)
        if sel.size:
            out[sel] = lo + rng.choice(hi - lo, size=sel.size, p=w / w.sum())
    return out


def draft_ordinary(rng: np.random.Generator, world: World, tl: Timeline, month: int,
                   n: int) -> Draft:
    """Ordinary applications: offering counts, split online/offline per offering."""
    counts = rng.multinomial(n, world.off_p)
    p_on = _sigmoid(online_logit(world, tl, month, world.off_item, world.off_agency))
    on = rng.binomial(counts, p_on)
    k = len(counts)
    off_idx = np.concatenate([np.repeat(np.arange(k), on), np.repeat(np.arange(k), counts - on)])
    online = np.concatenate([np.ones(on.sum(), bool), np.zeros((counts - on).sum(), bool)])
    day = _days(rng, tl, month, online)
    return _draft(world.off_item[off_idx], world.off_agency[off_idx], online, day)


def _workday_after(tl: Timeline, day: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The n-th working day after the first working day on or after `day` (clipped)."""
    base = tl.next_work[np.minimum(day, tl.n_days - 1)]
    return advance(tl, base, n, np.zeros(len(day), bool))


def draft_bundles(rng: np.random.Generator, world: World, tl: Timeline, month: int, nb: int,
                  bundle0: int, applicant0: int) -> tuple[Draft, dict[str, np.ndarray]]:
    """企业开办一件事: a registration plus 印章/税务/社保/医保/公积金 members, all for one
    new enterprise, submitted within a couple of working days of each other.

    Returns the member cases and the bundles (global number and region slot, for ids)."""
    slot = rng.choice(len(world.slot_p), size=nb, p=world.slot_p).astype(np.int16)
    online = rng.random(nb) < BUNDLE_ONLINE_P
    anchor = _days(rng, tl, month, online)
    applicant = applicant0 + rng.integers(0, 1 << 40, nb)
    first = world.bundle_first_items[rng.choice(len(world.bundle_first_p), size=nb,
                                                p=world.bundle_first_p)]
    items, idx, days = [first], [np.arange(nb)], [anchor]
    for item, p in zip(world.bundle_member_items, world.bundle_member_p, strict=True):
        sel = np.flatnonzero(rng.random(nb) < p)
        offset = rng.integers(0, 3, sel.size)
        day = np.where(offset == 0, anchor[sel], _workday_after(tl, anchor[sel], offset))
        items.append(np.full(sel.size, item, np.int32))
        idx.append(sel)
        days.append(day)
    item = np.concatenate(items)
    b = np.concatenate(idx)
    day = np.concatenate(days)
    keep = day < tl.n_obs
    item, b, day = item[keep], b[keep], day[keep]
    cases = _draft(item, world.route(slot[b], item), online[b], day, applicant=applicant[b],
                   bundle=b)
    return cases, {"number": bundle0 + np.arange(nb, dtype=np.int64), "slot": slot}


def draft_chains(rng: np.random.Generator, world: World, tl: Timeline, month: int, nc: int,
                 chain0: int, applicant0: int) -> tuple[Draft, dict[str, np.ndarray]]:
    """工程建设项目: one project's approvals from 备案 to 竣工验收, weeks to months apart,
    sharing a 项目代码. Stages after the as-of moment have not happened yet.

    Returns the stage cases and the chains (number, slot, industry, for 项目代码)."""
    slot = rng.choice(len(world.slot_p), size=nc, p=world.slot_p).astype(np.int16)
    anchor = _days(rng, tl, month, np.zeros(nc, bool))
    n_stage = len(world.chain_items)
    present = rng.random((nc, n_stage)) < world.chain_p[None, :]
    gaps = np.round(rng.gamma(2.0, world.chain_gap[None, :] / 2.0, (nc, n_stage))).astype(np.int64)
    offset = np.cumsum(gaps * present, axis=1)
    c, s = np.nonzero(present)
    day = _workday_after(tl, anchor[c], offset[c, s])
    keep = day < tl.n_obs
    c, s, day = c[keep], s[keep], day[keep]
    item = world.chain_items[s]
    industry = rng.integers(0, len(CHAIN_INDUSTRIES), nc).astype(np.int8)
    applicant = applicant0 + rng.integers(0, 1 << 40, nc)
    online = rng.random(len(c)) < CHAIN_ONLINE_P
    cases = _draft(item, world.route(slot[c], item), online, day, applicant=applicant[c],
                   chain=c)
    return cases, {"number": chain0 + np.arange(nc, dtype=np.int64), "slot": slot,
                   "industry": industry}


@dataclass
class Chunk:
    """One month's generated rows, as arrays (frames are built by `frames`)."""

    cases: dict[str, np.ndarray]
    suspensions: dict[str, np.ndarray]
    reviews: dict[str, np.ndarray]
    bundles: dict[str, np.ndarray]
    chains: dict[str, np.ndarray]


def _stochastic_round(rng: np.random.Generator, x: float) -> int:
    return int(np.floor(x + rng.random()))


def simulate_month(rng: np.random.Generator, world: World, tl: Timeline, month: int, n: int,
                   case0: int, bundle0: int, chain0: int, person_pool: int,
                   enterprise_pool: int) -> Chunk:
    """Generate `n` cases whose intake falls in `month` (plus their suspensions and ratings).

    case0/bundle0/chain0 are the global numbers of this month's first case, bundle and chain,
    so ids are unique across months without any shared state."""
    nb = _stochastic_round(rng, n * BUNDLE_CASE_SHARE / 5.15)
    nc = _stochastic_round(rng, n * CHAIN_CASE_SHARE / 8.5)
    bundle_cases, bundles = draft_bundles(rng, world, tl, month, nb, bundle0, 1 << 42)
    chain_cases, chains = draft_chains(rng, world, tl, month, nc, chain0, 1 << 43)
    parts = [bundle_cases, chain_cases]
    special = sum(len(p.item) for p in parts)
    if special > n:
        draft = Draft.concat(parts).take(np.arange(n))
    else:
        draft = Draft.concat(parts + [draft_ordinary(rng, world, tl, month, n - special)])
    draft = draft.take(np.argsort(draft.day, kind="stable"))
    cases, susp, rate_in = _complete(rng, world, tl, month, draft, person_pool, enterprise_pool)
    cases["seq"] = case0 + np.arange(len(draft.item), dtype=np.int64)
    susp["seq"] = case0 + susp.pop("row")

    ratings = rv.rate_cases(rng, tl, **rate_in)
    n_hall = _stochastic_round(rng, len(ratings.level) * rv.NO_CASE_SHARE)
    agency_counts = np.bincount(cases["agency"], minlength=len(world.ag_sector)) + 0.5
    hall = rv.rate_hall(rng, tl, n_hall, month, agency_counts / agency_counts.sum(),
                        world.effects.bad_review_mult)
    rev = _reviews_arrays(rng, world, tl, [ratings, hall], case0)
    return Chunk(cases, susp, rev, bundles, chains)


def _u(rng: np.random.Generator, n: int) -> np.ndarray:
    """Uniform draws in float32: plenty of resolution here, and cheaper at this scale."""
    return rng.random(n, dtype=np.float32)


# acceptance lag of online applications, in working minutes (inverse CDF, piecewise uniform):
# 55 % within 3 working hours, 35 % later the same or next working day, 10 % 2–6 days
ONLINE_LAG_Q = np.array([0.0, 0.55, 0.90, 1.0])
ONLINE_LAG_MIN = np.array([5.0, 180.0, 900.0, 2700.0])
# reporting lag in seconds for records reported in time (90 % within 6 h, the rest < 20 h)
REPORT_LAG_Q = np.array([0.0, 0.9, 1.0])
REPORT_LAG_S = np.array([60.0, 6 * 3600.0, 20 * 3600.0])
_OFFLINE_TABLE = quantile_table(np.array(list(OFFLINE_CHANNEL_P.values())),
                                np.array([WINDOW, SELF_SERVICE, MAIL, ASSISTED], np.int8))
_ON_TIME_SHARE = beta_table(1.1, 2.2)  # share of the deadline used by on-time cases


def _late_probability(world: World, tl: Timeline, item: np.ndarray, agency: np.ndarray,
                      acc_day: np.ndarray) -> np.ndarray:
    """P(late) from the logistic model; the worsening ramp only where an agency has one."""
    eff = world.effects
    diff_eff = np.array([DIFF_LATE[-1], DIFF_LATE[0], DIFF_LATE[1], DIFF_LATE[2]])
    table = _sigmoid(BASE_LATE_LOGIT + diff_eff[:, None] + eff.late_logit[None, :])
    p = table[world.cat.diff[item] + 1, agency]
    ramp = np.flatnonzero(eff.late_ramp[agency] > 0)
    if ramp.size:
        n_months = len(tl.months)
        acc_month = np.searchsorted(tl.month_start, acc_day[ramp], side="right") - 1
        frac = np.clip((acc_month - (n_months - 7)) / 6.0, 0.0, 1.0)
        i, a = item[ramp], agency[ramp]
        p[ramp] = _sigmoid(BASE_LATE_LOGIT + diff_eff[world.cat.diff[i] + 1]
                           + eff.late_logit[a] + eff.late_ramp[a] * frac)
    return p


def _complete(rng: np.random.Generator, world: World, tl: Timeline, month: int, d: Draft,
              person_pool: int, enterprise_pool: int):
    """Everything that happens to drafted applications."""
    cat, eff = world.cat, world.effects
    n = len(d.item)
    item, agency, day, online = d.item, d.agency, d.day, d.online
    asof = tl.asof_day
    depth = cat.depth[item]
    on_idx = np.flatnonzero(online)
    off_idx = np.flatnonzero(~online)

    # --- channel and submission time ------------------------------------------------------
    mobile_p = _sigmoid(MOBILE_A + MOBILE_B * (tl.month_t[month] - 2022.0))
    channel = draw(rng, _OFFLINE_TABLE, n)
    channel = np.where((channel == SELF_SERVICE) & (depth < 2), WINDOW, channel).astype(np.int8)
    channel[on_idx] = np.where(_u(rng, on_idx.size) < mobile_p, MOBILE, ONLINE)
    sub_sec = np.empty(n, np.int32)
    sub_sec[on_idx] = online_clock(rng, on_idx.size)
    sub_sec[off_idx] = window_clock(rng, off_idx.size)

    # --- acceptance: at the window within minutes; online within working hours/days --------
    acc_day = day.copy()
    acc_sec = np.minimum(sub_sec + rng.integers(60, 1200, n, dtype=np.int32), 86_399)
    lag = np.interp(_u(rng, on_idx.size), ONLINE_LAG_Q, ONLINE_LAG_MIN).astype(np.int64)
    acc_day[on_idx], sec = from_position(tl, working_position(tl, day[on_idx], sub_sec[on_idx]) + lag)
    acc_sec[on_idx] = sec + rng.integers(0, 60, on_idx.size, dtype=np.int32)
    mail = np.flatnonzero(channel == MAIL)
    acc_day[mail] = _workday_after(tl, day[mail], rng.integers(1, 3, mail.size))
    acc_sec[mail] = office_clock(rng, mail.size)

    u = _u(rng, n)
    p1 = NOT_ACCEPTED_P
    p2 = p1 + WITHDRAWN_BEFORE_P
    p3 = p2 + WITHDRAWN_AFTER_P
    not_accepted = u < p1
    withdrawn_before = (u >= p1) & (u < p2)
    withdrawn_after = (u >= p2) & (u < p3)
    accepted = ~(not_accepted | withdrawn_before) & (acc_day <= asof)
    working = accepted & ~withdrawn_after

    # --- working time k: units of the case's own limit used (before suspensions) -----------
    stat, prom = cat.statutory[item], cat.promised[item]
    deadline = np.where(prom >= 0, prom, stat)
    natural = cat.natural[item]
    late = (deadline >= 0) & (_u(rng, n) < _late_probability(world, tl, item, agency, acc_day))
    k = np.minimum((deadline + 1) * draw(rng, _ON_TIME_SHARE, n), deadline).astype(np.int32)
    li = np.flatnonzero(late)
    k[li] = deadline[li] + rng.geometric(eff.late_geom_p[agency[li]])
    nl = np.flatnonzero(deadline < 0)
    k[nl] = np.round(rng.gamma(1.5, 3.0, nl.size))

    cand = np.flatnonzero(working & (deadline > 0))
    sus = sp.simulate(rng, tl, cand, acc_day[cand], acc_sec[cand], k[cand], natural[cand],
                      cat.diff[item[cand]])
    base_day = acc_day.copy()
    base_sec = acc_sec.copy()
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
    done = working & (comp_day <= asof)

    status = np.full(n, SUBMITTED, np.int8)
    status[working] = IN_PROGRESS
    status[done] = COMPLETED
    status[not_accepted] = NOT_ACCEPTED
    status[withdrawn_before | (withdrawn_after & accepted)] = WITHDRAWN
    deny = done & (_u(rng, n) < DENY_P[cat.item_type[item]])
    decision = np.where(done, deny.astype(np.int8), -1).astype(np.int8)

    # --- channel facts ---------------------------------------------------------------------
    u = _u(rng, n)
    full_online = online & (depth == 4) & (u < FULL_ONLINE_P)
    maxv = cat.max_visits[item]
    corrected = np.zeros(n, bool)
    corrected[sus.rec_row[sus.rec_reason == 0]] = True
    u = _u(rng, n)
    extra = (u < 0.05) | (corrected & (u < 0.6))  # a return trip, mostly after 补正
    visits = np.where(online, (maxv > 0) + (corrected & (u < 0.3)), np.maximum(1, maxv) + extra)
    visits = np.where(channel == MAIL, 0, np.where(channel == SELF_SERVICE, 1, visits))
    visits = np.where(full_online, 0, visits).astype(np.int32)
    visits[_u(rng, n) < VISITS_NULL_P] = -1
    t = tl.month_t[month] - 2024.0
    e_p = np.clip(0.30 + 0.17 * t + 0.08 * (np.arange(5) - 3), 0.05, 0.95)[depth]
    u = _u(rng, n)
    e_result = np.where(done, np.where(u < 0.03, -1, u < 0.03 + 0.97 * e_p), -1).astype(np.int8)
    cross = _u(rng, n) < cat.cross[item] * CROSS_REGION_BASE

    # --- applicant -------------------------------------------------------------------------
    is_ent = (d.applicant >= 0) | (_u(rng, n) < cat.ent[item])
    pool = np.where(is_ent, enterprise_pool, person_pool)
    drawn = (pool * _u(rng, n) ** 1.6).astype(np.int64) + np.where(is_ent, 1 << 41, 0)
    applicant = np.where(d.applicant >= 0, d.applicant, drawn)
    applicant[_u(rng, n) < 0.02] = -1

    # --- timestamps ------------------------------------------------------------------------
    sub_us = tl.epoch_us(day, sub_sec)
    acc_us = np.where(accepted, tl.epoch_us(acc_day, acc_sec), NULL_TS)
    comp_us = np.where(done, tl.epoch_us(comp_day, comp_sec), NULL_TS)
    due_day = advance(tl, acc_day, np.maximum(deadline, 0), natural)
    due_us = np.where(working & (deadline >= 0), tl.epoch_us(due_day, DUE_SEC), NULL_TS)
    event_us = np.where(done, comp_us, np.where(accepted, acc_us, sub_us))
    u = _u(rng, n)
    v = _u(rng, n)
    rep_lag = np.where(u < eff.report_late_p[agency], 2 * 86_400 + v * (7 * 86_400),
                       np.interp(v, REPORT_LAG_Q, REPORT_LAG_S)).astype(np.int64)
    rep_us = event_us + rep_lag * 1_000_000
    rep_us = np.where((rep_us > tl.asof_us) | (u > 1 - REPORT_NULL_P), NULL_TS, rep_us)

    cases = {
        "item": item, "agency": agency, "channel": channel,
        "enterprise": is_ent, "applicant": applicant,
        "bundle": d.bundle, "chain": d.chain,
        "submitted_us": sub_us, "accepted_us": acc_us, "completed_us": comp_us,
        "status": status, "decision": decision,
        "statutory": stat, "promised": prom, "due_us": due_us, "natural": natural,
        "visits": visits, "full_online": full_online, "cross_region": cross,
        "e_result": e_result, "reported_us": rep_us,
    }

    # suspensions of cases that were accepted; only what had started by the as-of moment
    started = sus.rec_start_day <= asof
    ended = sus.rec_end_day <= asof
    susp = {
        "row": sus.rec_row[started].astype(np.int64),
        "started_us": tl.epoch_us(sus.rec_start_day, sus.rec_start_sec)[started],
        "ended_us": np.where(ended, tl.epoch_us(sus.rec_end_day, sus.rec_end_sec), NULL_TS)[started],
        "reason": sus.rec_reason[started],
        "approved": sus.rec_approved[started],
    }

    rated = np.flatnonzero(done)
    rate_in = dict(rows=rated, agency=agency[rated], channel=channel[rated],
                   comp_day=comp_day[rated], comp_sec=comp_sec[rated], late=late[rated],
                   bad_mult=eff.bad_review_mult)
    return cases, susp, rate_in


def _reviews_arrays(rng: np.random.Generator, world: World, tl: Timeline,
                    parts: list[rv.Ratings], case0: int) -> dict[str, np.ndarray]:
    """Concatenate ratings, drop those after the as-of moment, convert to timestamps."""
    asof = tl.asof_day
    cols = {f: np.concatenate([getattr(p, f) for p in parts]) for f in rv.Ratings.__dataclass_fields__}
    keep = cols["rated_day"] <= asof
    cols = {k: v[keep] for k, v in cols.items()}
    n = len(cols["level"])
    rated_us = tl.epoch_us(cols["rated_day"], cols["rated_sec"])

    def ts(day_key: str, sec_key: str) -> np.ndarray:
        dday = cols[day_key]
        ok = (dday >= 0) & (dday <= asof)
        return np.where(ok, tl.epoch_us(np.maximum(dday, 0), cols[sec_key]), NULL_TS)

    agency = cols["agency"]
    late_rep = rng.random(n) < world.effects.report_late_p[agency]
    rep_lag = np.where(late_rep, rng.integers(2 * 86_400, 9 * 86_400, n),
                       rng.integers(60, 8 * 3600, n))
    rep_us = rated_us + rep_lag * 1_000_000
    rep_us = np.where(rep_us > tl.asof_us, NULL_TS, rep_us)
    case_row = cols["case_row"]
    return {
        "case_seq": np.where(case_row >= 0, case0 + case_row, -1),
        "agency": agency, "channel": cols["channel"], "rated_us": rated_us,
        "level": cols["level"], "active": cols["active"], "real_name": cols["real_name"],
        "tag_combo": cols["tag_combo"],
        "callback_us": ts("callback_day", "callback_sec"),
        "rectified_us": ts("rectified_day", "rectified_sec"),
        "appeal_upheld": cols["appeal_upheld"], "reported_us": rep_us,
    }
