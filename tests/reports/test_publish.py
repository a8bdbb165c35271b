"""Publishing freezes a version with every format; a later request for any format returns the
stored bytes; late data makes the next version, which opens with a 更正说明 of what changed;
the published one never changes."""

from __future__ import annotations

import datetime as dt
import hashlib
import json

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from metrics.bulletin import Bulletin, parse_scope
from metrics.jobs import run_compute
from queries import bulletin_store as store
from queries import schema
from reports import FORMATS
from reports.publish import publish_bulletin, version_files
from tests.reports.conftest import AS_OF, ISSUED, MONTH


@pytest.fixture
def xlsx_only(monkeypatch):
    """For tests about numbering, lists and audit rows, not files: store only the cheap
    workbook (every format is stored and rendered in the tests above)."""
    import reports.publish

    monkeypatch.setattr(reports.publish, "FORMATS", ("xlsx",))


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


def test_every_format_is_stored_and_any_can_be_had_later(demo_copy, report_tools):
    """`--publish --format pdf` then `--publish --format docx,pdf`: the second request gets
    the stored .docx of version 1 (issue 19: it used to fail with KeyError 'docx')."""
    engine = demo_copy
    scope = parse_scope(engine, "city")
    v1 = publish_bulletin(engine, MONTH, scope, ["pdf"], created_by="test", issued_on=ISSUED)
    assert (v1.version, v1.unchanged, v1.diff) == (1, False, None)
    assert set(v1.files) == {*FORMATS, "facts"}
    again = publish_bulletin(engine, MONTH, scope, ["docx", "pdf"],
                             issued_on=ISSUED + dt.timedelta(days=1))
    assert again.unchanged and again.version == 1  # the same substance a day later
    for fmt in FORMATS:
        assert again.files[fmt].data == v1.files[fmt].data
    assert again.bulletin.content_hash == v1.bulletin.content_hash


def test_a_version_stored_without_a_format_gets_it_once_from_its_frozen_json(demo_copy,
                                                                              report_tools):
    engine = demo_copy
    scope = parse_scope(engine, "city")
    v1 = publish_bulletin(engine, MONTH, scope, issued_on=ISSUED)
    with engine.begin() as conn:  # as published before every format was kept
        conn.execute(sa.delete(store.bulletin_files).where(
            store.bulletin_files.c.version_id == v1.version_id,
            store.bulletin_files.c.format == "docx"))
    row = store.get_version(engine, MONTH, scope.key, 1)
    first = version_files(engine, row)["docx"].data
    assert first[:2] == b"PK"
    assert version_files(engine, row)["docx"].data == first  # stored: the same bytes again


def test_published_version_survives_late_data_and_the_next_carries_a_correction(demo_copy,
                                                                               report_tools):
    engine = demo_copy
    scope = parse_scope(engine, "city")
    v1 = publish_bulletin(engine, MONTH, scope, created_by="test", issued_on=ISSUED)
    before = _stored(engine, 1)
    assert before[1] == {k: f.sha256 for k, f in v1.files.items()}

    _add_late_cases(engine, 40)
    run_compute(engine, None, as_of=AS_OF)
    assert _stored(engine, 1) == before  # byte-identical after the jobs ran again
    assert Bulletin.from_json(before[0]).content_hash == v1.bulletin.content_hash

    v2 = publish_bulletin(engine, MONTH, scope, issued_on=ISSUED + dt.timedelta(days=2))
    assert (v2.version, v2.unchanged) == (2, False)
    accepted = [c for c in v2.diff["changes"] if c["table"].endswith("主要指标情况")
                and c["row"] == "受理量" and c["column"] == "本月"]
    assert accepted and accepted[0]["new"] - accepted[0]["old"] == 40
    notice = v2.bulletin.correction
    assert notice[0].startswith("更正说明：本通报替代2025年6月3日印发的第1版。")
    old, new = accepted[0]["old"], accepted[0]["new"]
    assert any(f"受理量 · 本月：{old:,.0f} → {new:,.0f}" in line for line in notice)
    assert v2.bulletin.frame.doc_number == v1.bulletin.frame.doc_number  # the same document
    history = store.list_versions(engine, MONTH, scope.key)
    assert [h["version"] for h in history] == [2, 1]
    assert history[0]["diff"]["new_hash"] == v2.bulletin.content_hash


def test_document_numbers_follow_the_offices_sequence(demo_copy, xlsx_only):
    engine = demo_copy
    scope = parse_scope(engine, "city")
    may = publish_bulletin(engine, MONTH, scope, [], issued_on=ISSUED)
    quarter = publish_bulletin(engine, MONTH, scope, [], period="quarter", issued_on=ISSUED)
    april = publish_bulletin(engine, dt.date(2025, 4, 1), scope, [], issued_on=ISSUED)
    assert [b.bulletin.frame.doc_number for b in (may, quarter, april)] == [
        "越川效督〔2025〕1号", "越川效督〔2025〕2号", "越川效督〔2025〕3号"]
    assert quarter.bulletin.period == "quarter"
    assert store.latest_version(engine, dt.date(2025, 6, 1), f"{scope.key}#quarter")


def test_edited_office_texts_go_into_the_next_version_and_are_audited(demo_copy, xlsx_only):
    from queries import audit

    engine = demo_copy
    scope = parse_scope(engine, "county:331221")
    publish_bulletin(engine, MONTH, scope, [], issued_on=ISSUED)
    store.save_office_texts(engine, scope.key, {
        "cc": "县委办公室，县人大常委会办公室。",
        "requirements": ["各单位要在5个工作日内反馈整改情况。"]}, "t-supervisor", "supervisor")
    v2 = publish_bulletin(engine, MONTH, scope, [], issued_on=ISSUED)
    assert v2.version == 2 and v2.bulletin.frame.cc == "县委办公室，县人大常委会办公室。"
    assert v2.bulletin.sections[-1].paragraphs == ("1．各单位要在5个工作日内反馈整改情况。",)
    assert "抄送、工作要求有调整" in v2.bulletin.correction[0]
    rows = audit.entries(engine, action="bulletin_texts").to_dicts()
    assert len(rows) == 1 and json.loads(rows[0]["detail"])["after"]["cc"].startswith("县委")


def test_interview_rule_uses_last_months_published_list(demo_copy, xlsx_only):
    engine = demo_copy
    scope = parse_scope(engine, "city")
    april = publish_bulletin(engine, dt.date(2025, 4, 1), scope, [], issued_on=ISSUED)
    may = publish_bulletin(engine, MONTH, scope, [], issued_on=ISSUED)
    april_bottom = {(u.level, u.code) for u in april.bulletin.criticism}
    for u in may.bulletin.criticism:
        assert u.interview == ((u.level, u.code) in april_bottom)
    assert "已发布通报第1版" in may.bulletin.provenance["previous_source"]


def test_migration_creates_the_store_tables_as_declared(any_engine):
    with any_engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}),
                                 schema.metadata)
    ours = [d for d in diffs if "bulletin" in repr(d)]
    assert ours == []
    insp = sa.inspect(any_engine)
    assert {"bulletin_versions", "bulletin_files", "bulletin_office_texts"} <= set(
        insp.get_table_names())
    assert store.bulletin_versions.name in schema.metadata.tables


def test_a_publication_and_its_audit_row_commit_together(demo_copy, xlsx_only):
    """The audit row is written in the version's transaction: when it cannot be written, no
    version is published; when it is, it names the version stored."""
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
