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


def test_histogram_of_short_times_has_one_bar_per_day_and_folds_the_last_percent() -> None:
    # 198 cases at 0–3 days and 2 very late ones: P99 (the 198th case) is 3 → bars 0, 1, 2, 3
    # and one overflow bar "≥4" holding the two late cases
    df = pl.DataFrame({"used_wd": [0, 1, 2, 3, 40, 50], "n": [100, 50, 30, 18, 1, 1]})
    bars = charts.histogram_bins(df)
    assert bars["label"].to_list() == ["0", "1", "2", "3", "≥4"]
    assert bars["n"].to_list() == [100, 50, 30, 18, 2]
    fig = charts.histogram(df, None, "x", "y", markers=[(0.0, "中位数 0"), (2.0, "P90 2")])
    assert list(fig.data[0].y) == [100, 50, 30, 18, 2]


def test_histogram_of_a_long_tailed_permit_log_adapts_its_bins_and_keeps_the_markers() -> None:
    # days 0..399, one case each, plus four beyond: P99 of 404 cases is the 400th value, 399,
    # so 400 values fit forty bars of 10 days; the median (201.5) and the P90 (363) fall on
    # the axis, inside the drawn bars; the four late cases are the overflow bar "≥400"
    df = pl.DataFrame({"used_wd": [*range(400), 500, 600, 700, 800], "n": [1] * 404})
    bars = charts.histogram_bins(df)
    assert bars.height == 41 and bars["width"][0] == 10
    assert bars["label"][0] == "0–9" and bars["label"][-1] == "≥400"
    assert bars["n"].sum() == 404 and bars["n"][-1] == 4
    fig = charts.histogram(df, None, "x", "y", markers=[(201.5, "中位数"), (363.0, "P90")],
                           hover=lambda rng, n: f"{rng} 自然日：{n} 件")
    lo, hi = fig.layout.xaxis.range
    assert all(lo <= shape.x0 <= hi for shape in fig.layout.shapes)
    assert fig.data[0].customdata[1] == "10–19 自然日：10 件"


def test_histogram_bar_widths_are_nice_numbers() -> None:
    assert [charts._nice_width(span, 40) for span in (30, 40, 41, 80, 81, 200, 201, 2001)] == [
        1, 1, 2, 2, 5, 5, 10, 100]


def test_data_version_changes_when_a_job_run_or_load_is_recorded(sqlite_engine) -> None:
    from queries import facts_store, views

    before = views.data_version(sqlite_engine)
    now = dt.datetime(2025, 1, 1)
    facts_store.start_run(sqlite_engine, dict(run_id="r1", started_at=now, as_of=now,
                                              months="2025-01..2025-01", status="running"))
    facts_store.finish_run(sqlite_engine, "r1", status="ok", finished_at=now)
    assert views.data_version(sqlite_engine) != before


def test_default_month_skips_a_thin_last_month_and_says_why() -> None:
    from dashboard.filters import default_month
    from dashboard.sidebar import default_reason

    m = [dt.date(2012, k, 1) for k in range(1, 8)]
    # usual volume: the median of 90, 100, 110, 95, 105, 80, 1 = 95; July's 1 case < 47.5
    chosen = default_month(list(zip(m, [90, 100, 110, 95, 105, 80, 1], strict=True)))
    assert (chosen.month, chosen.reason, chosen.usual, chosen.volume) == (
        dt.date(2012, 6, 1), "default_skipped", 95, 80)
    assert default_reason(chosen, "zh") == (
        "默认显示 2012-06：其后 2012-07 受理仅 1 件，不足常规（约 95 件/月）的50%")
    # a full last month is the default; an even count's usual volume is the middle two's mean
    chosen = default_month(list(zip(m[:4], [90, 100, 110, 60], strict=True)))
    assert (chosen.month, chosen.reason, chosen.usual) == (dt.date(2012, 4, 1), "default_latest",
                                                           95)
    # nothing accepted at all: the latest month complete by the data cut-off
    chosen = default_month(list(zip(m[:3], [0, 0, 0], strict=True)),
                           cutoff=dt.datetime(2012, 3, 15))
    assert (chosen.month, chosen.reason) == (dt.date(2012, 2, 1), "default_complete")
    assert default_month([]) is None


def test_a_month_in_the_url_wins_over_the_default() -> None:
    opts = FilterOptions(months=OPTS.months, volumes=tuple(zip(
        OPTS.months, [100, 120, 3], strict=True)))
    assert ViewFilters.default(opts).month_to == dt.date(2025, 2, 1)
    assert ViewFilters.from_query({}, opts).month_to == dt.date(2025, 2, 1)
    assert ViewFilters.from_query({"to": "2025-03"}, opts).month_to == dt.date(2025, 3, 1)
