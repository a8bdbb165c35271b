"""The bad-input corpus (tests/data/importer): one directory per way input goes wrong.

Each case directory holds a `cases.csv` with a good row on line 2 and a bad one on line 3 and is
loaded together with the valid dimension tables in `base/`. A bad row must be quarantined with
the expected rule id, its line number and the column named in the message; a file that cannot
be used at all must be refused with a message naming the file; counts must reconcile always.
"""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from queries import schema
from queries.errors import ImportRejected
from queries.importer import import_paths
from tests.test_importer_helpers import (
    BASE,
    CORPUS,
    assert_reconciles,
    count,
    load_run,
    quarantined,
)

QUARANTINE_CASES = [
    # (directory, rule id, text naming the column, bad value shown)
    ("wrong_type", "bad_int", "column visits", "'three'"),
    ("bad_date", "bad_timestamp", "column submitted_at", "'2024-13-45 09:00'"),
    ("negative_limit", "negative_value", "column promised_days", "'-3'"),
    ("completed_before_accepted", "completed_before_accepted", "column completed_at", "2024-03-01"),
    ("duplicate_key", "duplicate_key", "column case_id", "'C1' already appears on line 2"),
    ("unknown_item", "unknown_reference", "column item_code", "'I9' is not in items.item_code"),
    ("bad_enum", "bad_enum", "column channel", "'fax'"),
    ("truncated", "field_count", "has 5 field(s) but the header has 14", "line 3"),
    ("truncated_quote", "field_count", "never closed", "line 3"),
]


@pytest.mark.parametrize(("case", "rule", "column_text", "value_text"), QUARANTINE_CASES,
                         ids=[c[0] for c in QUARANTINE_CASES])
def test_bad_row_is_quarantined_with_rule_line_and_column(
    any_engine, case, rule, column_text, value_text
):
    cases_file = CORPUS / case / "cases.csv"
    report = import_paths(any_engine, [BASE, cases_file], progress=False)

    assert_reconciles(any_engine, report)
    c = report.tables["cases"]
    assert (c.read, c.loaded, c.quarantined) == (2, 1, 1)
    [bad] = quarantined(any_engine, report.load_id)
    assert bad["table_name"] == "cases"
    assert bad["source_file"] == str(cases_file)
    assert bad["source_line"] == 3
    assert rule in bad["rules"].split(";")
    assert f"{cases_file} line 3" in bad["reasons"]
    assert column_text in bad["reasons"]
    assert value_text in bad["reasons"]
    assert f"[{rule}]" in bad["reasons"]
    assert isinstance(bad["raw"], dict) and bad["raw"]["case_id"].startswith("C")
    # the good row made it, untouched by its bad neighbour
    with any_engine.connect() as conn:
        ids = conn.execute(sa.select(schema.cases.c.case_id)).scalars().all()
    assert ids == ["C1"]


def test_a_row_gets_every_rule_it_broke(any_engine, tmp_path):
    (tmp_path / "cases.csv").write_text(
        "case_id,item_code,agency_code,channel,applicant_type,submitted_at,accepted_at,"
        "completed_at,status,statutory_days,promised_days,limit_unit,visits\n"
        "C9,I9,A1,fax,person,2024-03-04 09:00,2024-03-03 10:00,,completed,5,-1,working,x\n",
        encoding="utf-8",
    )
    report = import_paths(any_engine, [BASE, tmp_path / "cases.csv"], progress=False)
    assert_reconciles(any_engine, report)
    [bad] = quarantined(any_engine, report.load_id)
    assert set(bad["rules"].split(";")) == {
        "unknown_reference", "bad_enum", "accepted_before_submitted",
        "completed_without_completed_at", "negative_value", "bad_int",
    }
    assert bad["row_key"] == "C9"


def test_gbk_file_with_chinese_headers_and_labels_loads(any_engine):
    report = import_paths(any_engine, [BASE, CORPUS / "gbk" / "cases.csv"], progress=False)
    assert_reconciles(any_engine, report)
    assert report.tables["cases"].inserted == 2
    c = schema.cases.c
    with any_engine.connect() as conn:
        got = conn.execute(
            sa.select(c.case_id, c.channel, c.applicant_type, c.status, c.limit_unit,
                      c.full_online, c.cross_region, c.submitted_at, c.promised_days)
            .order_by(c.case_id)
        ).all()
    assert [tuple(r) for r in got] == [
        ("C1", "window", "person", "completed", "working", True, False,
         dt.datetime(2024, 3, 4, 9, 0), 10),
        ("C2", "mobile", "enterprise", "in_progress", "natural", False, True,
         dt.datetime(2024, 3, 5, 9, 30), 5),
    ]


def test_utf8_bom_file_loads_and_the_bom_does_not_hide_the_first_header(any_engine):
    report = import_paths(any_engine, [BASE, CORPUS / "bom" / "cases.csv"], progress=False)
    assert_reconciles(any_engine, report)
    with any_engine.connect() as conn:
        assert conn.execute(sa.select(schema.cases.c.case_id)).scalars().all() == ["C1"]


def test_empty_file_is_rejected_naming_the_file_and_nothing_is_written(any_engine):
    empty = CORPUS / "empty" / "cases.csv"
    with pytest.raises(ImportRejected) as err:
        import_paths(any_engine, [BASE, empty], progress=False)
    message = str(err.value)
    assert str(empty) in message and "empty" in message and "[file_empty]" in message
    assert count(any_engine, "regions") == 0  # the valid files of the same call wait too
    with any_engine.connect() as conn:
        status, error = conn.execute(sa.select(schema.load_runs.c.status, schema.load_runs.c.error)).one()
    assert status == "failed" and str(empty) in error


def test_missing_required_column_rejects_the_file_naming_file_and_column(any_engine):
    path = CORPUS / "missing_column" / "cases.csv"
    with pytest.raises(ImportRejected) as err:
        import_paths(any_engine, [BASE, path], progress=False)
    message = str(err.value)
    assert str(path) in message
    assert "submitted_at (申请时间)" in message
    assert "[missing_column]" in message
    assert count(any_engine, "cases") == 0 and count(any_engine, "regions") == 0


def test_unknown_file_name_is_rejected_with_a_hint(any_engine, tmp_path):
    path = tmp_path / "export_2024.csv"
    path.write_text("a,b\n1,2\n", encoding="utf-8")
    with pytest.raises(ImportRejected, match=r"export_2024\.csv.*mapping file.*\[unknown_table\]"):
        import_paths(any_engine, [path], progress=False)


def test_failed_rejection_is_recorded_in_load_runs(sqlite_engine):
    empty = CORPUS / "empty" / "cases.csv"
    with pytest.raises(ImportRejected):
        import_paths(sqlite_engine, [empty], progress=False)
    with sqlite_engine.connect() as conn:
        load_id = conn.execute(sa.select(schema.load_runs.c.load_id)).scalar_one()
    run = load_run(sqlite_engine, load_id)
    assert run["status"] == "failed" and run["finished_at"] is not None
    assert "file_empty" in run["error"]
