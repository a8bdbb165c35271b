"""The dashboard's only caching layer: every read a page makes goes through here.

Each cached function is keyed by the database URL, the *data version* and its arguments. The
arguments include the `Filters` value object, which carries the user's access scope
(`allowed_agencies`), so two users with different scopes never share an entry. The data
version is the last load id + the last job run id + the settings digest (`views.data_version`):
an import, a job run or a settings change gives every page a new key, so nothing stale is
served. The version itself is re-read at most every few seconds (it is one tiny query), and the
app clears it at once after an in-app import, job run or calendar edit (`invalidate`).

Pages never call the query layer directly; they call these functions, which return Polars
frames or plain values.

Access scope. Every function here that reads case data applies the signed-in user's scope
itself (`_enforce`): the scope is computed on the server from the account (`scope()`), then
intersected into the `Filters` the page passed, so a page, a URL parameter or a drill-down path
can narrow it but never widen it. Because the scoped `Filters` is an argument of the cached
function, the scope is part of every cache key: two users of different scope calling the same
function with the same page filters get different entries and different results.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import polars as pl
import streamlit as st

from dashboard.filters import FilterOptions
from dashboard.state import _engine
from metrics import query
from metrics.settings import Settings, load_settings
from metrics.stats import facts as stats_facts  # scipy/statsmodels: imported at start, ~1 s
from queries import extracts, views
from queries.engine import database_url
from queries.extracts import Filters, add_months
from xiaoneng import authz
from xiaoneng.authz import User

VERSION_TTL_S = 5


def _url() -> str:
    return database_url()


def settings_in_force(url: str | None = None) -> Settings:
    """The settings file with the supervision office's overrides from the database."""
    from queries.settings_store import overrides

    return load_settings(overrides=overrides(_engine(url or _url())))


@st.cache_data(ttl=VERSION_TTL_S, show_spinner=False)
def _version(url: str) -> str:
    try:
        digest = settings_in_force(url).digest()
    except Exception:  # an invalid settings file is reported elsewhere; keep the app usable
        digest = "invalid-settings"
    return f"{views.data_version(_engine(url))}|{digest}"


def version() -> str:
    """The current data version (changes on every load, job run and settings change)."""
    return _version(_url())


def invalidate() -> None:
    """Drop every cached result now (after an in-app import, job run or calendar edit)."""
    st.cache_data.clear()
    _forget_prefetches()


@st.cache_data(ttl=3600, show_spinner=False)
def _settings(ver: str) -> Settings:
    return settings_in_force()


def settings() -> Settings:
    """Settings in force (file overrides included); falls back to the defaults if invalid."""
    try:
        return _settings(version())
    except Exception:
        return Settings()


# ---------------------------------------------------------------------------------------------
# Options and freshness


@st.cache_data(show_spinner=False, max_entries=8)
def _options(url: str, ver: str) -> FilterOptions:
    eng = _engine(url)
    regions = extracts.load_regions(eng)
    agencies = extracts.load_agencies(eng)
    items = extracts.load_items(eng)
    from dashboard.filters import USUAL_MONTHS
    from queries.contract import CHANNELS

    months = tuple(views.fact_months(eng))
    since = add_months(months[-1], -USUAL_MONTHS) if months else None
    job = views.freshness(eng).get("job") or {}
    return FilterOptions(
        months=months,
        volumes=tuple(views.monthly_volumes(eng, since)) if months else (),
        cutoff=job.get("data_cutoff"),
        regions=tuple(regions.select("region_code", "name", "parent_code", "level").iter_rows()),
        sectors=tuple(sorted(set(agencies["sector"].drop_nulls().to_list()))),
        agencies=tuple(agencies.select("agency_code", "name", "region_code", "sector")
                       .iter_rows()),
        item_types=tuple(sorted(set(items["item_type"].drop_nulls().to_list()))),
        channels=CHANNELS,
        region_names=dict(regions.select("region_code", "name").iter_rows()),
    )


def _user() -> User | None:
    from dashboard.auth import current_user

    return current_user()


