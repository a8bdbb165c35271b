"""通报批评 with the statistics: the verdict of every unit named at the bottom of a ranking is
the statistics' own for the same month, computed here independently from the case log (the
clocked cases, `expected_overdue` and the case-mix-adjusted trend on one row per case) rather
than from the fact cells the bulletin reads; and the sentences say it in plain Chinese."""

from __future__ import annotations

import dataclasses
import io

import openpyxl
import polars as pl
import pytest
from docx import Document

from metrics.bulletin import BulletinRules, build_bulletin
from metrics.bulletin.build import _region_units
from metrics.bulletin.model import Scope
from metrics.stats import data as sdata
from metrics.stats.casemix import adjusted_funnel, expected_overdue, raw_funnel
from metrics.stats.settings import StatsSettings
from metrics.stats.trends import casemix_monthly, casemix_trends
from queries import extracts
from queries.extracts import add_months
from reports import render
from reports.xlsx_render import FIRST_DATA_ROW
from tests.reports.conftest import ISSUED, MONTH


@pytest.fixture(scope="module")
def case_log(demo_engine):
    """Agency and county verdict inputs from the clocked case log, one row per case."""
    s = StatsSettings()
    tables = sdata.read_database(demo_engine, add_months(MONTH, -29), MONTH)
    first = add_months(MONTH, 1 - s.trend_months)
    clock = sdata.clocked(tables, sdata.month_end_moment(MONTH), add_months(first, -12))
    completed = sdata.completed_with_deadline(clock, (first, MONTH))
    tree = extracts.load_regions(demo_engine)
    city = tree.filter(pl.col("level") == "city")["region_code"][0]
    county_of = {r: u for u, codes in _region_units(tree, Scope("city", city, "")).items()
                 for r in codes}
    agency_county = {a: county_of.get(r, "__none__") for a, r in
                     tables.agencies.select("agency_code", "region_code").iter_rows()}
    completed = completed.with_columns(pl.col("agency_code").replace_strict(
        agency_county, default="__none__").alias("county"))
    out = {}
    for level, unit in (("agency", "agency_code"), ("region", "county")):
        cm = expected_overdue(completed, (MONTH, MONTH), s, tables.items, unit=unit)
        cm = dataclasses.replace(cm, units=cm.units.filter(pl.col("unit") != "__none__"))
        trends = casemix_trends(casemix_monthly(completed, MONTH, s, tables.items, unit), MONTH,
                                s).filter(pl.col("unit") != "__none__")
        out[level] = (adjusted_funnel(cm, s), raw_funnel(cm, s), trends, cm)
    return out


def _expected(level_stats, code: str) -> str:
    adjusted, raw, trends, _ = level_stats
    row = adjusted.units.filter(pl.col("unit") == code)
    if row.is_empty() or row["flag"][0] == "no_data":
        return "未作统计检验"
    worsening = trends.filter((pl.col("unit") == code) & pl.col("worsening")).height > 0
    if row["worse"][0] and row["flag"][0] == "alarm":
        return "明显多于同类单位的预期"
    if worsening:
        return "逐月变差"
    if row["worse"][0]:
        return "差距尚不能确认"
    if raw.units.filter((pl.col("unit") == code) & pl.col("worse")).height:
        return "与所办事项的难度有关"
    return "预期"


def test_every_unit_at_the_bottom_carries_the_statistics_verdict(city_bulletin, case_log):
    table = city_bulletin.table("praise_criticism")
    rows = [r for r in table.records() if r["kind"] in ("批评", "提醒")]
    assert rows, "the demo month has units at the bottom"
    for rec in rows:
        level = "region" if rec["group"] == "县（市、区）" else "agency"
        want = _expected(case_log[level], rec["code"])
        assert want in rec["stats"], (rec["name"], rec["stats"], want)
        confirmed = want in ("明显多于同类单位的预期", "逐月变差")
        assert (rec["kind"] == "批评") == confirmed, rec
    for rec in table.records():
        if rec["kind"] == "表扬":
            assert rec["stats"] == ""


