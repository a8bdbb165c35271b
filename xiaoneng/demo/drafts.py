"""Drafting a month's applications: who applied for what, where, online or not, on which day.

Three sources: ordinary applications drawn from the offerings (item × agency pairs), 企业开办
bundles and 工程建设 project chains that follow fixed recipes. Nothing has happened to a draft
yet; `cases.complete` decides acceptance, working time and outcome.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xiaoneng.demo.clock import advance
from xiaoneng.demo.effects import ONLINE_A, ONLINE_B, ONLINE_DEPTH_EFFECT
from xiaoneng.demo.timeline import Timeline
from xiaoneng.demo.world import (
    BUNDLE_MAX_OFFSET_WD,
    BUNDLE_ONLINE_P,
    CHAIN_INDUSTRIES,
    CHAIN_ONLINE_P,
    World,
)

# fixed applicant ids of new enterprises (bundles) and project owners (chains) live in their
# own ranges, away from the pools of ordinary persons and enterprises
BUNDLE_APPLICANT0 = 1 << 42
CHAIN_APPLICANT0 = 1 << 43


def sigmoid(x: np.ndarray) -> np.ndarray:
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


def _draft(item: np.ndarray, agency: np.ndarray, online: np.ndarray, day: np.ndarray,
           applicant: np.ndarray | None = None, bundle: np.ndarray | None = None,
           chain: np.ndarray | None = None) -> Draft:
    """A Draft with canonical dtypes; missing optional columns are -1 (none)."""
    n = len(item)

    def fill(a: np.ndarray | None, dtype: type) -> np.ndarray:
        return np.full(n, -1, dtype) if a is None else a.astype(dtype)

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


def sample_days(rng: np.random.Generator, tl: Timeline, month: int,
                online: np.ndarray) -> np.ndarray:
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
    p_on = sigmoid(online_logit(world, tl, month, world.off_item, world.off_agency))
    on = rng.binomial(counts, p_on)
    k = len(counts)
    off_idx = np.concatenate([np.repeat(np.arange(k), on), np.repeat(np.arange(k), counts - on)])
    online = np.concatenate([np.ones(on.sum(), bool), np.zeros((counts - on).sum(), bool)])
    day = sample_days(rng, tl, month, online)
    return _draft(world.off_item[off_idx], world.off_agency[off_idx], online, day)


def workday_after(tl: Timeline, day: np.ndarray, n: np.ndarray) -> np.ndarray:
    """The n-th working day after the first working day on or after `day` (clipped)."""
    base = tl.next_work[np.minimum(day, tl.n_days - 1)]
    return advance(tl, base, n, np.zeros(len(day), bool))


def draft_bundles(rng: np.random.Generator, world: World, tl: Timeline, month: int, nb: int,
                  bundle0: int) -> tuple[Draft, dict[str, np.ndarray]]:
    """企业开办一件事: a registration plus 印章/税务/社保/医保/公积金 members, all for one
    new enterprise, submitted within a couple of working days of each other.

    Returns the member cases and the bundles (global number and region slot, for ids)."""
    slot = rng.choice(len(world.slot_p), size=nb, p=world.slot_p).astype(np.int16)
    online = rng.random(nb) < BUNDLE_ONLINE_P
    anchor = sample_days(rng, tl, month, online)
    applicant = BUNDLE_APPLICANT0 + rng.integers(0, 1 << 40, nb)
    first = world.bundle_first_items[rng.choice(len(world.bundle_first_p), size=nb,
                                                p=world.bundle_first_p)]
    items, idx, days = [first], [np.arange(nb)], [anchor]
    for item, p in zip(world.bundle_member_items, world.bundle_member_p, strict=True):
        sel = np.flatnonzero(rng.random(nb) < p)
        offset = rng.integers(0, BUNDLE_MAX_OFFSET_WD + 1, sel.size)
        day = np.where(offset == 0, anchor[sel], workday_after(tl, anchor[sel], offset))
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
                 chain0: int) -> tuple[Draft, dict[str, np.ndarray]]:
    """工程建设项目: one project's approvals from 备案 to 竣工验收, weeks to months apart,
    sharing a 项目代码. Stages after the as-of moment have not happened yet.

    Returns the stage cases and the chains (number, slot, industry, for 项目代码)."""
    slot = rng.choice(len(world.slot_p), size=nc, p=world.slot_p).astype(np.int16)
    anchor = sample_days(rng, tl, month, np.zeros(nc, bool))
    n_stage = len(world.chain_items)
    present = rng.random((nc, n_stage)) < world.chain_p[None, :]
    gaps = np.round(rng.gamma(2.0, world.chain_gap[None, :] / 2.0, (nc, n_stage))).astype(np.int64)
    offset = np.cumsum(gaps * present, axis=1)
    c, s = np.nonzero(present)
    day = workday_after(tl, anchor[c], offset[c, s])
    keep = day < tl.n_obs
    c, s, day = c[keep], s[keep], day[keep]
    item = world.chain_items[s]
    industry = rng.integers(0, len(CHAIN_INDUSTRIES), nc).astype(np.int8)
    applicant = CHAIN_APPLICANT0 + rng.integers(0, 1 << 40, nc)
    online = rng.random(len(c)) < CHAIN_ONLINE_P
    cases = _draft(item, world.route(slot[c], item), online, day, applicant=applicant[c],
                   chain=c)
    return cases, {"number": chain0 + np.arange(nc, dtype=np.int64), "slot": slot,
                   "industry": industry}


def mean_bundle_size(world: World) -> float:
    """Expected cases per bundle: the registration plus each optional member."""
    return 1.0 + float(world.bundle_member_p.sum())


def mean_chain_size(world: World) -> float:
    """Expected stages per project chain (before truncation at the as-of moment)."""
    return float(world.chain_p.sum())
