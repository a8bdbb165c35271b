"""Mapping files: the same mapping in TOML and YAML gives the same load; bad mappings are refused."""

from __future__ import annotations

import datetime as dt

import pytest
import sqlalchemy as sa

from queries import schema
from queries.errors import ImportRejected
from queries.importer import import_paths
from queries.importer.mapping import load_mapping
from tests.test_importer_helpers import BASE, assert_reconciles, rows, write

EXPORT = (
    "办件流水号,事项,部门,来源,受理日期,办结日期,时限(天),网办\n"
    "2024-0001,I1,A1,大厅,2024/03/04 10:00,2024/03/06 15:00,3,N\n"
    "2024-0002,I1,A1,一网通办,2024/03/05 11:00,,3,Y\n"
    "2024-0003,I1,A1,传真,2024/03/05 11:00,,3,Y\n"
)

TOML = """
[[sources]]
file = "platform_export*.csv"

[[sources.tables]]
name = "cases"

[sources.tables.columns]
case_id = "办件流水号"
item_code = "事项"
agency_code = "部门"
channel = "来源"
submitted_at = "受理日期"
accepted_at = "受理日期"
completed_at = "办结日期"
promised_days = "时限(天)"
full_online = "网办"
status = { column = "办结日期", present = "completed", missing = "in_progress" }

[sources.tables.constants]
applicant_type = "enterprise"
limit_unit = "working"

[sources.tables.values.channel]
"大厅" = "window"
"一网通办" = "online"
"""

YAML = """
sources:
  - file: "platform_export*.csv"
    tables:
      - name: cases
        columns:
          case_id: 办件流水号
          item_code: 事项
          agency_code: 部门
          channel: 来源
          submitted_at: 受理日期
          accepted_at: 受理日期
          completed_at: 办结日期
          promised_days: 时限(天)
          full_online: 网办
          status: {column: 办结日期, present: completed, missing: in_progress}
        constants:
          applicant_type: enterprise
          limit_unit: working
        values:
          channel:
            大厅: window
            一网通办: online
"""


@pytest.mark.parametrize("fmt", ["toml", "yaml"])
def test_mapping_file_maps_a_foreign_export(any_engine, tmp_path, fmt):
    export = write(tmp_path / "platform_export_2024-03.csv", EXPORT)
    mapping = write(tmp_path / f"mapping.{fmt}", TOML if fmt == "toml" else YAML)
    report = import_paths(any_engine, [BASE, export], mapping=mapping, progress=False)

    assert_reconciles(any_engine, report)
    c = report.tables["cases"]
    assert (c.read, c.inserted, c.quarantined) == (3, 2, 1)
    k = schema.cases.c
    with any_engine.connect() as conn:
        got = conn.execute(
            sa.select(k.case_id, k.channel, k.applicant_type, k.status, k.completed_at,
                      k.promised_days, k.full_online).order_by(k.case_id)
        ).all()
        reasons = conn.execute(sa.select(schema.quarantine.c.reasons)).scalar_one()
    assert [tuple(r) for r in got] == [
        ("2024-0001", "window", "enterprise", "completed", dt.datetime(2024, 3, 6, 15, 0), 3, False),
        ("2024-0002", "online", "enterprise", "in_progress", None, 3, True),
    ]
    assert "line 4: column 来源 (channel): '传真' is not one of" in reasons


def test_toml_and_yaml_mappings_are_the_same_mapping(tmp_path):
    a = load_mapping(write(tmp_path / "m.toml", TOML))
    b = load_mapping(write(tmp_path / "m.yml", YAML))
    assert a.sources == b.sources


