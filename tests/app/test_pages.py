"""Every page renders on the demo data and on an empty database; drill-down; filters and URL."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import APP, ENTRY, PAGES, page_path

TITLES = {"overview": "总览", "timeliness": "办理时效", "online": "网上办理", "cards": "红黄牌预警",
          "reviews": "好差评", "business_env": "营商环境指数", "drilldown": "单位分析",
          "bulletin": "月度通报", "data_admin": "数据管理", "definitions": "指标口径"}


def _open(at: AppTest, stem: str) -> AppTest:
    at.run()
    if stem != "overview":
        at.switch_page(page_path(stem)).run()
    return at


@pytest.mark.parametrize("stem", PAGES)
def test_page_renders_on_demo_data_without_exception(demo_app: AppTest, stem: str) -> None:
    at = _open(demo_app, stem)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert at.title[0].value == TITLES[stem]


@pytest.mark.parametrize("stem", PAGES)
def test_page_explains_what_to_do_on_an_empty_database(empty_url: str, stem: str) -> None:
    at = _open(AppTest.from_file(ENTRY, default_timeout=60), stem)
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == TITLES[stem]
    if stem not in ("bulletin", "definitions"):
        # the page says what to do (upload / import / generate), it does not show zeros
        assert any("import" in i.value or "generate" in i.value or "上传" in i.value
                   for i in at.info), [i.value for i in at.info]


def test_tiles_say_no_data_rather_than_zero_when_a_metric_does_not_apply(demo_app: AppTest
                                                                          ) -> None:
    # the catalogue is not per agency: under an agency filter its metrics have no value
    at = demo_app
    at.run()
    agency = at.multiselect(key="_f_agency").options[0]
    at.multiselect(key="_f_agency").select(agency).run()
    at.switch_page(page_path("online")).run()
    values = {m.label: m.value for m in at.metric}
    assert values["网上可办率"] == "暂无数据"
    assert values["网上办理率"] not in ("暂无数据", "0.0%")


def test_kpi_tiles_carry_period_change_target_and_n(demo_app: AppTest) -> None:
    at = _open(demo_app, "overview")
    tile = next(m for m in at.metric if m.label == "按时办结率")
    assert tile.value.endswith("%")
    captions = " ".join(c.value for c in at.caption)
    assert "2025-06" in captions and "同比" in captions and "N=" in captions
    assert any("目标" in m.value and "未达标" in m.value for m in at.markdown)


def _select_row(at: AppTest, key: str, row: int = 0) -> None:
    at.session_state[key] = {"selection": {"rows": [row], "columns": [], "cells": []}}


def _drill_table_key(at: AppTest, level: str) -> str:
    return next(d.key for d in at.dataframe if d.key and d.key.startswith(f"drill_{level}_"))


def test_drill_from_region_to_case_and_back(demo_app: AppTest) -> None:
    at = _open(demo_app, "drilldown")
    assert not at.exception
    for level in ("region", "agency", "item"):
        key = _drill_table_key(at, level)
        _select_row(at, key)
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    # at the case level: a case table, CSV and Excel downloads, and the breadcrumb
    assert at.session_state["_xn_drill"]["item"] is not None
    assert any(d.key and d.key.startswith("drill_case_") for d in at.dataframe)
    labels = [b.label for b in at.get("download_button")]
    assert labels == ["导出 CSV", "导出 Excel"]
    crumbs = [b.label for b in at.button if b.label.startswith("›")]
    assert len(crumbs) == 3
    at.button(key="drill_back").click().run()
    assert at.session_state["_xn_drill"]["item"] is None
    assert at.session_state["_xn_drill"]["agency"] is not None
    assert any(d.key and d.key.startswith("drill_item_") for d in at.dataframe)


def test_csv_export_has_a_bom_so_excel_reads_chinese() -> None:
    import polars as pl

    from dashboard.panels import csv_bytes

    out = csv_bytes(pl.DataFrame({"单位": ["越川市公安局"]}))
    assert out.startswith(b"\xef\xbb\xbf")
    assert "越川市公安局".encode() in out


def test_filters_survive_a_page_switch(demo_app: AppTest) -> None:
    at = _open(demo_app, "overview")
    sector = at.multiselect(key="_f_sector").options[0]
    at.multiselect(key="_f_sector").select(sector).run()
    at.switch_page(page_path("timeliness")).run()
    assert not at.exception
    assert at.multiselect(key="_f_sector").value == [sector]
    assert at.query_params.get("sector") in (sector, [sector])
    assert at.title[0].value == "办理时效"


def test_filters_round_trip_through_the_url(demo_app: AppTest) -> None:
    at = demo_app
    at.query_params.update({"from": "2025-03", "to": "2025-05", "region": "331202",
                            "channel": ["online", "window"]})
    at.run()
    assert not at.exception
    assert at.segmented_control(key="_f_mode").value == "range"
    assert f"{at.selectbox(key='_f_from').value:%Y-%m}" == "2025-03"
    assert f"{at.selectbox(key='_f_to').value:%Y-%m}" == "2025-05"
    assert at.selectbox(key="_f_region").value == "331202"
    assert sorted(at.multiselect(key="_f_channel").value) == ["online", "window"]
    # and back out: the URL written by the app holds the same view
    assert at.query_params["from"] == "2025-03" and at.query_params["to"] == "2025-05"
    assert at.query_params["region"] == "331202"
    assert sorted(at.query_params["channel"]) == ["online", "window"]


def test_unknown_values_in_a_shared_link_are_dropped_not_fatal(demo_app: AppTest) -> None:
    at = demo_app
    at.query_params.update({"from": "1999-01", "region": "nowhere", "agency": "x' OR '1'='1"})
    at.run()
    assert not at.exception
    assert at.selectbox(key="_f_region").value == ""
    assert at.multiselect(key="_f_agency").value == []


def test_english_switch_translates_titles_and_metric_names(demo_app: AppTest) -> None:
    at = demo_app
    at.query_params["lang"] = "en"
    at.run()
    assert at.title[0].value == "Overview"
    assert any(m.label == "On-time completion rate" for m in at.metric)


def test_cold_deep_link_through_app_py_reaches_the_page_via_the_shell(demo_url: str,
                                                                       monkeypatch) -> None:
    """With app.py beside pages/, a page file can run bare first; the shell takes over."""
    monkeypatch.setenv("DATABASE_URL", demo_url)
    at = AppTest.from_file(APP, default_timeout=120).run()
    assert not at.exception and at.title[0].value == "总览"
    at.switch_page("pages/timeliness.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "办理时效"
    assert at.multiselect(key="_f_sector") is not None  # the sidebar (shell) is there
