"""Record-level reads the monthly bulletin needs beyond the additive facts.

The query API (`metrics.query`) gives every ratio; a bulletin also names cases, cards and
reviews: the card list by unit and item, the overdue cases with their days over, the five-level
distribution, the 差评 tags and the 差评 not yet rectified. These are read here with SQLAlchemy
Core and bound parameters, scoped with the same `scope_conditions` as the facts so a list never
covers a different population than the number above it.

"Overdue in the month" follows the `overdue` case rule of `queries.extracts.CASE_RULES`
(completed late in the month, or open at month end with a yellow card issued by then); days
over come from the case's yellow card (the working-day clock of the metric job), so the list
agrees with the 超期件 count (a test checks it).

Every read takes a month or, with `last`, a period of months [month, last] (a quarterly or
annual 考核 bulletin): flows are summed over the period, stocks taken at its end.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from queries import schema
from queries.extracts import (
    Filters,
    _frame,
    _select_frame,
    add_months,
    month_start,
    scope_conditions,
)


def _month_bounds(month: dt.date, last: dt.date | None = None) -> tuple[dt.datetime, dt.datetime]:
    """[first moment of `month`, first moment after `last` (default `month`))."""
    m = month_start(month)
    end = add_months(month_start(last or m), 1)
    return dt.datetime.combine(m, dt.time()), dt.datetime.combine(end, dt.time())


def card_counts(
    engine: Engine, month: dt.date, filters: Filters, region_codes: Sequence[str] | None,
    last: dt.date | None = None,
) -> pl.DataFrame:
    """Cards issued in `month` (to `last`) per agency × item: yellow, red, revoked, still open.

    Columns: agency_code, agency_name, item_code, item_name, yellow, red, revoked, open.
    Review cards (item '') are listed with item_name "差评未按期整改".
    """
    k, a, i = schema.cards, schema.agencies, schema.items
    flag = lambda cond: sa.cast(sa.func.sum(sa.case((cond, 1), else_=0)), sa.BigInteger)  # noqa: E731
    stmt = (
        sa.select(
            k.c.agency_code, a.c.name.label("agency_name"), k.c.item_code,
            i.c.name.label("item_name"),
            flag(k.c.kind == "yellow").label("yellow"), flag(k.c.kind == "red").label("red"),
            flag(k.c.revoked.is_(True)).label("revoked"),
            flag(k.c.still_open.is_(True)).label("open"),
        )
        .select_from(k.outerjoin(a, a.c.agency_code == k.c.agency_code)
                     .outerjoin(i, i.c.item_code == k.c.item_code))
        .where(k.c.month.between(month_start(month), month_start(last or month)),
               *scope_conditions(k, filters, region_codes))
        .group_by(k.c.agency_code, a.c.name, k.c.item_code, i.c.name)
    )
    with engine.connect() as conn:
        df = _select_frame(conn, stmt)
    return df.with_columns(
        pl.when(pl.col("item_code") == "").then(pl.lit("差评未按期整改"))
        .otherwise(pl.col("item_name")).alias("item_name")
    ).sort(["red", "yellow", "agency_code", "item_code"], descending=[True, True, False, False])


def overdue_cases(
    engine: Engine,
    month: dt.date,
    filters: Filters,
    region_codes: Sequence[str] | None,
    limit: int,
    count: bool = True,
    last: dt.date | None = None,
) -> tuple[pl.DataFrame, int | None]:
    """The cases behind 超期件 for `month`, most days over first, and how many there are
    (None when `count` is False).

    Columns: case_id, agency_name, item_name, accepted_at, completed_at, still_open, days_over.
    The population is the `overdue` rule of `queries.extracts.CASE_RULES` (completed in the
    month with a deadline and a case yellow card, or open at month end with a yellow card issued
    before the month ended), driven from the small `cards` table joined to `cases` by key:
    the rule's correlated EXISTS over every case of the month is far slower on large logs.
    A test checks the count equals the `overdue` metric, so a caller that already has the metric
    passes `count=False`: counting needs every card of the population joined to its case, while
    the first `limit` rows by days over can stop early (on a large log, thousands of case
    look-ups against a few dozen).
    """
    c, k, a, i = schema.cases, schema.cards, schema.agencies, schema.items
    start, end = _month_bounds(month, last)
    final = month_start(last or month)
    in_clock = sa.and_(c.c.accepted_at.is_not(None),
                       c.c.status.not_in(["not_accepted", "withdrawn"]))
    has_deadline = sa.or_(c.c.promised_days.is_not(None), c.c.statutory_days.is_not(None))
    completed_in = sa.and_(c.c.completed_at >= start, c.c.completed_at < end, has_deadline)
    open_at_end = sa.and_(c.c.accepted_at < end,
                          sa.or_(c.c.completed_at.is_(None), c.c.completed_at >= end))
    # A card is dated the day its case crossed the deadline (never after completion), so both
    # branches need a card issued by the month's end. The scope is matched on the card, which
    # carries its case's agency, item and channel: conditions on the small cards table let the
    # database start from the cards and look cases up by key, instead of scanning every case
    # that was open at the month's end.
    where = [k.c.kind == "yellow", k.c.subject == "case", k.c.month <= final,
             k.c.issued_on < add_months(final, 1),
             *scope_conditions(k, filters, region_codes),
             in_clock, sa.or_(completed_in, open_at_end)]
    src = (k.join(c, c.c.case_id == k.c.case_id)
           .outerjoin(a, a.c.agency_code == c.c.agency_code)
           .outerjoin(i, i.c.item_code == c.c.item_code))
    still_open = sa.or_(c.c.completed_at.is_(None), c.c.completed_at >= end)
    stmt = (
        sa.select(
            c.c.case_id, a.c.name.label("agency_name"), i.c.name.label("item_name"),
            c.c.accepted_at, c.c.completed_at, still_open.label("still_open"),
            k.c.days_over.label("days_over"),
        )
        .select_from(src).where(*where)
        .order_by(k.c.days_over.desc(), k.c.case_id.asc())
        .limit(limit)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
        total = None
        if count:
            total = int(conn.execute(sa.select(sa.func.count()).select_from(
                k.join(c, c.c.case_id == k.c.case_id)).where(*where)).scalar_one())
    df = _frame(rows, {
        "case_id": pl.String(), "agency_name": pl.String(), "item_name": pl.String(),
        "accepted_at": pl.Datetime("us"), "completed_at": pl.Datetime("us"),
        "still_open": pl.Boolean(), "days_over": pl.Int64(),
    })
    return df, total


def _valid_reviews_in(month: dt.date, filters: Filters, region_codes: Sequence[str] | None,
                      last: dt.date | None = None, as_of: dt.datetime | None = None):
    """Valid reviews rated in the months, up to `as_of` (the facts' cut-off) when it falls
    inside them — the reviews the metric job counted."""
    r = schema.reviews
    start, end = _month_bounds(month, last)
    if as_of is not None:
        end = min(end, as_of)
    return [
        r.c.rated_at >= start, r.c.rated_at < end,
        sa.func.coalesce(r.c.appeal_upheld, sa.false()) == sa.false(),
        *_review_scope(filters, region_codes),
    ]


def _review_scope(filters: Filters, region_codes: Sequence[str] | None):
    """Agency and channel scope for the reviews table (it has no item_code column)."""
    r = schema.reviews
    narrowed = Filters(
        filters.month_from, filters.month_to, filters.region_code, filters.sectors,
        filters.agency_codes, (), (), filters.channels, filters.allowed_agencies,
    )
    conds = scope_conditions(r, narrowed, region_codes)
    if filters.item_types or filters.item_codes:
        c, i = schema.cases, schema.items
        sub = sa.select(c.c.case_id)
        if filters.item_codes:
            sub = sub.where(c.c.item_code.in_(list(filters.item_codes)))
        if filters.item_types:
            sub = sub.where(c.c.item_code.in_(
                sa.select(i.c.item_code).where(i.c.item_type.in_(list(filters.item_types)))))
        conds.append(r.c.case_id.in_(sub))
    return conds


def review_levels(
    engine: Engine, month: dt.date, filters: Filters, region_codes: Sequence[str] | None,
    last: dt.date | None = None, as_of: dt.datetime | None = None,
) -> dict[int, int]:
    """Valid reviews rated in `month` (to `last`, and up to `as_of`) per level 1..5 (every
    level, 0 when none)."""
    r = schema.reviews
    stmt = (sa.select(r.c.level, sa.func.count()).where(*_valid_reviews_in(
        month, filters, region_codes, last, as_of))
            .group_by(r.c.level))
    with engine.connect() as conn:
        got = {int(lv): int(n) for lv, n in conn.execute(stmt).all()}
    return {lv: got.get(lv, 0) for lv in range(1, 6)}


def bad_review_tags(
    engine: Engine, month: dt.date, filters: Filters, region_codes: Sequence[str] | None,
    last: dt.date | None = None, as_of: dt.datetime | None = None,
) -> list[tuple[str, int]]:
    """(tag, count) over valid 差评 (level ≤ 2) rated in `month`, most frequent first.

    Tags are `;`-separated (contract.md); they are split here, in Python, because the month's
    差评 are few (hundreds to thousands) and SQL string splitting differs by dialect.
    """
    r = schema.reviews
    stmt = sa.select(r.c.tags).where(
        *_valid_reviews_in(month, filters, region_codes, last, as_of), r.c.level <= 2,
        r.c.tags.is_not(None)
    )
    counts: dict[str, int] = {}
    with engine.connect() as conn:
        for (tags,) in conn.execute(stmt):
            for tag in {t.strip() for t in str(tags).split(";") if t.strip()}:
                counts[tag] = counts.get(tag, 0) + 1
    return sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))


def unrectified_bad_reviews(
    engine: Engine,
    month: dt.date,
    filters: Filters,
    region_codes: Sequence[str] | None,
    as_of: dt.datetime,
) -> pl.DataFrame:
    """Valid 差评 rated up to the end of `month` (the period's last month) and not rectified
    by `as_of`, per agency.

    Columns: agency_code, agency_name, open_bad, oldest_rated_at. Sorted by open_bad desc.
    """
    r, a = schema.reviews, schema.agencies
    _, end = _month_bounds(month)
    cutoff = min(end, as_of)
    stmt = (
        sa.select(r.c.agency_code, a.c.name.label("agency_name"),
                  sa.func.count().label("open_bad"), sa.func.min(r.c.rated_at).label("oldest"))
        .select_from(r.outerjoin(a, a.c.agency_code == r.c.agency_code))
        .where(
            r.c.rated_at < cutoff, r.c.level <= 2,
            sa.func.coalesce(r.c.appeal_upheld, sa.false()) == sa.false(),
            sa.or_(r.c.rectified_at.is_(None), r.c.rectified_at > as_of),
            *_review_scope(filters, region_codes),
        )
        .group_by(r.c.agency_code, a.c.name)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    df = _frame(rows, {"agency_code": pl.String(), "agency_name": pl.String(),
                       "open_bad": pl.Int64(), "oldest_rated_at": pl.Datetime("us")})
    return df.sort(["open_bad", "agency_code"], descending=[True, False])


def be_table(engine: Engine, month: dt.date, region_codes: Sequence[str]) -> pl.DataFrame:
    """be_scores rows of `month` for the regions: indicator, value, score, rank, change."""
    b = schema.be_scores
    stmt = sa.select(b.c.region_code, b.c.indicator, b.c.value, b.c.score, b.c.rank,
                     b.c.change).where(b.c.month == month_start(month),
                                       b.c.region_code.in_(list(region_codes)))
    with engine.connect() as conn:
        return _select_frame(conn, stmt)
