"""Workbooks: every sheet that fits is read (the others are named as skipped), a mapping may
list its sheets, and a sheet beyond the documented limits is refused in one line before it is
read — a 15 MB .xlsx of 2,000,000 one-cell rows neither loads nor takes gigabytes."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
import sqlalchemy as sa
import xlsxwriter

from queries import schema
from queries.errors import ImportRejected
from queries.importer import import_paths
from queries.importer.readers import XLSX_MAX_ROWS
from tests.test_importer_helpers import BASE, assert_reconciles, write

ROOT = Path(__file__).resolve().parents[1]
HEAD = ["case_id", "item_code", "agency_code", "channel", "applicant_type", "submitted_at",
        "accepted_at", "status", "limit_unit"]


def _row(case_id: str) -> list[str]:
    return [case_id, "I1", "A1", "window", "person", "2024-03-04 09:00", "2024-03-04 10:00",
            "in_progress", "working"]


def _book(path: Path, sheets: dict[str, list[list[str]]]) -> Path:
    wb = xlsxwriter.Workbook(path)
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            ws.write_row(r, 0, row)
    wb.close()
    return path


def test_a_mapping_reads_only_the_sheets_it_lists(any_engine, tmp_path):
    book = _book(tmp_path / "export.xlsx", {
        "1月": [HEAD, _row("J1"), _row("J2")], "2月": [HEAD, _row("F1")],
        "3月": [HEAD, _row("M1")]})
    mapping = write(tmp_path / "m.toml", '[[sources]]\nfile = "export.xlsx"\n'
                    'sheets = ["1月", "3月"]\n[[sources.tables]]\nname = "cases"\n')
    report = import_paths(any_engine, [BASE, book], mapping=mapping, progress=False)
    assert_reconciles(any_engine, report)
    with any_engine.connect() as conn:
        ids = conn.execute(sa.select(schema.cases.c.case_id).order_by(schema.cases.c.case_id)
                           ).scalars().all()
    assert ids == ["J1", "J2", "M1"]
    assert [s.source for s in report.sources if s.table == "cases"] == [
        f"{book} [1月]", f"{book} [3月]"]


def test_a_listed_sheet_that_does_not_exist_is_refused_naming_the_sheets(sqlite_engine, tmp_path):
    book = _book(tmp_path / "export.xlsx", {"1月": [HEAD, _row("J1")]})
    mapping = write(tmp_path / "m.toml", '[[sources]]\nfile = "export.xlsx"\nsheet = "二月"\n'
                    '[[sources.tables]]\nname = "cases"\n')
    with pytest.raises(ImportRejected, match=r"has no sheet '二月' \(its sheets: '1月'\)"):
        import_paths(sqlite_engine, [BASE, book], mapping=mapping, progress=False)


def test_sheets_named_after_tables_feed_those_tables(sqlite_engine, tmp_path):
    book = _book(tmp_path / "export.xlsx", {
        "agencies": [["agency_code", "name", "region_code", "sector"],
                     ["A9", "某局", "330225", "民政"]],
        "办件": [HEAD, _row("X1")], "备注": [["说明"], ["无"]]})
    report = import_paths(sqlite_engine, [BASE, book], progress=False)
    assert_reconciles(sqlite_engine, report)
    assert report.tables["agencies"].inserted == 2 and report.tables["cases"].inserted == 1
    assert any("备注" in w and "fit no contract table" in w for w in report.warnings)


WRITE_2M = textwrap.dedent("""
    import sys, zipfile
    n, out = int(sys.argv[1]), sys.argv[2]
    ns = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"
    pkg = "http://schemas.openxmlformats.org/package/2006/relationships"
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        z.writestr("[Content_Types].xml", '<Types xmlns="http://schemas.openxmlformats.org/'
                   'package/2006/content-types"><Default Extension="xml" ContentType='
                   '"application/xml"/></Types>')
        z.writestr("_rels/.rels", f'<Relationships xmlns="{pkg}"><Relationship Id="r1" '
                   f'Type="{rel}/officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<workbook {ns} xmlns:r="{rel}"><sheets><sheet '
                   'name="办件" sheetId="1" r:id="rId1"/></sheets></workbook>')
        z.writestr("xl/_rels/workbook.xml.rels", f'<Relationships xmlns="{pkg}"><Relationship '
                   f'Id="rId1" Type="{rel}/worksheet" Target="worksheets/sheet1.xml"/>'
                   '</Relationships>')
        with z.open("xl/worksheets/sheet1.xml", "w", force_zip64=True) as f:
            f.write(f'<worksheet {ns}><sheetData>'.encode())
            f.write(b'<row r="1"><c r="A1" t="inlineStr"><is><t>case_id</t></is></c></row>')
            for start in range(2, n + 2, 10000):
                f.write(b"".join(b'<row r="%d"><c r="A%d"><v>%d</v></c></row>' % (r, r, r)
                                 for r in range(start, min(start + 10000, n + 2))))
            f.write(b"</sheetData></worksheet>")
""")

IMPORT_AND_MEASURE = textwrap.dedent("""
    import json, resource, sys, pathlib
    from queries.engine import make_engine
    from queries.errors import ImportRejected
    from queries.importer import import_paths
    from queries.migrate import upgrade
    engine = make_engine(sys.argv[1])
    upgrade(engine)
    try:
        import_paths(engine, [pathlib.Path(sys.argv[2])], progress=False)
        message = None
    except ImportRejected as exc:
        message = str(exc)
    # this process's own peak (ru_maxrss would carry the forking test runner's over exec)
    hwm = [line for line in pathlib.Path("/proc/self/status").read_text().splitlines()
           if line.startswith("VmHWM:")]
    peak = int(hwm[0].split()[1]) * 1024 if hwm else \
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(json.dumps({"message": message, "peak_bytes": peak}))
""")


def test_two_million_one_cell_rows_are_refused_in_one_line_within_bounded_memory(tmp_path):
    book = tmp_path / "cases.xlsx"
    subprocess.run([sys.executable, "-c", WRITE_2M, "2000000", str(book)], check=True)
    assert book.stat().st_size < 20 << 20
    assert zipfile.ZipFile(book).getinfo("xl/worksheets/sheet1.xml").file_size > 100 << 20
    done = subprocess.run(
        [sys.executable, "-c", IMPORT_AND_MEASURE, f"sqlite:///{tmp_path / 'x.db'}", str(book)],
        capture_output=True, text=True, check=True, cwd=ROOT)
    out = json.loads(done.stdout.strip().splitlines()[-1])
    message = out["message"]
    assert message is not None and "\n" not in message and "[file_too_large]" in message
    counted = re.search(r"has ([\d,]+)\+ rows", message)
    assert counted and int(counted.group(1).replace(",", "")) > XLSX_MAX_ROWS
    assert "save larger exports as CSV" in message
    assert out["peak_bytes"] < 600 << 20  # the sheet was measured streaming, never read
