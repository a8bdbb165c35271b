"""Readers and value parsing: encodings, line numbers, batches, Excel, Parquet, timestamps."""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa
import xlsxwriter

from queries import schema
from queries.importer import import_paths
from queries.importer.mapping import SourceSpec
from queries.importer.normalize import parse_timestamps
from queries.importer.readers import FIELDS, LINE, CsvSource, detect_encoding
from tests.test_importer_helpers import BASE, CORPUS, assert_reconciles, quarantined, write


def test_encoding_is_detected_as_utf8_bom_or_gb18030():
    assert detect_encoding(BASE / "regions.csv") == "utf-8"
    assert detect_encoding(CORPUS / "bom" / "cases.csv") == "utf-8-sig"
    assert detect_encoding(CORPUS / "gbk" / "cases.csv") == "gb18030"


def test_csv_streams_in_batches_with_exact_line_numbers(tmp_path):
    path = write(tmp_path / "x.csv", "a,b\n" + "".join(f"{i},v{i}\n" for i in range(250)))
    source = CsvSource(path)
    batches = list(source.batches(100))
    assert [b.height for b in batches] == [100, 100, 50]
    last = batches[-1].row(-1, named=True)
    assert (last["a"], last[LINE], last[FIELDS]) == ("249", 251, None)


def test_quoted_line_breaks_keep_line_numbers_exact(tmp_path):
    path = write(tmp_path / "x.csv", 'a,b\n1,"two\nlines"\n2,ok\n3,too,many\n')
    frame = pl.concat(list(CsvSource(path).batches(10)))
    assert frame[LINE].to_list() == [2, 4, 5]
    assert frame["b"].to_list() == ["two\nlines", "ok", "too"]
    assert frame[FIELDS].to_list() == [None, None, 3]


def test_blank_line_and_short_line_are_flagged_not_dropped(tmp_path):
    path = write(tmp_path / "x.csv", "a,b,c\n1,2,3\n\n4,5\n6,7,8,9\n")
    frame = pl.concat(list(CsvSource(path).batches(10)))
    assert frame[LINE].to_list() == [2, 3, 4, 5]
    assert frame[FIELDS].to_list() == [None, 0, 2, 4]


def test_classic_mac_line_endings_are_read(tmp_path):
    path = tmp_path / "x.csv"
    path.write_bytes(b"a,b\r1,2\r3,4\r")
    frame = pl.concat(list(CsvSource(path).batches(10)))
    assert frame.select("a", "b", LINE).rows() == [("1", "2", 2), ("3", "4", 3)]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2022-01-21 13:47:00", dt.datetime(2022, 1, 21, 13, 47)),
        ("2024/3/5 9:30", dt.datetime(2024, 3, 5, 9, 30)),
        ("2024-03-05T09:30:00", dt.datetime(2024, 3, 5, 9, 30)),
        ("2024-03-05", dt.datetime(2024, 3, 5)),
        ("2024年3月5日 9:30", dt.datetime(2024, 3, 5, 9, 30)),
        ("20240305", dt.datetime(2024, 3, 5)),
        ("2024-03-05T01:30:00Z", dt.datetime(2024, 3, 5, 9, 30)),  # UTC → Shanghai (+8)
        ("2011-10-11 13:42:22.688000+02:00", dt.datetime(2011, 10, 11, 19, 42, 22, 688000)),
        ("45356.5", dt.datetime(2024, 3, 5, 12, 0)),  # Excel serial day number
    ],
)
def test_timestamp_formats_become_naive_shanghai_time(text, expected):
    value, bad = parse_timestamps(pl.Series([text]), SourceSpec("*", ()))
    assert value.to_list() == [expected]
    assert bad.to_list() == [False]


def test_offsets_can_be_ignored_to_keep_the_written_wall_clock():
    spec = SourceSpec("*", (), offsets="ignore")
    value, _ = parse_timestamps(pl.Series(["2011-10-11 13:42:22.688000+02:00"]), spec)
    assert value.to_list() == [dt.datetime(2011, 10, 11, 13, 42, 22, 688000)]


def test_naive_times_of_another_zone_are_converted_when_the_mapping_says_so():
    spec = SourceSpec("*", (), timezone="America/New_York")
    value, _ = parse_timestamps(pl.Series(["2022-01-21 13:47:00"]), spec)
    assert value.to_list() == [dt.datetime(2022, 1, 22, 2, 47)]  # EST = UTC-5, Shanghai UTC+8


def test_mapping_format_and_day_precision():
    spec = SourceSpec("*", (), timestamp_formats=("%m/%d/%Y %I:%M:%S %p",), precision="day")
    value, bad = parse_timestamps(pl.Series(["12/31/2017 11:59:58 PM", "nonsense", None]), spec)
    assert value.to_list() == [dt.datetime(2017, 12, 31), None, None]
    assert bad.to_list() == [False, True, False]


