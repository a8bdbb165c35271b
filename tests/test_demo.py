"""The demo generator: determinism, contract shape, integrity rules, and the stories it tells.

Everything is computed directly from the generated frames (with a plain working-day count
over the official calendar), independently of the metrics layer, so these tests check the
data, not the code that will later measure it.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import pytest

from queries.calendar import official_calendar
from queries.contract import TABLES
from xiaoneng.demo import LAGGING_AGENCIES, generate, write_parquet

START, END = dt.date(2024, 1, 1), dt.date(2026, 10, 1)
ASOF = dt.date(2026, 10, 31)
N_CASES = 80_000
SEED = 11
DOCS = Path(__file__).resolve().parents[1] / "docs" / "demo_data.md"

DTYPES = {
    "text": (pl.String,),
    "enum": (pl.String,),
    "int": (pl.Int32, pl.Int64),
    "bool": (pl.Boolean,),
    "timestamp": (pl.Datetime("us"),),
}


def injection(effect: str):
    return next(i for i in LAGGING_AGENCIES if i.effect == effect)


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    return generate(cases=N_CASES, seed=SEED, start=START, end=END)


@pytest.fixture(scope="module")
def calendar() -> pl.DataFrame:
    """Official calendar with `ord` = working days on or before each date."""
    return official_calendar(2024, 2026).with_columns(
        ord=pl.col("is_workday").cast(pl.Int32).cum_sum())


@pytest.fixture(scope="module")
def clock(tables, calendar) -> pl.DataFrame:
    """Accepted, clocked cases (working-day limits) with used working days and overdue flag
    (suspensions ignored: a simple, conservative count)."""
    c = tables["cases"]
    ords = calendar.select("date", "ord")
    return (
        c.filter(pl.col("status").is_in(["completed", "in_progress"]),
                 pl.col("limit_unit") == "working")
        .with_columns(
            deadline=pl.coalesce("promised_days", "statutory_days"),
            a=pl.col("accepted_at").dt.date(),
            e=pl.coalesce(pl.col("completed_at").dt.date(), pl.lit(ASOF)),
            month=pl.col("accepted_at").dt.truncate("1mo").dt.date(),
        )
        .filter(pl.col("deadline").is_not_null())
        .join(ords.rename({"date": "a", "ord": "ord_a"}), on="a")
        .join(ords.rename({"date": "e", "ord": "ord_e"}), on="e")
        .with_columns(used=pl.col("ord_e") - pl.col("ord_a"))
        .with_columns(overdue=pl.col("used") > pl.col("deadline"))
    )


# --- determinism -----------------------------------------------------------------------------

def test_same_seed_same_frames_different_seed_different_cases():
    a = generate(cases=20_000, seed=3, start=START, end=END)
    b = generate(cases=20_000, seed=3, start=START, end=END)
    c = generate(cases=20_000, seed=4, start=START, end=END)
    assert a.keys() == b.keys()
    for name in a:
        assert a[name].equals(b[name]), name
    assert not a["cases"].equals(c["cases"])
    assert not a["reviews"].equals(c["reviews"])


def test_threads_do_not_change_the_result():
    one = generate(cases=40_000, seed=5, start=dt.date(2025, 1, 1), end=dt.date(2025, 6, 1),
                   workers=1)
    two = generate(cases=40_000, seed=5, start=dt.date(2025, 1, 1), end=dt.date(2025, 6, 1),
                   workers=2)
    for name in one:
        assert one[name].equals(two[name]), name


# --- schema ----------------------------------------------------------------------------------

def test_tables_and_columns_match_the_contract(tables):
    assert set(tables) == {"regions", "agencies", "items", "cases", "suspensions", "reviews"}
    for name, frame in tables.items():
        spec = TABLES[name]
        assert frame.columns == [c.name for c in spec.file_columns], name
        for col in spec.file_columns:
            assert frame.schema[col.name] in DTYPES[col.dtype], (name, col.name, frame.schema[col.name])


def test_enum_values_and_non_nullable_columns(tables):
    for name, frame in tables.items():
        for col in TABLES[name].file_columns:
            s = frame[col.name]
            if not col.nullable:
                assert s.null_count() == 0, (name, col.name)
            if col.enum:
                assert set(s.drop_nulls().unique()) <= set(col.enum), (name, col.name)
            if col.min_value is not None:
                assert (s.drop_nulls() >= col.min_value).all(), (name, col.name)
            if col.max_value is not None:
                assert (s.drop_nulls() <= col.max_value).all(), (name, col.name)


def test_row_count_is_exact(tables):
    assert tables["cases"].height == N_CASES


# --- integrity rules (contract.md) -----------------------------------------------------------

def test_keys_unique(tables):
    from queries.importer.identity import add_suspension_keys

    for name, frame in tables.items():
        key = list(TABLES[name].key)
        if name == "suspensions":  # keyed by start and reason (the importer makes the key)
            frame = add_suspension_keys(frame)
        assert frame.select(key).is_duplicated().sum() == 0, name


def test_references_resolve(tables):
    for name, frame in tables.items():
        for col in TABLES[name].columns:
            if col.ref is None:
                continue
            ref_table, ref_col = col.ref
            values = frame[col.name].drop_nulls()
            assert values.is_in(tables[ref_table][ref_col].implode()).all(), (name, col.name)
    regions = tables["regions"]
    assert regions.filter(pl.col("parent_code").is_null())["level"].to_list() == ["province"]


def test_case_time_order_and_status_rules(tables):
    c = tables["cases"]
    assert c.filter(pl.col("accepted_at") < pl.col("submitted_at")).height == 0
    assert c.filter(pl.col("completed_at") < pl.col("accepted_at")).height == 0
    done = pl.col("status") == "completed"
    assert c.filter(done != pl.col("completed_at").is_not_null()).height == 0
    assert c.filter(pl.col("status") == "in_progress", pl.col("accepted_at").is_null()).height == 0
    assert c.filter(pl.col("completed_at").is_not_null(), pl.col("accepted_at").is_null()).height == 0
    assert c.filter(pl.col("decision").is_not_null() != done).height == 0
    assert c.filter(pl.col("status") == "submitted", pl.col("accepted_at").is_not_null()).height == 0
    assert c.filter(pl.col("status") == "not_accepted", pl.col("accepted_at").is_not_null()).height == 0
    asof = dt.datetime(2026, 10, 31, 23, 59, 59)
    for col in ("submitted_at", "accepted_at", "completed_at", "reported_at"):
        assert c[col].max() <= asof, col


def test_limits(tables):
    for name in ("items", "cases"):
        f = tables[name]
        assert f.filter(pl.col("promised_days") > pl.col("statutory_days")).height == 0, name
        assert f.filter((pl.col("promised_days") < 0) | (pl.col("statutory_days") < 0)).height == 0
    # cases carry the limits of their item
    c = tables["cases"].join(tables["items"], on="item_code", suffix="_item")
    for col in ("statutory_days", "promised_days", "limit_unit"):
        assert c.filter(pl.col(col).ne_missing(pl.col(f"{col}_item"))).height == 0, col


def test_suspensions_and_reviews_rules(tables):
    s = tables["suspensions"]
    assert s.filter(pl.col("ended_at") < pl.col("started_at")).height == 0
    r = tables["reviews"]
    assert r["level"].is_between(1, 5).all()


# --- the city --------------------------------------------------------------------------------

def test_catalogue_size_and_shape(tables):
    regions, agencies, items = tables["regions"], tables["agencies"], tables["items"]
    assert 6 <= regions.filter(pl.col("level") == "county").height <= 10
    assert regions.filter(pl.col("level") == "town").height >= 40
    assert regions["region_code"].str.len_chars().is_in([6, 9]).all()
    assert agencies.height >= 40
    assert items.height >= 500
    assert items["name"].n_unique() == items.height
    for sector in ("市场监管", "自然资源", "住建", "公安", "人社", "医保", "税务", "公积金", "民政",
                   "卫健", "交通", "行政审批"):
        assert sector in agencies["sector"].to_list()
        assert sector in items["sector"].to_list()
    assert set(items["be_indicator"].drop_nulls()) == {
        "business_startup", "construction_permit", "property_registration", "utility_connection"}
    assert items.filter(pl.col("promised_days") == 0).height >= 20  # 即办件
    assert items.filter(pl.col("limit_unit") == "natural").height >= 5
    both = items.filter(pl.col("promised_days").is_not_null(), pl.col("statutory_days") > 0)
    assert (both["promised_days"] < both["statutory_days"]).mean() > 0.9
    assert set(items["online_depth"]) == {1, 2, 3, 4}
    assert set(items["item_type"]) == set(TABLES["items"].column("item_type").enum)
    assert agencies["name"].str.contains("县市场监督管理局").any()


# --- volume shape ----------------------------------------------------------------------------

def _accepted_per_month(c: pl.DataFrame) -> dict[dt.date, int]:
    m = (c.filter(pl.col("accepted_at").is_not_null())
         .group_by(pl.col("accepted_at").dt.truncate("1mo").dt.date().alias("m")).len())
    return dict(zip(m["m"], m["len"], strict=True))


@pytest.mark.parametrize("lny", [dt.date(2024, 2, 10), dt.date(2025, 1, 29), dt.date(2026, 2, 17)])
def test_spring_festival_month_is_a_dip(tables, lny):
    per_month = _accepted_per_month(tables["cases"])
    sf = lny.replace(day=1)
    before = (sf - dt.timedelta(days=1)).replace(day=1)
    after = (sf + dt.timedelta(days=32)).replace(day=1)
    assert per_month[sf] < per_month[before]
    assert per_month[sf] < per_month[after]


def test_no_window_intake_on_rest_days(tables, calendar):
    c = tables["cases"].with_columns(d=pl.col("submitted_at").dt.date())
    joined = c.join(calendar.select("date", "is_workday", "name"), left_on="d", right_on="date")
    assert joined.height == c.height
    offline = pl.col("channel").is_in(["window", "self_service", "assisted"])
    holidays = joined.filter(~pl.col("is_workday") & pl.col("name").is_not_null())
    assert holidays.height > 0  # online applications do arrive on holidays
    assert holidays.filter(offline).height == 0
    assert joined.filter(~pl.col("is_workday"), offline).height == 0
    acc = tables["cases"].filter(pl.col("accepted_at").is_not_null()).with_columns(
        d=pl.col("accepted_at").dt.date()).join(calendar, left_on="d", right_on="date")
    assert acc.filter(~pl.col("is_workday")).height == 0


def test_month_end_peak(tables, calendar):
    wd = (calendar.filter(pl.col("is_workday"), pl.col("date") <= ASOF)
          .with_columns(m=pl.col("date").dt.truncate("1mo"))
          .with_columns(rank_from_end=pl.col("date").rank("ordinal", descending=True).over("m"))
          .with_columns(tail=pl.col("rank_from_end") <= 5))
    daily = (tables["cases"].filter(pl.col("channel") == "window")
             .group_by(pl.col("submitted_at").dt.date().alias("date")).len())
    per = wd.join(daily, on="date", how="left").with_columns(pl.col("len").fill_null(0))
    by = per.group_by("tail").agg(pl.col("len").mean())
    means = dict(zip(by["tail"], by["len"], strict=True))
    assert means[True] > 1.15 * means[False]


def test_working_hours(tables):
    c = tables["cases"]
    window = c.filter(pl.col("channel") == "window")
    t = window["submitted_at"].dt.hour().cast(pl.Int32) * 60 + window["submitted_at"].dt.minute()
    assert ((t >= 8 * 60 + 30) & (t < 17 * 60 + 30)).mean() > 0.95
    online = c.filter(pl.col("channel").is_in(["online", "mobile"]))
    assert (online["submitted_at"].dt.hour() >= 19).mean() > 0.1  # evenings online
    done = c.filter(pl.col("completed_at").is_not_null())
    h = done["completed_at"].dt.hour()
    assert ((h >= 8) & (h < 19)).mean() > 0.97


def test_online_share_grows_year_over_year(tables):
    y = (tables["cases"].filter(pl.col("accepted_at").is_not_null())
         .group_by(pl.col("accepted_at").dt.year().alias("y"))
         .agg(pl.col("channel").is_in(["online", "mobile"]).mean().alias("share")).sort("y"))
    shares = y["share"].to_list()
    assert len(shares) == 3
    assert all(b > a + 0.02 for a, b in zip(shares, shares[1:], strict=False))


def test_channel_facts(tables):
    c = tables["cases"]
    assert c.filter(pl.col("full_online"), pl.col("visits") > 0).height == 0
    assert c.filter(pl.col("full_online"), ~pl.col("channel").is_in(["online", "mobile"])).height == 0
    assert c.filter(pl.col("channel") == "window", pl.col("visits") < 1).height == 0
    assert c["full_online"].mean() > 0.2
    assert 0.005 < c["cross_region"].mean() < 0.1
    assert c.filter(pl.col("e_result").is_not_null(), pl.col("status") != "completed").height == 0
    assert c["applicant_key"].drop_nulls().str.contains(r"^[1-9]\d{15}$").all()
    # repeat applicants exist, and no raw ID-number shape (18 digits) is used
    assert c["applicant_key"].drop_nulls().n_unique() < c["applicant_key"].drop_nulls().len()


def test_statuses_and_timeliness(tables, clock):
    counts = dict(tables["cases"]["status"].value_counts().iter_rows())
    n = tables["cases"].height
    assert counts["completed"] / n > 0.9
    for status in ("in_progress", "not_accepted", "withdrawn", "submitted"):
        assert counts.get(status, 0) > 0, status
    done = clock.filter(pl.col("status") == "completed")
    assert 0.9 < 1 - done["overdue"].mean() < 0.99  # mostly on time, a few overdue
    open_ = tables["cases"].filter(pl.col("status") == "in_progress")
    assert open_["accepted_at"].min() > dt.datetime(2025, 6, 1)  # in progress near the end
    c = tables["cases"].filter(pl.col("reported_at").is_not_null(), pl.col("completed_at").is_not_null())
    lag = (c["reported_at"] - c["completed_at"]).dt.total_hours()
    assert (lag < 24).mean() > 0.9
    assert (lag > 48).mean() > 0.01


# --- bundles and project chains --------------------------------------------------------------

def test_business_startup_bundles(tables):
    c = tables["cases"].join(tables["items"].select("item_code", "be_indicator"), on="item_code")
    b = (c.filter(pl.col("bundle_id").is_not_null())
         .group_by("bundle_id")
         .agg(n=pl.len(), agencies=pl.col("agency_code").n_unique(),
              be=pl.col("be_indicator").unique(),
              span=(pl.col("submitted_at").max() - pl.col("submitted_at").min()).dt.total_days(),
              applicants=pl.col("applicant_key").drop_nulls().n_unique()))
    assert b.height >= 50
    assert (b["n"] >= 3).mean() > 0.8
    assert (b["agencies"] >= b["n"] - 1).all()  # one case per agency (税务 may have two)
    assert b["be"].list.len().max() == 1 and b["be"].explode().unique().to_list() == ["business_startup"]
    assert (b["span"] <= 12).all() and b["span"].median() <= 3  # days, holidays allowing
    assert (b["applicants"] <= 1).all()


def test_construction_project_chains(tables):
    c = tables["cases"].join(tables["items"].select("item_code", "be_indicator"), on="item_code")
    p = (c.filter(pl.col("project_code").is_not_null())
         .group_by("project_code")
         .agg(n=pl.len(), be=pl.col("be_indicator").unique(),
              span=(pl.col("submitted_at").max() - pl.col("submitted_at").min()).dt.total_days()))
    assert p.height >= 20
    assert (p["n"] >= 4).mean() > 0.6
    assert p["be"].explode().unique().to_list() == ["construction_permit"]
    assert p.filter(pl.col("n") >= 4)["span"].median() > 60
    assert p["project_code"].str.contains(r"^\d{4}-\d{6}-\d{2}-03-\d{6}$").all()


# --- suspensions and reviews -----------------------------------------------------------------

def test_suspension_variety(tables):
    s = tables["suspensions"]
    reasons = dict(s["reason"].value_counts().iter_rows())
    assert reasons["correction"] == max(reasons.values())
    assert set(reasons) == set(TABLES["suspensions"].column("reason").enum)
    lengths = s.filter(pl.col("approved_days").is_not_null(), pl.col("ended_at").is_not_null())
    over = (lengths["ended_at"] - lengths["started_at"]).dt.total_days() > lengths["approved_days"] * 1.5
    assert over.sum() > 0  # some run well past their approved length
    assert s["ended_at"].null_count() > 0  # some still open at the end
    multi = s.sort("case_id", "started_at").with_columns(
        prev_end=pl.col("ended_at").shift(1).over("case_id"))
    assert multi.filter(pl.col("started_at") < pl.col("prev_end")).height > 0  # overlapping


def test_review_shape(tables, calendar):
    r = tables["reviews"]
    assert r.height > 0.5 * tables["cases"].height
    assert r["level"].is_in([4, 5]).mean() > 0.9
    assert 0.002 < (r["level"] <= 2).mean() < 0.03
    assert r["case_id"].null_count() > 0  # hall ratings not tied to a case
    assert r.filter(pl.col("tags").is_not_null(), pl.col("level") > 2).height == 0
    bad = r.filter(pl.col("level") <= 2)
    assert bad["tags"].null_count() == 0
    known = {"态度不好", "办事效率低", "材料反复提交", "多次跑腿", "标准不一", "网上办理系统不好用",
             "排队时间长", "告知不清楚", "超时办理", "服务不规范"}
    assert set(bad["tags"].str.split(";").explode().unique()) <= known
    assert bad["appeal_upheld"].any() and not r.filter(pl.col("level") > 2)["appeal_upheld"].any()
    assert 0.5 < r["active"].mean() < 0.95 and r["real_name"].mean() > 0.9
    ords = calendar.select("date", "ord")
    timed = (bad.with_columns(d=pl.col("rated_at").dt.date(), cb=pl.col("callback_at").dt.date(),
                              rc=pl.col("rectified_at").dt.date())
             .join(ords.rename({"date": "d", "ord": "o"}), on="d")
             .join(ords.rename({"date": "cb", "ord": "ocb"}), on="cb", how="left")
             .join(ords.rename({"date": "rc", "ord": "orc"}), on="rc", how="left"))
    called = timed.filter(pl.col("ocb").is_not_null())
    assert ((called["ocb"] - called["o"]) <= 1).mean() > 0.85
    assert called.filter(pl.col("callback_at") < pl.col("rated_at")).height == 0
    fixed = timed.filter(pl.col("orc").is_not_null())
    assert ((fixed["orc"] - fixed["o"]) <= 15).mean() > 0.8
    assert ((fixed["orc"] - fixed["o"]) > 15).any()
    old = timed.filter(pl.col("rated_at") < dt.datetime(2026, 6, 1))
    assert 0 < old["rectified_at"].null_count() < 0.25 * old.height  # a few never rectified


# --- injected effects ------------------------------------------------------------------------

def test_lagging_agencies_are_documented(tables):
    codes = set(tables["agencies"]["agency_code"])
    text = DOCS.read_text(encoding="utf-8")
    assert {i.effect for i in LAGGING_AGENCIES} == {
        "overdue", "worsening", "bad_reviews", "low_online", "late_reporting", "hard_mix"}
    for inj in LAGGING_AGENCIES:
        assert inj.agency_code in codes
        assert inj.agency_name in text and inj.agency_code in text, inj.agency_name
        for key, value in inj.parameters.items():
            assert key in text and str(value) in text, (inj.effect, key)


def test_overdue_agency(clock):
    code = injection("overdue").agency_code
    city = clock["overdue"].mean()
    mine = clock.filter(pl.col("agency_code") == code)
    assert mine.height > 300
    assert mine["overdue"].mean() > 3 * city


def test_worsening_agency(clock):
    code = injection("worsening").agency_code
    mine = clock.filter(pl.col("agency_code") == code)
    early = mine.filter(pl.col("month") < dt.date(2025, 1, 1))["overdue"].mean()
    late = mine.filter(pl.col("month") >= dt.date(2026, 8, 1))["overdue"].mean()
    city_late = clock.filter(pl.col("month") >= dt.date(2026, 8, 1))["overdue"].mean()
    assert late > 3 * early
    assert late > 2 * city_late


def test_bad_review_agency(tables):
    r = tables["reviews"]
    code = injection("bad_reviews").agency_code
    city = (r["level"] <= 2).mean()
    mine = r.filter(pl.col("agency_code") == code)
    assert (mine["level"] <= 2).mean() > 3 * city


def test_low_online_agency(tables):
    c = tables["cases"].join(tables["agencies"].select("agency_code", "sector"), on="agency_code")
    code = injection("low_online").agency_code
    online = pl.col("channel").is_in(["online", "mobile"])
    mine = c.filter(pl.col("agency_code") == code).select(online.mean()).item()
    sector = c.filter(pl.col("sector") == "医保", pl.col("agency_code") != code).select(online.mean()).item()
    assert mine < 0.5 * sector


def test_late_reporting_agency(tables):
    c = tables["cases"].filter(pl.col("reported_at").is_not_null())
    event = pl.coalesce("completed_at", "accepted_at", "submitted_at")
    late = ((pl.col("reported_at") - event).dt.total_hours() > 24)
    code = injection("late_reporting").agency_code
    city = c.select(late.mean()).item()
    mine = c.filter(pl.col("agency_code") == code).select(late.mean()).item()
    assert mine > 5 * city


def test_hard_mix_agency_is_slow_only_because_of_its_items(clock):
    """Raw overdue share well above the city's; expected share from the same items handled
    by other agencies (indirect standardisation) explains it."""
    code = injection("hard_mix").agency_code
    mine = clock.filter(pl.col("agency_code") == code)
    others = clock.filter(pl.col("agency_code") != code)
    assert mine.height > 150
    assert mine["overdue"].mean() > 2 * clock["overdue"].mean()
    rates = others.group_by("item_code").agg(rate=pl.col("overdue").mean(), n=pl.len())
    joined = mine.join(rates, on="item_code", how="inner")
    assert joined.height > 0.9 * mine.height  # the same items are handled elsewhere too
    ratio = joined["overdue"].sum() / joined["rate"].sum()
    assert 0.6 < ratio < 1.5


def test_write_parquet_round_trip(tmp_path):
    t = generate(cases=5_000, seed=1, start=dt.date(2025, 1, 1), end=dt.date(2025, 6, 1))
    paths = write_parquet(t, tmp_path / "out")
    assert sorted(p.name for p in paths) == sorted(f"{n}.parquet" for n in t)
    for name, frame in t.items():
        back = pl.read_parquet(tmp_path / "out" / f"{name}.parquet")
        assert back.equals(frame), name
