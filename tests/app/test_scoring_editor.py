"""The 数据管理 page's 考核 scoring editor: a supervisor changes the criticism rule and the
约谈 threshold, the [scoring] table is stored, validated and audited; an invalid table of
components is refused with the setting named. (The component table is st.data_editor, which
AppTest cannot edit: its conversion is tested on a frame.)"""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from dashboard.scoring_editor import mapping_from
from metrics.settings import load_settings
from queries import audit
from queries.errors import XiaonengError
from queries.settings_store import in_force, overrides
from tests.app.conftest import ENTRY, page_path


def test_a_supervisor_sets_the_criticism_rule_and_it_is_audited(demo_copy_url, monkeypatch):
    monkeypatch.setenv("XIAONENG_DEMO_ROLE", "supervisor")
    at = AppTest.from_file(ENTRY, default_timeout=180).run()
    at.switch_page(page_path("data_admin")).run()
    assert not at.exception, [e.value for e in at.exception]
    at.radio(key="scoring_criticism").set_value("rank")
    at.number_input(key="scoring_interview").set_value(3)
    next(b for b in at.button if b.label in ("保存评分规则", "Save scoring rules")).click().run()
    assert not at.exception, [e.value for e in at.exception]
    engine = sa.create_engine(os.environ["DATABASE_URL"])
    scoring = in_force(engine).scoring
    assert (scoring.criticism, scoring.interview_after) == ("rank", 3)
    assert [c.id for c in scoring.components][0] == "on_time_rate"  # the table as it was
    assert "scoring" in overrides(engine)
    row = audit.entries(engine, action="settings").to_dicts()[0]
    detail = json.loads(row["detail"])
    assert detail["before"]["scoring"]["criticism"] == "confirmed"
    assert detail["after"]["scoring"]["criticism"] == "rank"


def test_the_edited_component_table_becomes_a_validated_scoring_table():
    frame = pd.DataFrame([
        {"id": "on_time_rate", "points": 60.0, "method": "share", "zero_at": 0.8,
         "full_at": None, "per": 1.0, "cap": None, "per_100": True},
        {"id": "overdue", "points": 40.0, "method": "deduct", "zero_at": None,
         "full_at": None, "per": 0.5, "cap": 10.0, "per_100": False},
    ])
    s = load_settings(overrides={"scoring": mapping_from(frame, "confirmed", 2)})
    assert [(c.id, c.points, c.zero_at, c.cap, c.per_100) for c in s.scoring.components] == [
        ("on_time_rate", 60.0, 0.8, None, True), ("overdue", 40.0, None, 10.0, False)]
    frame.loc[1, "per"] = -1
    with pytest.raises(XiaonengError, match="scoring.components.overdue.per"):
        load_settings(overrides={"scoring": mapping_from(frame, "confirmed", 2)})
