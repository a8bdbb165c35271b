"""Every act that changes numbers or lets data out writes exactly one audit row, with the right
actor: calendar import/edit from the CLI and the app, settings, bulletin preview / download /
publish (app and CLI), every download button of the app. CLI names (`--actor`, `--user`) must
be accounts with the role — and, for a bulletin, the scope — of the act.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from queries import accounts_store, audit
from tests.app.conftest import page_path
from tests.security.conftest import COUNTY_A, COUNTY_B, USERS, app_as
from xiaoneng.cli import main

PW = "correct horse battery"


@pytest.fixture
def eng(demo_copy):
    return demo_copy


@pytest.fixture
def os_user(monkeypatch) -> str:
    import getpass

    monkeypatch.setattr(getpass, "getuser", lambda: "ops-sun")
    return "os:ops-sun"


class Rows:
    """The audit rows written since it was made (oldest first, detail parsed)."""

    def __init__(self, engine) -> None:
        self.engine = engine
        self.last = int(audit.entries(engine, 1)["id"].max() or 0)

    def new(self, action: str | None = None) -> list[dict]:
        rows = audit.entries(self.engine, 10_000, action)
        rows = rows.filter(rows["id"] > self.last).reverse()
        return [{**r, "detail": json.loads(r["detail"]) if r["detail"] else None}
                for r in rows.iter_rows(named=True)]


def _notice(tmp_path: Path) -> Path:
    """A 2027 notice: New Year's Day off, a Sunday made a working day (调休)."""
    path = tmp_path / "notice_2027.csv"
    path.write_text("日期,是否工作日,名称\n2027-01-01,否,元旦\n2027-01-03,是,元旦调休\n",
                    encoding="utf-8")
    return path


# --- calendar -------------------------------------------------------------------------------


def test_cli_calendar_import_writes_one_row_as_the_os_user_with_before_and_after(
        eng, os_user, tmp_path, capsys) -> None:
    rows = Rows(eng)
    assert main(["calendar", "import", str(_notice(tmp_path))]) == 0, capsys.readouterr().err
    (row,) = rows.new()
    assert (row["action"], row["username"], row["role"]) == ("calendar", os_user, "operator")
    d = row["detail"]
    assert d["via"] == "cli" and d["op"] == "import" and d["days"] == 2 and d["changed"] == 2
    assert d["after"] == [{"date": "2027-01-01", "is_workday": False, "name": "元旦"},
                          {"date": "2027-01-03", "is_workday": True, "name": "元旦调休"}]
    assert [b["is_workday"] for b in d["before"]] == [None, None]  # the days were new


def test_cli_calendar_seed_as_a_supervisor_account_and_refused_for_an_analyst(
        eng, os_user, capsys) -> None:
    accounts_store.create_account(eng, "sup-he", "supervisor", PW)
    accounts_store.create_account(eng, "ana-lu", "analyst", PW)
    rows = Rows(eng)
    assert main(["calendar", "seed", "--from", "2025", "--to", "2025",
                 "--actor", "sup-he"]) == 0, capsys.readouterr().err
    assert main(["calendar", "seed", "--from", "2025", "--to", "2025",
                 "--actor", "ana-lu"]) == 2
    assert "--actor ana-lu: role analyst may not edit calendar" in capsys.readouterr().err
    ok, refused = rows.new()
    assert (ok["username"], ok["role"], ok["detail"]["os_user"]) == ("sup-he", "supervisor",
                                                                    os_user)
    assert ok["detail"]["days"] == 365 and ok["detail"]["changed"] == 0  # already official
    assert (refused["username"], refused["detail"]["ok"]) == ("ana-lu", False)


def test_app_calendar_import_and_edit_each_write_one_row_as_the_user(eng, tmp_path,
                                                                      monkeypatch) -> None:
    import polars as pl

    import dashboard.auth
    from dashboard import admin, data

    sup = USERS["supervisor"]
    monkeypatch.setattr(dashboard.auth, "current_user", lambda: sup)
    rows = Rows(eng)
    path = _notice(tmp_path)
    assert admin.import_calendar(path.name, path.read_bytes(), sup) == 2
    (imported,) = rows.new()
    assert (imported["action"], imported["username"], imported["role"]) == \
        ("calendar", "t-supervisor", "supervisor")
    assert imported["detail"]["file"] == "notice_2027.csv" and imported["detail"]["days"] == 2
    rows = Rows(eng)
    days = data.calendar_days(2025)
    original = days.filter(pl.col("date").dt.month() == 5).select(
        "date", "is_workday", "name", "source")
    edited = original.with_columns(
        pl.when(pl.col("date") == dt.date(2025, 5, 6)).then(False)
        .otherwise(pl.col("is_workday")).alias("is_workday"))
    assert admin.save_calendar(edited, original, sup) == 1
    (row,) = rows.new()
    assert (row["action"], row["username"], row["detail"]["op"]) == ("calendar", "t-supervisor",
                                                                     "edit")
    assert row["detail"]["before"] == [{"date": "2025-05-06", "is_workday": True, "name": None}]
    assert row["detail"]["after"] == [{"date": "2025-05-06", "is_workday": False, "name": None}]