def test_one_file_feeds_several_tables_and_identical_derived_rows_merge(any_engine, tmp_path):
    log = write(tmp_path / "log.csv", (
        "id,dept,dept_name,service,opened\n"
        "1,D1,Dept one,S1,2024-03-04 09:00\n"
        "2,D1,Dept one,S1,2024-03-04 10:00\n"
        "3,D2,Dept two,S1,2024-03-04 11:00\n"
        "4,D2,Dept 2,S2,2024-03-04 12:00\n"  # same code, other name: a real conflict
    ))
    mapping = write(tmp_path / "m.toml", """
[[sources]]
file = "log.csv"
[[sources.tables]]
name = "cases"
columns = { case_id = "id", agency_code = "dept", item_code = "service", submitted_at = "opened", accepted_at = "opened" }
constants = { channel = "window", applicant_type = "person", status = "in_progress", limit_unit = "natural" }
[[sources.tables]]
name = "agencies"
columns = { agency_code = "dept", name = "dept_name" }
constants = { region_code = "330225", sector = "民政" }
[[sources.tables]]
name = "items"
columns = { item_code = "service", name = "service" }
constants = { item_type = "public_service", sector = "民政", online_depth = 1 }
""")
    report = import_paths(any_engine, [BASE, log], mapping=mapping, progress=False)
    assert_reconciles(any_engine, report)
    ag = report.tables["agencies"]
    assert (ag.read, ag.loaded, ag.merged_duplicates, ag.quarantined) == (5, 3, 1, 1)
    it = report.tables["items"]
    assert (it.read, it.inserted, it.merged_duplicates) == (5, 3, 2)  # I1 (base), S1, S2
    cs = report.tables["cases"]
    # case 4 refers to D2, which is loaded (first occurrence kept), so all four cases load
    assert (cs.read, cs.inserted) == (4, 4)
    assert [r[:2] for r in rows(any_engine, "agencies")] == [
        ("A1", "象山县市场监督管理局"), ("D1", "Dept one"), ("D2", "Dept two"),
    ]
    assert "read 5 = loaded 3 + quarantined 1 + 1 merged" in report.format()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[sources]]\nfile = "x.csv"\n[[sources.tables]]\nname = "casez"\n',
         "`name` must be a contract table"),
        ('[[sources]]\nfile = "x.csv"\n[[sources.tables]]\nname = "cases"\n'
         '[sources.tables.columns]\ncase_number = "id"\n', "cases has no column 'case_number'"),
        ('[[sources]]\nfile = "x.csv"\noffsets = "maybe"\n[[sources.tables]]\nname = "cases"\n',
         "offsets must be 'convert' or 'ignore'"),
        ('[[sources]]\nfile = "x.csv"\ntimezone = "Mars/Base"\n[[sources.tables]]\nname = "cases"\n',
         "unknown timezone"),
        ("sources = 3\n", "expected a list `sources`"),
        ("[[sources]]\nfile = \n", "not valid TOML"),
    ],
)
def test_a_wrong_mapping_file_is_refused_with_its_path_and_reason(tmp_path, text, message):
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ImportRejected) as err:
        load_mapping(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_mapped_header_missing_from_the_file_rejects_the_file(sqlite_engine, tmp_path):
    export = write(tmp_path / "platform_export.csv", EXPORT.replace("办件流水号", "编号"))
    mapping = write(tmp_path / "m.toml", TOML)
    with pytest.raises(ImportRejected, match=r"platform_export\.csv.*'办件流水号'.*\[missing_column\]"):
        import_paths(sqlite_engine, [export], mapping=mapping, progress=False)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[sources]]\nfile = "x.csv"\n[[sources.tables]]\nname = "cases"\n'
         '[[sources.tables.derive.status]]\nwhen = { filled = "a" }\n',
         "give exactly one of `value` (a fixed value) or `column`"),
        ('[[sources]]\nfile = "x.csv"\n[[sources.tables]]\nname = "cases"\n'
         '[[sources.tables.derive.status]]\nwhen = { filed = "a" }\nvalue = "completed"\n',
         "unknown condition(s) ['filed']"),
        ('[[sources]]\nfile = "x.csv"\ntimestamp_formats = ["%d/%m/%y"]\n'
         '[[sources.tables]]\nname = "cases"\n', "needs year_pivot"),
        ('[[sources]]\nfile = "x.csv"\nearliest_date = 1985-01-01\n'
         '[[sources.tables]]\nname = "cases"\n', "is before 1990-01-01"),
        ('[[sources]]\nfile = "x.csv"\n[[sources.tables]]\nname = "cases"\n'
         'unknown = ["status"]\n', "'status' has no value 'unknown'"),
        ('[[sources]]\nfile = "x.csv"\n[[sources.tables]]\nname = "suspensions"\n'
         '[sources.tables.columns]\nsuspension_key = "k"\n', "is made by the importer"),
    ],
)
def test_a_wrong_rule_window_or_key_option_is_refused(tmp_path, text, message):
    path = write(tmp_path / "bad.toml", text)
    with pytest.raises(ImportRejected) as err:
        load_mapping(path)
    assert str(path) in str(err.value) and message in str(err.value)


def test_a_template_naming_a_missing_header_refuses_the_file(sqlite_engine, tmp_path):
    export = write(tmp_path / "x.csv", "id,agency\n1,A1\n")
    mapping = write(tmp_path / "m.toml", '[[sources]]\nfile = "x.csv"\n[[sources.tables]]\n'
                    'name = "cases"\n[sources.tables.columns]\ncase_id = "{city}-{id}"\n')
    with pytest.raises(ImportRejected, match=r"x\.csv: the mapping builds case_id from column\(s\) "
                                             r"'city', which the file does not have"):
        import_paths(sqlite_engine, [export], mapping=mapping, progress=False)


def test_templates_and_header_lists_build_the_same_scoped_keys(any_engine, tmp_path):
    export = write(tmp_path / "hall.csv", (
        "城市,编号,部门,受理\n宁波,7,A1,2024-03-04 10:00\n宁波,8,A1,2024-03-04 11:00\n"
        "舟山,7,A1,2024-03-04 12:00\n"))
    for text in ('case_id = "{城市}-{编号}"', 'case_id = ["城市", "编号"]'):
        mapping = write(tmp_path / "m.toml", (
            '[[sources]]\nfile = "hall.csv"\n[[sources.tables]]\nname = "cases"\n'
            f'[sources.tables.columns]\n{text}\nagency_code = "部门"\nsubmitted_at = "受理"\n'
            'accepted_at = "受理"\n[sources.tables.constants]\nitem_code = "I1"\n'
            'channel = "window"\napplicant_type = "person"\nstatus = "in_progress"\n'))
        report = import_paths(any_engine, [BASE, export], mapping=mapping, progress=False)
        assert_reconciles(any_engine, report)
    with any_engine.connect() as conn:
        ids = conn.execute(sa.select(schema.cases.c.case_id).order_by(schema.cases.c.case_id)
                           ).scalars().all()
    assert ids == ["宁波-7", "宁波-8", "舟山-7"]
    assert report.tables["cases"].unchanged == 3  # the second spelling made the same keys
