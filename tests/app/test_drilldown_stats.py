"""The statistics section of 单位分析: funnel, raw vs adjusted, lagging units, predicted 预警."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from queries.extracts import add_months
from tests.app.conftest import ENTRY, page_path
from tests.security.conftest import COUNTY_A, USERS, app_as

MONTH = dt.date(2025, 6, 1)  # the demo database's last month (the page's default)
AS_OF = dt.datetime(2025, 6, 30, 18)  # the demo database's job ran as of this moment


def _open(at: AppTest) -> AppTest:
    at.run()
    at.switch_page(page_path("drilldown")).run()
    return at


TABS = {"funnel": "漏斗图", "casemix": "原始与调整后", "lagging": "落后单位", "risk": "预测预警"}


def _frame(at: AppTest, tab: str):
    """The table of a statistics tab (None when the tab shows a message instead)."""
    t = next(t for t in at.tabs if t.label == TABS[tab])
    return t.dataframe[0].value if len(t.dataframe) else None


def test_section_renders_on_demo_data(demo_app: AppTest) -> None:
    at = _open(demo_app)
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    assert any(s.value.startswith("统计分析（2025-06）") for s in at.subheader)
    funnel = _frame(at, "funnel")
    assert len(funnel) > 10
    assert set(funnel["判定"]) <= {"报警", "预警", "正常", "表现突出", "优于预期"}
    compare = _frame(at, "casemix")
    assert {"原始排名", "调整后排名", "实际/预期95%区间"} <= set(compare.columns)
    # every funnel indicator can be picked and drawn
    from dashboard.data import STATS_FUNNELS

    for kind in STATS_FUNNELS:
        at.button_group(key="stats_funnel_kind").set_value(kind).run()
        assert not at.exception, (kind, [e.value for e in at.exception])
        assert len(_frame(at, "funnel")) > 10, kind


def test_section_explains_on_an_empty_database(empty_url: str) -> None:
    at = _open(AppTest.from_file(ENTRY, default_timeout=60))
    assert not at.exception, [e.value for e in at.exception]
    assert any("import" in i.value or "上传" in i.value for i in at.info)


def _case_log_assessment(demo_url: str):
    """`assess` on the case log (clocked here from the cases, not from the facts the page
    reads): the independent reference for the page's statistics."""
    import dataclasses

    from metrics.stats import data as sdata
    from metrics.stats.lagging import assess
    from queries.engine import make_engine
    from queries.inputs import read_reviews

    eng = make_engine(demo_url)
    tables = sdata.read_database(eng, add_months(MONTH, -29), MONTH)
    # the log as the job saw it at its as-of time (the facts' moment), not at the month end
    done = pl.col("completed_at")
    cases = tables.cases.filter(pl.col("accepted_at").is_null()
                                | (pl.col("accepted_at") <= AS_OF)).with_columns(
        pl.when(done <= AS_OF).then(done).otherwise(None).alias("completed_at"))
    reviews = read_reviews(eng, (MONTH, MONTH)).filter(pl.col("rated_at") <= AS_OF)
    tables = dataclasses.replace(tables, cases=cases, reviews=reviews)
    eng.dispose()
    return assess(tables, MONTH)


def test_lagging_list_from_facts_matches_assess_on_the_case_log(demo_app: AppTest,
                                                                demo_url: str) -> None:
    at = _open(demo_app)
    direct = _case_log_assessment(demo_url).lagging
    shown = _frame(at, "lagging")
    if direct.is_empty():
        assert shown is None
        assert any("没有落后单位" in s.value for s in at.success)
    else:
        assert list(shown["单位编码"]) == direct["unit"].to_list()
        assert list(shown["理由"]) == direct["reason_zh"].to_list()


