"""Migration 0008 on a database with data: stored suspensions get the key the importer makes
(start to the second and reason), so a re-import of the same file after the upgrade finds
them unchanged; and it goes back down to 0007 keeping one suspension per (case, start)."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from queries.engine import make_engine
from queries.importer import import_paths
from queries.migrate import current_revision, upgrade
from tests.test_importer_helpers import BASE, write


@pytest.fixture(params=["sqlite", "postgres"])
def url(request) -> str:
    return request.getfixturevalue("sqlite_url" if request.param == "sqlite" else "pg_url")


def test_stored_suspensions_are_keyed_like_new_ones_and_reimport_is_unchanged(url, tmp_path):
    from alembic import command

    from queries.migrate import alembic_config

    engine = make_engine(url)
    upgrade(engine, "0007")
    cases = write(tmp_path / "cases.csv", (
        "case_id,item_code,agency_code,channel,applicant_type,submitted_at,accepted_at,status,"
        "limit_unit\nC1,I1,A1,window,person,2025-06-03 09:00,2025-06-03 10:00,in_progress,"
        "working\n"))
    old = sa.table("suspensions", sa.column("case_id", sa.Text()),
                   sa.column("started_at", sa.DateTime()), sa.column("ended_at", sa.DateTime()),
                   sa.column("reason", sa.Text()))
    with engine.begin() as conn:  # what 0007 held: two suspensions of C1, keyed by start
        conn.execute(old.insert(), [
            {"case_id": "C1", "started_at": dt.datetime(2025, 6, 4, 9, 30),
             "ended_at": dt.datetime(2025, 6, 5), "reason": "inspection"},
            {"case_id": "C1", "started_at": dt.datetime(2025, 6, 9), "ended_at": None,
             "reason": "correction"}])
    upgrade(engine, "0008")
    assert current_revision(engine) == "0008"
    with engine.connect() as conn:
        keys = conn.execute(sa.text("SELECT suspension_key FROM suspensions ORDER BY 1")
                            ).scalars().all()
    assert keys == ["2025-06-04 09:30:00/inspection", "2025-06-09 00:00:00/correction"]
    upgrade(engine)  # the importer writes the columns of later revisions too

    susp = write(tmp_path / "suspensions.csv", "case_id,started_at,ended_at,reason\n"
                 "C1,2025-06-04 09:30,2025-06-05,检验\nC1,2025-06-09,,补正\n")
    report = import_paths(engine, [BASE, cases, susp], progress=False)
    s = report.tables["suspensions"]
    assert (s.inserted, s.updated, s.unchanged) == (0, 0, 2)

    # a parallel suspension (same start, another reason) cannot go back to a (case, start) key:
    # the downgrade keeps the longer one
    more = write(tmp_path / "more" / "suspensions.csv", "case_id,started_at,ended_at,reason\n"
                 "C1,2025-06-04 09:30,2025-06-06,专家评审\n")
    import_paths(engine, [more], progress=False)
    command.downgrade(alembic_config(engine), "0007")
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT started_at, ended_at, reason FROM suspensions ORDER BY started_at")).all()
    assert [(str(r[0])[:16], str(r[1])[:10] if r[1] else None, r[2]) for r in rows] == [
        ("2025-06-04 09:30", "2025-06-06", "expert_review"), ("2025-06-09 00:00", None,
                                                              "correction")]
    engine.dispose()