def test_observed_and_expected_in_the_sentence_are_the_case_logs(city_bulletin, case_log):
    for rec in city_bulletin.table("praise_criticism").records():
        if rec["kind"] == "表扬":
            continue
        level = "region" if rec["group"] == "县（市、区）" else "agency"
        units = case_log[level][3].units.filter(pl.col("unit") == rec["code"])
        o, e = int(units["observed"][0]), float(units["expected"][0])
        assert f"{o}件" in rec["stats"]
        assert (f"{e:.0f}件" if e >= 10 else f"{e:.1f}件") in rec["stats"]


def test_criticism_sentences_are_plain_and_never_contradict_themselves(city_bulletin):
    praise = next(s for s in city_bulletin.sections if s.id == "praise").paragraphs
    for p in praise:
        if "予以通报批评" in p and "不予" not in p:
            assert "经统计检验" in p
            assert not any(w in p for w in ("正常波动", "尚不能确认", "难度有关"))
        for technical in ("漏斗", "控制限", "q=", "错误发现率", "泊松", "离散"):
            assert technical not in p  # the technical details are in the 附件
    tech = city_bulletin.table("stats_detail").records()
    assert tech and all("预期" in r["detail"] for r in tech)


def test_other_lagging_units_are_named_with_their_group(demo_engine, city_bulletin, case_log):
    """A unit of this bulletin's groups found lagging outside the bottom block is named."""
    adjusted, _, trends, _ = case_log["agency"]
    departments = {r["code"] for r in city_bulletin.table("rank_departments").records()}
    bottom = {r["code"] for r in city_bulletin.table("praise_criticism").records()
              if r["kind"] != "表扬"}
    lagging = set(adjusted.units.filter(pl.col("worse") & (pl.col("flag") == "alarm"))["unit"]) \
        | set(trends.filter(pl.col("worsening"))["unit"])
    expected = sorted(lagging & departments - bottom)
    text = "".join(next(s for s in city_bulletin.sections if s.id == "praise").paragraphs)
    names = dict(extracts.load_agencies(demo_engine).select("agency_code", "name").iter_rows())
    for code in expected:
        assert names[code] in text
    if not expected:
        assert "未发现排名后列以外的明显落后单位" in text


def test_docx_and_xlsx_show_the_verdicts(city_bulletin, report_tools):
    files = render(city_bulletin, ["docx", "xlsx"])
    table = city_bulletin.table("praise_criticism")
    verdicts = table.column_values("stats")
    doc = Document(io.BytesIO(files["docx"]))
    word = next(t for t in doc.tables if t.rows[0].cells[-1].text == "统计检验")
    assert [r.cells[-1].text for r in word.rows[1:]] == [v or "" for v in verdicts]
    wb = openpyxl.load_workbook(io.BytesIO(files["xlsx"]))
    ws = wb[wb.sheetnames[1 + [t.id for t in city_bulletin.tables].index("praise_criticism")]]
    col = [c.key for c in table.columns].index("stats") + 1
    assert ws.cell(FIRST_DATA_ROW, col).value == "统计检验"
    cells = [ws.cell(FIRST_DATA_ROW + 1 + i, col).value for i in range(len(verdicts))]
    assert [c or "" for c in cells] == [v or "" for v in verdicts]


def test_without_statistics_nobody_is_criticised_under_the_confirmed_rule(demo_engine,
                                                                         city_bulletin):
    rules = dataclasses.replace(BulletinRules(), stats_check=False)
    b = build_bulletin(demo_engine, MONTH, city_bulletin.scope, rules=rules, issued_on=ISSUED)
    assert b.criticism == () and b.provenance["stats"] is None
    assert "本期无法进行统计检验，按考核规则不作通报批评" in "".join(b.sections[-2].paragraphs)
    # the rankings are the same
    assert b.table("score_departments") == city_bulletin.table("score_departments")
