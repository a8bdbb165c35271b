"""A unit user sees only its own unit, through every page, filter, URL, export and cache entry."""

from __future__ import annotations

import dataclasses
import datetime as dt

import polars as pl
import pytest

from tests.app.conftest import page_path
from tests.security.conftest import COUNTY_A, COUNTY_B, USERS, app_as
from xiaoneng import authz

MONTH = dt.date(2025, 6, 1)
PAGES = ("overview", "timeliness", "online", "cards", "reviews", "business_env", "drilldown",
         "bulletin", "definitions")


def _agencies_on_screen(at) -> set[str]:
    out: set[str] = set()
    for df in at.dataframe:
        frame = df.value
        if "agency_code" in getattr(frame, "columns", []):
            out |= {str(v) for v in frame["agency_code"].dropna()}
    return out


# --- the scope itself --------------------------------------------------------------------------

def test_scope_by_role() -> None:
    regions = [("330000", None), ("331200", "330000"), (COUNTY_A, "331200"),
               (COUNTY_B, "331200"), (f"{COUNTY_A}001", COUNTY_A)]
    agencies = [("A1", COUNTY_A), ("A2", f"{COUNTY_A}001"), ("B1", COUNTY_B), ("C1", "331200")]
    for role in ("leader", "supervisor", "analyst"):
        assert authz.allowed_agencies(USERS[role], regions, agencies) is None
    assert authz.allowed_agencies(USERS["unit_a"], regions, agencies) == ("A1", "A2")
    assert authz.allowed_agencies(USERS["admin"], regions, agencies) == ()
    assert authz.allowed_agencies(None, regions, agencies) == ()
    by_list = authz.User("u", "unit", agencies=("B1", "ZZ"))
    assert authz.allowed_agencies(by_list, regions, agencies) == ("B1",)
    assert authz.allowed_agencies(authz.User("u", "unit"), regions, agencies) == ()
    assert authz.allowed_agencies(authz.User("u", "superuser"), regions, agencies) == ()


def test_actions_by_role() -> None:
    table = {
        "leader": {"read", "read_all", "view_data_admin", "view_quarantine"},
        "supervisor": {"read", "read_all", "run_job", "edit_settings", "edit_calendar",
                       "import_data", "publish_bulletin", "view_data_admin", "view_quarantine",
                       "view_audit"},
        "analyst": {"read", "read_all", "export", "view_data_admin", "view_quarantine"},
        "unit_a": {"read", "export"},
        "admin": {"manage_accounts", "view_audit", "view_data_admin"},
    }
    for who, allowed in table.items():
        got = {a for a in authz.ACTIONS if authz.can(USERS[who], a)}
        assert got == allowed, who
    with pytest.raises(authz.PermissionDenied):
        authz.require(USERS["leader"], "run_job")
    with pytest.raises(authz.PermissionDenied):
        authz.require(None, "read")


# --- the data layer (dashboard.data): every read, and the cache ---------------------------------

@pytest.fixture
def as_user(monkeypatch):
    import dashboard.auth

    def sign(user):
        monkeypatch.setattr(dashboard.auth, "current_user", lambda: user)

    return sign


def test_same_cached_function_gives_each_scope_its_own_result(demo_env, as_user,
                                                              agencies_by_region) -> None:
    from dashboard import data
    from metrics.query import metric_values
    from queries.engine import make_engine
    from queries.extracts import Filters

    data.invalidate()
    page = Filters(MONTH, MONTH)  # what a page passes: no scope at all
    as_user(USERS["unit_a"])
    a = data.values(["accepted", "on_time_rate"], page)
    as_user(USERS["unit_b"])
    b = data.values(["accepted", "on_time_rate"], page)
    as_user(USERS["leader"])
    city = data.values(["accepted", "on_time_rate"], page)
    acc = {n: f.filter(pl.col("metric_id") == "accepted")["numerator"][0]
           for n, f in (("a", a), ("b", b), ("city", city))}
    assert acc["a"] != acc["b"] and acc["a"] < acc["city"] and acc["b"] < acc["city"]
    eng = make_engine(demo_env)
    # unit A's number is exactly the county's number
    own = metric_values(eng, ["accepted"], Filters(MONTH, MONTH, region_code=COUNTY_A))
    assert acc["a"] == own["numerator"][0]
    # and a cached entry of one scope is never served to the other (3 scopes → 3 entries)
    as_user(USERS["unit_a"])
    assert data.values(["accepted", "on_time_rate"], page).equals(a)
    assert data._values.__wrapped__ is not None  # cached function (st.cache_data)
    # nobody signed in: nothing
    as_user(None)
    assert data.values(["accepted"], page).is_empty()
    eng.dispose()


def test_a_page_or_url_cannot_widen_the_scope(demo_env, as_user, agencies_by_region) -> None:
    from dashboard import data
    from queries.extracts import Filters

    data.invalidate()
    as_user(USERS["unit_a"])
    other = sorted(agencies_by_region[COUNTY_B])
    # another county's region, its agencies, or a forged allowed_agencies: all empty
    for f in (Filters(MONTH, MONTH, region_code=COUNTY_B),
              Filters(MONTH, MONTH, agency_codes=tuple(other)),
              Filters(MONTH, MONTH, allowed_agencies=tuple(other)),
              Filters(MONTH, MONTH, allowed_agencies=None)):
        vals = data.values(["accepted"], f)
        if f.region_code or f.agency_codes or f.allowed_agencies:
            assert vals.is_empty() or vals["numerator"].fill_null(0).sum() == 0, f
    # case lists, 预警, cards, overdue: only own agencies
    own = agencies_by_region[COUNTY_A] | agencies_by_region.get(f"{COUNTY_A}001", set())
    own = set(data.scope())
    assert own and own <= set().union(*(v for k, v in agencies_by_region.items()
                                         if k.startswith(COUNTY_A)))
    page = Filters(MONTH, MONTH)
    for frame in (data.case_list("accepted", page, page_size=1000)[0],
                  data.warnings(page)[0], data.cards(page)[0],
                  data.overdue_cases(page)[0],
                  data.ranking("on_time_rate", page, "agency")):
        assert frame.height > 0
        assert set(frame["agency_code"]) <= own
    # the options a unit user may pick hold only own agencies and own regions (+ ancestors)
    opts = data.options()
    assert {a[0] for a in opts.agencies} == own
    assert COUNTY_B not in {r[0] for r in opts.regions}


