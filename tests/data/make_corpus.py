"""Write the importer's bad-input corpus: tests/data/corpus/<kind>/… and manifest.json.

    python tests/data/make_corpus.py          # rewrite tests/data/corpus
    python tests/data/make_corpus.py --check  # exit 1 if the committed corpus differs

Each kind is one way real input goes wrong (or a tricky input that must load), written as the
small files a user would import together with the dimension rows in `tests/data/importer/base`,
and its expected outcome, stated here by hand — not by running the importer:

- `loaded`: every row loads;
- `quarantined`: the file loads, the bad rows are quarantined with `rule`, and the message
  names the file, the line and the column (`message` lists text it must contain);
- `refused`: the whole file is refused (nothing written) with a one-line message containing
  `message` and `[rule]`.

`counts` gives, per table, (read, loaded, quarantined) of the last step; the test checks them
against the load report and checks `read` against the rows it counts itself in the files
(csv module, openpyxl, pyarrow). Kinds with `steps` are imported in several loads (a second
source, a re-import); the expectation is that of the last load.

Everything is deterministic (a seeded generator for the random id), so `--check` can compare
the committed files byte for byte. tests/test_importer_badinput.py runs every kind on SQLite
and on PostgreSQL.
"""

from __future__ import annotations

import argparse
import io
import json
import random
import shutil
import sys
import zipfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import polars as pl
import xlsxwriter

OUT = Path(__file__).resolve().parent / "corpus"

CASE_COLS = ("case_id", "item_code", "agency_code", "channel", "applicant_type", "submitted_at",
             "accepted_at", "completed_at", "status", "statutory_days", "promised_days",
             "limit_unit", "visits", "full_online", "applicant_key", "due_at")
GOOD = {"case_id": "G1", "item_code": "I1", "agency_code": "A1", "channel": "window",
        "applicant_type": "person", "submitted_at": "2024-03-04 09:00",
        "accepted_at": "2024-03-04 10:00", "completed_at": "2024-03-08 16:00",
        "status": "completed", "statutory_days": "20", "promised_days": "10",
        "limit_unit": "working", "visits": "1", "full_online": "true", "applicant_key": "",
        "due_at": ""}
SUSP_COLS = ("case_id", "started_at", "ended_at", "reason", "approved_days")
REVIEW_COLS = ("review_id", "case_id", "agency_code", "channel", "rated_at", "level", "active")


@dataclass
class Expect:
    outcome: str  # loaded | quarantined | refused
    rule: str | None = None
    message: tuple[str, ...] = ()
    counts: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    line: int | None = None  # the line (or row) of the quarantined row, when there is one
    quarantine_rows: int | None = None  # rows in the quarantine table after all steps
    stored: dict[str, dict[str, object]] = field(default_factory=dict)  # table → {key: value}


@dataclass
class Kind:
    name: str
    what: str
    files: dict[str, bytes]
    expect: Expect
    steps: list[list[str]] | None = None  # files per load; default: one load of all files
    mapping: str | None = None  # file name (among `files`) of the mapping, if any


def csv_text(cols: tuple[str, ...], rows: list[dict[str, str]]) -> str:
    """Rows as CSV text, quoting only what needs it (the way exports are written)."""
    def cell(v: str) -> str:
        return f'"{v.replace(chr(34), chr(34) * 2)}"' if any(c in v for c in ',"\n\r') else v
    return ",".join(cols) + "\n" + "".join(
        ",".join(cell(r.get(c, "")) for c in cols) + "\n" for r in rows)


def case(case_id: str, **over: str) -> dict[str, str]:
    return {**GOOD, "case_id": case_id, **over}


def cases_file(*bad: dict[str, str], good: int = 2) -> bytes:
    """`good` clean cases (G1, G2, …) then the given rows: the bad ones start on line good+2."""
    rows = [case(f"G{i + 1}") for i in range(good)] + list(bad)
    return csv_text(CASE_COLS, rows).encode()


def quarantined(name: str, what: str, rule: str, *message: str, row: dict[str, str],
                good: int = 2) -> Kind:
    """Two clean cases and one bad one on line 4."""
    return Kind(name, what, {"cases.csv": cases_file(row, good=good)},
                Expect("quarantined", rule, (f"cases.csv line {good + 2}", *message),
                       {"cases": (good + 1, good, 1)}, line=good + 2))


def loaded_cases(name: str, what: str, *rows: dict[str, str], stored=None,
                 mapping: str | None = None, file_name: str = "cases.csv") -> Kind:
    files = {file_name: csv_text(CASE_COLS, list(rows)).encode()}
    if mapping:
        files["mapping.toml"] = mapping.encode()
    return Kind(name, what, files,
                Expect("loaded", counts={"cases": (len(rows), len(rows), 0)},
                       stored={"cases": stored or {}}),
                mapping="mapping.toml" if mapping else None)


def refused(name: str, what: str, files: dict[str, bytes], rule: str, *message: str,
            mapping: str | None = None) -> Kind:
    return Kind(name, what, files, Expect("refused", rule, message), mapping=mapping)