@st.cache_data(show_spinner=False, max_entries=256)
def _scope(url: str, ver: str, user: User | None) -> tuple[str, ...] | None:
    opts = _options(url, ver)
    return authz.allowed_agencies(user, ((r[0], r[2]) for r in opts.regions),
                                  ((a[0], a[2]) for a in opts.agencies))


def scope() -> tuple[str, ...] | None:
    """The signed-in user's agencies (None: all; (): nothing, e.g. nobody signed in)."""
    return _scope(_url(), version(), _user())


def _enforce(filters: Filters) -> Filters:
    """`filters` narrowed to the user's scope (a page cannot widen it: it is intersected)."""
    allowed = scope()
    if allowed is None:
        return filters
    if filters.allowed_agencies is not None:
        allowed = tuple(sorted(set(allowed) & set(filters.allowed_agencies)))
    return dataclasses.replace(filters, allowed_agencies=allowed)


def enforce(filters: Filters) -> Filters:
    """Public form of `_enforce` for code that calls the query API outside the cache (exports)."""
    return _enforce(filters)


@st.cache_data(show_spinner=False, max_entries=64)
def _scoped_options(url: str, ver: str, allowed: tuple[str, ...] | None,
                    user_regions: tuple[str, ...]) -> FilterOptions:
    """The options a scoped user may pick: own agencies, own region subtrees and their ancestors.

    A URL naming another unit's region or agency is then dropped by `ViewFilters.from_query`
    (and would match nothing anyway: the data layer intersects the scope).
    """
    opts = _options(url, ver)
    if allowed is None:
        return opts
    keep_agencies = set(allowed)
    agencies = tuple(a for a in opts.agencies if a[0] in keep_agencies)
    pairs = [(r[0], r[2]) for r in opts.regions]
    roots = set(user_regions) | {a[2] for a in agencies}
    keep = authz.subtree(pairs, sorted(roots))
    parent = dict(pairs)
    for code in list(keep):
        p = parent.get(code)
        while p is not None and p not in keep:
            keep.add(p)
            p = parent.get(p)
    regions = tuple(r for r in opts.regions if r[0] in keep)
    sectors = tuple(sorted({a[3] for a in agencies if a[3]}))
    return dataclasses.replace(opts, regions=regions, agencies=agencies, sectors=sectors,
                               region_names={k: v for k, v in opts.region_names.items()
                                             if k in keep})


def options() -> FilterOptions:
    user = _user()
    allowed = scope()
    return _scoped_options(_url(), version(), allowed, user.regions if user else ())


@st.cache_data(show_spinner=False, max_entries=8)
def _freshness(url: str, ver: str) -> dict[str, Any]:
    return views.freshness(_engine(url))


def freshness() -> dict[str, Any]:
    return _freshness(_url(), version())


def unit_base(filters: Filters) -> Filters:
    """Filters whose region is the level that unit breakdowns should list.

    With no region filter, the region tree's root may be a lone province above one city; its
    "units" would be that one city. Walk down single-child levels so the breakdown lists the
    counties. Used only for region-grain breakdowns (a region filter narrows the catalogue
    metrics, which are city-wide).
    """
    if filters.region_code is not None:
        return filters
    opts = options()
    children: dict[str | None, list[str]] = {}
    codes = {r[0] for r in opts.regions}
    for code, _, parent, _ in opts.regions:
        children.setdefault(parent if parent in codes else None, []).append(code)
    roots = children.get(None, [])
    if len(roots) != 1:
        return filters
    node = roots[0]
    while len(children.get(node, [])) == 1:
        node = children[node][0]
    return dataclasses.replace(filters, region_code=node)


def region_codes(filters: Filters) -> list[str] | None:
    sub = options().subtree(filters.region_code)
    return sorted(sub) if sub is not None else None


# ---------------------------------------------------------------------------------------------
# Metric values


@st.cache_data(show_spinner=False, max_entries=512)
def _values(url: str, ver: str, ids: tuple[str, ...], filters: Filters, grain: str,
            period: str) -> pl.DataFrame:
    return _take(("values", url, ver, ids, filters, grain, period),
                 lambda: query.metric_values(_engine(url), list(ids), filters, grain, period))  # type: ignore[arg-type]


