"""Audit rows of imports and job runs share the transaction of the act, on a real PostgreSQL.

An act whose audit row cannot be written does not happen (the data rolls back), and an act that
rolls back leaves no "ok" audit row — only the separately recorded failed attempt. The audit
write is made to fail by a trigger on `audit_log` (a real server-side error on the INSERT); the
act is made to fail after its audit row was written by cutting the server connection
(`pg_terminate_backend`, as in test_faults_pg).
"""

from __future__ import annotations

import datetime as dt
import inspect
import json

import pytest
import sqlalchemy as sa

from tests.security.test_faults_pg import AS_OF, _checksums, _seed, _terminate

pytestmark = pytest.mark.postgres


def _refuse_ok_audit_rows(engine, action: str) -> None:
    """Make the server reject every successful `action` audit row (failed attempts still go in)."""
    with engine.begin() as conn:
        conn.execute(sa.text("""
            CREATE FUNCTION xn_fail_audit() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
              IF NEW.action = TG_ARGV[0] AND (NEW.detail ->> 'ok') = 'true' THEN
                RAISE EXCEPTION 'audit write refused (test fault)';
              END IF;
              RETURN NEW;
            END $$"""))
        conn.execute(sa.text(
            "CREATE TRIGGER xn_fail_audit BEFORE INSERT ON audit_log FOR EACH ROW "
            f"EXECUTE FUNCTION xn_fail_audit('{action}')"))


def _audit_rows(engine, action: str) -> list[dict]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text(
            "SELECT username, detail::text AS detail FROM audit_log WHERE action = :a "
            "ORDER BY id"), {"a": action}).all()
    return [{"username": r.username, **json.loads(r.detail)} for r in rows]


def _more_cases():
    from tests.security.test_faults_pg import more_cases

    return more_cases()


def _import_hook():
    from queries import audit

    return audit.hook("t-supervisor", "import", role="supervisor", scope="all",
                      detail={"file": "more.csv"})


def test_import_whose_audit_write_fails_loads_nothing(pg_engine) -> None:
    from queries.errors import XiaonengError
    from queries.importer import import_frames

    _seed(pg_engine)
    before = _checksums(pg_engine)
    _refuse_ok_audit_rows(pg_engine, "import")
    with pytest.raises(XiaonengError, match="rolled back"):
        import_frames(pg_engine, _more_cases(), source="unaudited", progress=False,
                      audit=_import_hook())
    assert _checksums(pg_engine) == before  # nothing loaded
    with pg_engine.connect() as conn:
        status = conn.execute(sa.text(
            "SELECT status FROM load_runs WHERE source = 'unaudited'")).scalar_one()
    assert status == "failed"
    rows = _audit_rows(pg_engine, "import")
    assert len(rows) == 1 and rows[0]["ok"] is False  # the failed attempt, recorded afterwards
    assert "audit write refused" in rows[0]["error"]


def test_import_cut_off_after_its_audit_row_leaves_no_ok_row_and_no_data(pg_url, pg_engine
                                                                         ) -> None:
    from queries.errors import XiaonengError
    from queries.importer import import_frames

    _seed(pg_engine)
    before = _checksums(pg_engine)
    hook = _import_hook()
    calls = {"n": 0}

    def audit_then_die(conn, outcome):
        hook(conn, outcome)  # the audit row is in the transaction…
        if outcome["ok"]:  # (the failed attempt is recorded with the same hook afterwards)
            calls["n"] += 1
            _terminate(pg_url, conn)  # …then the server connection goes away before the commit

    with pytest.raises(XiaonengError, match="rolled back"):
        import_frames(pg_engine, _more_cases(), source="killed", progress=False,
                      audit=audit_then_die)
    assert calls["n"] == 1
    assert _checksums(pg_engine) == before
    rows = _audit_rows(pg_engine, "import")
    assert not [r for r in rows if r["ok"] is True]
    assert [r["ok"] for r in rows] == [False]


def test_audited_import_commits_data_and_row_together(pg_engine) -> None:
    from queries.importer import import_frames

    _seed(pg_engine)
    before = _checksums(pg_engine)
    report = import_frames(pg_engine, _more_cases(), source="audited", progress=False,
                           audit=_import_hook())
    assert report.ok and _checksums(pg_engine)["cases"] != before["cases"]
    (row,) = _audit_rows(pg_engine, "import")
    assert row["ok"] is True and row["username"] == "t-supervisor"
    assert row["load_id"] == report.load_id and row["loaded"] == report.loaded
    assert row["read"] == report.read and row["file"] == "more.csv"


def _job_hook():
    from queries import audit

    return audit.hook("t-supervisor", "job_run", role="supervisor", scope="all",
                      detail={"months": "all"})


def _run_job_with(engine, hook, monkeypatch) -> None:
    """run_compute with `hook` as the audit of its facts transaction.

    Until metrics.jobs.run_compute takes `audit=` itself, the hook is handed to
    facts_store.replace_months the way run_compute will pass it on.
    """
    from metrics.jobs import run_compute
    from queries import facts_store

    as_of = AS_OF + dt.timedelta(days=1)
    if "audit" in inspect.signature(run_compute).parameters:
        run_compute(engine, None, as_of=as_of, audit=hook)
        return
    original = facts_store.replace_months

    def with_hook(*args, **kwargs):
        return original(*args, **{**kwargs, "audit": hook})

    monkeypatch.setattr(facts_store, "replace_months", with_hook)
    run_compute(engine, None, as_of=as_of)


def test_job_whose_audit_write_fails_keeps_the_previous_facts(pg_engine, monkeypatch) -> None:
    _seed(pg_engine)
    before = _checksums(pg_engine)
    _refuse_ok_audit_rows(pg_engine, "job_run")
    with pytest.raises(sa.exc.DBAPIError, match="audit write refused"):
        _run_job_with(pg_engine, _job_hook(), monkeypatch)
    assert _checksums(pg_engine) == before  # no facts replaced
    assert _audit_rows(pg_engine, "job_run") == []


def test_job_cut_off_after_its_audit_row_leaves_no_row_and_the_previous_facts(
        pg_url, pg_engine, monkeypatch) -> None:
    _seed(pg_engine)
    before = _checksums(pg_engine)
    hook = _job_hook()

    def audit_then_die(conn, outcome):
        hook(conn, outcome)
        assert outcome["written"]["case_facts"] > 0  # the new facts are written, uncommitted
        _terminate(pg_url, conn)

    with pytest.raises(Exception):  # noqa: B017  (whatever the driver raises)
        _run_job_with(pg_engine, audit_then_die, monkeypatch)
    assert _checksums(pg_engine) == before
    assert _audit_rows(pg_engine, "job_run") == []


def test_dashboard_job_run_audit_is_in_the_facts_transaction(pg_engine) -> None:
    """The run-a-job action (and `xiaoneng compute`) through run_compute_audited."""
    from metrics.settings import Settings
    from xiaoneng.cli_compute import run_compute_audited

    _seed(pg_engine)
    before = _checksums(pg_engine)
    _refuse_ok_audit_rows(pg_engine, "job_run")
    with pytest.raises(sa.exc.DBAPIError):
        run_compute_audited(pg_engine, None, as_of=AS_OF + dt.timedelta(days=1),
                            settings=Settings(), username="t-supervisor", role="supervisor")
    assert _checksums(pg_engine) == before
    rows = _audit_rows(pg_engine, "job_run")
    assert [r["ok"] for r in rows] == [False]
