"""通报批评 with the statistics: the verdict printed for each criticised unit, and the other
lagging units, are metrics.stats' verdicts for the same month, computed here independently from
the case log (`assess` and the case-mix functions on clocked cases), not from the facts the
bulletin reads."""

from __future__ import annotations

import dataclasses
import io

import openpyxl
import polars as pl
import pytest
from docx import Document

from metrics.bulletin import BulletinRules, build_bulletin
from metrics.bulletin.build import _region_units
from metrics.stats import data as sdata
from metrics.stats.casemix import adjusted_funnel, expected_overdue, raw_funnel
from metrics.stats.lagging import assess
from queries import extracts
from queries.extracts import add_months
from queries.inputs import read_reviews
from reports import render
from reports.xlsx_render import FIRST_DATA_ROW
from tests.reports.conftest import MONTH


@pytest.fixture(scope="module")
def case_log_stats(demo_engine):
    """assess() on the case log (the 单位分析 page's path) plus the county funnel built from
    the same clocked cases with the county as the unit."""
    tables = sdata.read_database(demo_engine, add_months(MONTH, -29), MONTH)
    tables = dataclasses.replace(tables, reviews=read_reviews(demo_engine, (MONTH, MONTH)))
    a = assess(tables, MONTH)
    tree = extracts.load_regions(demo_engine)
    scope_code = tree.filter(pl.col("level") == "city")["region_code"][0]
    from metrics.bulletin.model import Scope

    units = _region_units(tree, Scope("city", scope_code, "city"))
    county_of = {r: u for u, codes in units.items() for r in codes}
    agency_county = {ag: county_of.get(r, "__none__") for ag, r in
                     tables.agencies.select("agency_code", "region_code").iter_rows()}
    s = a.casemix
    first = add_months(MONTH, 1 - 12)
    clock = sdata.clocked(tables, sdata.month_end_moment(MONTH), add_months(first, -12))
    completed = sdata.completed_with_deadline(clock, (first, MONTH)).with_columns(
        pl.col("agency_code").replace_strict(agency_county, default="__none__").alias("county"))
    cm = expected_overdue(completed, (MONTH, MONTH), None, tables.items, unit="county")
    cm = dataclasses.replace(cm, units=cm.units.filter(pl.col("unit") != "__none__"))
    assert s.period == (MONTH, MONTH)
    return a, adjusted_funnel(cm), raw_funnel(cm)


def _expected(unit: str, lagging: pl.DataFrame, adjusted, raw) -> str:
    """The verdict's key phrase from the statistics' own flags."""
    lag = lagging.filter(pl.col("unit") == unit)
    if lag.height:
        reasons = lag["reasons"][0]
        return "仍显著落后" if "casemix_alarm" in reasons else "显著下降"
    row = adjusted.units.filter(pl.col("unit") == unit)
    if row.is_empty() or row["flag"][0] == "no_data":
        return "未作统计检验"
    if row["worse"][0]:  # an alarm on the worse side is the lagging list's casemix_alarm
        return "仍显著落后" if row["flag"][0] == "alarm" else "差距尚不能确认"
    if raw.units.filter((pl.col("unit") == unit) & pl.col("worse")).height:
        return "事项结构解释"
    return "随机波动"


def test_criticised_units_carry_the_statistics_verdict(city_bulletin, case_log_stats):
    a, county_adj, county_raw = case_log_stats
    table = city_bulletin.table("praise_criticism")
    crit = [r for r in table.records() if r["kind"] == "批评"]
    assert crit, "the demo month criticises units"
    by_name = {u.name: u for u in city_bulletin.criticism}
    for rec in crit:
        u = by_name[rec["name"]]
        if u.level == "agency":
            want = _expected(u.code, a.lagging, a.adjusted, a.casemix and raw_funnel(a.casemix))
        else:
            want = _expected(u.code, pl.DataFrame(schema={"unit": pl.String,
                                                          "reasons": pl.List(pl.String)}),
                             county_adj, county_raw)
        assert want in rec["stats"], (rec["name"], rec["stats"], want)
    for rec in table.records():
        if rec["kind"] == "表扬":
            assert rec["stats"] == ""


def test_other_lagging_units_are_the_statistics_list_minus_the_criticised(city_bulletin,
                                                                          case_log_stats):
    a, _, _ = case_log_stats
    criticised = {u.code for u in city_bulletin.criticism if u.level == "agency"}
    want = [(n, r) for u, n, r in a.lagging.select("unit", "name", "reason_zh").iter_rows()
            if u not in criticised]
    got = [(r["name"], r["reason"]) for r in city_bulletin.table("stats_lagging").records()
           if r["level"] == "部门"]
    assert got == want


def test_docx_and_xlsx_show_the_verdicts(city_bulletin, report_tools):
    files = render(city_bulletin, ["docx", "xlsx"])
    table = city_bulletin.table("praise_criticism")
    verdicts = table.column_values("stats")
    doc = Document(io.BytesIO(files["docx"]))
    word = next(t for t in doc.tables if t.rows[0].cells[-1].text == "统计检验")
    assert [r.cells[-1].text for r in word.rows[1:]] == [v or "" for v in verdicts]
    lag = city_bulletin.table("stats_lagging")
    word_lag = next(t for t in doc.tables if t.rows[0].cells[-1].text == "落后原因")
    assert [r.cells[-1].text for r in word_lag.rows[1:1 + len(lag.rows)]] == \
        [r[2] for r in lag.rows]
    wb = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
    ws = wb[wb.sheetnames[1 + [t.id for t in city_bulletin.tables].index("praise_criticism")]]
    col = [c.key for c in table.columns].index("stats") + 1
    assert ws.cell(FIRST_DATA_ROW, col).value == "统计检验"
    cells = [ws.cell(FIRST_DATA_ROW + 1 + i, col).value for i in range(len(verdicts))]
    assert [c or "" for c in cells] == [v or "" for v in verdicts]


def test_the_check_can_be_switched_off(demo_engine, city_bulletin):
    rules = dataclasses.replace(BulletinRules(), stats_check=False)
    b = build_bulletin(demo_engine, MONTH, city_bulletin.scope, rules=rules)
    assert "stats" not in [c.key for c in b.table("praise_criticism").columns]
    with pytest.raises(KeyError):
        b.table("stats_lagging")
    assert b.table("provenance").title.startswith("表12")
    assert b.provenance["stats"] is None
    # the rest of the bulletin is the same
    assert b.table("rank_agencies") == city_bulletin.table("rank_agencies")