def _values_key(ids: list[str] | tuple[str, ...], filters: Filters, grain: str, period: str
                ) -> tuple:
    return (_url(), version(), tuple(ids), _enforce(filters), grain, period)


def values(ids: list[str] | tuple[str, ...], filters: Filters, grain: str = "city",
           period: str = "month") -> pl.DataFrame:
    """metric_values for the filter's month range (see metrics.query for the columns)."""
    return _values(*_values_key(ids, filters, grain, period))


def _latest_filters(filters: Filters) -> Filters:
    m = filters.month_to
    return filters.with_months(m, m)


def _trend_filters(filters: Filters, months: int) -> Filters:
    start = min(filters.month_from, add_months(filters.month_to, -(months - 1)))
    return filters.with_months(start, filters.month_to)


def latest(ids: list[str] | tuple[str, ...], filters: Filters, grain: str = "city"
           ) -> pl.DataFrame:
    """Values for the last month of the filter (what KPI tiles show)."""
    return values(ids, _latest_filters(filters), grain)


def trend(ids: list[str] | tuple[str, ...], filters: Filters, grain: str = "city",
          months: int = 12) -> pl.DataFrame:
    """Monthly values over the filter's range, extended back to at least `months` months."""
    return values(ids, _trend_filters(filters, months), grain)


# ---------------------------------------------------------------------------------------------
# Prefetch: a page's independent reads side by side
#
# A page asks for its frames one after another (KPI tiles, a trend, a unit table, a list), and
# at 20 million cases each read costs the database 0.1-1 s: in sequence they add up to seconds.
# `prefetch` starts the reads a page is about to make on a small thread pool; when the page
# then calls the ordinary function, its cache-miss body takes the running read's result
# instead of starting the same query again (`_take`). Only the query layer runs in the
# workers (metrics.query / queries.views with an engine resolved here): no st.* call, no
# session. The key of a prefetched read is exactly the key of the cached function it feeds
# (database, data version, scoped filters, arguments), so a read never serves another user's
# scope or an older data version. Keys computed recently are remembered (`_COMPUTED`), so a
# warm rerun, which the Streamlit cache serves, does not query the database again for nothing.

PREFETCH_THREADS = 3
PREFETCH_TTL_S = 120.0  # a read nobody took (the page stopped early) is dropped after this
_PREFETCH_POOL = ThreadPoolExecutor(max_workers=PREFETCH_THREADS, thread_name_prefix="prefetch")
_PREFETCHED: dict[tuple, tuple[float, Future]] = {}
_COMPUTED: OrderedDict[tuple, None] = OrderedDict()
_COMPUTED_MAX = 4096
_PF_LOCK = threading.Lock()


@dataclasses.dataclass(frozen=True)
class Read:
    """One read a page will make, for `prefetch`: the cached function's key and its work."""

    key: tuple
    work: Callable[[], Any]


def _take(key: tuple, compute: Callable[[], Any]) -> Any:
    """The body of a cached read: the prefetched result of `key` if one was started, else
    `compute()` here. Either way `key` is remembered as computed (the cache now holds it)."""
    with _PF_LOCK:
        started = _PREFETCHED.pop(key, None)
    value = started[1].result() if started is not None else compute()
    with _PF_LOCK:
        _COMPUTED[key] = None
        _COMPUTED.move_to_end(key)
        while len(_COMPUTED) > _COMPUTED_MAX:
            _COMPUTED.popitem(last=False)
    return value


def _forget_prefetches() -> None:
    with _PF_LOCK:
        _PREFETCHED.clear()
        _COMPUTED.clear()


def prefetch(*reads: Read | None) -> None:
    """Start `reads` side by side unless they were computed recently or are running already.

    Call at the top of a page with the reads it will make (`values_read`, `latest_read`,
    `trend_read`, `view_read`); the page then calls the ordinary functions in its own order.
    """
    now = time.monotonic()
    with _PF_LOCK:
        for key, (t0, _) in list(_PREFETCHED.items()):
            if now - t0 > PREFETCH_TTL_S:
                del _PREFETCHED[key]
        for r in reads:
            if r is None or r.key in _COMPUTED or r.key in _PREFETCHED:
                continue
            _PREFETCHED[r.key] = (now, _PREFETCH_POOL.submit(r.work))


