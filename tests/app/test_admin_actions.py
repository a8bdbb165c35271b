"""The 数据管理 page's run-a-job action as a supervisor clicks it.

The test works on its own copy of the demo database, because the action writes. (The calendar
editor is st.data_editor, which AppTest cannot edit; its save path, admin.save_calendar, is
covered by tests/security.)
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa
from streamlit.testing.v1 import AppTest

from queries import schema
from tests.app.conftest import ENTRY, page_path


@pytest.fixture
def supervisor_app(demo_copy_url: str, monkeypatch: pytest.MonkeyPatch) -> AppTest:
    monkeypatch.setenv("XIAONENG_DEMO_ROLE", "supervisor")
    at = AppTest.from_file(ENTRY, default_timeout=180)
    at.run()
    at.switch_page(page_path("data_admin")).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _engine() -> sa.Engine:
    import os

    return sa.create_engine(os.environ["DATABASE_URL"])


def test_run_job_button_recomputes_and_records_the_run_and_its_audit_row(supervisor_app):
    at = supervisor_app
    with _engine().connect() as conn:
        runs_before = conn.execute(sa.select(sa.func.count()).select_from(schema.job_runs)).scalar()
    at.checkbox(key="job_all").check().run()
    at.date_input(key="job_as_of_date").set_value(dt.date(2025, 6, 30)).run()
    at.button(key="job_run").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("计算完成" in s.value for s in at.success), [e.value for e in at.error]
    with _engine().connect() as conn:
        runs = conn.execute(sa.select(schema.job_runs.c.status, schema.job_runs.c.as_of)
                            .order_by(schema.job_runs.c.started_at)).all()
        audit = conn.execute(sa.text(
            "SELECT username, role FROM audit_log WHERE action = 'job_run'")).all()
    assert len(runs) == runs_before + 1 and runs[-1][0] == "ok"
    assert runs[-1][1].date() == dt.date(2025, 6, 30)
    assert [tuple(a) for a in audit] == [("demo", "supervisor")]