def test_settings_change_writes_one_row_with_before_and_after(eng, monkeypatch) -> None:
    from dashboard import admin

    rows = Rows(eng)
    assert admin.save_settings({"warn_days": 3}, USERS["supervisor"]) == {"warn_days": (1, 3)}
    (row,) = rows.new()
    assert (row["action"], row["username"]) == ("settings", "t-supervisor")
    assert row["detail"] == {"before": {"warn_days": 1}, "after": {"warn_days": 3}}


# --- the app's downloads and the bulletin page ------------------------------------------------


@pytest.fixture
def captured_downloads(monkeypatch) -> list[tuple[str, Callable]]:
    """(label-less key, data) of every download button the pages draw."""
    import streamlit.elements.widgets.button as button

    seen: list[tuple[str, Callable]] = []
    original = button.marshall_file

    def spy(coordinates, data, proto, mimetype, file_name=None, **kw):
        seen.append((file_name or "", data))
        return original(coordinates, data, proto, mimetype, file_name, **kw)

    monkeypatch.setattr(button, "marshall_file", spy)
    return seen


def _click_all(seen: list[tuple[str, Callable]], engine, user) -> list[dict]:
    """Call each download's data as the browser's click would; one export row per click."""
    assert seen
    out = []
    for name, data in seen:
        assert callable(data), f"{name}: bytes handed out without an audited callable"
        rows = Rows(engine)
        assert data()
        (row,) = rows.new()
        assert (row["action"], row["username"], row["role"]) == ("export", user.username,
                                                                 user.role), name
        out.append(row)
    return out


def test_case_list_downloads_are_audited_per_click(eng, captured_downloads) -> None:
    at = app_as(USERS["unit_a"]).run()
    at.switch_page(page_path("drilldown")).run()
    for level in ("region", "agency", "item"):
        key = next(d.key for d in at.dataframe if d.key and d.key.startswith(f"drill_{level}_"))
        at.session_state[key] = {"selection": {"rows": [0], "columns": [], "cells": []}}
        at.run()
        assert not at.exception, [e.value for e in at.exception]
    captured_downloads.clear()
    at.run()
    rows = _click_all(captured_downloads, eng, USERS["unit_a"])
    assert sorted(r["detail"]["format"] for r in rows) == ["csv", "xlsx"]
    assert all(r["scope"] == f"region:{COUNTY_A}" and r["detail"]["rows"] > 0 for r in rows)


def test_quarantine_download_is_audited_per_click(eng, captured_downloads) -> None:
    import polars as pl

    from queries.importer import import_frames
    from xiaoneng.demo import generate

    cases = generate(cases=30, seed=2, start=dt.date(2025, 6, 1), end=dt.date(2025, 6, 1))
    bad = cases["cases"].head(3).with_columns(  # unknown items: quarantined
        item_code=pl.lit("no-such-item"), case_id=pl.format("QX{}", pl.int_range(3)))
    assert import_frames(eng, {"cases": bad}, source="test", progress=False).quarantined == 3
    at = app_as(USERS["analyst"]).run()
    at.switch_page(page_path("data_admin")).run()
    assert not at.exception, [e.value for e in at.exception]
    (row,) = _click_all([d for d in captured_downloads if d[0] == "quarantine.csv"], eng,
                        USERS["analyst"])
    assert row["detail"]["what"] == "quarantine" and row["detail"]["rows"] >= 3


def test_bulletin_preview_downloads_and_publish_each_write_one_row(eng, captured_downloads
                                                                   ) -> None:
    at = app_as(USERS["supervisor"]).run()
    at.switch_page(page_path("bulletin")).run()
    rows = Rows(eng)
    next(b for b in at.button if b.label == "生成预览").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (preview,) = rows.new()
    assert (preview["action"], preview["username"]) == ("preview", "t-supervisor")
    assert preview["detail"]["bulletin_scope"].startswith("city:")
    at.run()  # a rerun that shows the same preview writes nothing more
    assert rows.new() == [preview]
    next(b for b in at.button if b.label.startswith("生成文件")).click().run()
    captured_downloads.clear()
    at.run()
    files = _click_all(captured_downloads, eng, USERS["supervisor"])
    assert sorted(r["detail"]["format"] for r in files) == ["docx", "pdf", "xlsx"]
    assert {r["detail"]["what"] for r in files} == {"bulletin:preview"}
    rows = Rows(eng)
    next(b for b in at.button if b.label == "发布").click().run()
    assert not at.exception, [e.value for e in at.exception]
    (published,) = rows.new()
    assert (published["action"], published["username"]) == ("publish", "t-supervisor")
    captured_downloads.clear()
    at.run()
    stored = _click_all(captured_downloads[-3:], eng, USERS["supervisor"])  # the history's
    assert {(r["detail"]["what"], r["detail"]["version"]) for r in stored} == {("bulletin", 1)}