def values_read(ids: list[str] | tuple[str, ...], filters: Filters | None, grain: str = "city",
                period: str = "month") -> Read | None:
    """The read behind `values(ids, filters, grain, period)`, for `prefetch`."""
    if filters is None:
        return None
    url, ver, ids_, scoped, grain_, period_ = _values_key(ids, filters, grain, period)
    eng = _engine(url)
    return Read(("values", url, ver, ids_, scoped, grain_, period_),
                lambda: query.metric_values(eng, list(ids_), scoped, grain_, period_))  # type: ignore[arg-type]


def latest_read(ids: list[str] | tuple[str, ...], filters: Filters | None, grain: str = "city"
                ) -> Read | None:
    """The read behind `latest(ids, filters, grain)`, for `prefetch`."""
    return values_read(ids, _latest_filters(filters), grain) if filters else None


def trend_read(ids: list[str] | tuple[str, ...], filters: Filters | None, grain: str = "city",
               months: int = 12) -> Read | None:
    """The read behind `trend(ids, filters, grain, months)`, for `prefetch`."""
    return values_read(ids, _trend_filters(filters, months), grain) if filters else None


@st.cache_data(show_spinner=False, max_entries=256)
def _ranking(url: str, ver: str, metric_id: str, filters: Filters, grain: str,
             month: dt.date, min_n: int) -> pl.DataFrame:
    return query.ranking(_engine(url), metric_id, filters, grain, month, min_n=min_n)  # type: ignore[arg-type]


def ranking(metric_id: str, filters: Filters, grain: str = "region") -> pl.DataFrame:
    s = settings()
    return _ranking(_url(), version(), metric_id, _enforce(filters), grain, filters.month_to,
                    s.min_n_rank)


@st.cache_data(show_spinner=False, max_entries=256)
def _case_list(url: str, ver: str, metric_id: str, filters: Filters, month: dt.date,
               page: int, page_size: int, part: str, online: tuple[str, ...]
               ) -> tuple[pl.DataFrame, int]:
    return query.case_list(_engine(url), metric_id, filters, month, page, page_size,
                           part, online)  # type: ignore[arg-type]


def case_list(metric_id: str, filters: Filters, page: int = 1, page_size: int = 50,
              part: str = "numerator") -> tuple[pl.DataFrame, int]:
    """One page of the cases behind a metric in the filter's last month, and the total."""
    return _case_list(_url(), version(), metric_id, _enforce(filters), filters.month_to, page,
                      page_size, part, tuple(settings().online_channels))


# ---------------------------------------------------------------------------------------------
# Lists and distributions (queries.views)


@st.cache_data(show_spinner=False, max_entries=128)
def _view(url: str, ver: str, name: str, filters: Filters | None, args: tuple) -> Any:
    return _take(("view", url, ver, name, filters, args), _view_work(url, ver, name, filters, args))


def _view_work(url: str, ver: str, name: str, filters: Filters | None, args: tuple
               ) -> Callable[[], Any]:
    """The query of a `_view` read, with the engine and region subtree resolved here (in the
    script thread: both come from Streamlit caches), so a prefetch worker runs only SQL."""
    eng = _engine(url)
    fn = getattr(views, name)
    if filters is None:
        return lambda: fn(eng, *args)
    sub = FilterOptions.subtree(_options(url, ver), filters.region_code)
    codes = sorted(sub) if sub is not None else None
    return lambda: fn(eng, filters, codes, *args)


def view_read(name: str, filters: Filters | None, *args: Any) -> Read | None:
    """The read behind a scoped list or distribution of `queries.views` (`review_levels`,
    `used_days_histogram`, `overdue_cases` …) called with `filters` and `args`, for `prefetch`."""
    if filters is None:
        return None
    url, ver, scoped = _url(), version(), _enforce(filters)
    return Read(("view", url, ver, name, scoped, tuple(args)),
                _view_work(url, ver, name, scoped, tuple(args)))


