"""The register of the text (two decimals, 持平 only when equal as printed, no -0.00, Chinese
dates) and honest charts (axes from zero, no text on top of other text, nothing a table next to
it already shows)."""

from __future__ import annotations

import datetime as dt

import pytest

from metrics.bulletin import text as tx
from metrics.bulletin.model import Chart
from reports.charts import chart_figure


@pytest.mark.parametrize("value, fmt, shown", [
    (0.97534, "pct", "97.53%"), (0.975349, "pct", "97.53%"), (1.0, "pct", "100.00%"),
    (-0.00001, "pp", "0.00个百分点"), (0.0025, "pp", "+0.25个百分点"),
    (-0.0017, "pp", "-0.17个百分点"), (-0.00004, "rel", "0.00%"), (0.04123, "rel", "+4.12%"),
    (-0.04, "+days", "0.0"), (0.06, "+days", "+0.1"), (-0.001, "score", "0.00"),
    (1234567, "int", "1,234,567"), (None, "pct", "—"),
])
def test_cells_print_two_decimals_and_never_a_negative_zero(value, fmt, shown):
    assert tx.display(value, fmt) == shown


def test_a_change_is_said_from_the_printed_values():
    # 1.1 against 1.0 as printed: an increase, not 持平 (issue 19)
    assert tx.days_change("环比", 1.06, 1.04) == "环比增加0.1个工作日"
    assert tx.days_change("环比", 1.04, 1.01) == "环比持平"
    assert tx.pp_change("环比", 0.97531, 0.97528) == "环比持平"
    assert tx.pp_change("环比", 0.9767, 0.9784) == "环比下降0.17个百分点"
    assert tx.rel_change("同比", 3372, 3600) == "同比下降6.33%"
    assert tx.rel_change("同比", 3600, 3600) == "同比持平"
    assert tx.rel_change("环比", 2_000_050, 2_000_000) == "环比增加50件"  # not "增长0.00%"
    assert tx.rel_change("环比", 10, None) == "环比无可比数据"


def test_dates_and_numerals_as_official_documents_write_them():
    assert tx.date_zh(dt.date(2026, 12, 4)) == "2026年12月4日"
    assert tx.datetime_zh(dt.datetime(2025, 6, 30, 18)) == "2025年6月30日18时"
    assert tx.date_numerals(dt.date(2026, 12, 4)) == "二〇二六年十二月四日"
    assert tx.date_numerals(dt.date(2025, 10, 20)) == "二〇二五年十月二十日"
    assert tx.signing_date(dt.date(2026, 1, 31), "chinese") == "二〇二六年一月三十一日"
    assert tx.period_zh("quarter", dt.date(2025, 6, 1)) == "2025年第二季度"
    assert tx.count(123_456) == "12.35万件"


def _chart() -> Chart:
    return Chart("on_time_regions", "县（市、区）按时办结率",
                 ("龙湫县", "临渚市", "鉴湖区", "松岙县", "望江区", "石浦县", "新港区", "双溪县"),
                 (0.9955, 0.9898, 0.9821, 0.9881, 0.9808, 0.965, 0.9747, 0.9373), "pct",
                 1.0, 0.9767)


def test_a_share_chart_runs_from_zero_and_no_text_collides():
    fig = chart_figure(_chart())
    ax = fig.axes[0]
    assert ax.get_xlim() == (0.0, 100.0)  # from zero: 93.73% is not drawn a third as long
    renderer = fig.canvas.get_renderer()
    texts = [t for t in ax.texts if t.get_text()]
    boxes = [t.get_window_extent(renderer) for t in texts]
    boxes += [lbl.get_window_extent(renderer) for lbl in ax.get_yticklabels()]
    legend = ax.get_legend()
    boxes += [t.get_window_extent(renderer) for t in legend.get_texts()]
    for i, a in enumerate(boxes):
        for b in boxes[i + 1:]:
            assert not a.overlaps(b), (a, b)
    # the target and the whole scope's value are named in the legend, not written on the plot
    assert [t.get_text() for t in legend.get_texts()] == ["目标 100.00%", "全部单位合计 97.67%"]
    assert sorted(t.get_text() for t in texts) == sorted(
        tx.display(v, "pct") for v in _chart().values)


def test_no_chart_repeats_a_table_next_to_it(city_bulletin):
    charts = [c for a in city_bulletin.attachments for c in a.charts]
    assert [c.id for c in charts] == ["on_time_regions"]  # the review levels are table 9 alone
    for c in charts:
        assert c.reference is not None  # it adds what the table does not show