@pytest.fixture
def county_a(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> set[str]:
    """Signed-out environment on the demo database (as tests/security), and the agencies of
    county A."""
    from queries import extracts
    from queries.engine import make_engine

    monkeypatch.setenv("DATABASE_URL", demo_url)
    monkeypatch.delenv("XIAONENG_DEMO", raising=False)
    monkeypatch.delenv("XIAONENG_DEMO_ROLE", raising=False)
    eng = make_engine(demo_url)
    agencies = extracts.load_agencies(eng)
    eng.dispose()
    return set(agencies.filter(pl.col("region_code") == COUNTY_A)["agency_code"])


def test_unit_user_sees_only_own_agencies(county_a: set[str]) -> None:
    own = county_a
    at = app_as(USERS["unit_a"])
    at.run()
    at.switch_page(page_path("drilldown")).run()
    assert not at.exception, [e.value for e in at.exception]
    seen: set[str] = set()
    for tab in TABS:
        frame = _frame(at, tab)
        if frame is not None and "单位编码" in frame.columns:
            seen |= set(frame["单位编码"])
    assert seen and seen <= own, seen - own


def test_data_layer_narrows_every_part_to_the_scope(county_a: set[str],
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import dashboard.auth
    from dashboard import data
    from queries.extracts import Filters

    f = Filters(MONTH, MONTH)
    monkeypatch.setattr(dashboard.auth, "current_user", lambda: USERS["analyst"])
    everyone = data.unit_stats(f)
    monkeypatch.setattr(dashboard.auth, "current_user", lambda: USERS["unit_a"])
    mine = data.unit_stats(f)
    own = county_a
    assert set(everyone.funnels["on_time"].units["unit"]) > own
    for fn in mine.funnels.values():
        assert set(fn.units["unit"]) <= own
        # the limits are still the city's: same target as the unscoped funnel
    assert mine.funnels["on_time"].target == everyone.funnels["on_time"].target
    assert set(mine.comparison["unit"]) <= own and set(mine.lagging["unit"]) <= own
    monkeypatch.setattr(dashboard.auth, "current_user", lambda: USERS["analyst"])
    all_risk = data.unit_risk(f)
    monkeypatch.setattr(dashboard.auth, "current_user", lambda: USERS["unit_a"])
    my_risk = data.unit_risk(f)
    assert all_risk is not None and my_risk is not None
    assert set(my_risk["agency_code"]) <= own
    assert set(all_risk["agency_code"]) - own, "the unscoped list has other units' cases"


def test_funnel_figure_colours_better_side_outliers_green_not_red() -> None:
    from dashboard.charts import GREEN, RED, funnel_figure

    points = pl.DataFrame({"name": ["甲局", "乙局"], "numerator": [100, 80],
                           "denominator": [100.0, 100.0], "value": [1.0, 0.8],
                           "flag": ["alarm", "alarm"], "verdict": ["outstanding", "alarm"]})
    curve = pl.DataFrame({"denominator": [10.0, 1000.0], "lower_alert": [0.8, 0.88],
                          "upper_alert": [1.0, 0.92], "lower_alarm": [0.7, 0.87],
                          "upper_alarm": [1.0, 0.93]})
    labels = {"target": "全市水平", "alert": "95%预警线", "alarm": "99.8%报警线",
              "raw_alarm": "未调整", "flag_alarm": "报警", "flag_alert": "预警",
              "flag_in_control": "正常", "flag_outstanding": "表现突出", "flag_better": "优于预期",
              "x": "办件量", "y": "按时办结率"}
    markers = {t.name: t for t in funnel_figure(points, curve, 0.9, "pct", labels).data
               if t.mode == "markers"}
    assert set(markers) == {"表现突出", "报警"}
    assert markers["表现突出"].marker.color == GREEN and list(markers["表现突出"].text) == ["甲局"]
    assert markers["报警"].marker.color == RED and list(markers["报警"].text) == ["乙局"]


def test_funnel_figure_draws_target_limits_and_flagged_points() -> None:
    from dashboard.charts import RED, YELLOW, funnel_figure

    points = pl.DataFrame({"name": ["甲局", "乙局", "丙局"], "numerator": [90, 480, 30],
                           "denominator": [100.0, 500.0, 40.0], "value": [0.9, 0.96, 0.75],
                           "flag": ["alert", "in_control", "alarm"]})
    curve = pl.DataFrame({"denominator": [10.0, 100.0, 1000.0],
                          "lower_alert": [0.80, 0.92, 0.94], "upper_alert": [1.0, 0.98, 0.96],
                          "lower_alarm": [0.70, 0.89, 0.93], "upper_alarm": [1.0, 0.99, 0.97]})
    raw = curve.with_columns(pl.col("lower_alarm") + 0.01, pl.col("upper_alarm") - 0.01)
    labels = {"target": "全市水平", "alert": "95%预警线", "alarm": "99.8%报警线",
              "raw_alarm": "未调整", "flag_alarm": "报警", "flag_alert": "预警",
              "flag_in_control": "正常", "x": "办件量", "y": "按时办结率"}
    fig = funnel_figure(points, curve, 0.95, "pct", labels, raw)
    by_name: dict[str, list] = {}
    for tr in fig.data:
        by_name.setdefault(tr.name, []).append(tr)
    assert list(by_name["全市水平"][0].y) == [0.95] * 3
    # each limit is drawn on both sides, as a function of the denominator
    alert = by_name["95%预警线"]
    alarm_lines = by_name["99.8%报警线"]
    assert len(alert) == 2 and len(alarm_lines) == 2 and len(by_name["未调整"]) == 2
    assert list(alert[0].x) == [10.0, 100.0, 1000.0]
    assert {tuple(t.y) for t in alarm_lines} == {(0.70, 0.89, 0.93), (1.0, 0.99, 0.97)}
    markers = [t for t in fig.data if t.mode == "markers"]
    colours = {t.marker.color for t in markers}
    assert RED in colours and YELLOW in colours and len(markers) == 3
    assert {t.name for t in markers} == {"报警", "预警", "正常"}
    assert any("丙局" in t.text for t in markers)
    assert fig.layout.xaxis.type == "log"


def test_statistics_settings_file_reaches_the_page_and_the_definitions(
        demo_url: str, tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    """[stats] in the settings file: the 单位分析 section ranks by its minimum N and the 指标口径
    page lists it with the other settings in force."""
    import json

    f = tmp_path / "settings.toml"
    f.write_text("[stats]\nmin_n = 77\n", encoding="utf-8")
    import streamlit as st

    monkeypatch.setenv("XIAONENG_SETTINGS", str(f))
    monkeypatch.setenv("DATABASE_URL", demo_url)
    st.cache_data.clear()  # the data version (with the settings digest) is cached for a while
    try:
        at = _open(AppTest.from_file(ENTRY, default_timeout=120))
        assert not at.exception, [e.value for e in at.exception]
        assert any("少于77件" in c.value for c in at.caption)
        at.switch_page(page_path("definitions")).run()
        assert not at.exception, [e.value for e in at.exception]
        shown = json.loads(at.json[0].value)
    finally:
        st.cache_data.clear()  # later tests run with the default settings again
    assert shown["stats"]["min_n"] == 77
    assert shown["stats"]["od_method"] == "additive" and shown["stats"]["fdr_q"] == 0.05


def test_page_statistics_equal_the_case_log_assessment(demo_url: str,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """Funnels and the raw-vs-adjusted table come from the fact tables; every count, flag and
    verdict is the one `assess` finds on the case log."""
    import streamlit as st

    import dashboard.auth
    from dashboard import data
    from queries.extracts import Filters

    monkeypatch.setenv("DATABASE_URL", demo_url)
    monkeypatch.setattr(dashboard.auth, "current_user", lambda: USERS["analyst"])
    st.cache_data.clear()
    page = data.unit_stats(Filters(MONTH, MONTH))
    a = _case_log_assessment(demo_url)
    cols = ["unit", "numerator", "denominator", "flag", "verdict"]

    def same(got, want) -> None:
        g = got.units.filter(pl.col("denominator") > 0).select(cols).sort("unit")
        w = want.units.filter(pl.col("denominator") > 0).select(cols).sort("unit")
        assert g.select("unit", "flag", "verdict").equals(w.select("unit", "flag", "verdict"))
        assert g["numerator"].to_list() == pytest.approx(w["numerator"].to_list())
        assert g["denominator"].to_list() == pytest.approx(w["denominator"].to_list())

    same(page.funnels["overdue_oe"], a.adjusted)
    same(page.funnels["online"], a.online)
    same(page.funnels["bad_review"], a.bad_reviews)
    assert page.comparison.drop("name").sort("unit").select("unit", "cases", "observed",
                                                             "raw_rank", "adj_rank") \
        .equals(a.comparison.sort("unit").select("unit", "cases", "observed", "raw_rank",
                                                 "adj_rank"))


def test_risk_list_is_computed_on_demand_and_then_shown_at_once(demo_app: AppTest) -> None:
    import streamlit as st

    st.cache_data.clear()
    from dashboard import data

    data._RISK_DONE.clear()
    at = _open(demo_app)
    risk = next(t for t in at.tabs if t.label == TABS["risk"])
    assert not risk.dataframe and risk.button(key="stats_risk_compute").label == "计算预测预警"
    risk.button(key="stats_risk_compute").click().run()
    assert not at.exception, [e.value for e in at.exception]
    shown = _frame(at, "risk")
    assert shown is not None and len(shown) > 0 and "预测超期概率" in " ".join(shown.columns) \
        or any("没有预测超期" in s.value for s in at.success)
    # a later session (same data version and month) gets the list without the button
    again = _open(AppTest.from_file(ENTRY, default_timeout=120))
    risk = next(t for t in again.tabs if t.label == TABS["risk"])
    assert not [b for b in risk.button if b.key == "stats_risk_compute"]
    assert not again.exception, [e.value for e in again.exception]


def test_concurrent_requests_for_the_same_city_statistics_compute_them_once(
        demo_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """Twelve sessions asking at once for one month's city statistics: one computation (the
    fact reads and model fits of `metrics.stats.facts.assess`), one shared result."""
    import threading
    import time

    import streamlit as st

    from dashboard import data

    st.cache_data.clear()
    real, calls = data.stats_facts.assess, []

    def slow_assess(*args, **kwargs):
        calls.append(threading.get_ident())
        time.sleep(0.5)  # long enough for every thread to arrive while it runs
        return real(*args, **kwargs)

    monkeypatch.setattr(data.stats_facts, "assess", slow_assess)
    ver = data._version(demo_url)
    results: list = []
    start = threading.Barrier(12)

    def session() -> None:
        start.wait()
        results.append(data.city_stats(demo_url, ver, MONTH))

    threads = [threading.Thread(target=session) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(calls) == 1
    assert len(results) == 12
    assert all(r.lagging.equals(results[0].lagging) for r in results)


def test_single_flight_shares_one_result_and_one_failure() -> None:
    """The lock itself, without Streamlit's cache behind it: waiters get the leader's value
    (the same object), a failure reaches every waiter once instead of being retried, and the
    next call after a finished flight computes again."""
    import threading
    import time

    from dashboard.data import _single_flight

    calls: list[int] = []
    gate = threading.Barrier(8)

    def compute() -> object:
        calls.append(1)
        time.sleep(0.3)
        return object()

    out: list = []

    def call() -> None:
        gate.wait()
        out.append(_single_flight(("test", 1), compute))

    threads = [threading.Thread(target=call) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert len(calls) == 1 and len(out) == 8 and all(o is out[0] for o in out)

    failures: list = []
    gate = threading.Barrier(6)

    def boom() -> object:
        calls.append(2)
        time.sleep(0.3)
        raise MemoryError("out of memory")

    def call_boom() -> None:
        gate.wait()
        try:
            _single_flight(("test", 2), boom)
        except MemoryError as e:
            failures.append(e)

    threads = [threading.Thread(target=call_boom) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert calls.count(2) == 1 and len(failures) == 6

    # a leader whose own run is stopped (a BaseException, as Streamlit's rerun/stop) does not
    # pass that on: a waiter computes the value itself
    gate = threading.Barrier(2)
    got: list = []

    class Stopped(BaseException):
        pass

    def stopped() -> object:
        gate.wait()  # the waiter has arrived
        time.sleep(0.3)
        raise Stopped

    def leader() -> None:
        try:
            _single_flight(("test", 3), stopped)
        except Stopped:
            got.append("stopped")

    first = threading.Thread(target=leader)
    first.start()
    gate.wait()
    got.append(_single_flight(("test", 3), lambda: "computed by the waiter"))
    first.join(timeout=30)
    assert sorted(got) == ["computed by the waiter", "stopped"]
    assert _single_flight(("test", 1), compute) is not out[0]  # a new flight computes again
    assert len(calls) == 3