def warnings(filters: Filters) -> tuple[pl.DataFrame, int]:
    return _view(_url(), version(), "warnings_list", _enforce(filters), ())


def cards(filters: Filters, kinds: tuple[str, ...] = ("yellow", "red"),
          subject: str | None = None, still_open: bool | None = None, limit: int = 500
          ) -> tuple[pl.DataFrame, int]:
    return _view(_url(), version(), "cards_list", _enforce(filters),
                 (kinds, subject, still_open, limit))


def review_levels(filters: Filters) -> pl.DataFrame:
    return _view(_url(), version(), "review_levels", _enforce(filters), ())


def bad_review_tags(filters: Filters) -> pl.DataFrame:
    return _view(_url(), version(), "bad_review_tags", _enforce(filters), ())


def rectification_status(filters: Filters) -> pl.DataFrame:
    return _view(_url(), version(), "rectification_status", _enforce(filters), ())


def used_days_histogram(filters: Filters) -> pl.DataFrame:
    return _view(_url(), version(), "used_days_histogram", _enforce(filters), ())


def day_unit(filters: Filters) -> str | None:
    """"working" / "natural" / "mixed": the day unit of the cases completed in view."""
    return _view(_url(), version(), "day_unit", _enforce(filters), ())


def online_depth(filters: Filters) -> pl.DataFrame:
    return _view(_url(), version(), "online_depth_counts", None, (filters,))


def case_detail(case_id: str) -> dict[str, Any] | None:
    """One case for the timeline; None when it does not exist or is outside the user's scope."""
    return _view(_url(), version(), "case_detail", None, (str(case_id)[:200], scope()))


def be_scores(filters: Filters, region_codes_: tuple[str, ...]) -> pl.DataFrame:
    """营商环境 rows of regions; a scoped user gets only regions inside own region subtrees."""
    if scope() is not None:
        user = _user()
        pairs = [(r[0], r[2]) for r in _options(_url(), version()).regions]
        mine = authz.subtree(pairs, list(user.regions)) if user and user.role == "unit" else set()
        region_codes_ = tuple(c for c in region_codes_ if c in mine)
    return _view(_url(), version(), "be_scores", None,
                 (filters.month_from, filters.month_to, tuple(region_codes_)))


def job_runs() -> pl.DataFrame:
    return _view(_url(), version(), "job_runs", None, ())


def quarantine_rules() -> pl.DataFrame:
    authz.require(_user(), "view_quarantine")  # raw rows of every unit: not for unit users
    return _view(_url(), version(), "quarantine_rules", None, ())


def quarantine_rows(rule: str | None, table: str | None) -> tuple[pl.DataFrame, int]:
    authz.require(_user(), "view_quarantine")
    return _view(_url(), version(), "quarantine_rows", None, (rule, table))


def calendar_days(year: int) -> pl.DataFrame:
    """Not cached: the calendar editor must show its own writes at once (and it is cheap)."""
    return views.calendar_days(_engine(_url()), year)


def has_facts() -> bool:
    return bool(options().months)


def overdue_cases(filters: Filters, limit: int = 200) -> tuple[pl.DataFrame, int]:
    """The first `limit` cases behind `overdue` in the filter's last month, and how many there
    are in all. The total is the `overdue` metric from the facts (the list's own rule; a test
    checks they agree): an exact count of the card-driven list costs seconds at 20M cases."""
    m = filters.month_to
    rows = _view(_url(), version(), "overdue_cases", _enforce(filters), (m, limit))
    counted = values(["overdue"], filters.with_months(m, m))
    total = counted["value"].drop_nulls().sum() if counted.height else 0
    return rows, int(total or 0)


# ---------------------------------------------------------------------------------------------
# Statistics (metrics.stats): funnels, case mix, lagging units, predicted overdue risk

STATS_FUNNELS = ("on_time", "overdue_oe", "bad_review", "online")


