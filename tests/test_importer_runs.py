"""Runs that fail or die: the first error is the one reported; a run killed mid-way is shown as
`interrupted` at the next start (never `running` forever); compute never expands a month range
from an implausible date loaded before the importer checked dates."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from metrics.jobs import run_compute
from queries import audit, bulk, facts_store, run_liveness, schema
from queries.case_sources import plausible_bounds
from queries.errors import XiaonengError
from queries.importer import import_paths
from tests.test_importer_helpers import BASE, CORPUS, count

ROOT = Path(__file__).resolve().parents[1]


def test_a_failing_statement_reports_the_first_error_not_the_cleanup(any_engine, monkeypatch):
    """On PostgreSQL a failed statement aborts the transaction: a staging-table DROP after it
    used to fail too and replace the real error with "current transaction is aborted"."""
    import_paths(any_engine, [BASE], progress=False)

    def broken_merge(conn, *args, **kwargs):
        conn.exec_driver_sql("SELECT * FROM no_such_table_18")

    monkeypatch.setattr(bulk, "_merge_stage", broken_merge)
    monkeypatch.setattr(bulk, "_sqlite_upsert", lambda conn, *a, **k: broken_merge(conn))
    hook = audit.hook("tester", "import", role="supervisor", scope="all")
    with pytest.raises(XiaonengError) as err:
        import_paths(any_engine, [CORPUS / "gbk" / "cases.csv"], progress=False, audit=hook)
    message = str(err.value)
    assert "no_such_table_18" in message and "current transaction is aborted" not in message
    assert "\n" not in message
    lr = schema.load_runs
    with any_engine.connect() as conn:
        error = conn.execute(sa.select(lr.c.error).where(lr.c.status == "failed")).scalar_one()
        detail = conn.execute(sa.select(audit.audit_log.c.detail)).scalar_one()
    assert "no_such_table_18" in error and "aborted" not in error
    assert detail["ok"] is False and "no_such_table_18" in detail["error"]


CHILD = textwrap.dedent("""
    import pathlib, sys, time
    from queries.engine import make_engine
    from queries.importer import import_paths, load
    url, marker, *paths = sys.argv[1:]
    original = load._run_batch
    def batch_then_wait(conn, *args, **kwargs):
        out = original(conn, *args, **kwargs)
        pathlib.Path(marker).write_text("inside the load's transaction")
        time.sleep(600)
        return out
    load._run_batch = batch_then_wait
    import_paths(make_engine(url), [pathlib.Path(p) for p in paths], progress=False)
""")


def _url(engine: sa.Engine) -> str:
    return engine.url.render_as_string(hide_password=False)


def test_a_load_killed_mid_way_is_interrupted_at_the_next_start(any_engine, tmp_path):
    marker = tmp_path / "marker"
    child = subprocess.Popen([sys.executable, "-c", CHILD, _url(any_engine), str(marker),
                              str(BASE), str(CORPUS / "gbk" / "cases.csv")], cwd=ROOT)
    try:
        deadline = time.monotonic() + 90
        while not marker.exists():
            assert child.poll() is None and time.monotonic() < deadline, "the child never loaded"
            time.sleep(0.1)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    lr = schema.load_runs
    with any_engine.connect() as conn:
        (killed,) = conn.execute(sa.select(lr.c.load_id).where(lr.c.status == "running")).one()
    # the next start looks (PostgreSQL may take a moment to notice the dead connection)
    deadline = time.monotonic() + 20
    while killed not in run_liveness.mark_interrupted(any_engine):
        assert time.monotonic() < deadline, "the killed load is still `running`"
        time.sleep(0.2)
    report = import_paths(any_engine, [BASE], progress=False)
    with any_engine.connect() as conn:
        status, error = conn.execute(sa.select(lr.c.status, lr.c.error)
                                     .where(lr.c.load_id == killed)).one()
    assert status == "interrupted" and "killed or crashed" in error
    assert report.ok and count(any_engine, "cases") == 0  # nothing of the killed load stayed


def _dead_pid() -> int:
    done = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    return int(done.stdout)


def _job_row(run_id: str, holder: str | None) -> dict:
    now = dt.datetime(2025, 6, 30, 18)
    return dict(run_id=run_id, started_at=now, as_of=now, months="2025-06..2025-06",
                status="running", holder=holder)


def test_a_job_of_a_dead_process_is_interrupted_and_a_live_one_is_not(any_engine):
    dead, live = str(uuid.uuid4()), str(uuid.uuid4())
    host = run_liveness.holder_token().rsplit(":", 2)[0]
    with any_engine.begin() as conn:
        conn.execute(schema.job_runs.insert().values(**_job_row(dead, f"{host}:{_dead_pid()}:-")))
    holder = run_liveness.hold(any_engine, live)  # this process, running (lock held on PG)
    try:
        with any_engine.begin() as conn:
            conn.execute(schema.job_runs.insert().values(**_job_row(live, holder)))
        # a new job's start looks at the runs left `running`
        new = str(uuid.uuid4())
        facts_store.start_run(any_engine, {k: v for k, v in _job_row(new, None).items()
                                           if k != "holder"})
        facts_store.finish_run(any_engine, new, status="ok")
        jr = schema.job_runs
        with any_engine.connect() as conn:
            status = dict(conn.execute(sa.select(jr.c.run_id, jr.c.status)).all())
        assert status[dead] == "interrupted" and status[live] == "running"
    finally:
        run_liveness.release(live)


def test_compute_refuses_a_year_0024_loaded_before_dates_were_checked(any_engine):
    import_paths(any_engine, [BASE], progress=False)
    with any_engine.begin() as conn:  # as an older importer let it in
        conn.execute(schema.cases.insert().values(
            case_id="OLD-1", item_code="I1", agency_code="A1", channel="window",
            applicant_type="person", submitted_at=dt.datetime(24, 1, 2, 6, 7),
            accepted_at=dt.datetime(24, 1, 2, 6, 7), status="in_progress", limit_unit="working",
            full_online=False, cross_region=False))
    t0 = time.perf_counter()
    with pytest.raises(XiaonengError) as err:
        run_compute(any_engine, None, as_of=dt.datetime(2025, 6, 30))
    assert time.perf_counter() - t0 < 30
    message = str(err.value)
    assert "1 case(s) were accepted before 1990-01-01" in message and "OLD-1" in message
    assert "\n" not in message


def test_slice_plans_stay_inside_the_plausible_years():
    today = dt.date.today()
    assert plausible_bounds(dt.date(24, 1, 2), dt.date(9999, 12, 31)) == (
        dt.date(1990, 1, 1), today.replace(day=1))
    assert plausible_bounds(dt.date(2024, 3, 5), dt.date(2025, 6, 30)) == (
        dt.date(2024, 3, 1), dt.date(2025, 6, 1))


def test_a_run_recorded_before_holders_is_interrupted(sqlite_engine):
    with sqlite_engine.begin() as conn:
        conn.execute(schema.load_runs.insert().values(
            load_id="old", started_at=dt.datetime(2026, 1, 1), source="x", status="running"))
    assert run_liveness.mark_interrupted(sqlite_engine) == ["old"]


def test_holder_tokens_tell_a_live_process_from_a_dead_one():
    assert run_liveness._alive_locally(run_liveness.holder_token()) is True
    host = run_liveness.holder_token().rsplit(":", 2)[0]
    assert run_liveness._alive_locally(f"{host}:{_dead_pid()}:-") is False
    assert run_liveness._alive_locally(f"elsewhere/abc:{os.getpid()}:1") is None
