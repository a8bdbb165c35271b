"""Export grains (issue 17, point 5), each compared with a direct computation from the log.

The demo city 越川市 (331200) sits alone under the province 330000; its eight county-level
regions hold 117 agencies and the city itself 15 (市本级). Volumes and the online share are
recomputed here from the generated cases with Polars (accepted in the month, by the agency's
region); the 营商环境 index is read straight from be_scores.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from metrics.export import export_frame
from metrics.jobs import run_compute
from queries import schema
from queries.errors import XiaonengError
from tests.metrics.logs import demo_database
from xiaoneng.cli import main

JAN, MAR = dt.date(2025, 1, 1), dt.date(2025, 3, 1)
IDS = ["accepted", "online_rate", "be_index"]
CITY = "331200"


@pytest.fixture(scope="module")
def city(tmp_path_factory):
    engine, tables, _ = demo_database(tmp_path_factory.mktemp("grains") / "demo.db",
                                      6000, 5, JAN, MAR)
    run_compute(engine, None)
    yield engine, tables
    engine.dispose()


def _direct(tables, key: pl.Expr) -> dict[tuple[str, str], tuple[int, float]]:
    """(period, key) → (accepted, online share) straight from the cases."""
    regions = tables["regions"].select("region_code", "parent_code", "level")
    agencies = tables["agencies"].join(regions, on="region_code").select(
        "agency_code", "region_code", "level", "parent_code")
    cases = tables["cases"].filter(pl.col("accepted_at").is_not_null()).join(
        agencies, on="agency_code")
    df = cases.with_columns(pl.col("accepted_at").dt.strftime("%Y-%m").alias("period"),
                            key.alias("key")).filter(pl.col("key").is_not_null())
    out = df.group_by("period", "key").agg(
        pl.len().alias("n"), pl.col("channel").is_in(["online", "mobile"]).mean().alias("p"))
    return {(p, k): (n, share) for p, k, n, share in out.iter_rows()}


def _exported(df: pl.DataFrame, key: str) -> dict[tuple[str, str], tuple[int, float]]:
    # a key with facts but no case accepted that month (completions only) has accepted 0
    acc = df.filter(pl.col("metric_id") == "accepted", pl.col("value") > 0)
    onl = df.filter(pl.col("metric_id") == "online_rate")
    j = acc.join(onl, on=["period", key], suffix="_o")
    return {(p, k): (int(n), share) for p, k, n, share in
            j.select("period", key, "value", "value_o").iter_rows()}


def _same(got, want):
    assert got.keys() == want.keys() and got
    for k, (n, p) in want.items():
        assert got[k][0] == n and got[k][1] == pytest.approx(p), k


def _be_index(engine, codes) -> dict[tuple[str, str], float]:
    b = schema.be_scores
    with engine.connect() as conn:
        rows = conn.execute(sa.select(b.c.month, b.c.region_code, b.c.value).where(
            b.c.indicator == "be_index", b.c.region_code.in_(codes))).all()
    return {(f"{m:%Y-%m}", r): v for m, r, v in rows if v is not None}


def _be_exported(df: pl.DataFrame) -> dict[tuple[str, str], float]:
    be = df.filter(pl.col("metric_id") == "be_index", pl.col("value").is_not_null())
    return {(p, r): v for p, r, v in be.select("period", "region_code", "value").iter_rows()}


def test_city_rows_carry_the_city_code_and_the_business_environment_index(city):
    engine, tables = city
    df = export_frame(engine, "city", JAN, MAR, IDS)
    assert set(df["region_code"]) == {CITY}  # not the province 330000 above it
    _same(_exported(df, "region_code"), _direct(tables, pl.lit(CITY)))
    assert _be_exported(df) == _be_index(engine, [CITY]) != {}


def test_region_rows_are_the_counties_and_the_city_departments(city):
    engine, tables = city
    df = export_frame(engine, "region", JAN, MAR, IDS)
    county = pl.when(pl.col("level") == "county").then(pl.col("region_code")).otherwise(
        pl.lit(CITY))
    _same(_exported(df, "region_code"), _direct(tables, county))
    assert len(set(df["region_code"])) == 9  # eight counties + 越川市本级
    counties = [c for c in set(df["region_code"]) if c != CITY]
    assert _be_exported(df) == _be_index(engine, counties) != {}


def test_level_county_lists_every_county_and_region_lists_a_subtree_children(city):
    engine, tables = city
    df = export_frame(engine, "region", JAN, MAR, IDS, level="county")
    county = pl.when(pl.col("level") == "county").then(pl.col("region_code"))
    _same(_exported(df, "region_code"), _direct(tables, county))
    assert len(set(df["region_code"])) == 8 and _be_exported(df) == _be_index(
        engine, list(set(df["region_code"])))
    # a county's subtree: its towns hold no agency in the demo, so only its own row
    from metrics.query import Filters

    sub = export_frame(engine, "region", JAN, MAR, IDS,
                       filters=Filters(JAN, MAR, region_code="331202"))
    own = pl.when(pl.col("region_code") == "331202").then(pl.col("region_code"))
    _same(_exported(sub, "region_code"), _direct(tables, own))


def test_agency_item_and_channel_grains_equal_direct_sums(city):
    engine, tables = city
    for grain, key in (("agency", "agency_code"), ("item", "item_code"),
                       ("channel", "channel")):
        df = export_frame(engine, grain, JAN, MAR, IDS)
        _same(_exported(df, key), _direct(tables, pl.col(key)))
        assert df.filter(pl.col("metric_id") == "be_index").is_empty()  # not stored there


def test_cli_region_and_level_options(city, tmp_path, monkeypatch, capsys):
    engine, _ = city
    monkeypatch.setenv("DATABASE_URL", engine.url.render_as_string(hide_password=False))
    out = tmp_path / "c.csv"
    assert main(["export", "--grain", "region", "--level", "county", "--from", "2025-01",
                 "--to", "2025-03", "--metrics", "accepted", "--out", str(out)]) == 0
    got = pl.read_csv(out, schema_overrides={"region_code": pl.String})
    assert got["region_code"].n_unique() == 8
    assert main(["export", "--grain", "city", "--region", "331202", "--from", "2025-01",
                 "--to", "2025-03", "--metrics", "accepted", "--out", str(out)]) == 0
    got = pl.read_csv(out, schema_overrides={"region_code": pl.String})
    assert set(got["region_code"]) == {"331202"}
    capsys.readouterr()
    assert main(["export", "--region", "999", "--from", "2025-01", "--to", "2025-03"]) != 0
    assert "--region 999: no such region code" in capsys.readouterr().err
    assert main(["export", "--grain", "agency", "--level", "county", "--from", "2025-01",
                 "--to", "2025-03"]) != 0
    with pytest.raises(XiaonengError, match="level"):
        export_frame(engine, "region", JAN, MAR, IDS, level="planet")