@dataclasses.dataclass(frozen=True)
class CityStats:
    """The statistics of one month for every agency in the city.

    Funnel targets and overdispersion must be estimated on all units (a county's own units
    alone would make a different funnel), so this is computed city-wide and cached once per
    data version and month. It is never handed to a page as is: `unit_stats` narrows it to the
    user's scope first.
    """

    month: dt.date
    funnels: dict[str, Any]  # STATS_FUNNELS → metrics.stats.funnel.Funnel (absent: no data)
    comparison: pl.DataFrame
    lagging: pl.DataFrame
    agencies: pl.DataFrame  # agency_code, name, region_code, sector
    timings: dict[str, float]


@dataclasses.dataclass(frozen=True)
class UnitStats:
    """`CityStats` narrowed to what the signed-in user may see under the page filters.

    `problem` names why nothing could be computed (an i18n key), so the page explains instead
    of failing; the funnels keep the city-wide target and limits, with only visible points.
    The predicted 预警 list is not here: it needs cases, so it is computed on demand
    (`unit_risk`).
    """

    month: dt.date
    funnels: dict[str, Any]
    comparison: pl.DataFrame
    lagging: pl.DataFrame
    problem: str | None = None


class _Flight:
    """One computation in progress: the leader's result or exception, for its waiters."""

    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


_FLIGHTS: dict[tuple, _Flight] = {}
_FLIGHTS_LOCK = threading.Lock()


def _single_flight(key: tuple, compute: Callable[[], Any]) -> Any:
    """`compute()` once for all concurrent callers with the same `key`: the first caller (the
    leader) computes, the others wait and get the leader's result — or its exception, so a
    failure (e.g. out of memory) is not retried by twenty sessions at once.

    Why not only `st.cache_data`: its per-key compute lock is an implementation detail of
    Streamlit (1.67 has one; a waiter then re-reads and unpickles the entry), and the city
    statistics and the risk list are the two computations where twenty sessions computing the
    same month at once would exhaust the server's memory. The key must hold everything that
    shapes the result (database, data version, month), like the cache key it wraps."""
    while True:
        with _FLIGHTS_LOCK:
            flight = _FLIGHTS.get(key)
            leader = flight is None
            if leader:
                flight = _FLIGHTS[key] = _Flight()
        if leader:
            break
        flight.done.wait()
        if flight.error is None:
            return flight.value
        if isinstance(flight.error, Exception):
            raise flight.error
        # the leader's own run was stopped or rerun (Streamlit's control exceptions are
        # BaseExceptions): that is not this session's failure — compute it here instead
    try:
        flight.value = compute()
        return flight.value
    except BaseException as e:
        flight.error = e
        raise
    finally:
        with _FLIGHTS_LOCK:
            _FLIGHTS.pop(key, None)
        flight.done.set()


@st.cache_data(show_spinner=False, max_entries=6)
def _city_stats(url: str, ver: str, month: dt.date) -> CityStats | str:
    """City-wide statistics of `month` from the fact tables (`metrics.stats.facts.assess`: a
    few thousand fact rows, not the case log), or the i18n key of why there are none. No
    forecasts (another view) and no predicted 预警 (needs cases: `_city_risk`)."""
    from metrics.stats.casemix import raw_funnel

    rules = _settings(ver)
    eng = _engine(url)
    try:
        a = stats_facts.assess(eng, month, rules)
    except ValueError:  # no completed cases with a deadline in the model's window
        return "stats_no_completed"
    funnels = {"on_time": raw_funnel(a.casemix, rules.stats), "overdue_oe": a.adjusted}
    if a.bad_reviews is not None and not a.bad_reviews.units.is_empty():
        funnels["bad_review"] = a.bad_reviews
    if a.online is not None and not a.online.units.is_empty():
        funnels["online"] = a.online
    agencies = extracts.load_agencies(eng).select("agency_code", "name", "region_code",
                                                  "sector")
    return CityStats(month, funnels, a.comparison, a.lagging, agencies, dict(a.timings))


def city_stats(url: str, ver: str, month: dt.date) -> CityStats | str:
    """`_city_stats`, computed once however many sessions ask for it at the same time."""
    return _single_flight(("city_stats", url, ver, month), lambda: _city_stats(url, ver, month))


