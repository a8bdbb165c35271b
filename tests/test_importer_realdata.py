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


def test_la311_status_and_completion_are_derived_from_two_columns(any_engine, realdata):
    """Closed → completed at ClosedDate; Cancelled / Referred Out → withdrawn with no
    completion time (their ClosedDate is not a completion); Open → in progress. Only closed
    requests closed before they were created are quarantined."""
    path = realdata / "la311_2017_subset.csv"
    report = import_paths(any_engine, [EXAMPLES / "la311", path],
                          mapping=EXAMPLES / "la311" / "mapping.toml", progress=False)
    assert_reconciles(any_engine, report)
    raw = _raw(path)

    def stamp(text: str) -> dt.datetime | None:
        return dt.datetime.strptime(text, "%m/%d/%Y %I:%M:%S %p") if text else None

    closed_before_created = {r["SRNumber"] for r in raw if r["Status"] == "Closed"
                             and stamp(r["ClosedDate"]) < stamp(r["CreatedDate"])}
    assert len(closed_before_created) == 12
    c = report.tables["cases"]
    assert c.read == len(raw) == 9_999
    assert c.quarantined == len(closed_before_created)
    assert c.inserted == 9_999 - 12
    bad = quarantined(any_engine, report.load_id)
    assert {q["row_key"] for q in bad} == closed_before_created
    assert {q["rules"] for q in bad} == {"completed_before_accepted"}
    cases = _cases(any_engine)
    expected = {"Closed": "completed", "Cancelled": "withdrawn", "Referred Out": "withdrawn",
                "Open": "in_progress"}
    assert Counter(v["status"] for v in cases.values()) == Counter(
        expected[r["Status"]] for r in raw if r["SRNumber"] not in closed_before_created)
    assert Counter(v["status"] for v in cases.values())["withdrawn"] == 246 + 9
    by_id = {r["SRNumber"]: r for r in raw}
    for case_id, v in cases.items():
        r = by_id[case_id]
        assert v["completed_at"] == (stamp(r["ClosedDate"]) if r["Status"] == "Closed" else None)
        assert v["applicant_type"] == "unknown"  # not in the export
    first = raw[0]
    assert cases[first["SRNumber"]]["submitted_at"] == stamp(first["CreatedDate"])
    lf = schema.load_files
    with any_engine.connect() as conn:
        sources = conn.execute(sa.select(lf.c.table_name, lf.c.source)
                               .where(lf.c.load_id == report.load_id)).all()
    assert {tuple(r) for r in sources if r[0] == "cases"} == {("cases", "la311")}


def test_the_worked_examples_of_the_readmes_run_as_written(tmp_path):
    """Every `xiaoneng import … --mapping …` command of README.md and examples/mappings/README.md,
    run as printed from the repository root on a fresh database: exit 0, counts reconcile."""
    import os
    import re
    import shutil
    import subprocess
    import sys

    root = EXAMPLES.parents[1]
    commands: dict[str, list[str]] = {}
    pattern = r"^xiaoneng import examples/[^\n`]*--mapping [^\n`]*"
    for readme in (root / "README.md", EXAMPLES / "README.md"):
        text = readme.read_text(encoding="utf-8").replace("\\\n", " ")
        commands |= {" ".join(m.split()): m.split() for m in re.findall(pattern, text, re.M)}
    commands_run = list(commands.values())
    assert len(commands_run) >= 3
    fresh = tmp_path / "fresh.db"  # one `init-db`, copied for each command
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{fresh}"}
    subprocess.run([sys.executable, "-m", "xiaoneng.cli", "init-db"], cwd=root, env=env,
                   check=True, capture_output=True)
    for i, cmd in enumerate(commands_run):
        db = tmp_path / f"ex{i}.db"
        shutil.copy(fresh, db)
        env = {**os.environ, "DATABASE_URL": f"sqlite:///{db}"}
        done = subprocess.run([sys.executable, "-m", "xiaoneng.cli", *cmd[1:], "--quiet"],
                              cwd=root, env=env, capture_output=True, text=True)
        assert done.returncode == 0, (cmd, done.stdout, done.stderr)
        assert "DOES NOT RECONCILE" not in done.stdout and "✓" in done.stdout
