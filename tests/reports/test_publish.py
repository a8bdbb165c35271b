"""Publishing freezes a version; late data changes the next version, never the published one."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from metrics.bulletin import Bulletin, parse_scope
from metrics.jobs import run_compute
from queries import bulletin_store as store
from queries import schema
from reports.publish import publish_bulletin
from tests.reports.conftest import AS_OF, MONTH

FORMATS = ["docx", "xlsx", "pdf"]


def _add_late_cases(engine: sa.Engine, n: int) -> None:
    """Copy n cases accepted in MONTH under new ids, as if reported late."""
    c = schema.cases
    start = dt.datetime.combine(MONTH, dt.time())
    with engine.begin() as conn:
        rows = conn.execute(sa.select(c).where(c.c.accepted_at >= start,
                                               c.c.accepted_at < start + dt.timedelta(days=28))
                            .order_by(c.c.case_id).limit(n)).mappings().all()
        conn.execute(c.insert(), [{**r, "case_id": f"LATE-{i}"} for i, r in enumerate(rows)])


def _stored(engine: sa.Engine, version: int) -> tuple[str, dict[str, str]]:
    scope = parse_scope(engine, "city")
    row = store.get_version(engine, MONTH, scope.key, version)
    files = store.load_files(engine, row["id"])
    return row["bulletin"], {k: hashlib.sha256(f.data).hexdigest() for k, f in files.items()}


def test_published_version_survives_late_data_and_next_publish_reports_it(demo_copy, report_tools):
    engine = demo_copy
    scope = parse_scope(engine, "city")
    v1 = publish_bulletin(engine, MONTH, scope, FORMATS, created_by="test")
    assert (v1.version, v1.unchanged, v1.diff) == (1, False, None)
    assert set(v1.files) == {"docx", "xlsx", "pdf", "facts"}
    before = _stored(engine, 1)
    assert before[1] == {k: f.sha256 for k, f in v1.files.items()}

    again = publish_bulletin(engine, MONTH, scope, FORMATS)
    assert again.unchanged and again.version == 1  # same content: no new version

    _add_late_cases(engine, 40)
    run_compute(engine, None, as_of=AS_OF)

    assert _stored(engine, 1) == before  # byte-identical after the jobs ran again
    frozen = Bulletin.from_json(before[0])
    assert frozen.content_hash == v1.bulletin.content_hash

    v2 = publish_bulletin(engine, MONTH, scope, FORMATS)
    assert (v2.version, v2.unchanged) == (2, False)
    accepted = [c for c in v2.diff["changes"]
                if c["table"] == "表1 总体情况" and c["row"] == "受理量" and c["column"] == "本月"]
    assert accepted and accepted[0]["new"] - accepted[0]["old"] == 40
    assert "处数字变化" in v2.diff["summary"]
    history = store.list_versions(engine, MONTH, scope.key)
    assert [h["version"] for h in history] == [2, 1]
    assert history[0]["diff"]["new_hash"] == v2.bulletin.content_hash


def test_interview_rule_uses_last_months_published_list(demo_copy):
    engine = demo_copy
    scope = parse_scope(engine, "city")
    april = publish_bulletin(engine, dt.date(2025, 4, 1), scope, [])
    may = publish_bulletin(engine, MONTH, scope, [])
    april_bottom = {(u.level, u.code) for u in april.bulletin.criticism}
    for u in may.bulletin.criticism:
        assert u.interview == ((u.level, u.code) in april_bottom)
    assert "已发布通报第1版" in may.bulletin.table("praise_criticism").note


def test_migration_creates_the_store_tables_as_declared(any_engine):
    with any_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                 schema.metadata)
    ours = [d for d in diffs if "bulletin" in repr(d)]
    assert ours == []
    insp = sa.inspect(any_engine)
    assert {"bulletin_versions", "bulletin_files"} <= set(insp.get_table_names())
    assert store.bulletin_versions.name in schema.metadata.tables


def test_a_publication_and_its_audit_row_commit_together(demo_copy):
    """The audit row is written in the version's transaction: when it cannot be written, no
    version is published; when it is, it names the version stored."""
    import pytest

    from queries import audit

    engine = demo_copy
    scope = parse_scope(engine, "city")

    def broken(conn, outcome):
        raise RuntimeError("audit log unavailable")

    with pytest.raises(RuntimeError, match="audit log unavailable"):
        publish_bulletin(engine, MONTH, scope, ["xlsx"], created_by="t", audit=broken)
    assert store.latest_version(engine, MONTH, scope.key) is None

    write = audit.hook("t-supervisor", "publish", role="supervisor", scope="all",
                       detail={"month": MONTH, "bulletin_scope": scope.key})
    res = publish_bulletin(engine, MONTH, scope, ["xlsx"], created_by="t-supervisor",
                           audit=write)
    rows = audit.entries(engine, action="publish").to_dicts()
    assert len(rows) == 1 and rows[0]["username"] == "t-supervisor"
    detail = json.loads(rows[0]["detail"])
    assert detail["version"] == res.version == 1
    assert detail["content_hash"] == res.bulletin.content_hash