def workbook(sheets: dict[str, list[list[object]]]) -> bytes:
    buf = io.BytesIO()
    wb = xlsxwriter.Workbook(buf, {"in_memory": True})
    for name, rows in sheets.items():
        ws = wb.add_worksheet(name)
        for r, row in enumerate(rows):
            ws.write_row(r, 0, row)
    wb.close()
    # xlsxwriter stamps the creation time into docProps/core.xml: fix it for a stable corpus
    return _restamp(buf.getvalue())


def _restamp(data: bytes) -> bytes:
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                import re
                body = re.sub(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", b"2024-01-01T00:00:00Z", body)
            fixed = zipfile.ZipInfo(info.filename, date_time=(2024, 1, 1, 0, 0, 0))
            fixed.compress_type = zipfile.ZIP_DEFLATED
            dst.writestr(fixed, body)
    return out.getvalue()


def sparse_bomb() -> bytes:
    """A few hundred bytes whose two cells span the whole sheet (A1 … XFD1048576)."""
    ct = ('<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/'
          'package/2006/content-types"><Default Extension="rels" ContentType="application/'
          'vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType='
          '"application/xml"/><Override PartName="/xl/workbook.xml" ContentType="application/'
          'vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/><Override PartName='
          '"/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
          'officedocument.spreadsheetml.worksheet+xml"/></Types>')
    rels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
            'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://'
            'schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" '
            'Target="xl/workbook.xml"/></Relationships>')
    wb = ('<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.'
          'org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/'
          'officeDocument/2006/relationships"><sheets><sheet name="办件" sheetId="1" '
          'r:id="rId1"/></sheets></workbook>')
    wbrels = ('<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
              'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type='
              '"http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" '
              'Target="worksheets/sheet1.xml"/></Relationships>')
    sheet = ('<?xml version="1.0" encoding="UTF-8"?><worksheet xmlns="http://schemas.'
             'openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
             '<row r="1"><c r="A1" t="inlineStr"><is><t>case_id</t></is></c></row>'
             '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row></sheetData></worksheet>')
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
        for name, body in (("[Content_Types].xml", ct), ("_rels/.rels", rels),
                           ("xl/workbook.xml", wb), ("xl/_rels/workbook.xml.rels", wbrels),
                           ("xl/worksheets/sheet1.xml", sheet)):
            z.writestr(zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0)), body)
    return out.getvalue()


def parquet(frame: pl.DataFrame) -> bytes:
    buf = io.BytesIO()
    frame.write_parquet(buf, statistics=False)
    return buf.getvalue()


def typed_cases(n: int, **columns: pl.Series) -> pl.DataFrame:
    base = {
        "case_id": [f"P{i + 1}" for i in range(n)], "item_code": ["I1"] * n,
        "agency_code": ["A1"] * n, "channel": ["online"] * n, "applicant_type": ["person"] * n,
        "submitted_at": ["2024-03-04 09:00"] * n, "accepted_at": ["2024-03-04 10:00"] * n,
        "status": ["in_progress"] * n, "limit_unit": ["working"] * n,
    }
    return pl.DataFrame(base).with_columns(**columns)


CONFLICT_MAPPING = """
[[sources]]
file = "{file}"
source = "{source}"
[[sources.tables]]
name = "cases"
[sources.tables.columns]
case_id = "{key}"
"""

DERIVE_MAPPING = """
[[sources]]
file = "permits.csv"
[[sources.tables]]
name = "cases"
[sources.tables.columns]
case_id = "id"
submitted_at = "start"
accepted_at = "start"
[[sources.tables.derive.completed_at]]
when = { equals = { caseStatus = "G" }, filled = "endDate" }
column = "endDate"
[[sources.tables.derive.status]]
when = { equals = { caseStatus = "G" }, filled = "endDate" }
value = "completed"
[[sources.tables.derive.status]]
when = { equals = { caseStatus = "G" } }
value = "withdrawn"
[[sources.tables.derive.status]]
value = "in_progress"
[sources.tables.constants]
item_code = "I1"
agency_code = "A1"
channel = "online"
applicant_type = "enterprise"
"""

UNKNOWN_MAPPING = """
[[sources]]
file = "{file}"
[[sources.tables]]
name = "cases"
unknown = ["channel", "applicant_type"]
"""


