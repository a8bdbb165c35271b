"""One covered month: draft its applications, complete them, rate them.

A month is the unit of work (and of memory): all its arrays are temporaries, only the
finished frames outlive it. Its ids come from the month itself, so months can be generated
in any order, on any thread, with the same result.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from xiaoneng.demo import reviews as rv
from xiaoneng.demo.cases import NULL_TS, complete
from xiaoneng.demo.drafts import (
    Draft,
    draft_bundles,
    draft_chains,
    draft_ordinary,
    mean_bundle_size,
    mean_chain_size,
)
from xiaoneng.demo.timeline import Timeline
from xiaoneng.demo.world import World

BUNDLE_CASE_SHARE = 0.03  # share of cases that belong to a 企业开办 bundle
CHAIN_CASE_SHARE = 0.012  # share of cases that belong to a 工程建设 project chain
REVIEW_REPORT_LAG_S = (60, 8 * 3600)  # in-time reporting of ratings
REVIEW_REPORT_LATE_DAYS = (2, 9)


@dataclass
class Chunk:
    """One month's generated rows, as arrays (frames are built by `frames`)."""

    cases: dict[str, np.ndarray]
    suspensions: dict[str, np.ndarray]
    reviews: dict[str, np.ndarray]
    bundles: dict[str, np.ndarray]
    chains: dict[str, np.ndarray]


def _stochastic_round(rng: np.random.Generator, x: float) -> int:
    """Round up with probability equal to the fraction, so small months still get some."""
    return int(np.floor(x + rng.random()))


def simulate_month(rng: np.random.Generator, world: World, tl: Timeline, month: int, n: int,
                   case0: int, bundle0: int, chain0: int, person_pool: int,
                   enterprise_pool: int) -> Chunk:
    """Generate `n` cases whose intake falls in `month` (plus their suspensions and ratings).

    case0/bundle0/chain0 are the global numbers of this month's first case, bundle and chain,
    so ids are unique across months without any shared state."""
    nb = _stochastic_round(rng, n * BUNDLE_CASE_SHARE / mean_bundle_size(world))
    nc = _stochastic_round(rng, n * CHAIN_CASE_SHARE / mean_chain_size(world))
    bundle_cases, bundles = draft_bundles(rng, world, tl, month, nb, bundle0)
    chain_cases, chains = draft_chains(rng, world, tl, month, nc, chain0)
    parts = [bundle_cases, chain_cases]
    special = sum(len(p.item) for p in parts)
    if special > n:  # a tiny month: the recipes alone fill it
        draft = Draft.concat(parts).take(np.arange(n))
    else:
        draft = Draft.concat(parts + [draft_ordinary(rng, world, tl, month, n - special)])
    # chronological case ids: stable sort by day (16-bit keys make numpy use radix sort)
    key = draft.day.astype(np.int16) if tl.n_days < 32_768 else draft.day
    draft = draft.take(np.argsort(key, kind="stable"))
    cases, susp, rate_in = complete(rng, world, tl, month, draft, person_pool, enterprise_pool)
    cases["seq"] = case0 + np.arange(len(draft.item), dtype=np.int64)
    susp["seq"] = case0 + susp.pop("row")

    ratings = rv.rate_cases(rng, tl, **rate_in)
    n_hall = _stochastic_round(rng, len(ratings.level) * rv.NO_CASE_SHARE)
    agency_counts = np.bincount(cases["agency"], minlength=len(world.ag_sector)) + 0.5
    hall = rv.rate_hall(rng, tl, n_hall, month, agency_counts / agency_counts.sum(),
                        world.effects.bad_review_mult)
    rev = _review_arrays(rng, world, tl, [ratings, hall], case0)
    return Chunk(cases, susp, rev, bundles, chains)


def _review_arrays(rng: np.random.Generator, world: World, tl: Timeline,
                   parts: list[rv.Ratings], case0: int) -> dict[str, np.ndarray]:
    """Concatenate ratings, drop those after the as-of moment, convert to timestamps."""
    asof = tl.asof_day
    cols = {f: np.concatenate([getattr(p, f) for p in parts])
            for f in rv.Ratings.__dataclass_fields__}
    keep = cols["rated_day"] <= asof
    cols = {k: v[keep] for k, v in cols.items()}
    n = len(cols["level"])
    rated_us = tl.epoch_us(cols["rated_day"], cols["rated_sec"])

    def ts(day_key: str, sec_key: str) -> np.ndarray:
        day = cols[day_key]
        ok = (day >= 0) & (day <= asof)
        return np.where(ok, tl.epoch_us(np.maximum(day, 0), cols[sec_key]), NULL_TS)

    agency = cols["agency"]
    late = rng.random(n, dtype=np.float32) < world.effects.report_late_p[agency]
    lo, hi = REVIEW_REPORT_LATE_DAYS
    rep_lag = np.where(late, rng.integers(lo * 86_400, hi * 86_400, n),
                       rng.integers(*REVIEW_REPORT_LAG_S, n))
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
