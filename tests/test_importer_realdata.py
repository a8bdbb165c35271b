"""Real logs nobody on this project wrote, imported with the mapping files in examples/mappings.

Expected values are computed here independently from the raw files with the csv module and
datetime, not with the importer's code.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

from queries import schema
from queries.importer import import_paths
from tests.test_importer_helpers import assert_reconciles, quarantined

EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "mappings"


def _raw(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as fh:
        return list(csv.DictReader(fh))


def _cases(engine: sa.Engine) -> dict[str, dict]:
    with engine.connect() as conn:
        return {r["case_id"]: dict(r) for r in conn.execute(sa.select(schema.cases)).mappings()}


def test_receipt_wabo_event_log_collapses_to_one_case_per_id(any_engine, realdata):
    log = realdata / "receipt_wabo.csv"
    report = import_paths(any_engine, [EXAMPLES / "receipt_wabo", log],
                          mapping=EXAMPLES / "receipt_wabo" / "mapping.toml", progress=False)
    assert_reconciles(any_engine, report)

    events = _raw(log)
    per_case = {e["case:concept:name"]: e for e in events}
    c = report.tables["cases"]
    assert c.read == len(events) == 8_577
    assert c.inserted == len(per_case) == 1_434
    assert c.quarantined == 0
    assert c.merged_duplicates == 8_577 - 1_434

    cases = _cases(any_engine)
    assert len(cases) == 1_434
    open_ids = {k for k, e in per_case.items() if not e["case:enddate"]}
    assert len(open_ids) == 105
    assert {k for k, v in cases.items() if v["status"] == "in_progress"} == open_ids
    assert all(v["completed_at"] is None for k, v in cases.items() if k in open_ids)

    # promised_days = natural days between the local dates written in the file
    def local_date(text: str) -> dt.date:
        return dt.date.fromisoformat(text[:10])

    expected = {k: (local_date(e["case:deadline"]) - local_date(e["case:startdate"])).days
                for k, e in per_case.items()}
    assert {k: v["promised_days"] for k, v in cases.items()} == expected
    assert Counter(expected.values()).most_common(1)[0][0] == 56
    channel_of = {"Internet": "online", "e-mail": "online", "Desk": "window", "Post": "mail",
                  "Intern": "assisted"}
    assert Counter(v["channel"] for v in cases.values()) == Counter(
        channel_of[e["case:channel"]] for e in per_case.values())
    assert {v["limit_unit"] for v in cases.values()} == {"natural"}
    # start dates carry +01:00/+02:00; the mapping keeps the written date, not China time
    sample = per_case["case-10011"]
    assert cases["case-10011"]["accepted_at"] == dt.datetime.combine(
        local_date(sample["case:startdate"]), dt.time())


def test_boston311_feeds_cases_agencies_and_items(any_engine, realdata):
    path = realdata / "boston311-100.csv"
    report = import_paths(any_engine, [EXAMPLES / "boston311", path],
                          mapping=EXAMPLES / "boston311" / "mapping.yaml", progress=False)
    assert_reconciles(any_engine, report)
    raw = _raw(path)
    c = report.tables["cases"]
    assert (c.read, c.inserted, c.quarantined) == (100, 100, 0)
    departments = {r["department"] for r in raw}
    types = {r["type"] for r in raw}
    assert report.tables["agencies"].inserted == len(departments) == 7
    assert report.tables["agencies"].merged_duplicates == 100 - 7
    assert report.tables["items"].inserted == len(types)

    cases = _cases(any_engine)
    status_counts = Counter(r["case_status"] for r in raw)
    assert status_counts == {"Closed": 85, "Open": 15}
    assert Counter(v["status"] for v in cases.values()) == {
        "completed": status_counts["Closed"], "in_progress": status_counts["Open"]}

    def day(text: str) -> dt.date:
        return dt.date.fromisoformat(text[:10])

    expected = {r["case_enquiry_id"]: ((day(r["target_dt"]) - day(r["open_dt"])).days
                                       if r["target_dt"] else None) for r in raw}
    assert {k: v["promised_days"] for k, v in cases.items()} == expected
    assert sum(v is None for v in expected.values()) == 11  # no target_dt → no deadline
    assert Counter(v["channel"] for v in cases.values()) == {
        "mobile": 56 + 11, "assisted": 30, "online": 3}


def test_la311_loads_with_a_format_from_the_mapping_and_quarantines_contradictions(
    sqlite_engine, realdata
):
    path = realdata / "la311_2017_subset.csv"
    report = import_paths(sqlite_engine, [EXAMPLES / "la311", path],
                          mapping=EXAMPLES / "la311" / "mapping.toml", progress=False)
    assert_reconciles(sqlite_engine, report)
    raw = _raw(path)

    def stamp(text: str) -> dt.datetime | None:
        return dt.datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p") if text else None

    contradictions = {r["SRNumber"] for r in raw
                      if r["Status"] != "Closed" and r["ClosedDate"]}
    closed_before_created = {r["SRNumber"] for r in raw
                             if r["ClosedDate"] and stamp(r["ClosedDate"]) < stamp(r["CreatedDate"])}
    c = report.tables["cases"]
    assert c.read == len(raw) == 9_999
    assert c.quarantined == len(contradictions | closed_before_created)
    assert c.inserted == 9_999 - c.quarantined
    bad = quarantined(sqlite_engine, report.load_id)
    assert {q["row_key"] for q in bad if "completed_at_but_not_completed" in q["rules"]} == contradictions
    assert {q["row_key"] for q in bad if "completed_before_accepted" in q["rules"]} == closed_before_created
    cases = _cases(sqlite_engine)
    first = raw[0]
    assert cases[first["SRNumber"]]["submitted_at"] == stamp(first["CreatedDate"])
