"""Every contract integrity rule, one small file each: the bad row is quarantined with its rule.

The files are written inline so that each case shows the exact input next to the rule it must
trip; the dimension rows come from tests/data/importer/base.
"""

from __future__ import annotations

import pytest

from queries.importer import import_paths
from tests.test_importer_helpers import BASE, assert_reconciles, quarantined, write

CASE_HEAD = ("case_id,item_code,agency_code,channel,applicant_type,submitted_at,accepted_at,"
             "completed_at,status,statutory_days,promised_days,limit_unit\n")
CASE_OK = "C1,I1,A1,window,person,2024-03-04 09:00,2024-03-04 10:00,2024-03-05 09:00,completed,20,10,working\n"
SUSP_HEAD = "case_id,started_at,ended_at,reason,approved_days\n"
REVIEW_HEAD = "review_id,case_id,agency_code,channel,rated_at,level,active\n"

RULE_CASES = {
    # name: (file, content, expected rule, text in message)
    "in_progress_without_accepted_at": (
        "cases.csv",
        CASE_HEAD + CASE_OK + "C2,I1,A1,window,person,2024-03-04 09:00,,,in_progress,20,10,working\n",
        "in_progress_without_accepted_at", "column accepted_at: is empty but status is in_progress",
    ),
    "completed_without_completed_at": (
        "cases.csv",
        CASE_HEAD + CASE_OK + "C2,I1,A1,window,person,2024-03-04 09:00,2024-03-04 10:00,,completed,20,10,working\n",
        "completed_without_completed_at", "column completed_at: is empty but status is completed",
    ),
    "completed_at_but_not_completed": (
        "cases.csv",
        CASE_HEAD + CASE_OK + "C2,I1,A1,window,person,2024-03-04 09:00,2024-03-04 10:00,2024-03-05 09:00,in_progress,20,10,working\n",
        "completed_at_but_not_completed", "but status is in_progress",
    ),
    "accepted_before_submitted": (
        "cases.csv",
        CASE_HEAD + CASE_OK + "C2,I1,A1,window,person,2024-03-04 09:00,2024-03-04 08:00,,in_progress,20,10,working\n",
        "accepted_before_submitted", "accepted_at 2024-03-04 08:00:00 is earlier than submitted_at 2024-03-04 09:00:00",
    ),
    "promised_exceeds_statutory": (
        "cases.csv",
        CASE_HEAD + CASE_OK + "C2,I1,A1,window,person,2024-03-04 09:00,2024-03-04 10:00,,in_progress,5,10,working\n",
        "promised_exceeds_statutory", "promised_days 10 exceeds statutory_days 5",
    ),
    "required_value_empty": (
        "cases.csv",
        CASE_HEAD + CASE_OK + "C2,I1,A1,,person,2024-03-04 09:00,2024-03-04 10:00,,in_progress,20,10,working\n",
        "required", "column channel: is empty",
    ),
    "unknown_agency": (
        "cases.csv",
        CASE_HEAD + CASE_OK + "C2,I1,A7,window,person,2024-03-04 09:00,2024-03-04 10:00,,in_progress,20,10,working\n",
        "unknown_reference", "'A7' is not in agencies.agency_code",
    ),
    "suspension_ends_before_start": (
        "suspensions.csv",
        SUSP_HEAD + "C1,2024-03-04 11:00,2024-03-04 12:00,补正,3\nC1,2024-03-04 13:00,2024-03-04 12:00,correction,\n",
        "suspension_ends_before_start", "ended_at 2024-03-04 12:00:00 is earlier than started_at",
    ),
    "suspension_of_unknown_case": (
        "suspensions.csv",
        SUSP_HEAD + "C1,2024-03-04 11:00,2024-03-04 12:00,补正,3\nC404,2024-03-04 11:00,,hearing,\n",
        "unknown_reference", "'C404' is not in cases.case_id",
    ),
    "review_level_out_of_range": (
        "reviews.csv",
        REVIEW_HEAD + "R1,C1,A1,窗口评价器,2024-03-05 10:00,5,是\nR2,,A1,sms,2024-03-05 10:00,6,否\n",
        "out_of_range", "column level: '6' is outside 1–5",
    ),
    "review_of_unknown_case": (
        "reviews.csv",
        REVIEW_HEAD + "R1,,A1,pad,2024-03-05 10:00,5,是\nR2,C404,A1,sms,2024-03-05 10:00,4,否\n",
        "unknown_reference", "'C404' is not in cases.case_id",
    ),
    "bad_bool": (
        "reviews.csv",
        REVIEW_HEAD + "R1,C1,A1,pad,2024-03-05 10:00,5,true\nR2,C1,A1,pad,2024-03-05 10:00,5,maybe\n",
        "bad_bool", "column active: 'maybe' is not a yes/no value",
    ),
    "region_with_unknown_parent": (
        "regions.csv",
        "region_code,name,parent_code,level\n330226,宁海县,330200,县\n330227,某县,339999,county\n",
        "unknown_reference", "'339999' is not in regions.region_code",
    ),
    "region_level_not_an_enum": (
        "regions.csv",
        "region_code,name,parent_code,level\n330226,宁海县,330200,县\n330227,某县,330200,planet\n",
        "bad_enum", "column level: 'planet' is not one of province, city, county, town, village",
    ),
    "item_online_depth_out_of_range": (
        "items.csv",
        "item_code,name,item_type,sector,limit_unit,online_depth\nI2,x,公共服务,民政,自然日,4\nI3,y,public_service,民政,natural,0\n",
        "out_of_range", "column online_depth: '0' is outside 1–4",
    ),
}


@pytest.mark.parametrize("name", list(RULE_CASES))
def test_rule_quarantines_the_bad_row_and_loads_the_good_one(any_engine, tmp_path, name):
    filename, content, rule, text = RULE_CASES[name]
    path = write(tmp_path / filename, content)
    paths = [BASE, path]
    if filename in ("suspensions.csv", "reviews.csv"):
        paths.append(write(tmp_path / "cases.csv", CASE_HEAD + CASE_OK))
    report = import_paths(any_engine, paths, progress=False)

    assert_reconciles(any_engine, report)
    table = filename.removesuffix(".csv")
    [counts] = [s.counts for s in report.sources if s.source == str(path)]
    assert (counts.read, counts.loaded, counts.quarantined) == (2, 1, 1)
    [bad] = [q for q in quarantined(any_engine, report.load_id) if q["table_name"] == table]
    assert bad["source_line"] == 3
    assert rule in bad["rules"].split(";"), bad["reasons"]
    assert text in bad["reasons"]
    assert f"[{rule}]" in bad["reasons"]
