"""好差评 facts (metrics.md §7) and review yellow cards (§6) on hand-computed reviews.

Calendar facts used below (2024 official calendar, ord = working days on or before the date):
- March 2024 has no holiday: Fri 03-08, Mon 03-11, Tue 03-12 are consecutive working days.
- 中秋 09-15..09-17 (Sat 09-14 worked), 国庆 10-01..10-07 (Sun 09-29 and Sat 10-12 worked).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from metrics.reviews import CARD_SCHEMA, SCORE_SUM_FACTOR, review_cards, review_facts
from metrics.settings import Settings
from queries.schema import REVIEW_MEASURES, cards

D, T = dt.date, dt.datetime

REVIEW_SCHEMA = {
    "review_id": pl.String, "case_id": pl.String, "agency_code": pl.String,
    "channel": pl.String, "rated_at": pl.Datetime("us"), "level": pl.Int64,
    "active": pl.Boolean, "real_name": pl.Boolean, "tags": pl.String,
    "callback_at": pl.Datetime("us"), "rectified_at": pl.Datetime("us"),
    "appeal_upheld": pl.Boolean, "reported_at": pl.Datetime("us"),
}
CASES = pl.DataFrame(
    {"case_id": ["c1", "c2"], "item_code": ["I1", "I2"]},
    schema={"case_id": pl.String, "item_code": pl.String},
)


def review(review_id: str, rated_at: dt.datetime, level: int, **kw) -> dict:
    row = dict(review_id=review_id, case_id=None, agency_code="A", channel="window",
               rated_at=rated_at, level=level, active=True, real_name=False, tags=None,
               callback_at=None, rectified_at=None, appeal_upheld=False, reported_at=None)
    row.update(kw)
    return row


def frame(rows: list[dict]) -> pl.LazyFrame:
    return pl.DataFrame(rows, schema=REVIEW_SCHEMA).lazy()


def facts(cal, rows, months, as_of, settings=None) -> pl.DataFrame:
    return review_facts(frame(rows), CASES.lazy(), cal, months, settings or Settings(),
                        as_of).collect()


def totals(df: pl.DataFrame) -> dict[str, int]:
    return df.select(pl.col(REVIEW_MEASURES).sum()).to_dicts()[0]


def test_review_facts_have_the_grain_and_every_review_measure_as_int64(cal_index):
    out = facts(cal_index, [review("r", T(2024, 3, 8, 10), 5)], [D(2024, 3, 1)],
                T(2024, 3, 31, 23))
    assert out.columns == ["month", "agency_code", "item_code", "channel", *REVIEW_MEASURES]
    assert all(out.schema[m] == pl.Int64 for m in REVIEW_MEASURES)


def test_a_void_review_counts_only_in_reviews_void(cal_index):
    # A real-name 差评, called back, rectified and reported on the same day — everything that
    # could count — but its appeal was upheld, so it is void everywhere except reviews_void.
    t = T(2024, 3, 8, 10)
    rows = [review("v", t, 1, real_name=True, callback_at=t, rectified_at=t, reported_at=t,
                   appeal_upheld=True)]
    got = totals(facts(cal_index, rows, [D(2024, 3, 1)], T(2024, 6, 30)))
    assert got == {m: (1 if m == "reviews_void" else 0) for m in REVIEW_MEASURES}


def test_good_neutral_bad_split_and_score_sum_in_hundredths(cal_index):
    # Levels 5, 4, 3, 2, 1, 5: good (≥4) = 3, neutral (=3) = 1, bad (≤2) = 2.
    # Default scale 1..5 → 0/3/6/8/10: 10 + 8 + 6 + 3 + 0 + 10 = 37 points = 3700 hundredths.
    rows = [review(f"r{i}", T(2024, 3, 8, 10), lv) for i, lv in enumerate([5, 4, 3, 2, 1, 5])]
    got = totals(facts(cal_index, rows, [D(2024, 3, 1)], T(2024, 3, 31)))
    assert (got["reviews_valid"], got["good"], got["neutral"], got["bad"]) == (6, 3, 1, 2)
    assert SCORE_SUM_FACTOR == 100 and got["score_sum"] == 3700
    # A fractional scale 0/3.3/6.6/8.8/10: 10 + 8.8 + 6.6 + 3.3 + 0 + 10 = 38.7 → 3870.
    custom = Settings(review_score_scale=(0, 3.3, 6.6, 8.8, 10))
    got = totals(facts(cal_index, rows, [D(2024, 3, 1)], T(2024, 3, 31), custom))
    assert got["score_sum"] == 3870


def test_review_rows_take_the_case_item_or_blank_and_the_rating_channel(cal_index):
    rows = [
        review("a", T(2024, 3, 8, 10), 5, case_id="c1", channel="pad"),
        review("b", T(2024, 3, 8, 11), 4, case_id=None, channel="sms"),
        review("c", T(2024, 3, 8, 12), 4, case_id="c1", channel="pad"),
    ]
    out = facts(cal_index, rows, [D(2024, 3, 1)], T(2024, 3, 31)).sort("item_code")
    assert out.select("item_code", "channel", "reviews_valid").rows() == [
        ("", "sms", 1), ("I1", "pad", 2)
    ]


def test_reviews_belong_to_the_month_rated_and_only_up_to_the_as_of_moment(cal_index):
    rows = [
        review("feb", T(2024, 2, 29, 23, 30), 5),
        review("mar", T(2024, 3, 1, 0, 10), 5),
        review("late", T(2024, 3, 20, 12), 5),  # after the as-of moment
    ]
    out = facts(cal_index, rows, [D(2024, 2, 1), D(2024, 3, 1)], T(2024, 3, 20, 9))
    assert sorted(out.select("month", "reviews_valid").rows()) == [
        (D(2024, 2, 1), 1), (D(2024, 3, 1), 1)
    ]


def test_callback_on_monday_after_a_friday_rating_is_one_working_day_and_timely(cal_index):
    # Rated Fri 2024-03-08. Called back Mon 03-11: ord difference 1 (Sat, Sun not working)
    # ≤ callback_days 1 → timely. Tue 03-12: 2 → late. A non-real-name 差评 is outside the
    # call-back rate altogether, even if called back in time.
    fri = T(2024, 3, 8, 16)
    rows = [
        review("mon", fri, 1, real_name=True, callback_at=T(2024, 3, 11, 9)),
        review("tue", fri, 2, real_name=True, callback_at=T(2024, 3, 12, 9)),
        review("anon", fri, 1, real_name=False, callback_at=T(2024, 3, 11, 9)),
        review("none", fri, 1, real_name=True),
    ]
    got = totals(facts(cal_index, rows, [D(2024, 3, 1)], T(2024, 3, 31)))
    assert got["bad"] == 4 and got["bad_real_name"] == 3 and got["bad_callback_timely"] == 1
    assert got["bad_callback_due"] == 3  # every real-name one: all due by 03-31


def test_callback_rate_counts_only_bad_reviews_whose_callback_was_due_by_the_as_of_time(
        cal_index):
    # Data cut off on Fri 2024-03-08 at 18:00. Rated Thu 03-07: deadline ord(03-07) + 1 = Fri
    # 03-08, reached → due (called back Fri: timely). Rated Fri 03-08 at 16:00: its deadline is
    # Mon 03-11, after the cut-off → not due, whether or not it was already called back; left
    # out of the rate instead of counted as "not called back" (the log simply stops).
    rows = [
        review("thu", T(2024, 3, 7, 10), 1, real_name=True, callback_at=T(2024, 3, 8, 9)),
        review("fri_open", T(2024, 3, 8, 16), 1, real_name=True),
        review("fri_done", T(2024, 3, 8, 16), 2, real_name=True, callback_at=T(2024, 3, 8, 17)),
    ]
    got = totals(facts(cal_index, rows, [D(2024, 3, 1)], T(2024, 3, 8, 18)))
    assert (got["bad_real_name"], got["bad_callback_due"], got["bad_callback_timely"]) == (
        3, 1, 1)
    # a week later all three are due: fri_open was never called back, fri_done was in time
    got = totals(facts(cal_index, rows, [D(2024, 3, 1)], T(2024, 3, 15, 18)))
    assert (got["bad_callback_due"], got["bad_callback_timely"]) == (3, 2)


def test_report_within_one_working_day_of_rating_is_timely(cal_index):
    fri = T(2024, 3, 8, 16)
    rows = [
        review("mon", fri, 5, reported_at=T(2024, 3, 11, 8)),  # ord diff 1 → timely
        review("tue", fri, 5, reported_at=T(2024, 3, 12, 8)),  # ord diff 2 → late
        review("unknown", fri, 5),  # not reported → not in the denominator
    ]
    got = totals(facts(cal_index, rows, [D(2024, 3, 1)], T(2024, 3, 31)))
    assert (got["review_report_known"], got["review_report_timely"]) == (2, 1)


# Rated Fri 2024-09-20. The 15 working days after it: 09-23..09-27 (5), Sun 09-29 调休 (6),
# 09-30 (7), [国庆 10-01..10-07], 10-08..10-11 (11), Sat 10-12 调休 (12), 10-14, 10-15, 10-16
# (15). Deadline = Wed 10-16; first working day after it = Thu 10-17.
RATED = T(2024, 9, 20, 10)


def test_rectification_deadline_counts_working_days_across_national_day(cal_index):
    rows = [
        review("on_deadline", RATED, 1, rectified_at=T(2024, 10, 16, 17)),
        review("day_after", RATED, 2, rectified_at=T(2024, 10, 17, 9)),
        review("never", RATED, 1),
        review("good", RATED, 5),
    ]
    sep = [D(2024, 9, 1)]
    # As of 10-15 the deadline (10-16) has not arrived: none is due yet; two are still open.
    early = totals(facts(cal_index, rows, sep, T(2024, 10, 15, 18)))
    assert (early["bad"], early["bad_rect_due"], early["bad_rect_timely"]) == (3, 0, 0)
    assert early["bad_open"] == 3  # nothing rectified by 10-15
    # As of 10-16 (the deadline day itself) all three are due; one was rectified in time.
    on_day = totals(facts(cal_index, rows, sep, T(2024, 10, 16, 23)))
    assert (on_day["bad_rect_due"], on_day["bad_rect_timely"], on_day["bad_open"]) == (3, 1, 2)
    later = totals(facts(cal_index, rows, sep, T(2024, 10, 31, 23)))
    assert (later["bad_rect_due"], later["bad_rect_timely"], later["bad_open"]) == (3, 1, 1)


def test_rectified_on_the_saturday_after_a_friday_deadline_used_no_extra_working_day(cal_index):
    # Rated Tue 2024-09-24 (ord 433); deadline ord 433 + 15 = 448 = Fri 10-18. Rectified
    # Sat 10-19, whose ord is still 448: 15 working days used → in time, and no card (the card
    # date would be Mon 10-21, ord 449).
    rows = [review("sat", T(2024, 9, 24, 10), 1, rectified_at=T(2024, 10, 19, 10))]
    as_of = T(2024, 10, 31, 23)
    got = totals(facts(cal_index, rows, [D(2024, 9, 1)], as_of))
    assert (got["bad_rect_due"], got["bad_rect_timely"]) == (1, 1)
    assert review_cards(frame(rows), CASES.lazy(), cal_index, Settings(), as_of).collect().is_empty()


def test_review_card_is_dated_the_first_working_day_after_the_deadline(cal_index):
    rows = [
        review("never", RATED, 1, case_id="c2", channel="online"),
        review("late_fix", RATED, 2, rectified_at=T(2024, 10, 21, 9)),
        review("in_time", RATED, 1, rectified_at=T(2024, 10, 16, 9)),
        review("voided", RATED, 1, appeal_upheld=True),
        review("neutral", RATED, 3),
    ]
    # As of 10-16 nobody has a card yet: the deadline day still belongs to the agency.
    none_yet = review_cards(frame(rows), CASES.lazy(), cal_index, Settings(), T(2024, 10, 16, 23))
    assert none_yet.collect().is_empty()

    out = review_cards(frame(rows), CASES.lazy(), cal_index, Settings(), T(2024, 10, 31, 18))
    got = {r["review_id"]: r for r in out.collect().to_dicts()}
    assert set(got) == {"never", "late_fix", "voided"}
    never = got["never"]
    assert never["card_id"] == "yellow:review:never"
    assert (never["kind"], never["subject"], never["channel"]) == ("yellow", "review", "review")
    assert (never["agency_code"], never["case_id"], never["item_code"]) == ("A", "c2", "I2")
    assert never["issued_on"] == D(2024, 10, 17)
    assert never["month"] == D(2024, 10, 1)  # the month of issue, not of the rating
    assert never["rule"] == "差评未在15个工作日内整改"
    # Open: working days from the deadline 10-16 to the as-of date 10-31: 10-17, 18, 21–25,
    # 28–31 = 11.
    assert never["days_over"] == 11 and never["still_open"] is True
    assert never["revoked"] is False
    # Rectified Mon 10-21: 10-17, 10-18, 10-21 = 3 working days over; closed.
    assert got["late_fix"]["days_over"] == 3 and got["late_fix"]["still_open"] is False
    assert got["late_fix"]["item_code"] == "" and got["late_fix"]["case_id"] is None
    # The void review's card is issued and marked revoked (gross 3, net 2).
    assert got["voided"]["revoked"] is True and got["voided"]["issued_on"] == D(2024, 10, 17)


def test_review_cards_have_the_columns_of_the_cards_table(cal_index):
    out = review_cards(frame([review("x", RATED, 1)]), CASES.lazy(), cal_index, Settings(),
                       T(2024, 12, 31)).collect()
    assert out.columns == [c.name for c in cards.columns] == list(CARD_SCHEMA)
    assert out.null_count().row(0) == (0,) * 3 + (1,) + (0,) * 10  # only case_id may be null
