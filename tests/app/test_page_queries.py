"""The page queries made cheap for 20 million cases still mean what they meant.

The overdue list no longer counts itself (its total is the `overdue` metric from the facts),
the rectification status finds carded reviews by a join instead of a correlated EXISTS, and
metric_values runs its reads side by side: each must give the numbers of the plain definition.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from metrics.query import metric_values
from queries import extracts, schema, views
from queries.engine import make_engine
from queries.extracts import Filters

MONTHS = [dt.date(2025, m, 1) for m in range(2, 7)]


def _overdue_metric(eng: sa.Engine, f: Filters) -> int:
    v = metric_values(eng, ["overdue"], f)["value"].drop_nulls()
    return int(v.sum()) if v.len() else 0


def test_overdue_list_holds_exactly_the_cases_the_overdue_metric_counts(demo_url):
    eng = make_engine(demo_url)
    sector = extracts.load_agencies(eng)["sector"].drop_nulls().unique().sort()[0]
    seen_some = False
    for month in MONTHS:
        for f in (Filters(month, month), Filters(month, month, sectors=(sector,)),
                  Filters(month, month, channels=("online",))):
            rows = views.overdue_cases(eng, f, None, month, limit=100_000)
            assert rows.height == _overdue_metric(eng, f), (month, f)
            assert rows["case_id"].n_unique() == rows.height
            seen_some |= rows.height > 0
    assert seen_some


def test_overdue_list_is_the_first_rows_by_days_over(demo_url):
    eng = make_engine(demo_url)
    month = MONTHS[-2]
    f = Filters(month, month)
    full = views.overdue_cases(eng, f, None, month, limit=100_000)
    head = views.overdue_cases(eng, f, None, month, limit=5)
    assert head.height == min(5, full.height) > 0
    assert head["case_id"].to_list() == full["case_id"].head(5).to_list()
    assert head["days_over"].to_list() == sorted(head["days_over"].to_list(), reverse=True)


def test_rectification_status_matches_a_review_by_review_reading(demo_url):
    eng = make_engine(demo_url)
    r, k = schema.reviews, schema.cards
    with eng.connect() as conn:
        reviews = pl.DataFrame(conn.execute(sa.select(
            r.c.review_id, r.c.rated_at, r.c.level, r.c.rectified_at, r.c.appeal_upheld)).all(),
            schema=["review_id", "rated_at", "level", "rectified_at", "appeal_upheld"],
            orient="row")
        carded = {row[0] for row in conn.execute(
            sa.select(k.c.review_id).where(k.c.subject == "review")).all()}
    month = MONTHS[2]
    start, end = dt.datetime(2025, 4, 1), dt.datetime(2025, 5, 1)
    bad = reviews.filter((pl.col("rated_at") >= start) & (pl.col("rated_at") < end)
                         & ~pl.col("appeal_upheld").fill_null(False) & (pl.col("level") <= 2))
    expected: dict[str, int] = {}
    for rid, rectified in bad.select("review_id", "rectified_at").iter_rows():
        c = rid in carded
        status = ("rectified_late" if c else "rectified_on_time") if rectified is not None \
            else ("open_overdue" if c else "open_in_time")
        expected[status] = expected.get(status, 0) + 1
    got = views.rectification_status(eng, Filters(month, month), None)
    assert dict(got.select("status", "n").iter_rows()) == expected
    assert sum(expected.values()) > 0


def test_metric_values_with_shared_and_concurrent_reads_equal_one_metric_at_a_time(demo_url):
    eng = make_engine(demo_url)
    f = Filters(MONTHS[1], MONTHS[-1])
    ids = ["on_time_rate", "median_used_days", "p90_used_days", "avg_used_days", "overdue",
           "review_coverage_rate", "good_review_rate"]
    for grain in ("city", "region"):
        together = metric_values(eng, ids, f, grain)
        alone = pl.concat([metric_values(eng, [i], f, grain) for i in ids])
        assert together.equals(alone), grain
        assert together.filter(pl.col("metric_id") == "p90_used_days")["value"].drop_nulls().len()


def test_fact_months_by_index_steps_are_the_distinct_fact_months(demo_url, empty_url):
    eng = make_engine(demo_url)
    cf = schema.case_facts
    with eng.connect() as conn:
        distinct = [dt.date.fromisoformat(str(m)[:10]) for m in conn.execute(
            sa.select(cf.c.month).distinct().order_by(cf.c.month)).scalars()]
    assert views.fact_months(eng) == distinct and len(distinct) >= 5
    assert views.fact_months(make_engine(empty_url)) == []
