"""The working-day calendar: seeding, import, and the ord clock of metrics.md §1.

Expected values come from the State Council notices as published (working-day totals, the 调休
weekend working days), from the independent realdata file, or from naive day-by-day loops
written here, never from the code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import re
from pathlib import Path

import polars as pl
import pytest
import sqlalchemy as sa
from hypothesis import given, settings
from hypothesis import strategies as st

from metrics.calendar import WorkCalendar
from queries import calendar as qcal
from queries.errors import XiaonengError
from queries.schema import work_calendar

ONE_DAY = dt.timedelta(days=1)

# Weekend days declared working days (调休上班) by the State Council notices for 2024–2026.
TIAOXIU_WORKDAYS = [
    dt.date(2024, 2, 4), dt.date(2024, 2, 18), dt.date(2024, 4, 7), dt.date(2024, 4, 28),
    dt.date(2024, 5, 11), dt.date(2024, 9, 14), dt.date(2024, 9, 29), dt.date(2024, 10, 12),
    dt.date(2025, 1, 26), dt.date(2025, 2, 8), dt.date(2025, 4, 27), dt.date(2025, 9, 28),
    dt.date(2025, 10, 11),
    dt.date(2026, 1, 4), dt.date(2026, 2, 14), dt.date(2026, 2, 28), dt.date(2026, 5, 9),
    dt.date(2026, 9, 20), dt.date(2026, 10, 10),
]
OFFICIAL_WORKDAYS_PER_YEAR = {2024: 251, 2025: 248, 2026: 248}
OFFICIAL_DAYS = (dt.date(2027, 1, 1) - dt.date(2004, 1, 1)).days  # 2004-01-01 … 2026-12-31

# One calendar for the pure (no database) tests; building it is cheap but hypothesis calls
# the property tests hundreds of times.
OFFICIAL = qcal.official_calendar()
OFFICIAL_WORKDAY = dict(zip(OFFICIAL["date"].to_list(), OFFICIAL["is_workday"].to_list(),
                            strict=True))
CAL = WorkCalendar.from_frame(OFFICIAL)


# --- naive reference implementations ---------------------------------------------------------

def naive_is_workday(d: dt.date, table: dict[dt.date, bool] = OFFICIAL_WORKDAY) -> bool:
    """The calendar's own flag where it has one, Monday–Friday elsewhere (the contract)."""
    return table[d] if d in table else d.weekday() < 5


def naive_between(a: dt.date, b: dt.date, table: dict[dt.date, bool] = OFFICIAL_WORKDAY) -> int:
    """Working days after a up to and including b, counted one day at a time (signed)."""
    lo, hi, sign = (a, b, 1) if a <= b else (b, a, -1)
    count, d = 0, lo + ONE_DAY
    while d <= hi:
        count += naive_is_workday(d, table)
        d += ONE_DAY
    return sign * count


def naive_add(a: dt.date, n: int, table: dict[dt.date, bool] = OFFICIAL_WORKDAY) -> dt.date:
    """The first date whose working-day count equals a's count plus n, walked day by day."""
    if n >= 1:
        d, seen = a, 0
        while seen < n:
            d += ONE_DAY
            seen += naive_is_workday(d, table)
        return d
    # n ≤ 0: the first day carrying a's count is a itself on a working day, else the last
    # working day before a; from there step back |n| more working days.
    d = a
    while not naive_is_workday(d, table):
        d -= ONE_DAY
    for _ in range(-n):
        d -= ONE_DAY
        while not naive_is_workday(d, table):
            d -= ONE_DAY
    return d


def weekday_count(start: dt.date, end: dt.date) -> int:
    return sum((start + dt.timedelta(days=i)).weekday() < 5 for i in range((end - start).days + 1))


def workday_count_in_db(engine: sa.Engine, year: int) -> int:
    """Working days of a year straight from the table, with SQL (independent of the code)."""
    t = work_calendar
    with engine.connect() as conn:
        return conn.execute(
            sa.select(sa.func.count()).select_from(t).where(
                t.c.is_workday.is_(True),
                t.c.date >= dt.date(year, 1, 1),
                t.c.date <= dt.date(year, 12, 31),
            )
        ).scalar_one()