def test_case_detail_of_another_unit_is_not_found(demo_env, as_user) -> None:
    from dashboard import data
    from queries.extracts import Filters

    data.invalidate()
    as_user(USERS["unit_b"])
    other_case = data.case_list("accepted", Filters(MONTH, MONTH))[0]["case_id"][0]
    assert data.case_detail(other_case) is not None
    as_user(USERS["unit_a"])
    assert data.case_detail(other_case) is None
    as_user(USERS["leader"])
    assert data.case_detail(other_case) is not None


def test_quarantine_and_be_scores_are_closed_to_unit_users(demo_env, as_user) -> None:
    from dashboard import data
    from queries.extracts import Filters

    as_user(USERS["unit_a"])
    with pytest.raises(authz.PermissionDenied):
        data.quarantine_rows(None, None)
    rows = data.be_scores(Filters(MONTH, MONTH), (COUNTY_A, COUNTY_B))
    assert set(rows["region_code"]) <= {COUNTY_A}


def test_case_export_is_scoped_audited_and_refused_without_the_role(demo_env, as_user) -> None:
    from dashboard import data, panels
    from queries import audit
    from queries.engine import make_engine
    from queries.extracts import Filters

    data.invalidate()
    as_user(USERS["leader"])
    with pytest.raises(authz.PermissionDenied):
        panels.case_export("accepted", Filters(MONTH, MONTH), "numerator", "csv")
    as_user(USERS["unit_a"])
    forged = Filters(MONTH, MONTH, region_code=None, allowed_agencies=None)
    csv = panels.case_export("accepted", forged, "numerator", "csv")()
    frame = pl.read_csv(csv[3:])
    assert frame.height > 0 and set(frame["agency_code"]) <= set(data.scope())
    eng = make_engine(demo_env)
    row = audit.entries(eng, 1, action="export").row(0, named=True)
    assert row["username"] == "t-unit-a" and row["scope"] == f"region:{COUNTY_A}"
    assert f'"rows": {frame.height}' in row["detail"]
    eng.dispose()


# --- through the app: every page, URL parameters, the bulletin --------------------------------

@pytest.mark.parametrize("stem", PAGES)
def test_unit_user_pages_show_only_own_agencies_even_with_a_forged_url(demo_env,
                                                                       agencies_by_region,
                                                                       stem) -> None:
    other = sorted(agencies_by_region[COUNTY_B])
    at = app_as(USERS["unit_a"], {"region": COUNTY_B, "agency": other[:3]})
    at.run()
    if stem != "overview":
        at.switch_page(page_path(stem)).run()
    assert not at.exception, [e.value for e in at.exception]
    # the forged region / agencies were dropped, never applied
    assert at.selectbox(key="_f_region").value in ("", None)
    assert at.multiselect(key="_f_agency").value == []
    shown = _agencies_on_screen(at)
    assert not (shown & set(agencies_by_region[COUNTY_B]))
    assert not any(COUNTY_B in str(o) for o in at.selectbox(key="_f_region").options)


def test_unit_user_tiles_are_the_county_numbers(demo_env) -> None:
    a = app_as(USERS["unit_a"]).run()
    city = app_as(USERS["leader"]).run()
    tile = lambda at: next(m.value for m in at.metric if m.label == "受理量")  # noqa: E731
    assert tile(a) != tile(city)
    county = app_as(USERS["leader"], {"region": COUNTY_A}).run()
    assert tile(a) == tile(county)


def test_unit_user_cannot_open_data_management(demo_env) -> None:
    at = app_as(USERS["unit_a"]).run()
    assert all(p.url_path != "data_admin" for ps in at.session_state["_xn_pages"].values()
               for p in ps)
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        at.switch_page(page_path("data_admin"))  # not registered for this session: no such page


def test_bulletin_page_offers_a_unit_user_only_its_county(demo_env) -> None:
    at = app_as(USERS["unit_a"]).run()
    at.switch_page(page_path("bulletin")).run()
    assert not at.exception
    assert at.selectbox[1].options == ["县（市、区）"]
    assert at.selectbox[2].options == ["鉴湖区"]
    assert not any(b.label == "发布" for b in at.button)
    agency_user = authz.User("t-ag", "unit", agencies=("X",), method="test")
    at = app_as(agency_user).run()
    at.switch_page(page_path("bulletin")).run()
    assert any("没有可查看的通报" in i.value for i in at.info)


def test_nobody_signed_in_sees_the_login_page_only(demo_env) -> None:
    at = app_as(None, {"region": COUNTY_B}).run()
    assert not at.exception
    assert at.title[0].value == "登录"
    assert not at.metric and not at.dataframe


def test_scope_in_the_filters_is_part_of_the_cache_key() -> None:
    from queries.extracts import Filters

    f = Filters(MONTH, MONTH)
    assert hash(f) != hash(dataclasses.replace(f, allowed_agencies=("A",)))
