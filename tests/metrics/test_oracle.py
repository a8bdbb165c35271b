"""Independent oracle: a plain, slow, day-by-day Python clock agrees exactly with the Polars jobs.

The oracle walks the calendar one day at a time, knows nothing of ords, joins or merging, and
applies metrics.md §1 literally. Thousands of seeded random cases stress the corners: weekend
and holiday acceptances, overlapping, open and capped suspensions, natural-day limits, 即办件,
cases with no limit, cases still open at the as-of moment.
"""

from __future__ import annotations

import datetime as dt
import random
from collections import defaultdict

import polars as pl
import pytest

from metrics.cards import clock_cases
from metrics.case_measures import case_facts
from metrics.settings import Settings
from queries.calendar import official_calendar
from queries.inputs import polars_schema

AS_OF = dt.datetime(2025, 6, 30, 18, 0)
N_CASES = 3000
ONE = dt.timedelta(days=1)


def _workdays() -> dict[dt.date, bool]:
    cal = official_calendar(2023, 2026)
    return dict(zip(cal["date"].to_list(), cal["is_workday"].to_list(), strict=True))


WORK = _workdays()


def counts(d: dt.date, unit: str) -> bool:
    return unit == "natural" or WORK[d]


def suspended_days(a, e, unit, susps) -> set[dt.date]:
    """Days in (a, e] that do not count: each suspension's first `approved` days after its start."""
    out: set[dt.date] = set()
    for s, t, approved in susps:
        t = e if t is None else min(t, e)
        taken, d = 0, s
        while d < t:
            d += ONE
            if not counts(d, unit):
                continue
            if approved is not None and taken >= approved:
                break
            taken += 1
            if a < d <= e:
                out.add(d)
    return out


def used_at(a, d, unit, susp_set) -> int:
    used, x = 0, a
    while x < d:
        x += ONE
        if counts(x, unit) and x not in susp_set:
            used += 1
    return used


def first_exceeding(a, e, unit, susp_set, threshold):
    used, x = 0, a
    while x < e:
        x += ONE
        if counts(x, unit) and x not in susp_set:
            used += 1
            if used > threshold:
                return x
    return None


def ord_target_date(a, unit, n) -> dt.date:
    """First date whose ord equals ord(a) + n, found by walking (n ≥ 0)."""
    if n == 0:
        x = a  # ord is flat back to the last counting day on or before a
        while not counts(x, unit):
            x -= ONE
        return x
    x, c = a, 0
    while c < n:
        x += ONE
        if counts(x, unit):
            c += 1
    return x


def oracle(case: dict, susps: list[tuple]) -> dict:
    a = case["accepted_at"].date()
    done = case["completed_at"] is not None and case["completed_at"] <= AS_OF
    e = case["completed_at"].date() if done else AS_OF.date()
    unit = case["limit_unit"]
    sset = suspended_days(a, e, unit, susps)
    used = used_at(a, e, unit, sset)
    deadline = case["promised_days"] if case["promised_days"] is not None else case["statutory_days"]
    out = dict(used_wd=used, suspended_wd=len(sset), deadline_days=deadline, is_done=done)
    if deadline is None:
        out.update(on_time=None, overdue_wd=None, due_date=None, yellow_date=None, red_date=None)
        return out
    red = deadline + 3 if case["statutory_days"] is None else min(case["statutory_days"],
                                                                   deadline + 3)
    out.update(
        on_time=used <= deadline,
        overdue_wd=max(0, used - deadline),
        due_date=ord_target_date(a, unit, deadline + len(sset)),
        yellow_date=first_exceeding(a, e, unit, sset, deadline),
        red_date=first_exceeding(a, e, unit, sset, red),
    )
    return out


