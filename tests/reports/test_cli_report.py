"""`xiaoneng report`: files written, user errors as one line, the working-day check."""

from __future__ import annotations

import datetime as dt

import pytest

from queries.calendar import seed_official
from xiaoneng.cli import main
from xiaoneng.cli_report import nth_workday_of_month, resolve_month


def test_report_writes_the_requested_files(demo_db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{demo_db}")
    rc = main(["report", "--month", "2025-05", "--scope", "county:331221", "--format",
               "docx,xlsx", "--out", str(tmp_path)])
    assert rc == 0
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == ["月度通报_county-331221_2025-05.docx", "月度通报_county-331221_2025-05.xlsx"]
    assert "not published" in capsys.readouterr().out


@pytest.mark.parametrize("args, message", [
    (["--month", "2025-13"], "YYYY-MM"),
    (["--month", "2025-05", "--scope", "county:nope"], "unknown region code"),
    (["--month", "2025-05", "--format", "doc"], "--format"),
    (["--month", "2030-01"], "no metric facts"),
])
def test_report_user_errors_are_one_line(demo_db, tmp_path, monkeypatch, capsys, args, message):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{demo_db}")
    assert main(["report", *args, "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert message in err and "\n" not in err


def test_previous_month():
    assert resolve_month("previous", dt.date(2026, 1, 15)) == dt.date(2025, 12, 1)
    assert resolve_month("2025-03") == dt.date(2025, 3, 1)


def test_nth_working_day_counts_holidays_and_make_up_days(sqlite_engine):
    seed_official(sqlite_engine, 2025, 2025)
    # October 2025: 1–8 National Day/Mid-autumn, Saturday 11 October is a 调休 working day
    assert nth_workday_of_month(sqlite_engine, dt.date(2025, 10, 8)) is None
    assert nth_workday_of_month(sqlite_engine, dt.date(2025, 10, 9)) == 1
    assert nth_workday_of_month(sqlite_engine, dt.date(2025, 10, 11)) == 3
    assert nth_workday_of_month(sqlite_engine, dt.date(2025, 10, 12)) is None