def test_a_county_supervisor_publishes_only_its_county_in_the_app(eng) -> None:
    from xiaoneng.authz import User

    county_sup = User("t-county-sup", "supervisor", regions=(COUNTY_A,), method="test")
    at = app_as(county_sup).run()
    at.switch_page(page_path("bulletin")).run()
    next(b for b in at.button if b.label == "生成预览").click().run()
    assert not any(b.label == "发布" for b in at.button)  # the city bulletin: not theirs
    at.selectbox[1].set_value("county").run()
    at.selectbox[2].set_value(COUNTY_A).run()
    next(b for b in at.button if b.label == "生成预览").click().run()
    assert any(b.label == "发布" for b in at.button)
    at.selectbox[2].set_value(COUNTY_B).run()
    next(b for b in at.button if b.label == "生成预览").click().run()
    assert not any(b.label == "发布" for b in at.button)


# --- the bulletin from the command line -------------------------------------------------------


@pytest.fixture
def publishers(eng) -> None:
    accounts_store.create_account(eng, "city-sup", "supervisor", PW)
    accounts_store.create_account(eng, "a-sup", "supervisor", PW, regions=[COUNTY_A])
    accounts_store.create_account(eng, "b-unit", "unit", PW, regions=[COUNTY_B])


def _report(tmp_path: Path, scope: str, *extra: str) -> int:
    out = tmp_path / f"out_{len(list(tmp_path.iterdir()))}"
    out.mkdir()
    return main(["report", "--month", "2025-05", "--scope", scope, "--format", "xlsx",
                 "--out", str(out), *extra])


@pytest.mark.parametrize("user, scope, reason", [
    ("b-unit", f"county:{COUNTY_B}", "role unit may not publish bulletin"),
    ("a-sup", f"county:{COUNTY_B}", "publishes only its own counties' bulletins"),
    ("a-sup", "city", "publishes only its own counties' bulletins"),
    ("someone", "city", "unknown account"),
])
def test_cli_publish_refuses_a_publisher_without_the_role_or_scope(
        eng, publishers, os_user, tmp_path, capsys, user, scope, reason) -> None:
    rows = Rows(eng)
    assert _report(tmp_path, scope, "--publish", "--user", user) == 2
    err = capsys.readouterr().err
    assert reason in err and err.count("\n") == 1
    (row,) = rows.new()
    assert (row["action"], row["username"], row["detail"]["ok"]) == ("publish", user, False)
    with eng.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM bulletin_versions")).scalar_one() == 0


@pytest.mark.parametrize("user, scope", [
    ("a-sup", f"county:{COUNTY_A}"), ("city-sup", f"county:{COUNTY_B}"), ("city-sup", "city"),
    (None, "city"),
])
def test_cli_publish_by_the_countys_or_the_citys_supervisor_or_the_os_user(
        eng, publishers, os_user, tmp_path, capsys, user, scope) -> None:
    rows = Rows(eng)
    extra = ["--user", user] if user else []
    assert _report(tmp_path, scope, "--publish", *extra) == 0, capsys.readouterr().err
    (row,) = rows.new()
    assert (row["action"], row["username"]) == ("publish", user or os_user)
    assert row["role"] == ("supervisor" if user else "operator")
    assert row["detail"]["os_user"] == os_user and row["detail"]["version"] == 1


def test_cli_preview_writes_one_row_as_the_os_user(eng, os_user, tmp_path, capsys) -> None:
    rows = Rows(eng)
    assert _report(tmp_path, "city") == 0, capsys.readouterr().err
    (row,) = rows.new()
    assert (row["action"], row["username"], row["role"]) == ("preview", os_user, "operator")
    assert row["detail"]["formats"] == ["xlsx"] and row["detail"]["via"] == "cli"
    assert _report(tmp_path, "city", "--user", "city-sup") == 2  # --user goes with --publish


def test_cli_stats_from_the_database_writes_one_export_row(eng, os_user, tmp_path,
                                                          capsys) -> None:
    rows = Rows(eng)
    out = tmp_path / "lagging.csv"
    assert main(["stats", "lagging", "--format", "csv", "--out", str(out)]) == 0, \
        capsys.readouterr().err
    (row,) = rows.new()
    assert (row["action"], row["username"], row["role"]) == ("export", os_user, "operator")
    assert row["detail"]["what"] == "stats:lagging" and row["detail"]["out"] == str(out)
