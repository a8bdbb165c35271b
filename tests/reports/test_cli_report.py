"""`xiaoneng report`: files written, user errors as one line, the working-day check."""

from __future__ import annotations

import datetime as dt

import pytest

from queries.calendar import seed_official
from xiaoneng.cli import main
from xiaoneng.cli_report import nth_workday_of_month, resolve_month


def test_publish_pdf_then_docx_and_pdf_returns_the_stored_files(demo_db, tmp_path, monkeypatch,
                                                             capsys, report_tools):
    """The scenario of issue 19: the second request used to fail with KeyError: 'docx'."""
    import shutil

    db = tmp_path / "copy.db"
    shutil.copy(demo_db, db)
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{db}")
    out1, out2 = tmp_path / "a", tmp_path / "b"
    out1.mkdir()
    out2.mkdir()
    args = ["report", "--month", "2025-05", "--publish", "--issued-on", "2025-06-03"]
    assert main([*args, "--format", "pdf", "--out", str(out1)]) == 0
    assert main([*args, "--format", "docx,pdf", "--out", str(out2)]) == 0
    assert "unchanged since version 1" in capsys.readouterr().out
    assert sorted(p.name for p in out2.iterdir()) == [
        "月度通报_city-331200_2025-05_v1.docx", "月度通报_city-331200_2025-05_v1.pdf"]
    assert (out1 / "月度通报_city-331200_2025-05_v1.pdf").read_bytes() == \
        (out2 / "月度通报_city-331200_2025-05_v1.pdf").read_bytes()


def test_report_builds_the_quarterly_assessment(demo_db, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{demo_db}")
    assert main(["report", "--month", "2025-05", "--period", "quarter", "--format", "xlsx",
                 "--out", str(tmp_path)]) == 0
    assert [p.name for p in tmp_path.iterdir()] == ["季度考核通报_city-331200_2025-06.xlsx"]
    assert "关于2025年第二季度全市政务服务效能考核情况的通报" in capsys.readouterr().out


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
    (["--month", "2025-05", "--issued-on", "June"], "--issued-on"),
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