@st.cache_data(show_spinner=False, max_entries=4)
def _city_risk(url: str, ver: str, month: dt.date) -> pl.DataFrame | None:
    """The predicted 预警 list of the whole city at the end of `month` (or at the last recorded
    moment, if earlier); None when there is too little history to learn the model. Reads only
    the seeded training sample and the open cases (`metrics.stats.risk.database_warnings`)."""
    from metrics.stats.risk import database_warnings

    return database_warnings(_engine(url), month, _settings(ver))


_RISK_DONE: set[tuple[str, str, dt.date]] = set()


def city_risk(url: str, ver: str, month: dt.date) -> pl.DataFrame | None:
    """`_city_risk`, computed once however many sessions ask at the same time."""
    out = _single_flight(("city_risk", url, ver, month), lambda: _city_risk(url, ver, month))
    _RISK_DONE.add((url, ver, month))
    return out


def _visible_agencies(filters: Filters, agencies: pl.DataFrame, url: str, ver: str) -> set[str]:
    """Agencies the (already scoped) filters let the user see: scope ∩ agency, region, sector."""
    keep = agencies
    if filters.allowed_agencies is not None:
        keep = keep.filter(pl.col("agency_code").is_in(list(filters.allowed_agencies)))
    if filters.agency_codes:
        keep = keep.filter(pl.col("agency_code").is_in(list(filters.agency_codes)))
    if filters.sectors:
        keep = keep.filter(pl.col("sector").is_in(list(filters.sectors)))
    sub = FilterOptions.subtree(_options(url, ver), filters.region_code)
    if sub is not None:
        keep = keep.filter(pl.col("region_code").is_in(sorted(sub)))
    return set(keep["agency_code"].to_list())


@st.cache_data(show_spinner=False, max_entries=128)
def _unit_stats(url: str, ver: str, filters: Filters) -> UnitStats:
    month = filters.month_to
    city = city_stats(url, ver, month)
    empty = pl.DataFrame()
    if isinstance(city, str):
        return UnitStats(month, {}, empty, empty, city)
    seen = sorted(_visible_agencies(filters, city.agencies, url, ver))
    names = city.agencies.select(pl.col("agency_code").alias("unit"), "name")

    def mine(frame: pl.DataFrame) -> pl.DataFrame:
        return frame.filter(pl.col("unit").is_in(seen))

    funnels = {k: dataclasses.replace(f, units=mine(f.units).join(names, on="unit", how="left"))
               for k, f in city.funnels.items()}
    comparison = mine(city.comparison).join(names, on="unit", how="left")
    return UnitStats(month, funnels, comparison, mine(city.lagging))


def unit_stats(filters: Filters) -> UnitStats:
    """Funnels, raw vs case-mix-adjusted comparison and lagging units for the filter's last
    month, narrowed to the user's scope (the scope is in the key)."""
    return _unit_stats(_url(), version(), _enforce(filters))


@st.cache_data(show_spinner=False, max_entries=128)
def _unit_risk(url: str, ver: str, filters: Filters) -> pl.DataFrame | None:
    city = city_stats(url, ver, filters.month_to)
    risk = city_risk(url, ver, filters.month_to)
    if risk is None or isinstance(city, str):
        return None
    seen = sorted(_visible_agencies(filters, city.agencies, url, ver))
    names = city.agencies.select("agency_code", pl.col("name").alias("agency_name"))
    return risk.filter(pl.col("agency_code").is_in(seen)).join(names, on="agency_code",
                                                               how="left")


def unit_risk(filters: Filters) -> pl.DataFrame | None:
    """The predicted 预警 list of the filter's last month narrowed to the user's scope (None:
    too little history to learn the model). Seconds at 20 million cases the first time for a
    data version and month (it reads cases), then cached for every session."""
    return _unit_risk(_url(), version(), _enforce(filters))


def unit_risk_ready(filters: Filters) -> bool:
    """Whether this server has computed the predicted 预警 list of the filter's last month for
    the current data version (so the page can show it without asking for the computation)."""
    return (_url(), version(), filters.month_to) in _RISK_DONE