def test_excel_workbook_with_chinese_headers_and_date_cells_loads(any_engine, tmp_path):
    path = tmp_path / "办件.xlsx"  # the Chinese table name works as a file name too
    wb = xlsxwriter.Workbook(path)
    ws = wb.add_worksheet("办件")
    ws.write_row(0, 0, ["办件编号", "事项编码", "实施机关编码", "申报渠道", "申请人类型",
                        "申请时间", "受理时间", "办件状态", "承诺时限", "时限单位", "全程网办"])
    stamp = wb.add_format({"num_format": "yyyy-mm-dd hh:mm"})
    ws.write_row(1, 0, ["X1", "I1", "A1", "窗口", "自然人"])
    ws.write_datetime(1, 5, dt.datetime(2024, 3, 5, 9, 30), stamp)
    ws.write_datetime(1, 6, dt.datetime(2024, 3, 5, 10, 0), stamp)
    ws.write_row(1, 7, ["在办", 5, "工作日", "是"])
    ws.write_row(2, 0, ["X2", "I1", "A1", "窗口", "自然人", "2024/3/5 9:30", "bad time", "在办", 2.5,
                        "工作日", "否"])
    wb.close()
    report = import_paths(any_engine, [BASE, path], progress=False)
    assert_reconciles(any_engine, report)
    c = schema.cases.c
    with any_engine.connect() as conn:
        got = conn.execute(sa.select(c.case_id, c.accepted_at, c.promised_days, c.full_online)).one()
    assert tuple(got) == ("X1", dt.datetime(2024, 3, 5, 10, 0), 5, True)
    [bad] = quarantined(any_engine, report.load_id)
    assert bad["source_line"] == 3
    assert set(bad["rules"].split(";")) == {"bad_timestamp", "bad_int"}
    assert "column 受理时间 (accepted_at): 'bad time'" in bad["reasons"]
    assert "column 承诺时限 (promised_days): '2.5' is not a whole number" in bad["reasons"]


def test_parquet_with_typed_columns_loads(any_engine, tmp_path):
    frame = pl.DataFrame({
        "case_id": ["P1", "P2"],
        "item_code": ["I1", "I1"],
        "agency_code": ["A1", "A1"],
        "channel": ["mobile", "移动端"],
        "applicant_type": ["enterprise", "法人"],
        "submitted_at": [dt.datetime(2024, 3, 5, 1, 0), dt.datetime(2024, 3, 6, 1, 0)],
        "accepted_at": [dt.datetime(2024, 3, 5, 2, 0), dt.datetime(2024, 3, 6, 2, 0)],
        "status": ["in_progress", "在办"],
        "limit_unit": ["natural", "自然日"],
        "cross_region": [True, False],
    }).with_columns(pl.col("submitted_at", "accepted_at").dt.replace_time_zone("UTC"))
    frame.write_parquet(tmp_path / "cases.parquet")
    report = import_paths(any_engine, [BASE, tmp_path / "cases.parquet"], progress=False)
    assert_reconciles(any_engine, report)
    c = schema.cases.c
    with any_engine.connect() as conn:
        got = conn.execute(sa.select(c.case_id, c.channel, c.accepted_at, c.cross_region)
                           .order_by(c.case_id)).all()
    assert [tuple(r) for r in got] == [
        ("P1", "mobile", dt.datetime(2024, 3, 5, 10, 0), True),  # 02:00 UTC = 10:00 Shanghai
        ("P2", "mobile", dt.datetime(2024, 3, 6, 10, 0), False),
    ]


def test_header_only_file_reads_zero_rows_and_reconciles(sqlite_engine, tmp_path):
    path = write(tmp_path / "regions.csv", "region_code,name,parent_code,level\n")
    report = import_paths(sqlite_engine, [path], progress=False)
    assert_reconciles(sqlite_engine, report)
    assert report.tables["regions"].read == 0


def test_a_file_named_twice_is_read_once_and_unused_columns_are_reported(sqlite_engine, tmp_path):
    path = write(tmp_path / "regions.csv",
                 "region_code,name,parent_code,level,remark\n330200,宁波市,,市,x\n")
    report = import_paths(sqlite_engine, [tmp_path, path], progress=False)
    assert_reconciles(sqlite_engine, report)
    assert (report.tables["regions"].read, report.tables["regions"].inserted) == (1, 1)
    assert f"{path}: column(s) not imported: remark" in report.warnings


def test_a_quoted_line_break_in_a_later_batch_switches_to_the_exact_reader_there(tmp_path):
    body = "".join(f"{i},x\n" for i in range(250))
    path = write(tmp_path / "x.csv", 'a,b\n' + body + '999,"multi\nline"\n1000,y\n1001,z,extra\n')
    batches = list(CsvSource(path).batches(100))
    frame = pl.concat(batches)
    assert frame.height == 253  # nothing lost or read twice at the switch
    assert frame[LINE].to_list()[-4:] == [251, 252, 254, 255]
    assert frame["b"].to_list()[-3:] == ["multi\nline", "y", "z"]
    assert frame[FIELDS].to_list()[-4:] == [None, None, None, 3]
