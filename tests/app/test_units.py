"""Unit tests of the dashboard's pure parts: formatting, the filter value object, charts, cache key."""

from __future__ import annotations

import datetime as dt

import polars as pl

from dashboard import charts
from dashboard.filters import FilterOptions, ViewFilters
from dashboard.formatting import fmt_delta, fmt_value, meets_target

OPTS = FilterOptions(
    months=(dt.date(2025, 1, 1), dt.date(2025, 2, 1), dt.date(2025, 3, 1)),
    regions=(("331200", "越川市", None, "city"), ("331202", "鉴湖区", "331200", "county")),
    sectors=("公安", "税务"),
    agencies=(("A1", "公安局", "331202", "公安"),),
    item_types=("licensing",),
    channels=("window", "online"),
)


def test_missing_values_read_as_no_data_never_zero() -> None:
    assert fmt_value(None, "pct") == "暂无数据"
    assert fmt_value(float("nan"), "int", "en") == "no data"
    assert fmt_value(0.0, "pct") == "0.0%"


def test_shares_are_percentages_and_changes_percentage_points() -> None:
    assert fmt_value(0.8534, "pct") == "85.3%"
    assert fmt_value(12345, "int") == "12,345"
    assert fmt_delta(0.012, "pct") == "+1.2 个百分点"
    assert fmt_delta(None, "pct") is None


def test_target_judgement_needs_a_value() -> None:
    assert meets_target(None, ">=", 1.0) is None
    assert meets_target(0.999999999, ">=", 1.0) is True
    assert meets_target(3.0, "<=", 5) is True


def test_view_filters_round_trip_through_a_query_string() -> None:
    vf = ViewFilters(dt.date(2025, 1, 1), dt.date(2025, 3, 1), "331202", ("公安",), ("A1",),
                     ("licensing",), ("online", "window"))
    assert ViewFilters.from_query(vf.to_query(), OPTS) == vf


def test_view_filters_default_to_the_latest_month_with_facts() -> None:
    vf = ViewFilters.from_query({}, OPTS)
    assert vf.month_from == vf.month_to == dt.date(2025, 3, 1)
    assert ViewFilters.from_query({"to": "2030-01", "sector": ["nope"]}, OPTS) == vf


def test_view_filters_map_to_hashable_query_filters() -> None:
    f = ViewFilters(dt.date(2025, 2, 1), dt.date(2025, 2, 1), sectors=("税务",)).to_filters()
    assert hash(f) == hash(ViewFilters(dt.date(2025, 2, 1), dt.date(2025, 2, 1),
                                       sectors=("税务",)).to_filters())


def test_trend_chart_keeps_months_without_data_as_gaps_and_draws_the_target() -> None:
    df = pl.DataFrame({"period": ["2025-01", "2025-02", "2025-03"], "value": [0.9, None, 0.95]})
    fig = charts.trend_chart(df, "pct", "按时办结率", target=1.0, target_label="目标")
    assert list(fig.data[0].y) == [0.9, None, 0.95]
    assert fig.layout.shapes and fig.layout.shapes[0].y0 == 1.0
    assert "Noto Sans CJK SC" in fig.layout.font.family


def test_bar_chart_carries_unit_keys_for_click_through() -> None:
    df = pl.DataFrame({"name": ["鉴湖区"], "code": ["331202"], "v": [0.5]})
    fig = charts.bar_chart(df, "name", "v", "pct", key_col="code")
    assert list(fig.data[0].customdata) == ["331202"]


def test_histogram_folds_the_long_tail() -> None:
    df = pl.DataFrame({"used_wd": [0, 1, 40, 50], "n": [5, 3, 1, 1]})
    fig = charts.histogram(df, None, "x", "y", clip=30)
    assert list(fig.data[0].y) == [5, 3, 2]


def test_data_version_changes_when_a_job_run_or_load_is_recorded(sqlite_engine) -> None:
    from queries import facts_store, views

    before = views.data_version(sqlite_engine)
    now = dt.datetime(2025, 1, 1)
    facts_store.start_run(sqlite_engine, dict(run_id="r1", started_at=now, as_of=now,
                                              months="2025-01..2025-01", status="running"))
    facts_store.finish_run(sqlite_engine, "r1", status="ok", finished_at=now)
    assert views.data_version(sqlite_engine) != before
