"""Fault tests on a real PostgreSQL: a job or an import whose server connection is cut mid-write
leaves the database exactly as before, and everything works again afterwards.

The shared server is never stopped. Instead, at a chosen point inside the write transaction the
test looks up the backend pid of the connection doing the work and, from a second connection,
calls `pg_terminate_backend` on it — what the server side of a crash, a restart or a network cut
looks like to the client. The data tables are then compared with their checksums from before.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

pytestmark = pytest.mark.postgres

AS_OF = dt.datetime(2025, 6, 30, 18)
# bookkeeping tables that record the failed attempt (by design); everything else must not move
BOOKKEEPING = {"job_runs", "load_runs", "audit_log", "alembic_version"}


def _seed(engine) -> None:
    from metrics.jobs import run_compute
    from queries.calendar import seed_official
    from queries.importer import import_frames
    from xiaoneng.demo import generate

    seed_official(engine, 2024, 2026)
    tables = generate(cases=3000, seed=1, start=dt.date(2025, 1, 1), end=dt.date(2025, 6, 1))
    import_frames(engine, tables, source="seed", progress=False)
    run_compute(engine, None, as_of=AS_OF)


def more_cases(cases: int = 2000):
    """A second generated city whose ids do not collide with `_seed`'s: the generator numbers
    cases the same way for every seed, and the same id with another agency and submission
    time is a key conflict (quarantined), not an update."""
    import polars as pl

    from xiaoneng.demo import generate

    tables = generate(cases=cases, seed=7, start=dt.date(2025, 1, 1), end=dt.date(2025, 6, 1))
    ids = [pl.concat_str([pl.lit("M"), pl.col(c)]).alias(c) for c in ("case_id", "review_id")]
    for name in ("cases", "suspensions", "reviews"):
        frame = tables[name]
        tables[name] = frame.with_columns([e for e in ids if e.meta.output_name() in frame.columns])
    return tables


def _checksums(engine) -> dict[str, tuple[int, str]]:
    out = {}
    with engine.connect() as conn:
        names = conn.execute(sa.text(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).scalars()
        for name in names:
            if name in BOOKKEEPING:
                continue
            row = conn.execute(sa.text(
                f'SELECT count(*), coalesce(md5(string_agg(t::text, \'|\' ORDER BY t::text)), '
                f"'') FROM \"{name}\" t")).one()
            out[name] = (int(row[0]), row[1])
    return out


def _terminate(pg_url: str, conn) -> int:
    """Kill the server backend of `conn` from a second connection; its pid."""
    pid = conn.execute(sa.text("SELECT pg_backend_pid()")).scalar_one()
    killer = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with killer.connect() as k:
        assert k.execute(sa.text("SELECT pg_terminate_backend(:p)"), {"p": pid}).scalar_one()
    killer.dispose()
    return pid


def test_job_cut_off_mid_write_leaves_the_previous_facts(pg_url, pg_engine, monkeypatch) -> None:
    from metrics.jobs import run_compute
    from queries import facts_store

    _seed(pg_engine)
    before = _checksums(pg_engine)
    assert before["case_facts"][0] > 0
    original = facts_store._insert
    calls = {"n": 0}

    def insert_then_die(conn, table, df):
        calls["n"] += 1
        written = original(conn, table, df)  # the old months are deleted, new rows written…
        if calls["n"] == 2:
            _terminate(pg_url, conn)  # …then the server connection goes away mid-transaction
        return written

    monkeypatch.setattr(facts_store, "_insert", insert_then_die)
    with pytest.raises(Exception):  # noqa: B017  (whatever the driver raises)
        run_compute(pg_engine, None, as_of=AS_OF + dt.timedelta(days=1))
    assert calls["n"] == 2
    monkeypatch.setattr(facts_store, "_insert", original)
    # no half month: every data table is exactly as before
    assert _checksums(pg_engine) == before
    with pg_engine.connect() as conn:
        status = conn.execute(sa.text(
            "SELECT status FROM job_runs ORDER BY started_at DESC LIMIT 1")).scalar_one()
    assert status == "failed"
    # recovery: the same engine (stale pooled connection) and a fresh one both work again
    run_compute(pg_engine, None, as_of=AS_OF)
    assert _checksums(pg_engine)["case_facts"] == before["case_facts"]


def test_import_cut_off_mid_file_loads_nothing(pg_url, pg_engine, monkeypatch) -> None:
    from queries.errors import XiaonengError
    from queries.importer import import_frames, load

    _seed(pg_engine)
    before = _checksums(pg_engine)
    more = more_cases()
    original = load._run_batch
    calls = {"n": 0}

    def batch_then_die(conn, *args, **kwargs):
        calls["n"] += 1
        out = original(conn, *args, **kwargs)
        if calls["n"] == 3:  # regions, agencies and a first batch are in the transaction
            _terminate(pg_url, conn)
        return out

    monkeypatch.setattr(load, "_run_batch", batch_then_die)
    with pytest.raises(XiaonengError, match="rolled back"):
        import_frames(pg_engine, more, source="killed", progress=False)
    monkeypatch.setattr(load, "_run_batch", original)
    assert _checksums(pg_engine) == before
    with pg_engine.connect() as conn:
        status = conn.execute(sa.text(
            "SELECT status FROM load_runs WHERE source = 'killed'")).scalar_one()
    assert status == "failed"
    # recovery: the same import goes through in full afterwards
    report = import_frames(pg_engine, more, source="again", progress=False)
    assert report.ok
    assert _checksums(pg_engine)["cases"] != before["cases"]  # the new cases are in


def test_app_shows_retry_then_recovers_when_the_database_is_back(pg_url, pg_engine,
                                                                  monkeypatch) -> None:
    from streamlit.testing.v1 import AppTest

    from dashboard import data
    from dashboard.auth import USER_KEY
    from tests.app.conftest import ENTRY
    from xiaoneng.authz import User

    _seed(pg_engine)
    data.invalidate()
    monkeypatch.delenv("XIAONENG_DEMO", raising=False)
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://postgres@127.0.0.1:1/gone")
    at = AppTest.from_file(ENTRY, default_timeout=120)
    at.session_state[USER_KEY] = User("t-leader", "leader", method="test")
    at.run()
    assert not at.exception
    assert at.error and "无法连接数据库" in at.error[0].value
    assert "Traceback" not in at.error[0].value
    monkeypatch.setenv("DATABASE_URL", pg_url)  # the server is back
    at.button(key="db_retry").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.title[0].value == "总览"
    assert any(m.label == "受理量" for m in at.metric)
