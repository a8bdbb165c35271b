"""Roles gate actions in the functions the UI calls, every act is audited, sessions expire."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest

from tests.app.conftest import page_path
from tests.security.conftest import USERS, app_as
from xiaoneng.authz import PermissionDenied

MONTH = dt.date(2025, 6, 1)


def _engine(url):
    from queries.engine import make_engine

    return make_engine(url)


def test_only_the_supervisor_runs_jobs_and_the_run_is_audited(demo_copy_url) -> None:
    from dashboard import admin
    from queries import audit

    for who in ("leader", "analyst", "unit_a", "admin"):
        with pytest.raises(PermissionDenied):
            admin.run_job([MONTH], dt.datetime(2025, 6, 30, 18), USERS[who])
    admin.run_job([MONTH], dt.datetime(2025, 6, 30, 18), USERS["supervisor"])
    log = audit.entries(_engine(demo_copy_url), action="job_run")
    assert log.height == 1 and log["username"][0] == "t-supervisor"
    assert '"ok": true' in log["detail"][0] and "2025-06" in log["detail"][0]


def test_settings_change_is_validated_and_audited_with_before_and_after(demo_copy_url) -> None:
    from dashboard import admin, data
    from queries import audit
    from queries.errors import XiaonengError

    with pytest.raises(PermissionDenied):
        admin.save_settings({"top_n": 5}, USERS["analyst"])
    with pytest.raises(XiaonengError):
        admin.save_settings({"warn_share": 7.5}, USERS["supervisor"])  # refused: not a share
    diff = admin.save_settings({"top_n": 5, "warn_days": 1}, USERS["supervisor"])
    assert diff == {"top_n": (3, 5)}  # warn_days unchanged: not recorded
    assert data.settings_in_force().top_n == 5
    row = audit.entries(_engine(demo_copy_url), action="settings").row(0, named=True)
    assert '"before": {"top_n": 3}' in row["detail"] and '"after": {"top_n": 5}' in row["detail"]


def test_calendar_edit_is_supervisor_only_and_audited(demo_copy_url) -> None:
    from dashboard import admin, data
    from queries import audit

    days = data.calendar_days(2025).filter(pl.col("date") == dt.date(2025, 10, 8))
    edited = days.with_columns(pl.lit(True).alias("is_workday"), pl.lit("test").alias("name"))
    with pytest.raises(PermissionDenied):
        admin.save_calendar(edited, days, USERS["leader"])
    assert admin.save_calendar(edited, days, USERS["supervisor"]) == 1
    row = audit.entries(_engine(demo_copy_url), action="calendar").row(0, named=True)
    assert '"is_workday": false' in row["detail"] and '"is_workday": true' in row["detail"]


def test_publish_button_only_for_the_supervisor(demo_copy_url) -> None:
    for who, sees in (("leader", False), ("analyst", False), ("supervisor", True)):
        at = app_as(USERS[who]).run()
        at.switch_page(page_path("bulletin")).run()
        next(b for b in at.button if b.label == "生成预览").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(b.label == "发布" for b in at.button) is sees, who


def test_data_admin_tabs_follow_the_role(demo_copy_url) -> None:
    at = app_as(USERS["admin"]).run()
    assert not at.exception
    # the admin reads no case data: only 数据管理 and 指标口径 are registered
    titles = {p.title for ps in at.session_state["_xn_pages"].values() for p in ps}
    assert titles == {"数据管理", "指标口径"}
    assert at.title[0].value == "数据管理"
    assert any(f.key == "FormSubmitter:account_create-创建" for f in at.button) or \
        any(b.label == "创建" for b in at.button)
    sup = app_as(USERS["supervisor"]).run()
    sup.switch_page(page_path("data_admin")).run()
    assert not sup.exception
    assert any(b.key == "job_run" for b in sup.button)
    lead = app_as(USERS["leader"]).run()
    lead.switch_page(page_path("data_admin")).run()
    assert not lead.exception
    assert not any(b.key == "job_run" for b in lead.button)
    assert not any(b.label == "创建" for b in lead.button)


def test_export_is_refused_to_roles_without_it(demo_copy_url, monkeypatch) -> None:
    import dashboard.auth
    from dashboard import panels
    from queries.extracts import Filters

    for who, allowed in (("leader", False), ("supervisor", False), ("admin", False),
                         ("analyst", True), ("unit_a", True)):
        monkeypatch.setattr(dashboard.auth, "current_user", lambda u=USERS[who]: u)
        if allowed:
            assert callable(panels.case_export("accepted", Filters(MONTH, MONTH),
                                               "numerator", "csv"))
        else:
            with pytest.raises(PermissionDenied):
                panels.case_export("accepted", Filters(MONTH, MONTH), "numerator", "csv")


def test_login_form_signs_in_and_audits(demo_copy_url) -> None:
    from queries import accounts_store, audit

    eng = _engine(demo_copy_url)
    accounts_store.create_account(eng, "zhang", "unit", "a long password", regions=["331202"])
    at = app_as(None).run()
    assert at.title[0].value == "登录"
    at.text_input(key="login_username").input("zhang")
    at.text_input(key="login_password").input("wrong password")
    at.button[0].click().run()
    assert at.error and "错误" in at.error[0].value
    at.text_input(key="login_password").input("a long password")
    at.button[0].click().run()
    assert not at.exception
    assert at.title[0].value == "总览"
    assert at.session_state["_xn_user"].regions == ("331202",)
    log = audit.entries(eng)
    assert list(log["action"][:2]) == ["login", "login_failed"]


def test_idle_session_expires(demo_copy_url) -> None:
    from dashboard.auth import LOGIN_AT_KEY, SEEN_KEY

    at = app_as(USERS["leader"])
    old = dt.datetime.now() - dt.timedelta(hours=2)
    at.session_state[SEEN_KEY] = old
    at.session_state[LOGIN_AT_KEY] = old
    at.run()
    assert at.title[0].value == "登录"
    assert any("过期" in w.value for w in at.warning)


def test_demo_mode_signs_in_the_demo_leader(demo_copy_url, monkeypatch) -> None:
    monkeypatch.setenv("XIAONENG_DEMO", "1")
    at = app_as(None).run()
    assert at.session_state["_xn_user"].role == "leader"
    assert at.title[0].value == "总览"
    monkeypatch.setenv("XIAONENG_DEMO_ROLE", "unit")  # refused: a unit role needs a scope
    at = app_as(None).run()
    assert at.session_state["_xn_user"].role == "leader"
