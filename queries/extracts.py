"""The fixed read queries behind the query API: fact sums, the small dimension tables, case lists.

Everything here is SQLAlchemy Core with bound parameters: a filter value (an agency code, a
sector, an item type…) only ever travels as a parameter, never as SQL text, so a value such as
"x' OR '1'='1" is just a code that matches nothing.

Sums are formed in the database (`SUM … GROUP BY`): the fact tables hold up to millions of
rows at month × agency × item × channel, and a city-level number must not pull them into
Python. The roll-up keys that need a dimension (an agency's sector, the region unit an agency
belongs to) are resolved by a join to `agencies` in the same statement. Region trees and the
name lookups are small and are read whole by `load_regions` / `load_agencies` / `load_items`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from queries import schema
from queries.errors import XiaonengError

# ---------------------------------------------------------------------------------------------
# Filters


def month_start(d: dt.date) -> dt.date:
    return dt.date(d.year, d.month, 1)


def add_months(d: dt.date, n: int) -> dt.date:
    """The first day of the month `n` months after `d`'s month."""
    k = d.year * 12 + (d.month - 1) + n
    return dt.date(k // 12, k % 12 + 1, 1)


def _codes(values: Sequence[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):  # a lone string would otherwise become a tuple of characters
        values = (values,)
    return tuple(sorted({str(v) for v in values}))


@dataclass(frozen=True)
class Filters:
    """What the user is looking at: a month range and dimension filters (all optional).

    Frozen and made of tuples so that it is hashable: the dashboard's cache is keyed by it.
    Lists are normalised to sorted, de-duplicated tuples so that two equal selections give the
    same key. An empty tuple means "no filter" for the ordinary dimensions.

    `allowed_agencies` is the user's access scope (future access control): None means
    unrestricted; a tuple always intersects every other filter, so an empty tuple shows nothing.
    """

    month_from: dt.date
    month_to: dt.date
    region_code: str | None = None  # the region and all its descendants
    sectors: tuple[str, ...] = ()
    agency_codes: tuple[str, ...] = ()
    item_types: tuple[str, ...] = ()
    item_codes: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()
    allowed_agencies: tuple[str, ...] | None = None

    def __post_init__(self) -> None:
        for name in ("month_from", "month_to"):
            value = getattr(self, name)
            if isinstance(value, dt.datetime):
                value = value.date()
            if not isinstance(value, dt.date):
                raise XiaonengError(f"{name} must be a date, got {value!r}")
            object.__setattr__(self, name, month_start(value))
        if self.month_from > self.month_to:
            raise XiaonengError(
                f"month range is empty: {self.month_from:%Y-%m} is after {self.month_to:%Y-%m}"
            )
        for name in ("sectors", "agency_codes", "item_types", "item_codes", "channels"):
            object.__setattr__(self, name, _codes(getattr(self, name)) or ())
        object.__setattr__(self, "allowed_agencies", _codes(self.allowed_agencies))
        if self.region_code is not None:
            object.__setattr__(self, "region_code", str(self.region_code))

    def with_months(self, month_from: dt.date, month_to: dt.date) -> Filters:
        return dataclasses.replace(self, month_from=month_from, month_to=month_to)

    @property
    def scopes_agencies(self) -> bool:
        """True when the filter narrows the set of agencies (region, sector, codes, user scope)."""
        return bool(
            self.region_code is not None or self.sectors or self.agency_codes
            or self.allowed_agencies is not None
        )


# ---------------------------------------------------------------------------------------------
# Small dimension tables (read whole)

_PL_TYPES: list[tuple[type, pl.DataType]] = [
    (sa.Boolean, pl.Boolean()),
    (sa.DateTime, pl.Datetime("us")),
    (sa.Date, pl.Date()),
    (sa.Float, pl.Float64()),
    (sa.Integer, pl.Int64()),  # BigInteger is a subclass
    (sa.String, pl.String()),  # Text is a subclass
]


def _pl_type(sa_type: sa.types.TypeEngine) -> pl.DataType:
    for sa_cls, pl_type in _PL_TYPES:
        if isinstance(sa_type, sa_cls):
            return pl_type
    return pl.String()


def _frame(rows: Sequence[Sequence[object]], schema_: Mapping[str, pl.DataType]) -> pl.DataFrame:
    """Rows → DataFrame with a fixed schema (so that an empty result still has typed columns)."""
    return pl.DataFrame([tuple(r) for r in rows], schema=dict(schema_), orient="row")


def _select_frame(conn: Connection, stmt: sa.Select) -> pl.DataFrame:
    schema_ = {c.key: _pl_type(c.type) for c in stmt.selected_columns}
    return _frame(conn.execute(stmt).all(), schema_)


def _connect(engine: Engine | Connection):
    """A context manager yielding a connection, for either an engine or an open connection."""
    if isinstance(engine, Connection):
        from contextlib import nullcontext

        return nullcontext(engine)
    return engine.connect()


def load_regions(engine: Engine | Connection) -> pl.DataFrame:
    """region_code, name, parent_code, level: the whole (small) region tree."""
    r = schema.regions
    stmt = sa.select(r.c.region_code, r.c.name, r.c.parent_code, r.c.level).order_by(
        r.c.region_code
    )
    with _connect(engine) as conn:
        return _select_frame(conn, stmt)


def region_children(pairs: Iterable[tuple[str, str | None]]) -> dict[str | None, list[str]]:
    """parent code → child codes, from (region_code, parent_code) pairs."""
    children: dict[str | None, list[str]] = {}
    for code, parent in pairs:
        children.setdefault(parent, []).append(code)
    return children


def subtree_codes(children: Mapping[str | None, Sequence[str]], roots: Sequence[str]) -> list[str]:
    """The roots and all their descendants, depth first; a cycle in bad data cannot loop."""
    out: list[str] = []
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        c = stack.pop()
        if c in seen:
            continue
        seen.add(c)
        out.append(c)
        stack.extend(children.get(c, []))
    return out


def load_agencies(engine: Engine | Connection) -> pl.DataFrame:
    """agency_code, name, region_code, sector for every agency (hundreds to a few thousand)."""
    a = schema.agencies
    stmt = sa.select(a.c.agency_code, a.c.name, a.c.region_code, a.c.sector).order_by(
        a.c.agency_code
    )
    with _connect(engine) as conn:
        return _select_frame(conn, stmt)


def load_items(engine: Engine | Connection) -> pl.DataFrame:
    """item_code, name, item_type, sector of the catalogue (for display names)."""
    i = schema.items
    stmt = sa.select(i.c.item_code, i.c.name, i.c.item_type, i.c.sector).order_by(i.c.item_code)
    with _connect(engine) as conn:
        return _select_frame(conn, stmt)


# ---------------------------------------------------------------------------------------------
# Scope conditions shared by every read


def scope_conditions(
    table: sa.Table | sa.FromClause, filters: Filters, region_codes: Sequence[str] | None
) -> list[sa.ColumnElement[bool]]:
    """WHERE conditions for the dimension filters on a table with agency/item/channel columns.

    `region_codes` is the already-resolved region subtree (None: no region filter). Agency
    attributes (region, sector) and item attributes (type) are matched by sub-selects on the
    dimension tables, so that the fact table is never joined row-by-row just to filter.
    """
    c = table.c
    out: list[sa.ColumnElement[bool]] = []
    if filters.allowed_agencies is not None and not filters.allowed_agencies:
        return [sa.false()]
    a = schema.agencies
    agency_conds: list[sa.ColumnElement[bool]] = []
    if region_codes is not None:
        agency_conds.append(a.c.region_code.in_(list(region_codes)))
    if filters.sectors:
        agency_conds.append(a.c.sector.in_(list(filters.sectors)))
    if agency_conds:
        out.append(c.agency_code.in_(sa.select(a.c.agency_code).where(*agency_conds)))
    if filters.agency_codes:
        out.append(c.agency_code.in_(list(filters.agency_codes)))
    if filters.allowed_agencies is not None:
        out.append(c.agency_code.in_(list(filters.allowed_agencies)))
    if filters.item_types:
        i = schema.items
        out.append(
            c.item_code.in_(sa.select(i.c.item_code).where(i.c.item_type.in_(
                list(filters.item_types))))
        )
    if filters.item_codes:
        out.append(c.item_code.in_(list(filters.item_codes)))
    if filters.channels:
        out.append(c.channel.in_(list(filters.channels)))
    return out


# ---------------------------------------------------------------------------------------------
# Fact sums

FactKey = Literal["agency_code", "item_code", "channel", "sector", "region_unit", "item_type"]
FACT_TABLES: dict[str, sa.Table] = {
    "case_facts": schema.case_facts,
    "review_facts": schema.review_facts,
    "card_facts": schema.card_facts,
    "used_days_hist": schema.used_days_hist,
}


def _sum(col: sa.ColumnElement) -> sa.ColumnElement:
    # PostgreSQL's SUM(bigint) is numeric (Decimal in Python); cast back to a plain integer.
    return sa.cast(sa.func.coalesce(sa.func.sum(col), 0), sa.BigInteger)


def _measure_sum(t: sa.Table, measure: str) -> sa.ColumnElement:
    """Σ of a measure: its column, or for a grain-filtered measure
    (`schema.GRAIN_FILTERED_MEASURES`) its column where the grain column holds the value."""
    if measure in schema.GRAIN_FILTERED_MEASURES:
        column, grain_col, value = schema.GRAIN_FILTERED_MEASURES[measure]
        return _sum(sa.case((t.c[grain_col] == value, t.c[column]), else_=0))
    return _sum(t.c[measure])


def _region_unit_expr(region_units: Mapping[str, Sequence[str]]) -> sa.ColumnElement:
    """CASE mapping an agency's region to the unit (e.g. county) whose subtree contains it."""
    whens = [
        (schema.agencies.c.region_code.in_(list(codes)), sa.literal(unit, sa.Text))
        for unit, codes in sorted(region_units.items()) if codes
    ]
    if not whens:
        return sa.null()
    return sa.case(*whens, else_=sa.null())


def fact_sums(
    engine: Engine | Connection,
    table: str,
    measures: Sequence[str],
    month_from: dt.date,
    month_to: dt.date,
    filters: Filters,
    region_codes: Sequence[str] | None,
    keys: Sequence[FactKey] = (),
    region_units: Mapping[str, Sequence[str]] | None = None,
    with_used_wd: bool = False,
) -> pl.DataFrame:
    """Σ measures of one fact table per month and `keys`, over [month_from, month_to].

    Returns month, the keys, (used_wd,) then one Int64 column per measure. `sector` is the
    agency's sector and `region_unit` the unit of `region_units` (unit → region codes of its
    subtree) that the agency's region falls in; both come from a join to `agencies` in the same
    statement. Rows of agencies in no unit have region_unit null (the caller drops them).
    """
    t = FACT_TABLES[table]
    a = schema.agencies
    src: sa.FromClause = t
    needs_agency = any(k in ("sector", "region_unit") for k in keys)
    if needs_agency:
        src = t.outerjoin(a, a.c.agency_code == t.c.agency_code)
    if "item_type" in keys:
        src = src.outerjoin(schema.items, schema.items.c.item_code == t.c.item_code)
    group_cols: list[sa.ColumnElement] = [t.c.month.label("month")]
    schema_: dict[str, pl.DataType] = {"month": pl.Date()}
    for k in keys:
        if k == "sector":
            col = a.c.sector.label("sector")
        elif k == "region_unit":
            col = _region_unit_expr(region_units or {}).label("region_unit")
        elif k == "item_type":
            col = schema.items.c.item_type.label("item_type")
        else:
            col = t.c[k].label(k)
        group_cols.append(col)
        schema_[k] = pl.String()
    if with_used_wd:
        group_cols.append(t.c.used_wd.label("used_wd"))
        schema_["used_wd"] = pl.Int64()
    sums = [_measure_sum(t, m).label(m) for m in measures]
    schema_.update({m: pl.Int64() for m in measures})
    stmt = (
        sa.select(*group_cols, *sums)
        .select_from(src)
        .where(t.c.month >= month_from, t.c.month <= month_to,
               *scope_conditions(t, filters, region_codes))
        .group_by(*[c.element if isinstance(c, sa.Label) else c for c in group_cols])
    )
    with _connect(engine) as conn:
        rows = conn.execute(stmt).all()
    return _frame(rows, schema_)


def catalogue_sums(
    engine: Engine | Connection,
    measures: Sequence[str],
    month_from: dt.date,
    month_to: dt.date,
    filters: Filters,
    keys: Sequence[Literal["item_code", "sector", "item_type"]] = (),
) -> pl.DataFrame:
    """Σ catalogue measures per snapshot month and `keys` (the item's own sector and type)."""
    t = schema.catalogue_facts
    group_cols = [t.c.month, *(t.c[k] for k in keys)]
    conds: list[sa.ColumnElement[bool]] = [t.c.month >= month_from, t.c.month <= month_to]
    if filters.sectors:
        conds.append(t.c.sector.in_(list(filters.sectors)))
    if filters.item_types:
        conds.append(t.c.item_type.in_(list(filters.item_types)))
    if filters.item_codes:
        conds.append(t.c.item_code.in_(list(filters.item_codes)))
    stmt = (
        sa.select(*group_cols, *(_sum(t.c[m]).label(m) for m in measures))
        .where(*conds)
        .group_by(*group_cols)
    )
    schema_: dict[str, pl.DataType] = {"month": pl.Date()}
    schema_.update({k: pl.String() for k in keys})
    schema_.update({m: pl.Int64() for m in measures})
    with _connect(engine) as conn:
        return _frame(conn.execute(stmt).all(), schema_)


def catalogue_months(engine: Engine | Connection) -> list[dt.date]:
    """The months catalogue snapshots are stored for, ascending (a handful)."""
    t = schema.catalogue_facts
    with _connect(engine) as conn:
        rows = conn.execute(sa.select(t.c.month).distinct().order_by(t.c.month)).scalars().all()
    return [r if isinstance(r, dt.date) else dt.date.fromisoformat(str(r)[:10]) for r in rows]


def be_rows(
    engine: Engine | Connection,
    indicators: Sequence[str],
    month_from: dt.date,
    month_to: dt.date,
    region_codes: Sequence[str],
) -> pl.DataFrame:
    """month, region_code, indicator, value, n, score of `be_scores` for the given regions."""
    b = schema.be_scores
    stmt = sa.select(
        b.c.month, b.c.region_code, b.c.indicator, b.c.value, b.c.n, b.c.score
    ).where(
        b.c.month >= month_from, b.c.month <= month_to,
        b.c.indicator.in_(list(indicators)), b.c.region_code.in_(list(region_codes)),
    )
    with _connect(engine) as conn:
        return _select_frame(conn, stmt)


# ---------------------------------------------------------------------------------------------
# Case lists: the cases (or cards) behind a number


@dataclass(frozen=True)
class CaseRule:
    """How to find the records behind a metric for one month.

    `base(ctx)` is the population (the denominator; for a count, the counted cases) and
    `hit(ctx)` the numerator's extra condition (None for counts). `order` names the event
    column the list is sorted by (then the record id, so paging is stable).
    """

    source: Literal["cases", "cards"]
    base: Callable[[RuleContext], sa.ColumnElement[bool]]
    hit: Callable[[RuleContext], sa.ColumnElement[bool]] | None
    order: str


@dataclass(frozen=True)
class RuleContext:
    month: dt.date
    online_channels: tuple[str, ...]

    @property
    def start(self) -> dt.datetime:
        return dt.datetime.combine(self.month, dt.time())

    @property
    def end(self) -> dt.datetime:
        """The first moment of the next month (exclusive bound)."""
        return dt.datetime.combine(add_months(self.month, 1), dt.time())


_c = schema.cases.c
_k = schema.cards.c


def _in_clock() -> sa.ColumnElement[bool]:
    # not_accepted and withdrawn cases are outside the clock (metrics.md §1)
    return sa.and_(_c.accepted_at.is_not(None), _c.status.not_in(["not_accepted", "withdrawn"]))


def _accepted_in(x: RuleContext) -> sa.ColumnElement[bool]:
    # `accepted` counts every case accepted in the month, whatever happened later (§1).
    return sa.and_(_c.accepted_at >= x.start, _c.accepted_at < x.end)


def _completed_in(x: RuleContext) -> sa.ColumnElement[bool]:
    return sa.and_(_in_clock(), _c.completed_at >= x.start, _c.completed_at < x.end)


def _open_at_end(x: RuleContext) -> sa.ColumnElement[bool]:
    return sa.and_(
        _in_clock(), _c.accepted_at < x.end,
        sa.or_(_c.completed_at.is_(None), _c.completed_at >= x.end),
    )


def _has_deadline() -> sa.ColumnElement[bool]:
    return sa.or_(_c.promised_days.is_not(None), _c.statutory_days.is_not(None))


def _late(by: dt.date | None = None) -> sa.ColumnElement[bool]:
    """The case has a case yellow card (issued before `by`).

    A yellow card is issued exactly when a case's used working days exceed its deadline days,
    dated the first day they did (metrics.md §6), so "has a yellow card" is "late", and "has one
    issued by the month end" is "overdue at month end". Reading the card table means the
    working-day clock (calendar, suspensions) is not re-implemented in SQL. Revoked cards still
    count: revocation (申诉成立) voids the sanction, not the elapsed time.
    """
    conds = [_k.case_id == _c.case_id, _k.kind == "yellow", _k.subject == "case"]
    if by is not None:
        conds.append(_k.issued_on < by)
    return sa.exists(sa.select(sa.literal(1)).select_from(schema.cards).where(*conds))


def _valid_review(active: bool = False) -> sa.ColumnElement[bool]:
    """The case has a valid review (an active one — not a system default rating — if `active`)."""
    r = schema.reviews.c
    conds = [r.case_id == _c.case_id, sa.func.coalesce(r.appeal_upheld, sa.false()) == sa.false()]
    if active:
        conds.append(r.active.is_(True))
    return sa.exists(sa.select(sa.literal(1)).select_from(schema.reviews).where(*conds))


def _accepted_share(hit: Callable[[RuleContext], sa.ColumnElement[bool]]) -> CaseRule:
    return CaseRule("cases", _accepted_in, hit, "accepted_at")


CASE_RULES: dict[str, CaseRule] = {
    "accepted": CaseRule("cases", _accepted_in, None, "accepted_at"),
    "completed": CaseRule("cases", _completed_in, None, "completed_at"),
    "in_progress": CaseRule("cases", _open_at_end, None, "accepted_at"),
    "overdue": CaseRule(
        "cases",
        lambda x: sa.or_(
            sa.and_(_completed_in(x), _has_deadline(), _late()),
            sa.and_(_open_at_end(x), _late(by=add_months(x.month, 1))),
        ),
        None, "accepted_at",
    ),
    "cross_region": CaseRule(
        "cases", lambda x: sa.and_(_accepted_in(x), _c.cross_region.is_(True)), None,
        "accepted_at",
    ),
    "on_time_rate": CaseRule(
        "cases", lambda x: sa.and_(_completed_in(x), _has_deadline()), lambda x: ~_late(),
        "completed_at",
    ),
    "online_rate": _accepted_share(lambda x: _c.channel.in_(list(x.online_channels))),
    "full_online_rate": _accepted_share(lambda x: _c.full_online.is_(True)),
    "mobile_rate": _accepted_share(lambda x: _c.channel == "mobile"),
    "instant_rate": _accepted_share(lambda x: _c.promised_days == 0),
    "no_visit_rate": CaseRule(
        "cases", lambda x: sa.and_(_accepted_in(x), _c.visits.is_not(None)),
        lambda x: _c.visits == 0, "accepted_at",
    ),
    "max_one_visit_rate": CaseRule(
        "cases", lambda x: sa.and_(_accepted_in(x), _c.visits.is_not(None)),
        lambda x: _c.visits <= 1, "accepted_at",
    ),
    "e_result_rate": CaseRule(
        "cases", lambda x: sa.and_(_completed_in(x), _c.e_result.is_not(None)),
        lambda x: _c.e_result.is_(True), "completed_at",
    ),
    "review_participation_rate": CaseRule(
        "cases", _completed_in, lambda x: _valid_review(), "completed_at",
    ),
    "actual_review_rate": CaseRule(
        "cases", _completed_in, lambda x: _valid_review(active=True), "completed_at",
    ),
    "yellow_cards": CaseRule(
        "cards", lambda x: sa.and_(_k.month == x.month, _k.kind == "yellow"), None, "issued_on"
    ),
    "red_cards": CaseRule(
        "cards", lambda x: sa.and_(_k.month == x.month, _k.kind == "red"), None, "issued_on"
    ),
    "revoked_cards": CaseRule(
        "cards", lambda x: sa.and_(_k.month == x.month, _k.revoked.is_(True)), None, "issued_on"
    ),
}

Part = Literal["numerator", "denominator", "complement"]


def case_rows(
    engine: Engine | Connection,
    metric_id: str,
    filters: Filters,
    region_codes: Sequence[str] | None,
    month: dt.date,
    part: Part,
    online_channels: Sequence[str],
    limit: int,
    offset: int,
) -> tuple[pl.DataFrame, int]:
    """One page of the records behind `metric_id` in `month`, and the total count.

    `part`: "numerator" (the counted cases), "denominator" (the whole population of a share)
    or "complement" (population minus numerator, e.g. the late cases of on_time_rate).
    """
    rule = CASE_RULES[metric_id]
    ctx = RuleContext(month_start(month), tuple(online_channels))
    cond = rule.base(ctx)
    if rule.hit is not None and part == "numerator":
        cond = sa.and_(cond, rule.hit(ctx))
    elif rule.hit is not None and part == "complement":
        cond = sa.and_(cond, sa.not_(rule.hit(ctx)))
    table = schema.cases if rule.source == "cases" else schema.cards
    key = table.c.case_id if rule.source == "cases" else table.c.card_id
    where = [cond, *scope_conditions(table, filters, region_codes)]
    a, i = schema.agencies, schema.items
    src = table.outerjoin(a, a.c.agency_code == table.c.agency_code).outerjoin(
        i, i.c.item_code == table.c.item_code
    )
    own = schema.contract_columns("cases") if rule.source == "cases" else list(table.c)
    cols = [*own, a.c.name.label("agency_name"), i.c.name.label("item_name")]
    stmt = (
        sa.select(*cols).select_from(src).where(*where)
        .order_by(table.c[rule.order].asc().nulls_last(), key.asc())
        .limit(limit).offset(offset)
    )
    count = sa.select(sa.func.count()).select_from(table).where(*where)
    with _connect(engine) as conn:
        total = int(conn.execute(count).scalar_one())
        page = _select_frame(conn, stmt)
    return page, total