def kinds() -> list[Kind]:  # noqa: PLR0915 — one flat list is the readable form of a corpus
    rng = random.Random(18)
    long_id = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(100_000))
    k: list[Kind] = []
    q = quarantined
    # --- whole numbers ------------------------------------------------------------------------
    k += [
        q("int_word", "visits 'three'", "bad_int", "column visits", "'three'",
          row=case("B1", visits="three")),
        q("int_fraction", "promised_days 2.5", "bad_int", "'2.5' is not a whole number",
          row=case("B1", promised_days="2.5")),
        q("int_overflow", "statutory_days 3,000,000,000 (beyond a 32-bit integer)",
          "out_of_range", "column statutory_days", "larger than 2,147,483,647",
          row=case("B1", statutory_days="3000000000")),
        q("int_1e300", "promised_days 1e300", "out_of_range", "'1e300'",
          "larger than 2,147,483,647", row=case("B1", promised_days="1e300")),
        q("int_minus_1e300", "statutory_days -1e300", "out_of_range", "'-1e300'",
          row=case("B1", statutory_days="-1e300")),
        q("int_inf", "visits inf", "bad_int", "'inf' is not a whole number",
          row=case("B1", visits="inf")),
        q("int_nan", "visits NaN", "bad_int", "'NaN' is not a whole number",
          row=case("B1", visits="NaN")),
        q("int_negative", "promised_days -3", "negative_value", "'-3' is negative",
          row=case("B1", promised_days="-3")),
    ]
    # --- dates --------------------------------------------------------------------------------
    k += [
        q("ts_word", "submitted_at 'yesterday'", "bad_timestamp", "column submitted_at",
          "'yesterday'", row=case("B1", submitted_at="yesterday")),
        q("ts_month_13", "submitted_at 2024-13-45", "bad_timestamp", "'2024-13-45 09:00'",
          row=case("B1", submitted_at="2024-13-45 09:00")),
        q("ts_feb_30", "accepted_at 2024-02-30", "bad_timestamp", "'2024-02-30 10:00'",
          row=case("B1", accepted_at="2024-02-30 10:00")),
        q("ts_not_leap", "accepted_at 2023-02-29", "bad_timestamp", "'2023-02-29 10:00'",
          row=case("B1", submitted_at="2023-02-28 09:00", accepted_at="2023-02-29 10:00")),
        q("ts_two_digit_year", "submitted/accepted '24/1/2 6:07' (Excel yy/m/d saved as CSV)",
          "ambiguous_year", "'24/1/2 6:07' has a two-digit year",
          row=case("B1", submitted_at="24/1/2 6:07", accepted_at="24/1/2 6:07",
                   completed_at="", status="in_progress")),
        q("ts_year_0001", "accepted_at 0001-01-01", "implausible_date", "'0001-01-01 10:00'",
          row=case("B1", submitted_at="0001-01-01 09:00", accepted_at="0001-01-01 10:00")),
        q("ts_year_1900", "submitted_at 1900-01-01", "implausible_date",
          "lies outside the plausible dates 2000-01-01",
          row=case("B1", submitted_at="1900-01-01 09:00")),
        q("ts_year_2099", "completed_at 2099-01-01", "implausible_date", "'2099-01-01'",
          row=case("B1", completed_at="2099-01-01")),
        q("ts_year_9999", "completed_at 9999-12-31 23:59", "implausible_date",
          "'9999-12-31 23:59'", row=case("B1", completed_at="9999-12-31 23:59")),
        q("ts_future", "completed_at in 2090, after the import", "implausible_date",
          "column completed_at", row=case("B1", completed_at="2090-06-01 10:00")),
        q("ts_excel_serial_2173", "completed_at Excel serial 99999 (year 2173)",
          "implausible_date", "'99999'", row=case("B1", completed_at="99999")),
        q("due_at_2199", "due_at 2199-01-01, beyond the due-date horizon", "implausible_date",
          "column due_at", row=case("B1", due_at="2199-01-01", promised_days="")),
        loaded_cases("ts_offsets_and_serials", "ISO with Z and offset, Excel serial, 年月日",
                     case("T1", submitted_at="2024-03-05T01:30:00Z",
                          accepted_at="2024-03-05 10:30:00+08:00"),
                     case("T2", submitted_at="45356.5", accepted_at="45356.75"),
                     case("T3", submitted_at="2024年3月5日 9:30", accepted_at="2024/3/5 10:00"),
                     stored={"T1": {"submitted_at": "2024-03-05 09:30:00",
                                    "accepted_at": "2024-03-05 10:30:00"},
                             "T2": {"submitted_at": "2024-03-05 12:00:00"},
                             "T3": {"submitted_at": "2024-03-05 09:30:00"}}),
        loaded_cases("ts_two_digit_year_with_pivot", "'24/1/2 6:07' with year_pivot = 50",
                     case("Y1", submitted_at="24/1/2 6:07", accepted_at="24/1/2 8:00",
                          completed_at="", status="in_progress"),
                     stored={"Y1": {"submitted_at": "2024-01-02 06:07:00"}},
                     mapping='[[sources]]\nfile = "cases.csv"\nyear_pivot = 50\n'
                             '[[sources.tables]]\nname = "cases"\n'),
    ]
    # --- enums, unknown and booleans ----------------------------------------------------------
    k += [
        q("enum_fax", "channel 'fax'", "bad_enum", "column channel", "'fax'",
          row=case("B1", channel="fax")),
        q("enum_control_char", "channel 'fa\\x1fx' (a unit separator inside the value)",
          "bad_enum", "'fa\\x1fx' is not one of", row=case("B1", channel="fa\x1fx")),
        q("channel_blank", "channel empty, no mapping", "required", "column channel: is empty",
          row=case("B1", channel="")),
        loaded_cases("channel_unknown_labels", "channel UNKNOWN / 未知, applicant type 不详",
                     case("U1", channel="UNKNOWN"), case("U2", channel="未知",
                                                         applicant_type="不详"),
                     stored={"U1": {"channel": "unknown"},
                             "U2": {"channel": "unknown", "applicant_type": "unknown"}}),
        loaded_cases("channel_blank_mapped_unknown", "blank channel and applicant type with "
                     "`unknown` in the mapping", case("U1", channel="", applicant_type=""),
                     case("U2"),
                     stored={"U1": {"channel": "unknown", "applicant_type": "unknown"},
                             "U2": {"channel": "window"}},
                     mapping=UNKNOWN_MAPPING.format(file="cases.csv")),
        q("bool_maybe", "full_online 'maybe'", "bad_bool", "column full_online", "'maybe'",
          row=case("B1", full_online="maybe")),
    ]
    no_channel_cols = tuple(c for c in CASE_COLS if c not in ("channel", "applicant_type"))
    k.append(Kind(
        "channel_column_missing_mapped_unknown", "no channel or applicant type column; the "
        "mapping says unknown",
        {"cases.csv": csv_text(no_channel_cols, [case("N1"), case("N2")]).encode(),
         "mapping.toml": UNKNOWN_MAPPING.format(file="cases.csv").encode()},
        Expect("loaded", counts={"cases": (2, 2, 0)},
               stored={"cases": {"N1": {"channel": "unknown", "applicant_type": "unknown"}}}),
        mapping="mapping.toml"))
    k.append(refused(
        "channel_column_missing", "no channel column and no mapping",
        {"cases.csv": csv_text(tuple(c for c in CASE_COLS if c != "channel"),
                               [case("N1")]).encode()},
        "missing_column", "required column channel (申报渠道)"))
    # --- text the database cannot take --------------------------------------------------------
    k += [
        q("nul_in_key", "case_id with a NUL byte", "nul_character", "column case_id",
          "'B\\x001'", row=case("B\x001")),
        q("nul_in_text", "applicant_key with a NUL byte", "nul_character",
          "column applicant_key", row=case("B1", applicant_key="k\x00k")),
        q("id_100k_chars", "a 100,000-character random case_id", "too_long",
          "longer than 256 characters", row=case(long_id)),
    ]
    k.append(Kind(
        "name_too_long", "an agency name of 5,000 characters",
        {"agencies.csv": ("agency_code,name,region_code,sector\nA2,局,330225,民政\n"
                          f"A3,{'名' * 5000},330225,民政\n").encode()},
        Expect("quarantined", "too_long", ("agencies.csv line 3", "longer than 4,000"),
               {"agencies": (2, 1, 1)}, line=3)))
    k.append(loaded_cases("control_chars_storable", "a tab and a \\x1f inside a value load",
                          case("K1", applicant_key="a\tb\x1fc"),
                          stored={"K1": {"applicant_key": "a\tb\x1fc"}}))
    # --- required values, references and keys -------------------------------------------------
    k += [
        q("required_empty", "submitted_at empty", "required", "column submitted_at: is empty",
          row=case("B1", submitted_at="")),
        q("unknown_item", "item_code I9", "unknown_reference", "'I9' is not in items.item_code",
          row=case("B1", item_code="I9")),
        q("unknown_agency", "agency_code A7", "unknown_reference",
          "'A7' is not in agencies.agency_code", row=case("B1", agency_code="A7")),
        q("duplicate_key", "G1 twice with other values", "duplicate_key",
          "key 'G1' already appears on line 2", row=case("G1", channel="online")),
        q("duplicate_identical", "G1 twice, identical (cases are not an event log)",
          "duplicate_key", "key 'G1' already appears on line 2", row=case("G1")),
    ]
    # --- cross-column rules -------------------------------------------------------------------
    k += [
        q("accepted_before_submitted", "accepted an hour before submission",
          "accepted_before_submitted", "is earlier than submitted_at",
          row=case("B1", accepted_at="2024-03-04 08:00")),
        q("completed_before_accepted", "completed before accepted", "completed_before_accepted",
          "completed_at 2024-03-01 16:00:00 is earlier than accepted_at",
          row=case("B1", completed_at="2024-03-01 16:00")),
        q("completed_without_time", "status completed, no completed_at",
          "completed_without_completed_at", "is empty but status is completed",
          row=case("B1", completed_at="")),
        q("completed_at_not_completed", "completed_at set, status in_progress",
          "completed_at_but_not_completed", "but status is in_progress",
          row=case("B1", status="in_progress")),
        q("in_progress_not_accepted", "in progress without acceptance",
          "in_progress_without_accepted_at", "is empty but status is in_progress",
          row=case("B1", accepted_at="", completed_at="", status="in_progress")),
        q("promised_over_statutory", "promised 30 > statutory 20", "promised_exceeds_statutory",
          "promised_days 30 exceeds statutory_days 20", row=case("B1", promised_days="30")),
        q("due_before_accepted", "due date before the acceptance date", "due_before_accepted",
          "is before the acceptance date",
          row=case("B1", promised_days="", limit_unit="natural", due_at="2024-03-01")),
    ]
    # --- suspensions and reviews --------------------------------------------------------------
    susp_ok = {"case_id": "G1", "started_at": "2024-03-05 09:00", "ended_at": "2024-03-06 09:00",
               "reason": "补正", "approved_days": "3"}
    base_cases = cases_file(good=2)
    k += [
        Kind("suspension_ends_before_start", "a suspension ending before it starts",
             {"cases.csv": base_cases, "suspensions.csv": csv_text(SUSP_COLS, [
                 susp_ok, {**susp_ok, "started_at": "2024-03-07 13:00",
                           "ended_at": "2024-03-07 12:00", "reason": "correction"}]).encode()},
             Expect("quarantined", "suspension_ends_before_start",
                    ("suspensions.csv line 3", "is earlier than started_at"),
                    {"cases": (2, 2, 0), "suspensions": (2, 1, 1)}, line=3)),
        Kind("suspension_unknown_case", "a suspension of case C404",
             {"cases.csv": base_cases, "suspensions.csv": csv_text(SUSP_COLS, [
                 susp_ok, {**susp_ok, "case_id": "C404"}]).encode()},
             Expect("quarantined", "unknown_reference",
                    ("suspensions.csv line 3", "'C404' is not in cases.case_id"),
                    {"cases": (2, 2, 0), "suspensions": (2, 1, 1)}, line=3)),
        Kind("suspension_started_1900", "a suspension starting in 1900",
             {"cases.csv": base_cases, "suspensions.csv": csv_text(SUSP_COLS, [
                 susp_ok, {**susp_ok, "started_at": "1900-03-05 09:00"}]).encode()},
             Expect("quarantined", "implausible_date",
                    ("suspensions.csv line 3", "column started_at"),
                    {"cases": (2, 2, 0), "suspensions": (2, 1, 1)}, line=3)),
        Kind("suspensions_parallel", "two special procedures starting together (检验检测 and "
             "专家评审 on the same day) are two suspensions",
             {"cases.csv": base_cases, "suspensions.csv": csv_text(SUSP_COLS, [
                 {**susp_ok, "reason": "检验检测"},
                 {**susp_ok, "ended_at": "2024-03-07 09:00", "reason": "专家评审"}]).encode()},
             Expect("loaded", counts={"cases": (2, 2, 0), "suspensions": (2, 2, 0)})),
        Kind("suspension_exact_duplicate", "the same suspension twice in one file",
             {"cases.csv": base_cases,
              "suspensions.csv": csv_text(SUSP_COLS, [susp_ok, susp_ok]).encode()},
             Expect("quarantined", "duplicate_key",
                    ("suspensions.csv line 3", "already appears on line 2"),
                    {"cases": (2, 2, 0), "suspensions": (2, 1, 1)}, line=3)),
    ]
    rev_ok = {"review_id": "R1", "case_id": "G1", "agency_code": "A1", "channel": "窗口评价器",
              "rated_at": "2024-03-09 10:00", "level": "5", "active": "是"}
    k += [
        Kind("review_level_6", "rating level 6", {"cases.csv": base_cases,
             "reviews.csv": csv_text(REVIEW_COLS, [rev_ok, {**rev_ok, "review_id": "R2",
                                                            "level": "6"}]).encode()},
             Expect("quarantined", "out_of_range", ("reviews.csv line 3", "'6' is outside 1–5"),
                    {"cases": (2, 2, 0), "reviews": (2, 1, 1)}, line=3)),
        Kind("review_rated_1999", "a rating dated 1999", {"cases.csv": base_cases,
             "reviews.csv": csv_text(REVIEW_COLS, [rev_ok, {**rev_ok, "review_id": "R2",
                                                            "rated_at": "1999-12-31"}]).encode()},
             Expect("quarantined", "implausible_date", ("reviews.csv line 3", "column rated_at"),
                    {"cases": (2, 2, 0), "reviews": (2, 1, 1)}, line=3)),
        Kind("review_unknown_channel", "rating channel left unknown (未知) loads",
             {"cases.csv": base_cases,
              "reviews.csv": csv_text(REVIEW_COLS, [{**rev_ok, "channel": "未知"}]).encode()},
             Expect("loaded", counts={"cases": (2, 2, 0), "reviews": (1, 1, 0)},
                    stored={"reviews": {"R1": {"channel": "unknown"}}})),
    ]
    # --- dimensions ---------------------------------------------------------------------------
    k += [
        Kind("region_unknown_parent", "a region whose parent does not exist",
             {"regions.csv": "region_code,name,parent_code,level\n330226,宁海县,330200,县\n"
                             "330227,某县,339999,county\n".encode()},
             Expect("quarantined", "unknown_reference",
                    ("regions.csv line 3", "'339999' is not in regions.region_code"),
                    {"regions": (2, 1, 1)}, line=3)),
        Kind("region_bad_level", "region level 'planet'",
             {"regions.csv": "region_code,name,parent_code,level\n330226,宁海县,330200,县\n"
                             "330227,某县,330200,planet\n".encode()},
             Expect("quarantined", "bad_enum", ("regions.csv line 3", "'planet'"),
                    {"regions": (2, 1, 1)}, line=3)),
        Kind("item_online_depth_0", "online depth 0",
             {"items.csv": "item_code,name,item_type,sector,limit_unit,online_depth\n"
                           "I2,x,公共服务,民政,自然日,4\nI3,y,public_service,民政,natural,0\n"
                           .encode()},
             Expect("quarantined", "out_of_range", ("items.csv line 3", "'0' is outside 1–4"),
                    {"items": (2, 1, 1)}, line=3)),
    ]
    # --- lines and encodings ------------------------------------------------------------------
    head = ",".join(CASE_COLS) + "\n"
    g1 = cases_file(good=1).decode().splitlines()[1]
    k += [
        Kind("line_short", "a line with five fields", {"cases.csv": (
            head + g1 + "\nB1,I1,A1,window,person\n").encode()},
             Expect("quarantined", "field_count", ("line 3", "has 5 field(s) but the header "
                                                   f"has {len(CASE_COLS)}"),
                    {"cases": (2, 1, 1)}, line=3)),
        Kind("line_long", "a line with one field too many", {"cases.csv": (
            head + g1 + "\n" + g1.replace("G1", "B1") + ",extra\n").encode()},
             Expect("quarantined", "field_count", ("line 3", f"has {len(CASE_COLS) + 1} "
                                                   "field(s)"), {"cases": (2, 1, 1)}, line=3)),
        Kind("line_blank", "a blank line between rows", {"cases.csv": (
            head + g1 + "\n\n" + g1.replace("G1", "G2") + "\n").encode()},
             Expect("quarantined", "field_count", ("line 3", "the line is empty"),
                    {"cases": (3, 2, 1)}, line=3)),
        Kind("quote_never_closed", "the last line cut inside a quoted field", {"cases.csv": (
            head + g1 + '\nB1,I1,A1,window,person,"2024-03-04').encode()},
             Expect("quarantined", "field_count", ("line 3", "never closed"),
                    {"cases": (2, 1, 1)}, line=3)),
        Kind("quoted_line_break", "a value with a line break; the bad row after it keeps its "
             "line number", {"cases.csv": csv_text(CASE_COLS, [
                 case("G1", applicant_key="two\nlines"), case("B1", channel="fax")]).encode()},
             Expect("quarantined", "bad_enum", ("cases.csv line 4", "'fax'"),
                    {"cases": (2, 1, 1)}, line=4)),
        Kind("gbk", "GBK with Chinese headers and labels", {"cases.csv": (
            "办件编号,事项编码,实施机关编码,申报渠道,申请人类型,申请时间,受理时间,办件状态,"
            "承诺时限,时限单位\nC1,I1,A1,窗口,自然人,2024-03-04 09:00,2024-03-04 10:00,在办,10,"
            "工作日\n").encode("gbk")},
             Expect("loaded", counts={"cases": (1, 1, 0)},
                    stored={"cases": {"C1": {"channel": "window", "status": "in_progress"}}})),
        Kind("utf8_bom", "UTF-8 with a byte-order mark", {"cases.csv": b"\xef\xbb\xbf"
             + cases_file(good=1)}, Expect("loaded", counts={"cases": (1, 1, 0)})),
        Kind("crlf_and_classic_mac", "CR-LF in one file, CR only in another",
             {"cases.csv": cases_file(good=2).replace(b"\n", b"\r\n"),
              "suspensions.csv": csv_text(SUSP_COLS, [susp_ok]).encode().replace(b"\n", b"\r")},
             Expect("loaded", counts={"cases": (2, 2, 0), "suspensions": (1, 1, 0)})),
        Kind("tsv", "tab-separated .tsv", {"cases.tsv": cases_file(good=2).replace(b",", b"\t")},
             Expect("loaded", counts={"cases": (2, 2, 0)})),
        Kind("header_only", "a header and no rows", {"cases.csv": head.encode()},
             Expect("loaded", counts={"cases": (0, 0, 0)})),
    ]
    # --- whole files refused ------------------------------------------------------------------
    k += [
        refused("empty_file", "0 bytes", {"cases.csv": b""}, "file_empty", "the file is empty"),
        refused("missing_column", "no submitted_at column", {"cases.csv": csv_text(
            tuple(c for c in CASE_COLS if c != "submitted_at"), [case("C1")]).encode()},
            "missing_column", "submitted_at (申请时间)"),
        refused("header_control_char", "a header with a \\x1f in it (shown escaped, one line)",
                {"cases.csv": csv_text(tuple(c if c != "submitted_at" else "submitted\x1fat"
                                             for c in CASE_COLS), [case("C1")]).encode()},
                "missing_column", "submitted\\x1fat"),
        refused("unknown_file_name", "a file named after no table",
                {"export_2024.csv": cases_file(good=1)}, "unknown_table",
                "export_2024.csv", "mapping file"),
        refused("mapping_pattern_no_match", "a mapping whose file pattern does not match",
                {"export_2024.csv": cases_file(good=1),
                 "mapping.toml": (b'[[sources]]\nfile = "platform_*.csv"\n[[sources.tables]]\n'
                                  b'name = "cases"\n[[sources]]\nfile = "hall_*.xlsx"\n'
                                  b'[[sources.tables]]\nname = "cases"\n')},
                "unknown_table", "its file patterns: 'platform_*.csv', 'hall_*.xlsx'",
                mapping="mapping.toml"),
        refused("not_utf8_or_gbk", "bytes that are neither UTF-8 nor GBK",
                {"cases.csv": head.encode() + b"C1,\xff\xff\xff\xff\n"}, "file_unreadable",
                "neither UTF-8 nor GBK"),
        refused("xlsx_corrupt", "a workbook cut in half",
                {"cases.xlsx": workbook({"办件": [list(CASE_COLS)]})[:300]}, "file_unreadable",
                "not a readable Excel workbook"),
        refused("xlsx_sparse_range", "two cells spanning a whole sheet (A1 … XFD1048576)",
                {"cases.xlsx": sparse_bomb()}, "file_too_large", "cells (rows × columns)"),
        refused("xlsx_no_sheet_fits", "a workbook whose sheets fit no table",
                {"export.xlsx": workbook({"说明": [["这是说明"], ["第二行"]]})}, "unknown_table",
                "no sheet fits"),
    ]
    # --- workbooks ----------------------------------------------------------------------------
    rows_jan = [list(CASE_COLS)] + [[case(f"J{i}")[c] for c in CASE_COLS] for i in (1, 2)]
    rows_feb = [list(CASE_COLS)] + [[case(f"F{i}")[c] for c in CASE_COLS] for i in (1, 2, 3)]
    k.append(Kind("xlsx_two_sheets", "cases on two sheets (1月, 2月) and a note sheet",
                  {"cases.xlsx": workbook({"1月": rows_jan, "2月": rows_feb,
                                           "说明": [["导出说明"], ["仅供参考"]]})},
                  Expect("loaded", counts={"cases": (5, 5, 0)},
                         message=("sheet skipped", "说明"))))
    rows_bad = rows_feb[:2] + [[case("F9", channel="fax")[c] for c in CASE_COLS]]
    k.append(Kind("xlsx_bad_row_on_second_sheet", "a bad row on the second sheet",
                  {"cases.xlsx": workbook({"1月": rows_jan, "2月": rows_bad})},
                  Expect("quarantined", "bad_enum", ("cases.xlsx [2月] line 3", "'fax'"),
                         {"cases": (4, 3, 1)}, line=3)))
    # --- Parquet (typed columns) --------------------------------------------------------------
    k += [
        Kind("parquet_int64_overflow", "an Int64 limit of 3,000,000,000 in Parquet",
             {"cases.parquet": parquet(typed_cases(3, promised_days=pl.Series(
                 [5, 3_000_000_000, 7], dtype=pl.Int64)))},
             Expect("quarantined", "out_of_range", ("cases.parquet row 2", "larger than"),
                    {"cases": (3, 2, 1)}, line=2)),
        Kind("parquet_float_inf", "a Float64 visits column holding inf",
             {"cases.parquet": parquet(typed_cases(2, visits=pl.Series(
                 [1.0, float("inf")], dtype=pl.Float64)))},
             Expect("quarantined", "bad_int", ("cases.parquet row 2", "'inf'"),
                    {"cases": (2, 1, 1)}, line=2)),
        Kind("parquet_datetime_year_2200", "a typed datetime in 2200",
             {"cases.parquet": parquet(typed_cases(2).with_columns(
                 pl.col("submitted_at").str.to_datetime(),
                 pl.Series("accepted_at", ["2024-03-04 10:00", "2200-01-01 10:00"])
                 .str.to_datetime()))},
             Expect("quarantined", "implausible_date", ("cases.parquet row 2", "accepted_at"),
                    {"cases": (2, 1, 1)}, line=2)),
    ]
    # --- mappings: derived fields, keys and sources ---------------------------------------------
    permits = ("id,start,endDate,caseStatus\n"
               "P1,2024-03-04 09:00,2024-03-20 10:00,G\n"   # closed with an end date: completed
               "P2,2024-03-04 09:00,,G\n"                   # closed, no end date: withdrawn
               "P3,2024-03-04 09:00,,O\n"                   # open
               "P4,2024-03-04 09:00,2024-03-21 10:00,O\n")  # end date but open: not completed
    k.append(Kind("derived_status", "status and completed_at from caseStatus and endDate",
                  {"permits.csv": permits.encode(), "mapping.toml": DERIVE_MAPPING.encode()},
                  Expect("loaded", counts={"cases": (4, 4, 0)}, stored={"cases": {
                      "P1": {"status": "completed", "completed_at": "2024-03-20 10:00:00"},
                      "P2": {"status": "withdrawn", "completed_at": None},
                      "P3": {"status": "in_progress", "completed_at": None},
                      "P4": {"status": "in_progress", "completed_at": None}}}),
                  mapping="mapping.toml"))
    export_a = "case_no,municipality,agency_code,item_code,channel,applicant_type,submitted_at," \
               "accepted_at,status,limit_unit\n6038724,beilun,A1,I1,window,person," \
               "2024-03-04 09:00,2024-03-04 10:00,in_progress,working\n"
    export_b = "case_no,municipality,agency_code,item_code,channel,applicant_type,submitted_at," \
               "accepted_at,status,limit_unit\n6038724,yinzhou,A2,I1,online,enterprise," \
               "2024-05-06 09:00,2024-05-06 10:00,in_progress,working\n"
    dims = "agency_code,name,region_code,sector\nA2,鄞州区市场监督管理局,330225,市场监管\n"
    both_sources = (CONFLICT_MAPPING.format(file="beilun_*.csv", source="beilun", key="case_no")
                    + CONFLICT_MAPPING.format(file="yinzhou_*.csv", source="yinzhou",
                                              key="case_no"))
    k.append(Kind(
        "key_conflict_across_sources", "two municipalities' exports both hold case 6038724",
        {"agencies.csv": dims.encode(), "beilun_2024.csv": export_a.encode(),
         "yinzhou_2024.csv": export_b.encode(), "mapping.toml": both_sources.encode()},
        Expect("quarantined", "key_conflict", (
            "yinzhou_2024.csv line 2", "key '6038724' is already stored for another case",
            "agency_code 'A1' (this row 'A2')", "beilun_2024.csv line 2", "(source 'beilun')",
            "This row's source: 'yinzhou'"), {"cases": (1, 0, 1)}, line=2,
            stored={"cases": {"6038724": {"agency_code": "A1"}}}),
        steps=[["agencies.csv", "beilun_2024.csv"], ["yinzhou_2024.csv"]], mapping="mapping.toml"))
    scoped = (CONFLICT_MAPPING.format(file="beilun_*.csv", source="beilun",
                                      key="{municipality}-{case_no}")
              + CONFLICT_MAPPING.format(file="yinzhou_*.csv", source="yinzhou",
                                        key="{municipality}-{case_no}"))
    k.append(Kind(
        "key_template_across_sources", "the same ids with case_id = \"{municipality}-{case_no}\"",
        {"agencies.csv": dims.encode(), "beilun_2024.csv": export_a.encode(),
         "yinzhou_2024.csv": export_b.encode(), "mapping.toml": scoped.encode()},
        Expect("loaded", counts={"cases": (1, 1, 0)}, stored={"cases": {
            "beilun-6038724": {"agency_code": "A1"}, "yinzhou-6038724": {"agency_code": "A2"}}}),
        steps=[["agencies.csv", "beilun_2024.csv"], ["yinzhou_2024.csv"]], mapping="mapping.toml"))
    later = cases_file(good=2).decode().replace(
        "G2,I1,A1,window,person,2024-03-04 09:00,2024-03-04 10:00,2024-03-08 16:00,completed",
        "G2,I1,A1,window,person,2024-03-04 09:00,2024-03-04 10:00,2024-03-09 11:00,completed")
    first = cases_file(good=2).decode().replace(
        "G2,I1,A1,window,person,2024-03-04 09:00,2024-03-04 10:00,2024-03-08 16:00,completed",
        "G2,I1,A1,window,person,2024-03-04 09:00,2024-03-04 10:00,,in_progress")
    k.append(Kind(
        "same_system_update", "a later export where G2 is now completed updates it",
        {"first/cases.csv": first.encode(), "later/cases.csv": later.encode()},
        Expect("loaded", counts={"cases": (2, 2, 0)}, stored={"cases": {
            "G2": {"status": "completed", "completed_at": "2024-03-09 11:00:00"}}}),
        steps=[["first/cases.csv"], ["later/cases.csv"]]))
    k.append(Kind(
        "reimport_same_bad_file", "the same file imported twice: its bad row is quarantined once",
        {"cases.csv": cases_file(case("B1", channel="fax"))},
        Expect("quarantined", "bad_enum", ("cases.csv line 4",), {"cases": (3, 2, 1)}, line=4,
               quarantine_rows=1),
        steps=[["cases.csv"], ["cases.csv"]]))
    return k


def write(out: Path) -> None:
    if out.exists():
        shutil.rmtree(out)
    manifest = []
    for kind in kinds():
        folder = out / kind.name
        for rel, data in kind.files.items():
            path = folder / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
        entry = {"name": kind.name, "what": kind.what, "files": list(kind.files),
                 "steps": kind.steps, "mapping": kind.mapping, "expect": asdict(kind.expect)}
        manifest.append(entry)
    (out / "manifest.json").write_text(
        json.dumps(manifest, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")


def _tree(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file()}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check", action="store_true", help="compare with the committed corpus")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args(argv)
    if not args.check:
        write(args.out)
        print(f"{len(kinds())} kinds written to {args.out}")
        return 0
    import tempfile
    with tempfile.TemporaryDirectory() as tmp:
        write(Path(tmp) / "corpus")
        fresh, committed = _tree(Path(tmp) / "corpus"), _tree(args.out)
    if fresh != committed:
        diff = sorted(set(fresh) ^ set(committed)) or sorted(
            k for k in fresh if fresh[k] != committed.get(k))
        print(f"the corpus differs from make_corpus.py: {diff[:10]}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
