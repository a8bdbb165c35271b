"""What surrounds the numbers on the pages (issue 17): the day unit of the cases in view, the
default month with its reason, the data cut-off, no 暂无数据 on the demo's default month.

The permit log (realdata/receipt_wabo.csv through examples/mappings/receipt_wabo) has only
natural-day limits: every used-time label must say 自然日 / calendar days, never 工作日. The
demo city mixes working-day and natural-day items: its labels say so.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import ENTRY, page_path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "mappings"
CLOCK_METRICS = ("平均办结用时", "办结用时中位数", "办结用时P90")


@pytest.fixture(scope="module")
def permit_url(tmp_path_factory, realdata) -> str:
    from metrics.jobs import run_compute
    from queries.calendar import seed_official
    from queries.engine import make_engine
    from queries.importer import import_paths
    from queries.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('permits') / 'permits.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_official(engine, 2010, 2013)
    report = import_paths(engine, [EXAMPLES / "receipt_wabo", realdata / "receipt_wabo.csv"],
                          mapping=EXAMPLES / "receipt_wabo" / "mapping.toml", progress=False)
    assert report.ok
    run_compute(engine, None)  # as of the declared cut-off, 2012-01-23
    engine.dispose()
    return url


def _open(url: str, monkeypatch, stem: str, lang: str | None = None) -> AppTest:
    monkeypatch.setenv("DATABASE_URL", url)
    at = AppTest.from_file(ENTRY, default_timeout=120)
    if lang:
        at.query_params["lang"] = lang
    if stem != "overview":  # straight to the page (no overview widgets left behind)
        at.switch_page(page_path(stem))
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _histogram_axis(at: AppTest) -> str:
    for el in at.get("plotly_chart"):
        spec = json.loads(el.proto.spec)
        title = spec["layout"].get("xaxis", {}).get("title", {}).get("text", "")
        if "用时" in title or "Days used" in title:
            return title
    raise AssertionError("no used-days histogram on the page")


def test_a_natural_day_log_reads_in_natural_days_on_tiles_axes_and_in_english(
        permit_url, monkeypatch):
    at = _open(permit_url, monkeypatch, "timeliness")
    labels = [m.label for m in at.metric]
    for name in CLOCK_METRICS:
        assert f"{name}（自然日）" in labels, labels
    assert not any("工作日" in label for label in labels)
    assert _histogram_axis(at) == "用时（自然日）"
    en = _open(permit_url, monkeypatch, "timeliness", lang="en")
    assert "Average time used (calendar days)" in [m.label for m in en.metric]
    assert _histogram_axis(en) == "Days used (calendar days)"


def test_the_permit_log_opens_on_its_last_full_month_with_the_reason(permit_url, monkeypatch):
    # monthly intake: … 2011-10 107, 2011-11 86, 2011-12 47, 2012-01 11; the usual month (median
    # of the latest twelve) is 97, so December and January (under half of it) are passed over
    at = _open(permit_url, monkeypatch, "overview")
    assert at.selectbox(key="_f_to").value.isoformat() == "2011-11-01"
    assert any(c.value.startswith("默认显示 2011-11：其后 2011-12、2012-01 受理仅 47、11 件")
               for c in at.sidebar.caption), [c.value for c in at.sidebar.caption]
    # the data cut-off is stated (the mapping declares it), with the as-of time
    assert any("数据截至 2012-01-23 23:59" in c.value for c in at.caption)
    # a month chosen in the URL still wins
    monkeypatch.setenv("DATABASE_URL", permit_url)
    chosen = AppTest.from_file(ENTRY, default_timeout=120)
    chosen.query_params["to"] = "2012-01"
    chosen.run()
    assert chosen.selectbox(key="_f_to").value.isoformat() == "2012-01-01"


def test_the_demo_default_month_has_no_empty_tile_and_mixed_units_say_so(demo_app: AppTest):
    at = demo_app
    at.run()
    empty = [m.label for m in at.metric if m.value in ("暂无数据", "no data")]
    assert empty == [], empty
    at.switch_page(page_path("online")).run()
    assert [m.label for m in at.metric if m.value == "暂无数据"] == []  # catalogue metrics too
    at.switch_page(page_path("timeliness")).run()
    assert "平均办结用时（天）" in [m.label for m in at.metric]
    assert any("天数按各事项时限单位（工作日或自然日）计" in c.value for c in at.caption)
    assert _histogram_axis(at) == "用时（天，按各事项时限单位）"
