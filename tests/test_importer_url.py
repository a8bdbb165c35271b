"""Reading another database by URL: a SQLite file made here, and a real PostgreSQL database."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from queries import schema
from queries.errors import ImportRejected
from queries.importer import import_paths, import_url
from tests.test_importer_helpers import BASE, assert_reconciles, quarantined, write

SOURCE_ROWS = [
    {"bh": "U1", "sx": "I1", "jg": "A1", "qd": "窗口", "sq": "2024-03-04 09:00:00",
     "sl": "2024-03-04 10:00:00", "zt": "在办"},
    {"bh": "U2", "sx": "I1", "jg": "A1", "qd": "掌上", "sq": "2024-03-05 09:00:00",
     "sl": "2024-03-05 09:30:00", "zt": "在办"},
    {"bh": "U3", "sx": "I404", "jg": "A1", "qd": "窗口", "sq": "2024-03-05 09:00:00",
     "sl": "2024-03-05 09:30:00", "zt": "在办"},
]

MAPPING = """
[[sources]]
file = "banjian"
[[sources.tables]]
name = "cases"
columns = { case_id = "bh", item_code = "sx", agency_code = "jg", channel = "qd", submitted_at = "sq", accepted_at = "sl", status = "zt" }
constants = { applicant_type = "person", limit_unit = "working" }
"""


def _make_source(url: str) -> None:
    engine = sa.create_engine(url)
    meta = sa.MetaData()
    t = sa.Table("banjian", meta, *(sa.Column(c, sa.Text) for c in SOURCE_ROWS[0]))
    contract_like = sa.Table(
        "cases", meta, sa.Column("case_id", sa.Text), sa.Column("item_code", sa.Text),
        sa.Column("agency_code", sa.Text), sa.Column("channel", sa.Text),
        sa.Column("applicant_type", sa.Text), sa.Column("submitted_at", sa.DateTime),
        sa.Column("accepted_at", sa.DateTime), sa.Column("status", sa.Text),
        sa.Column("limit_unit", sa.Text),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(t.insert(), SOURCE_ROWS)
        conn.execute(contract_like.insert(), [{
            "case_id": "V1", "item_code": "I1", "agency_code": "A1", "channel": "online",
            "applicant_type": "enterprise", "submitted_at": dt.datetime(2024, 3, 6, 8, 0),
            "accepted_at": dt.datetime(2024, 3, 6, 8, 30), "status": "in_progress",
            "limit_unit": "natural",
        }])
    engine.dispose()


def _check_mapped_load(engine: sa.Engine, report) -> None:
    assert_reconciles(engine, report)
    c = report.tables["cases"]
    assert (c.read, c.inserted, c.quarantined) == (3, 2, 1)
    k = schema.cases.c
    with engine.connect() as conn:
        got = conn.execute(sa.select(k.case_id, k.channel, k.accepted_at).order_by(k.case_id)).all()
    assert [tuple(r) for r in got] == [
        ("U1", "window", dt.datetime(2024, 3, 4, 10, 0)),
        ("U2", "mobile", dt.datetime(2024, 3, 5, 9, 30)),
    ]
    [bad] = quarantined(engine, report.load_id)
    assert bad["source_line"] == 3 and bad["rules"] == "unknown_reference"
    assert "row 3: column sx (item_code): 'I404'" in bad["reasons"]


def test_import_from_a_sqlite_database_table_with_a_mapping(any_engine, tmp_path):
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    _make_source(url)
    import_paths(any_engine, [BASE], progress=False)
    mapping = write(tmp_path / "m.toml", MAPPING)
    report = import_url(any_engine, url, table="cases", query=None, source_table="banjian",
                        mapping=mapping)
    _check_mapped_load(any_engine, report)


def test_import_from_a_select_and_from_a_contract_named_table(sqlite_engine, tmp_path):
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    _make_source(url)
    import_paths(sqlite_engine, [BASE], progress=False)
    by_name = import_url(sqlite_engine, url, table=None, query=None, source_table="cases",
                         mapping=None)
    assert_reconciles(sqlite_engine, by_name)
    assert by_name.tables["cases"].inserted == 1
    by_query = import_url(
        sqlite_engine, url, table="cases", source_table=None, mapping=None,
        query="SELECT bh AS case_id, sx AS item_code, jg AS agency_code, qd AS channel, "
              "'person' AS applicant_type, sq AS submitted_at, sl AS accepted_at, "
              "zt AS status, 'working' AS limit_unit FROM banjian WHERE bh <> 'U3'",
    )
    assert_reconciles(sqlite_engine, by_query)
    assert by_query.tables["cases"].inserted == 2


def test_import_from_a_postgresql_database(sqlite_engine, pg_url, tmp_path):
    _make_source(pg_url)
    import_paths(sqlite_engine, [BASE], progress=False)
    mapping = write(tmp_path / "m.yaml", """
sources:
  - file: banjian
    tables:
      - name: cases
        columns: {case_id: bh, item_code: sx, agency_code: jg, channel: qd, submitted_at: sq,
                  accepted_at: sl, status: zt}
        constants: {applicant_type: person, limit_unit: working}
""")
    report = import_url(sqlite_engine, pg_url, table="cases", query=None,
                        source_table="public.banjian", mapping=mapping)
    _check_mapped_load(sqlite_engine, report)
    password = sa.engine.make_url(pg_url).password
    assert not password or password not in report.source  # never store a password


def test_unreadable_source_is_refused_clearly(sqlite_engine, tmp_path):
    url = f"sqlite:///{tmp_path / 'platform.db'}"
    _make_source(url)
    with pytest.raises(ImportRejected, match="no such table"):
        import_url(sqlite_engine, url, table="cases", query=None, source_table="nope",
                   mapping=None)
    with pytest.raises(ImportRejected, match="say which contract table"):
        import_url(sqlite_engine, url, table=None, query=None, source_table="banjian",
                   mapping=None)