def write_csv(path: Path, header: list[str], rows: list[list[object]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def notice_2027_rows() -> list[list[object]]:
    """A test fixture shaped like a 2027 notice (NOT the real one, which is not published):
    Monday–Friday plus 元旦 on Fri 2027-01-01 off and Sat 2027-01-02 worked instead."""
    rows: list[list[object]] = []
    d = dt.date(2027, 1, 1)
    while d.year == 2027:
        if d == dt.date(2027, 1, 1):
            rows.append([d.isoformat(), "否", "元旦", "测试通知 2027"])
        elif d == dt.date(2027, 1, 2):
            rows.append([d.isoformat(), "是", "元旦调休上班", "测试通知 2027"])
        else:
            rows.append([d.isoformat(), "是" if d.weekday() < 5 else "否", "", "测试通知 2027"])
        d += ONE_DAY
    return rows


# --- the seeded calendar ---------------------------------------------------------------------

def test_seeded_calendar_has_the_official_working_day_totals(any_engine):
    assert qcal.seed_calendar_if_empty(any_engine) == OFFICIAL_DAYS
    for year, expected in OFFICIAL_WORKDAYS_PER_YEAR.items():
        assert workday_count_in_db(any_engine, year) == expected
    cal = WorkCalendar.from_engine(any_engine)
    for year, expected in OFFICIAL_WORKDAYS_PER_YEAR.items():
        assert cal.between(dt.date(year - 1, 12, 31), dt.date(year, 12, 31)) == expected
    assert cal.fallback_years == ()
    assert cal.version == qcal.calendar_version(any_engine)


def test_every_tiaoxiu_weekend_day_is_a_working_day(any_engine):
    qcal.seed_calendar_if_empty(any_engine)
    stored = qcal.load_calendar(any_engine)
    flags = dict(zip(stored["date"].to_list(), stored["is_workday"].to_list(), strict=True))
    cal = WorkCalendar.from_engine(any_engine)
    for d in TIAOXIU_WORKDAYS:
        assert d.weekday() >= 5, f"{d} is not a weekend day: the fixture list is wrong"
        assert flags[d] is True, d
        assert cal.is_workday(d), d
        assert "调休" in stored.filter(pl.col("date") == d)["name"].item()
    # and they are the only weekend working days of those years
    weekend_work = stored.filter(
        pl.col("is_workday") & (pl.col("date").dt.weekday() >= 6)
        & pl.col("date").dt.year().is_between(2024, 2026)
    )["date"].to_list()
    assert weekend_work == TIAOXIU_WORKDAYS


def test_seeded_calendar_agrees_day_by_day_with_the_realdata_file(any_engine, realdata):
    qcal.seed_calendar_if_empty(any_engine)
    stored = qcal.load_calendar(any_engine)
    flags = dict(zip(stored["date"].to_list(), stored["is_workday"].to_list(), strict=True))
    with (realdata / "cn_workcalendar_2024_2026.csv").open(encoding="utf-8") as f:
        reference = {dt.date.fromisoformat(r["date"]): r["is_workday"] == "1"
                     for r in csv.DictReader(f)}
    assert len(reference) == 366 + 365 + 365
    assert {d: flags[d] for d in reference} == reference


def test_seed_calendar_if_empty_is_idempotent(any_engine):
    assert qcal.seed_calendar_if_empty(any_engine) == OFFICIAL_DAYS
    before = qcal.load_calendar(any_engine)
    version = qcal.calendar_version(any_engine)
    assert qcal.seed_calendar_if_empty(any_engine) == 0
    assert qcal.load_calendar(any_engine).equals(before)
    assert qcal.calendar_version(any_engine) == version
    assert re.fullmatch(r"2004-2026:[0-9a-f]{8}", version)


def test_seed_calendar_if_empty_leaves_a_user_calendar_alone(sqlite_engine):
    qcal.upsert_days(sqlite_engine, qcal.official_calendar(2025, 2025))
    assert qcal.seed_calendar_if_empty(sqlite_engine) == 0
    assert qcal.load_calendar(sqlite_engine).height == 365


def test_seed_official_rewrites_edited_days_and_refuses_uncovered_years(sqlite_engine):
    qcal.seed_calendar_if_empty(sqlite_engine)
    edited = pl.DataFrame({"date": [dt.date(2025, 1, 1)], "is_workday": [True],
                           "name": [None], "source": ["user edit"]},
                          schema=qcal.CALENDAR_SCHEMA)
    qcal.upsert_days(sqlite_engine, edited)
    assert workday_count_in_db(sqlite_engine, 2025) == 249
    assert qcal.seed_official(sqlite_engine, 2025, 2025) == 365
    assert workday_count_in_db(sqlite_engine, 2025) == 248
    with pytest.raises(XiaonengError, match="2004–2026, not 2027"):
        qcal.seed_official(sqlite_engine, 2026, 2027)


def test_importing_the_realdata_file_changes_no_working_day_flag(any_engine, realdata):
    qcal.seed_calendar_if_empty(any_engine)
    before = qcal.load_calendar(any_engine)
    version = qcal.calendar_version(any_engine)
    assert qcal.import_calendar_file(any_engine, realdata / "cn_workcalendar_2024_2026.csv") == 1096
    after = qcal.load_calendar(any_engine)
    assert after.height == before.height
    assert after.select("date", "is_workday").equals(before.select("date", "is_workday"))
    # holiday_name is mapped to name (translated like the seeded names, 调休 days marked)
    assert after.select("date", "name").equals(before.select("date", "name"))
    assert qcal.calendar_version(any_engine) == version
    changed = after.filter(pl.col("date").dt.year() == 2024)["source"].unique().to_list()
    assert changed == ["imported from cn_workcalendar_2024_2026.csv"]


# --- importing a later year ------------------------------------------------------------------

def test_importing_a_2027_notice_extends_the_calendar_and_ends_its_fallback(any_engine, tmp_path):
    qcal.seed_calendar_if_empty(any_engine)
    before = WorkCalendar.from_engine(any_engine, end=dt.date(2027, 12, 31))
    assert before.fallback_years == (2027,)
    assert before.is_workday(dt.date(2027, 1, 1))  # Monday–Friday fallback: a Friday
    assert not before.is_workday(dt.date(2027, 1, 2))

    path = write_csv(tmp_path / "notice_2027.csv", ["日期", "是否工作日", "名称", "来源"],
                     notice_2027_rows())
    assert qcal.import_calendar_file(any_engine, path) == 365

    after = WorkCalendar.from_engine(any_engine, end=dt.date(2027, 12, 31))
    assert after.fallback_years == ()
    assert not after.is_workday(dt.date(2027, 1, 1))
    assert after.is_workday(dt.date(2027, 1, 2))
    expected_2027 = weekday_count(dt.date(2027, 1, 1), dt.date(2027, 12, 31))  # -1 +1
    assert after.between(dt.date(2026, 12, 31), dt.date(2027, 12, 31)) == expected_2027
    assert workday_count_in_db(any_engine, 2027) == expected_2027
    assert re.fullmatch(r"2004-2027:[0-9a-f]{8}", qcal.calendar_version(any_engine))
    assert after.version != before.version
    assert "2027: 261 working days" in qcal.describe(any_engine, 2027)
    assert "from 2028 on" in qcal.describe(any_engine, None)


def test_importing_an_xlsx_notice_reads_date_and_boolean_cells(sqlite_engine, tmp_path):
    import openpyxl

    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["date", "is_workday", "name"])
    sheet.append([dt.datetime(2027, 1, 1), False, "元旦"])
    sheet.append([dt.date(2027, 1, 2), True, "元旦调休上班"])
    sheet.append(["2027-01-03", 0, None])
    book.save(tmp_path / "notice.xlsx")
    assert qcal.import_calendar_file(sqlite_engine, tmp_path / "notice.xlsx") == 3
    stored = qcal.load_calendar(sqlite_engine)
    assert stored["is_workday"].to_list() == [False, True, False]
    assert stored["name"].to_list() == ["元旦", "元旦调休上班", None]
    assert stored["source"].to_list() == ["imported from notice.xlsx"] * 3


@pytest.mark.parametrize(
    ("line", "column", "value", "rule"),
    [
        (3, "date", "2027-02-30", "real calendar date"),
        (4, "is_workday", "maybe", "是/否, true/false or 1/0"),
    ],
)
def test_a_bad_notice_row_is_named_and_nothing_is_imported(
    any_engine, tmp_path, line, column, value, rule
):
    qcal.seed_calendar_if_empty(any_engine)
    before = qcal.load_calendar(any_engine)
    rows = [["2027-01-01", "0", "元旦"], ["2027-01-02", "1", ""], ["2027-01-03", "0", ""]]
    rows[line - 2][0 if column == "date" else 1] = value
    path = write_csv(tmp_path / "bad_2027.csv", ["date", "is_workday", "name"], rows)
    with pytest.raises(XiaonengError) as err:
        qcal.import_calendar_file(any_engine, path)
    message = str(err.value)
    assert str(path) in message
    assert f"line {line}" in message
    assert f"column {column!r}" in message
    assert repr(value) in message
    assert rule in message
    assert "\n" not in message
    assert qcal.load_calendar(any_engine).equals(before)


def test_a_notice_without_a_date_column_is_refused_by_name(sqlite_engine, tmp_path):
    path = write_csv(tmp_path / "x.csv", ["day", "是否工作日"], [["2027-01-01", "否"]])
    with pytest.raises(XiaonengError, match=r"x\.csv: no 'date' column"):
        qcal.import_calendar_file(sqlite_engine, path)


def test_a_date_twice_in_one_notice_is_refused(sqlite_engine, tmp_path):
    rows = [["2027-01-01", "否"], ["2027-01-01", "是"]]
    path = write_csv(tmp_path / "dup.csv", ["日期", "是否工作日"], rows)
    with pytest.raises(XiaonengError, match=r"line 2, column '日期'.*unique"):
        qcal.import_calendar_file(sqlite_engine, path)
    assert qcal.load_calendar(sqlite_engine).is_empty()


# --- the ord clock ---------------------------------------------------------------------------

def random_pairs(rng: random.Random, lo: dt.date, hi: dt.date, count: int, max_gap: int):
    span = (hi - lo).days
    pairs = []
    for _ in range(count):
        a = lo + dt.timedelta(days=rng.randrange(span))
        b = a + dt.timedelta(days=rng.randrange(-max_gap // 4, max_gap))
        pairs.append((a, b))
    return pairs


def test_ord_differences_match_a_naive_day_by_day_count():
    rng = random.Random(20240210)
    pairs = random_pairs(rng, dt.date(2003, 1, 1), dt.date(2029, 12, 31), 300, 400)
    # across the Spring Festival of each official year and inside fallback years
    pairs += [(dt.date(2024, 2, 9), dt.date(2024, 2, 19)), (dt.date(2024, 2, 3), dt.date(2024, 2, 18)),
              (dt.date(2025, 1, 27), dt.date(2025, 2, 8)), (dt.date(2026, 2, 13), dt.date(2026, 2, 28))]
    pairs += random_pairs(rng, dt.date(2027, 1, 1), dt.date(2028, 12, 31), 50, 200)  # fallback
    pairs += random_pairs(rng, dt.date(2003, 1, 1), dt.date(2003, 12, 31), 50, 200)  # fallback
    pairs += [(dt.date(1969, 12, 1), dt.date(1970, 1, 15)), (dt.date(1950, 6, 1), dt.date(2004, 2, 1)),
              (dt.date(2026, 12, 1), dt.date(2090, 1, 1))]
    frame = pl.DataFrame({"a": [a for a, _ in pairs], "b": [b for _, b in pairs]})
    got = CAL.workdays_between(frame.lazy(), "a", "b", "wd").collect()["wd"].to_list()
    expected = [naive_between(a, b) for a, b in pairs]
    assert got == expected
    assert [CAL.between(a, b) for a, b in pairs[:60]] == expected[:60]
    spring_2024 = pairs[300:302]
    # by hand: 02-18, 02-19; and 02-04 (调休), 02-05..02-09, 02-18
    assert [naive_between(*p) for p in spring_2024] == [2, 7]


def test_add_workdays_matches_a_naive_walk_and_inverts_workdays_between():
    rng = random.Random(7)
    starts = [dt.date(2003, 6, 1) + dt.timedelta(days=rng.randrange(9000)) for _ in range(300)]
    steps = [rng.randrange(-30, 120) for _ in starts]
    starts += [dt.date(2024, 2, 9), dt.date(2024, 2, 10), dt.date(2026, 12, 30), dt.date(2027, 3, 6)]
    steps += [1, 0, 3, 0]
    frame = pl.DataFrame({"a": starts, "n": steps})
    got = CAL.add_workdays(frame.lazy(), "a", "n", "due").collect()["due"].to_list()
    assert got == [naive_add(a, n) for a, n in zip(starts, steps, strict=True)]
    assert got[-4:] == [dt.date(2024, 2, 18), dt.date(2024, 2, 9), dt.date(2027, 1, 4),
                        dt.date(2027, 3, 5)]
    # inverse on working days: a + between(a, b) lands on b when b is a working day
    workdays = [a for a in starts if naive_is_workday(a)]
    ends = [a + dt.timedelta(days=rng.randrange(0, 90)) for a in workdays]
    ends = [b if naive_is_workday(b) else naive_add(b, 1) for b in ends]
    inv = pl.DataFrame({"a": workdays, "b": ends})
    inv = CAL.workdays_between(inv, "a", "b", "n")
    inv = CAL.add_workdays(inv, "a", "n", "back")
    assert inv["back"].to_list() == ends


@settings(max_examples=300, derandomize=True, deadline=None)
@given(a=st.dates(dt.date(1995, 1, 1), dt.date(2035, 12, 31)), gap=st.integers(-60, 400),
       n=st.integers(-40, 300))
def test_ord_clock_properties_hold_for_any_dates(a, gap, n):
    b = a + dt.timedelta(days=gap)
    assert CAL.between(a, b) == naive_between(a, b)
    assert CAL.add(a, n) == naive_add(a, n)
    if naive_is_workday(a) and naive_is_workday(b):
        assert CAL.add(a, CAL.between(a, b)) == b


def test_zero_day_limit_means_the_first_day_with_the_same_ord():
    frame = pl.DataFrame({"a": [dt.date(2024, 2, 8), dt.date(2024, 2, 12), dt.date(2024, 2, 18)],
                          "n": [0, 0, 0]})
    due = CAL.add_workdays(frame, "a", "n", "due")["due"].to_list()
    # a working day is its own due date; a holiday maps back to the last working day before it
    assert due == [dt.date(2024, 2, 8), dt.date(2024, 2, 9), dt.date(2024, 2, 18)]


def test_natural_unit_rows_count_calendar_days():
    frame = pl.DataFrame({
        "a": [dt.date(2024, 2, 9), dt.date(2024, 2, 9), None],
        "b": [dt.date(2024, 2, 19), dt.date(2024, 2, 19), dt.date(2024, 2, 19)],
        "n": [10, 10, 3],
        "unit": ["natural", "working", "natural"],
    })
    out = CAL.workdays_between(frame.lazy(), "a", "b", "used", unit_col="unit")
    out = CAL.add_workdays(out, "a", "n", "due", unit_col="unit")
    out = CAL.with_ord(out, "b", "ord_b", unit_col="unit").collect()
    assert out["used"].to_list() == [10, 2, None]
    assert out["due"].to_list() == [dt.date(2024, 2, 19), dt.date(2024, 2, 29), None]
    assert out["ord_b"][0] == (dt.date(2024, 2, 19) - dt.date(1969, 12, 31)).days
    assert out["ord_b"].dtype == pl.Int32


def test_datetime_columns_are_counted_by_their_calendar_date():
    frame = pl.DataFrame({"a": [dt.datetime(2024, 2, 9, 23, 59)], "b": [dt.datetime(2024, 2, 19, 0, 1)]})
    assert CAL.workdays_between(frame, "a", "b", "wd")["wd"].to_list() == [2]


def test_index_is_a_cumulative_count_of_the_workday_flags():
    index = WorkCalendar.from_frame(OFFICIAL).index  # CAL may have been extended by now
    assert index.schema == pl.Schema({"date": pl.Date, "is_workday": pl.Boolean,
                                      "ord": pl.Int32, "ord_nat": pl.Int32})
    assert index["date"].to_list() == OFFICIAL["date"].to_list()
    assert index["is_workday"].to_list() == OFFICIAL["is_workday"].to_list()
    steps = index["ord"].diff().drop_nulls()
    assert steps.to_list() == index["is_workday"].cast(pl.Int32).to_list()[1:]
    assert (index["ord_nat"].diff().drop_nulls() == 1).all()
    y2024 = index.filter(pl.col("date").dt.year() == 2024)
    assert y2024["ord"][-1] - y2024["ord"][0] + int(y2024["is_workday"][0]) == 251


def test_frame_api_keeps_row_order_height_and_nulls():
    rng = random.Random(3)
    dates = [dt.date(2020, 1, 1) + dt.timedelta(days=rng.randrange(3000)) for _ in range(500)]
    dates[17] = None
    frame = pl.DataFrame({"id": range(500), "d": dates})
    out = CAL.with_ord(frame.lazy(), "d", "o").collect()
    assert out["id"].to_list() == list(range(500))
    assert out["o"][17] is None
    assert [CAL.ord_of(d) for d in dates if d is not None] == out["o"].drop_nulls().to_list()


def test_ord_values_do_not_change_when_the_span_is_extended():
    cal = WorkCalendar.from_frame(qcal.official_calendar(2024, 2024))
    probe = [dt.date(2024, 5, 6), dt.date(2024, 12, 31), dt.date(2026, 3, 3), dt.date(2001, 7, 1)]
    lazy = cal.with_ord(pl.DataFrame({"d": probe}).lazy(), "d", "o")  # outside dates: closed form
    before = lazy.collect()["o"].to_list()
    cal.cover(dt.date(2000, 1, 1), dt.date(2030, 1, 1))
    assert [cal.ord_of(d) for d in probe] == before
    assert lazy.collect()["o"].to_list() == before


# --- fallback --------------------------------------------------------------------------------

def test_a_year_without_rows_falls_back_to_monday_to_friday_and_is_reported():
    only_2024 = qcal.official_calendar(2024, 2024)
    table = dict(zip(only_2024["date"].to_list(), only_2024["is_workday"].to_list(), strict=True))
    cal = WorkCalendar.from_frame(only_2024)
    assert cal.fallback_years == ()
    assert cal.fallback_years_between(dt.date(2026, 5, 1), dt.date(2027, 2, 1)) == (2026, 2027)

    # 2027-01-01 is a Friday: a working day under Monday–Friday, whatever the notice will say
    assert cal.is_workday(dt.date(2027, 1, 1))
    assert not cal.is_workday(dt.date(2027, 1, 2))
    assert 2027 in cal.fallback_years
    assert cal.fallback_years == (2025, 2026, 2027)
    assert cal.between(dt.date(2026, 12, 31), dt.date(2027, 12, 31)) == weekday_count(
        dt.date(2027, 1, 1), dt.date(2027, 12, 31))
    assert cal.add(dt.date(2027, 1, 1), 1) == dt.date(2027, 1, 4)
    # and across the boundary from official 2024 into fallback 2025, lazily
    frame = pl.DataFrame({"a": [dt.date(2024, 12, 20), dt.date(2024, 9, 13)],
                          "b": [dt.date(2025, 2, 10), dt.date(2027, 10, 8)]})
    got = cal.workdays_between(frame, "a", "b", "wd")["wd"].to_list()
    assert got == [naive_between(a, b, table) for a, b in frame.iter_rows()]


def test_rows_marked_as_fallback_do_not_count_as_a_calendar():
    rows = pl.concat([
        qcal.official_calendar(2024, 2024),
        qcal.weekday_fallback(dt.date(2025, 1, 1), dt.date(2025, 12, 31)),
    ])
    cal = WorkCalendar.from_frame(rows)
    assert cal.fallback_years == (2025,)
    assert cal.between(dt.date(2024, 12, 31), dt.date(2025, 12, 31)) == 261


def test_describe_names_working_days_and_fallback_years(sqlite_engine):
    assert "empty" in qcal.describe(sqlite_engine, None)
    qcal.seed_calendar_if_empty(sqlite_engine)
    text = qcal.describe(sqlite_engine, None)
    assert re.search(r"^2024 +251 ", text, re.M)
    assert re.search(r"^2025 +248 ", text, re.M)
    assert "every year before 2004 and from 2027 on" in text
    year = qcal.describe(sqlite_engine, 2024)
    assert year.startswith("2024: 251 working days")
    assert "春节: 02-10–02-17 (8 days)" in year
    assert "02-04 (春节调休上班)" in year
    assert "Monday–Friday" in qcal.describe(sqlite_engine, 2030)
