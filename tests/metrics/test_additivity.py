"""Facts are additive: the union of disjoint logs gives the sum of their facts, and a roll-up of
facts equals the same measure computed directly on the underlying cases."""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.case_measures import case_facts
from metrics.settings import Settings
from queries.schema import CASE_MEASURES, GRAIN
from tests.metrics.test_oracle import AS_OF, frame, random_log

MONTHS = [dt.date(2024, m, 1) for m in range(1, 13)] + [dt.date(2025, m, 1) for m in range(1, 7)]


def _facts(cases, susps, cal) -> pl.DataFrame:
    f, _ = case_facts(frame("cases", cases).lazy(), frame("suspensions", susps).lazy(),
                      frame("reviews", []).lazy(), cal, MONTHS, Settings(), AS_OF)
    return f.collect()


def _summed(df: pl.DataFrame) -> pl.DataFrame:
    return df.group_by(*GRAIN).agg(pl.col(m).sum() for m in CASE_MEASURES).sort(*GRAIN)


@settings(max_examples=8, deadline=None)
@given(seed=st.integers(0, 10_000), share=st.floats(0.1, 0.9))
def test_facts_of_a_union_equal_the_sum_of_the_facts_of_its_parts(cal_index, seed, share):
    cases, susps = random_log(seed)
    cases = cases[:600]
    rng = random.Random(seed)
    left_ids = {c["case_id"] for c in cases if rng.random() < share}
    part = {True: ([], []), False: ([], [])}
    for c in cases:
        part[c["case_id"] in left_ids][0].append(c)
    for s in susps:
        part[s["case_id"] in left_ids][1].append(s)
    whole = _facts(cases, [s for s in susps if s["case_id"] in {c["case_id"] for c in cases}],
                   cal_index)
    parts = pl.concat([_facts(*part[True], cal_index), _facts(*part[False], cal_index)])
    assert _summed(whole).equals(_summed(parts))


def test_a_roll_up_of_facts_equals_a_direct_computation_on_the_cases(cal_index):
    cases, susps = random_log(11)
    facts = _facts(cases, susps, cal_index)
    by_agency = facts.group_by("agency_code").agg(
        pl.col("accepted", "online_accepted", "cmp_statutory", "cmp_gap").sum()
    ).sort("agency_code")
    direct = (
        frame("cases", cases)
        .filter(pl.col("accepted_at").dt.date() >= MONTHS[0])
        .group_by("agency_code")
        .agg(
            pl.len().cast(pl.Int64).alias("accepted"),
            pl.col("channel").is_in(["online", "mobile"]).sum().cast(pl.Int64)
            .alias("online_accepted"),
            pl.when((pl.col("statutory_days") > 0) & pl.col("promised_days").is_not_null())
            .then(pl.col("statutory_days")).otherwise(0).sum().cast(pl.Int64)
            .alias("cmp_statutory"),
            pl.when((pl.col("statutory_days") > 0) & pl.col("promised_days").is_not_null())
            .then(pl.col("statutory_days") - pl.col("promised_days")).otherwise(0).sum()
            .cast(pl.Int64).alias("cmp_gap"),
        )
        .sort("agency_code")
    )
    assert by_agency.equals(direct)
