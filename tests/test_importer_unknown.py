"""Unknown is a value: a channel the export did not record is `unknown`, counted in the
denominator of the online rates (metrics.md: online share over all accepted) and stated as
渠道未知 x% wherever those rates are shown, or 渠道未记录 instead of them when no case in view
has a channel — so a low online rate is never read as measured.

Hand-computed: May 2025, 8 accepted cases — 3 online, 4 window, 1 unknown. online_rate =
3/8 = 37.5 %, unknown_channel_share = 1/8 = 12.5 %.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from metrics.bulletin.build import _overall
from metrics.bulletin.model import Scope
from metrics.jobs import run_compute
from metrics.query import metric_values
from queries.calendar import seed_official
from queries.engine import make_engine
from queries.extracts import Filters
from queries.importer import import_paths
from queries.migrate import upgrade
from tests.test_importer_helpers import BASE, write

HEAD = ("case_id,item_code,agency_code,channel,applicant_type,submitted_at,accepted_at,status,"
        "promised_days,limit_unit\n")
MAY = dt.date(2025, 5, 1)


def _cases(channels: list[str]) -> str:
    return HEAD + "".join(
        f"K{i},I1,A1,{ch},person,2025-05-{6 + i:02d} 09:00,2025-05-{6 + i:02d} 10:00,"
        f"in_progress,10,working\n" for i, ch in enumerate(channels))


def _load(engine: sa.Engine, tmp_path: Path, channels: list[str]) -> None:
    seed_official(engine, 2025, 2025)
    report = import_paths(engine, [BASE, write(tmp_path / "cases.csv", _cases(channels))],
                          progress=False)
    assert report.clean, report.format()
    run_compute(engine, [MAY], as_of=dt.datetime(2025, 5, 31, 18))


def _city(engine: sa.Engine) -> dict[str, dict]:
    df = metric_values(engine, ["online_rate", "unknown_channel_share", "accepted"],
                       Filters(month_from=MAY, month_to=MAY))
    return {r["metric_id"]: r for r in df.iter_rows(named=True)}


MIXED = ["online", "window", "online", "window", "unknown", "window", "online", "window"]


def test_unknown_channel_share_is_accepted_unknown_over_accepted(any_engine, tmp_path):
    _load(any_engine, tmp_path, MIXED)
    got = _city(any_engine)
    assert (got["accepted"]["value"]) == 8
    assert (got["unknown_channel_share"]["numerator"],
            got["unknown_channel_share"]["denominator"]) == (1, 8)
    assert got["unknown_channel_share"]["value"] == pytest.approx(0.125)
    assert got["online_rate"]["value"] == pytest.approx(3 / 8)  # unknown: not online


def _bulletin_text(engine: sa.Engine) -> str:
    df = metric_values(engine, ["accepted", "completed", "in_progress", "instant_rate",
                                "online_rate", "full_online_rate", "unknown_channel_share"],
                       Filters(month_from=MAY, month_to=MAY))
    rows = {r["metric_id"]: r for r in df.iter_rows(named=True)}
    section, _ = _overall(rows, Scope("city", "330200", "宁波市"), MAY, "month")
    return "".join(section.paragraphs)


def test_the_bulletin_states_the_unknown_share_in_one_sentence(sqlite_engine, tmp_path):
    _load(sqlite_engine, tmp_path, MIXED)
    text = _bulletin_text(sqlite_engine)
    assert "网上办理率37.50%" in text
    assert "受理办件中申报渠道未记录的占12.50%，网上办理率按全部受理办件计算" in text


def test_the_bulletin_gives_no_online_rate_when_no_channel_is_recorded(sqlite_engine, tmp_path):
    _load(sqlite_engine, tmp_path, ["unknown"] * 4)
    text = _bulletin_text(sqlite_engine)
    assert "受理办件均未记录申报渠道，网上办理率无法计算" in text
    assert "网上办理率0.00%" not in text


@pytest.fixture
def app_at(tmp_path, monkeypatch):
    def build(channels: list[str]) -> AppTest:
        from dashboard import data
        from tests.app.conftest import ENTRY

        url = f"sqlite:///{tmp_path / 'unknown.db'}"
        engine = make_engine(url)
        upgrade(engine)
        _load(engine, tmp_path, channels)
        engine.dispose()
        monkeypatch.setenv("DATABASE_URL", url)
        monkeypatch.setenv("XIAONENG_DEMO", "1")
        monkeypatch.setenv("XIAONENG_DEMO_ROLE", "analyst")
        data.invalidate()
        return AppTest.from_file(ENTRY, default_timeout=120)

    yield build
    from dashboard import data

    data.invalidate()


def _page(at: AppTest, stem: str) -> AppTest:
    from tests.app.conftest import page_path

    at.run()
    if stem != "overview":
        at.switch_page(page_path(stem)).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


@pytest.mark.parametrize("stem", ["overview", "online"])
def test_pages_note_the_unknown_share_under_the_online_rate(app_at, stem):
    at = _page(app_at(MIXED), stem)
    captions = " ".join(c.value for c in at.caption)
    assert "渠道未知 12.5%" in captions
    online = next(m for m in at.metric if m.label == "网上办理率")
    assert online.value == "37.5%"


@pytest.mark.parametrize("stem", ["overview", "online"])
def test_pages_say_channel_not_recorded_instead_of_a_rate(app_at, stem):
    at = _page(app_at(["unknown"] * 4), stem)
    online = next(m for m in at.metric if m.label == "网上办理率")
    assert online.value == "渠道未记录"


def test_unknown_can_never_be_configured_as_an_online_channel(tmp_path):
    from metrics.settings import load_settings
    from queries.errors import XiaonengError

    with pytest.raises(XiaonengError, match="online_channels must be a non-empty subset of"):
        load_settings(tmp_path / "none.toml", overrides={"online_channels": ["online",
                                                                             "unknown"]})
