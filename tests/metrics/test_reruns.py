"""Deterministic numbers (issue 17, point 6): two runs on the same data and settings store
byte-identical fact tables and write byte-identical exports and bulletins, on SQLite and on
PostgreSQL; re-publishing unchanged content creates no version; the 营商环境 sums do not
depend on the order their inputs arrive in.
"""

from __future__ import annotations

import datetime as dt
import random

import polars as pl
import pytest

from metrics import business_env
from metrics.jobs import compute_frames, run_compute
from metrics.settings import Settings
from queries.calendar import seed_official
from queries.importer import import_frames
from tests.metrics.logs import stored_facts

JAN, MAR = dt.date(2025, 1, 1), dt.date(2025, 3, 1)
AS_OF = dt.datetime(2025, 3, 31, 18)


@pytest.fixture(scope="module")
def demo_tables() -> dict[str, pl.DataFrame]:
    from xiaoneng.demo import generate

    return generate(cases=6000, seed=5, start=JAN, end=MAR)


def _table_bytes(engine) -> dict[str, bytes]:
    """Every fact table, rows in primary-key order, as the repr of its values (a float that
    differs in its last bit reads differently)."""
    return {name: repr(df.rows()).encode() for name, df in stored_facts(engine).items()}


def test_two_runs_store_and_publish_byte_identical_numbers(any_engine, demo_tables, tmp_path):
    from metrics.bulletin import parse_scope
    from metrics.export import export_metrics
    from reports.publish import build, publish_bulletin

    seed_official(any_engine, 2024, 2026)
    assert import_frames(any_engine, demo_tables, source="demo", progress=False).ok
    run_compute(any_engine, None, as_of=AS_OF)
    first = _table_bytes(any_engine)
    csv1 = export_metrics(any_engine, "region", JAN, MAR, out_path=tmp_path / "a.csv").read_bytes()
    scope = parse_scope(any_engine, "city")
    published = publish_bulletin(any_engine, MAR, scope, formats=("xlsx",))
    assert not published.unchanged and published.version == 1

    run_compute(any_engine, None, as_of=AS_OF)
    assert _table_bytes(any_engine) == first
    assert any(b"be_index" in v for v in first.values())
    csv2 = export_metrics(any_engine, "region", JAN, MAR, out_path=tmp_path / "b.csv").read_bytes()
    assert csv2 == csv1
    # built as publishing builds it (the office's texts, the same 文号 number)
    assert build(any_engine, MAR, scope).content_hash == published.bulletin.content_hash
    again = publish_bulletin(any_engine, MAR, scope, formats=("xlsx",))
    assert again.unchanged and again.version == 1  # no "0 处数字变化" version 2


def test_business_env_scores_do_not_depend_on_the_order_of_their_inputs(demo_tables, cal_index):
    """The same facts in shuffled row orders give bit-identical 营商环境 rows (the sums over
    indicators are exact in fixed point, then rounded to 6 decimals)."""
    from metrics.calendar import WorkCalendar

    cal = WorkCalendar(cal_index.select("date", "is_workday"))
    frames = compute_frames(demo_tables, [JAN, dt.date(2025, 2, 1), MAR], AS_OF, Settings(), cal)
    t = demo_tables
    outs = []
    for seed in range(4):
        rng = random.Random(seed)

        def shuffled(df: pl.DataFrame, rng: random.Random = rng) -> pl.LazyFrame:
            order = list(range(df.height))
            rng.shuffle(order)
            return df[order].lazy()

        outs.append(business_env.be_scores(
            shuffled(t["cases"]), shuffled(t["items"]), shuffled(t["agencies"]),
            shuffled(t["regions"]), shuffled(frames["case_facts"]),
            shuffled(frames["review_facts"]), cal, [MAR], Settings(), AS_OF,
            suspensions=shuffled(t["suspensions"])).collect())
    first = outs[0]
    assert first.height > 0 and first["value"].drop_nulls().len() > 0
    for other in outs[1:]:
        assert other.equals(first, null_equal=True)
    # stored at 6 decimals: the index is the contributions' sum within the rounding
    idx = first.filter(pl.col("indicator") == "be_index", pl.col("value").is_not_null())
    micro = idx["value"] * 1e6
    assert ((micro - micro.round(0)).abs() < 1e-6).all()
    subs = first.filter(pl.col("indicator") != "be_index").group_by("month", "region_code").agg(
        pl.col("contribution").sum().alias("sum"))
    joined = idx.join(subs, on=["month", "region_code"])
    assert ((joined["value"] - joined["sum"]).abs() <= 1e-5).all()