def random_log(seed: int):
    rng = random.Random(seed)
    cases, susps = [], []
    start = dt.date(2024, 1, 1)
    for i in range(N_CASES):
        a = start + dt.timedelta(days=rng.randrange(0, 540))
        acc = dt.datetime.combine(a, dt.time(rng.randrange(0, 24), rng.randrange(60)))
        if acc > AS_OF:
            continue
        stat = rng.choice([None, 0, 1, 5, 10, 20, 30])
        prom = rng.choice([None, 0, 1, 2, 3, 5, 10]) if stat is None else rng.choice(
            [None, 0, stat // 2, stat])
        dur = rng.choice([0, 0, 1, 2, 3, 5, 8, 13, 21, 40])
        comp = acc + dt.timedelta(days=dur, hours=rng.randrange(0, 5))
        status = "completed"
        if rng.random() < 0.15 or comp > AS_OF:
            comp, status = None, "in_progress"
        cid = f"c{i:05d}"
        cases.append(dict(
            case_id=cid, item_code=f"I{rng.randrange(4)}", agency_code=f"A{rng.randrange(5)}",
            channel=rng.choice(["window", "online", "mobile"]), applicant_type="person",
            submitted_at=acc, accepted_at=acc, completed_at=comp, status=status,
            statutory_days=stat, promised_days=prom,
            limit_unit="natural" if rng.random() < 0.15 else "working",
            full_online=False, cross_region=False,
        ))
        for k in range(rng.choice([0, 0, 0, 1, 1, 2, 3])):
            s = a + dt.timedelta(days=rng.randrange(-2, max(dur, 1) + 3))
            t = None if rng.random() < 0.15 else s + dt.timedelta(days=rng.randrange(0, 12))
            susps.append(dict(
                case_id=cid,
                started_at=dt.datetime.combine(s, dt.time(9, k)),
                ended_at=None if t is None else dt.datetime.combine(t, dt.time(16)),
                reason="correction",
                approved_days=rng.choice([None, None, 0, 1, 3, 5]),
            ))
    return cases, susps


def frame(table, rows):
    schema = polars_schema(table)
    return pl.DataFrame([{k: r.get(k) for k in schema} for r in rows], schema=schema)


@pytest.fixture(scope="module", params=[7, 2024])
def log(request, cal_index):
    cases, susps = random_log(request.param)
    by_case = defaultdict(list)
    for s in susps:
        by_case[s["case_id"]].append((s["started_at"].date(),
                                      s["ended_at"].date() if s["ended_at"] else None,
                                      s["approved_days"]))
    return cases, susps, by_case


def test_polars_clock_equals_the_day_by_day_oracle_on_every_case(log, cal_index):
    cases, susps, by_case = log
    got = clock_cases(frame("cases", cases).lazy(), frame("suspensions", susps).lazy(),
                      cal_index, Settings(), AS_OF).collect()
    got_by_id = {r["case_id"]: r for r in got.to_dicts()}
    assert len(got_by_id) == len(cases)
    # The log must exercise the corners, or agreement would prove little.
    verdicts = [oracle(c, by_case[c["case_id"]]) for c in cases]
    assert sum(v["yellow_date"] is not None for v in verdicts) > 500
    assert sum(v["red_date"] is not None for v in verdicts) > 300
    assert sum(v["suspended_wd"] > 0 for v in verdicts) > 300
    assert sum(not v["is_done"] for v in verdicts) > 100
    assert sum(c["limit_unit"] == "natural" for c in cases) > 100
    assert sum(not WORK[c["accepted_at"].date()] for c in cases) > 300
    fields = ("used_wd", "suspended_wd", "deadline_days", "is_done", "on_time", "overdue_wd",
              "due_date", "yellow_date", "red_date")
    mismatches = []
    for c in cases:
        want = oracle(c, by_case[c["case_id"]])
        have = got_by_id[c["case_id"]]
        for f in fields:
            if f == "overdue_wd" and want["deadline_days"] is None:
                continue
            if f == "due_date" and want["deadline_days"] is None:
                continue
            if have[f] != want[f]:
                mismatches.append((c["case_id"], f, have[f], want[f]))
    assert mismatches == []


def test_monthly_on_time_and_used_days_equal_oracle_sums(log, cal_index):
    cases, susps, by_case = log
    months = [dt.date(2024, m, 1) for m in range(1, 13)] + [dt.date(2025, m, 1) for m in range(1, 7)]
    facts, _ = case_facts(frame("cases", cases).lazy(), frame("suspensions", susps).lazy(),
                          frame("reviews", []).lazy(), cal_index, months, Settings(), AS_OF)
    got = facts.group_by("month", "agency_code").agg(
        pl.col("completed", "completed_with_deadline", "completed_on_time", "used_wd_sum",
               "accepted", "online_accepted", "in_progress_eom", "overdue_open_eom").sum()
    ).collect()
    want: dict = defaultdict(lambda: defaultdict(int))
    for c in cases:
        key_a = (c["accepted_at"].date().replace(day=1), c["agency_code"])
        want[key_a]["accepted"] += 1
        want[key_a]["online_accepted"] += c["channel"] in ("online", "mobile")
        o = oracle(c, by_case[c["case_id"]])
        if o["is_done"]:
            key = (c["completed_at"].date().replace(day=1), c["agency_code"])
            want[key]["completed"] += 1
            want[key]["used_wd_sum"] += o["used_wd"]
            if o["deadline_days"] is not None:
                want[key]["completed_with_deadline"] += 1
                want[key]["completed_on_time"] += o["on_time"]
        # month-end snapshots: every month end (or the as-of moment) at which it was open
        for m in months:
            end = min(dt.datetime.combine((m + dt.timedelta(days=32)).replace(day=1), dt.time()),
                      AS_OF)
            if c["accepted_at"] <= end and (c["completed_at"] is None or c["completed_at"] > end):
                mo = m.replace(day=1)
                want[(mo, c["agency_code"])]["in_progress_eom"] += 1
                e = min(end.date() - ONE if end != AS_OF else end.date(), AS_OF.date())
                sset = suspended_days(c["accepted_at"].date(), e, c["limit_unit"],
                                      by_case[c["case_id"]])
                used = used_at(c["accepted_at"].date(), e, c["limit_unit"], sset)
                dl = o["deadline_days"]
                want[(mo, c["agency_code"])]["overdue_open_eom"] += dl is not None and used > dl
    got_map = {(r["month"], r["agency_code"]): r for r in got.to_dicts()}
    for key, vals in want.items():
        for name, v in vals.items():
            assert got_map[key][name] == v, (key, name)
