"""Small read queries behind the dashboard pages that the query API does not cover.

The query API (`metrics.query`) answers "what is the value of a metric"; the pages also need
lists and bookkeeping: the live 预警 list, card records, one case with its suspensions for the
timeline, the five-level review distribution, 差评 tags, quarantine rows, job runs, the data
version that keys the dashboard cache. Each is one statement in SQLAlchemy Core with bound
parameters (a filter value never becomes SQL text), reusing `extracts.scope_conditions` so the
dimension filters mean exactly what they mean for the metrics.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from queries import extracts, schema
from queries.extracts import Filters, add_months, month_start

__all__ = [
    "bad_review_tags", "be_scores", "calendar_days", "case_detail", "cards_list", "data_version",
    "day_unit",
    "fact_months", "freshness", "job_runs", "monthly_volumes", "online_depth_counts",
    "overdue_cases",
    "quarantine_rows", "quarantine_rules",
    "rectification_status", "region_subtree", "review_levels", "used_days_histogram",
    "warnings_list",
]


def _has_schema(engine: Engine) -> bool:
    return sa.inspect(engine).has_table("job_runs")


def _frame(conn: sa.Connection, stmt: sa.Select) -> pl.DataFrame:
    return extracts._select_frame(conn, stmt)


def _bounds(month_from: dt.date, month_to: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """[first moment of month_from, first moment after month_to) for timestamp columns."""
    start = dt.datetime.combine(month_start(month_from), dt.time())
    end = dt.datetime.combine(add_months(month_to, 1), dt.time())
    return start, end


# ---------------------------------------------------------------------------------------------
# Bookkeeping


def data_version(engine: Engine) -> str:
    """A key that changes whenever a load or a metric job changes what the pages would show.

    It is the id of the latest load run and of the latest finished job run (any status: a
    failed job leaves facts intact, but a new successful one replaces months). The dashboard
    puts it in every cache key, so a reload or a job run makes every cached result stale.
    """
    if not _has_schema(engine):
        return "no-schema"
    lr, jr = schema.load_runs, schema.job_runs
    with engine.connect() as conn:
        load = conn.execute(
            sa.select(lr.c.load_id, lr.c.status).order_by(lr.c.started_at.desc()).limit(1)
        ).first()
        job = conn.execute(
            sa.select(jr.c.run_id).where(jr.c.status == "ok")
            .order_by(jr.c.finished_at.desc()).limit(1)
        ).first()
    return f"{load[0] if load else '-'}:{load[1] if load else '-'}|{job[0] if job else '-'}"


def freshness(engine: Engine) -> dict[str, Any]:
    """What every page states about its data: last job run, its as-of time and data cut-off,
    calendar fallbacks."""
    out: dict[str, Any] = {"job": None, "load": None}
    if not _has_schema(engine):
        return out
    jr, lr = schema.job_runs, schema.load_runs
    with engine.connect() as conn:
        job = conn.execute(
            sa.select(jr.c.run_id, jr.c.finished_at, jr.c.as_of, jr.c.months,
                      jr.c.calendar_version, jr.c.fallback_years, jr.c.settings_hash,
                      jr.c.data_cutoff)
            .where(jr.c.status == "ok").order_by(jr.c.finished_at.desc()).limit(1)
        ).mappings().first()
        load = conn.execute(
            sa.select(lr.c.load_id, lr.c.finished_at, lr.c.source, lr.c.status)
            .order_by(lr.c.started_at.desc()).limit(1)
        ).mappings().first()
    out["job"] = dict(job) if job else None
    out["load"] = dict(load) if load else None
    return out


def fact_months(engine: Engine) -> list[dt.date]:
    """The months that have case facts (what the month filter can offer), ascending."""
    if not _has_schema(engine):
        return []
    # A loose index scan: each step asks the primary key (month first) for the next month, a
    # few dozen look-ups instead of reading all fact rows for DISTINCT (0.2-0.5 s at 685k rows,
    # paid by the shell of every first render after a data change).
    cf = schema.case_facts
    step = sa.select(cf.c.month).order_by(cf.c.month).limit(1)
    walk = sa.select(step.scalar_subquery().label("month")).cte("months", recursive=True)
    walk = walk.union_all(
        sa.select(step.where(cf.c.month > walk.c.month).scalar_subquery())
        .where(walk.c.month.is_not(None)))
    stmt = sa.select(walk.c.month).where(walk.c.month.is_not(None)).order_by(walk.c.month)
    with engine.connect() as conn:
        rows = conn.execute(stmt).scalars().all()
    return [r if isinstance(r, dt.date) else dt.date.fromisoformat(str(r)[:10]) for r in rows]


def monthly_volumes(engine: Engine, since: dt.date | None = None) -> list[tuple[dt.date, int]]:
    """(month, cases accepted) per month with case facts, from `since` on (a range of the
    primary key, month first: the default month needs only the latest year, not a scan of
    every month's facts)."""
    if not _has_schema(engine):
        return []
    cf = schema.case_facts
    stmt = sa.select(cf.c.month, sa.cast(sa.func.sum(cf.c.accepted), sa.BigInteger))
    if since is not None:
        stmt = stmt.where(cf.c.month >= since)
    stmt = stmt.group_by(cf.c.month).order_by(cf.c.month)
    with engine.connect() as conn:
        rows = conn.execute(stmt).all()
    return [(m if isinstance(m, dt.date) else dt.date.fromisoformat(str(m)[:10]), int(n or 0))
            for m, n in rows]


def job_runs(engine: Engine, limit: int = 50) -> pl.DataFrame:
    """The latest metric job runs, newest first (provenance shown on 数据管理)."""
    jr = schema.job_runs
    stmt = sa.select(
        jr.c.run_id, jr.c.status, jr.c.started_at, jr.c.finished_at, jr.c.as_of, jr.c.months,
        jr.c.calendar_version, jr.c.fallback_years, jr.c.settings_hash, jr.c.duration_s,
        jr.c.error,
    ).order_by(jr.c.started_at.desc()).limit(limit)
    with engine.connect() as conn:
        return _frame(conn, stmt)


def region_subtree(engine: Engine, code: str | None) -> list[str] | None:
    """The region and every descendant (None when there is no region filter)."""
    if code is None:
        return None
    regions = extracts.load_regions(engine)
    pairs = regions.select("region_code", "parent_code").iter_rows()
    return extracts.subtree_codes(extracts.region_children(pairs), [code])


# ---------------------------------------------------------------------------------------------
# Cards and warnings


def _named(table: sa.Table) -> tuple[sa.FromClause, list[sa.ColumnElement]]:
    a, i = schema.agencies, schema.items
    src = table.outerjoin(a, a.c.agency_code == table.c.agency_code).outerjoin(
        i, i.c.item_code == table.c.item_code
    )
    return src, [a.c.name.label("agency_name"), a.c.region_code.label("region_code"),
                 i.c.name.label("item_name")]


def warnings_list(
    engine: Engine, filters: Filters, region_codes: Sequence[str] | None, limit: int = 500
) -> tuple[pl.DataFrame, int]:
    """The live 预警 list (in progress, near the deadline, as of the last run), soonest first."""
    w = schema.warnings
    src, names = _named(w)
    where = extracts.scope_conditions(w, filters, region_codes)
    stmt = (
        sa.select(w.c.case_id, *names, w.c.agency_code, w.c.item_code, w.c.channel,
                  w.c.accepted_on, w.c.due_date, w.c.used_wd, w.c.deadline_days,
                  w.c.remaining_wd, w.c.rule, w.c.as_of)
        .select_from(src).where(*where)
        .order_by(w.c.remaining_wd, w.c.due_date, w.c.case_id).limit(limit)
    )
    count = sa.select(sa.func.count()).select_from(w).where(*where)
    with engine.connect() as conn:
        return _frame(conn, stmt), int(conn.execute(count).scalar_one())


def cards_list(
    engine: Engine,
    filters: Filters,
    region_codes: Sequence[str] | None,
    kinds: Sequence[str] = ("yellow", "red"),
    subject: str | None = None,
    still_open: bool | None = None,
    limit: int = 500,
    offset: int = 0,
) -> tuple[pl.DataFrame, int]:
    """Card records issued in the filter's month range, newest first, and how many in all."""
    k = schema.cards
    src, names = _named(k)
    where = [k.c.month >= month_start(filters.month_from), k.c.month <= month_start(filters.month_to),
             k.c.kind.in_(list(kinds)), *extracts.scope_conditions(k, filters, region_codes)]
    if subject is not None:
        where.append(k.c.subject == subject)
    if still_open is not None:
        where.append(k.c.still_open.is_(still_open))
    stmt = (
        sa.select(k.c.card_id, k.c.kind, k.c.subject, k.c.case_id, k.c.review_id, *names,
                  k.c.agency_code, k.c.item_code, k.c.channel, k.c.issued_on, k.c.month,
                  k.c.rule, k.c.days_over, k.c.still_open, k.c.revoked)
        .select_from(src).where(*where)
        .order_by(k.c.issued_on.desc(), k.c.card_id).limit(limit).offset(offset)
    )
    count = sa.select(sa.func.count()).select_from(k).where(*where)
    with engine.connect() as conn:
        return _frame(conn, stmt), int(conn.execute(count).scalar_one())


def case_detail(
    engine: Engine, case_id: str, allowed_agencies: Sequence[str] | None = None
) -> dict[str, Any] | None:
    """One case with names, its suspensions, cards and reviews (for the case timeline).

    `allowed_agencies` is the user's access scope (None: all): a case of another agency is
    reported as not found, exactly like a case id that does not exist.
    """
    c, s, k, r = schema.cases, schema.suspensions, schema.cards, schema.reviews
    src, names = _named(c)
    where = [c.c.case_id == case_id]
    if allowed_agencies is not None:
        where.append(c.c.agency_code.in_(list(allowed_agencies)) if allowed_agencies
                     else sa.false())
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(*c.c, *names).select_from(src).where(*where)
        ).mappings().first()
        if row is None:
            return None
        susp = _frame(conn, sa.select(s.c.started_at, s.c.ended_at, s.c.reason, s.c.approved_days)
                      .where(s.c.case_id == case_id).order_by(s.c.started_at))
        cards = _frame(conn, sa.select(k.c.card_id, k.c.kind, k.c.issued_on, k.c.rule,
                                       k.c.days_over, k.c.still_open, k.c.revoked)
                       .where(k.c.case_id == case_id).order_by(k.c.issued_on))
        reviews = _frame(conn, sa.select(r.c.review_id, r.c.rated_at, r.c.level, r.c.channel,
                                         r.c.tags, r.c.rectified_at)
                         .where(r.c.case_id == case_id).order_by(r.c.rated_at))
    return {"case": dict(row), "suspensions": susp, "cards": cards, "reviews": reviews}


# ---------------------------------------------------------------------------------------------
# Reviews


def _review_scope(filters: Filters, region_codes: Sequence[str] | None) -> list[sa.ColumnElement]:
    """Reviews carry agency and channel but no item: the item filters go through their case."""
    r = schema.reviews
    f = Filters(filters.month_from, filters.month_to, filters.region_code, filters.sectors,
                filters.agency_codes, (), (), filters.channels, filters.allowed_agencies)
    conds = extracts.scope_conditions(r, f, region_codes)
    if filters.item_types or filters.item_codes:
        c = schema.cases
        item_conds = extracts.scope_conditions(
            c, Filters(filters.month_from, filters.month_to, item_types=filters.item_types,
                       item_codes=filters.item_codes), None)
        conds.append(r.c.case_id.in_(sa.select(c.c.case_id).where(*item_conds)))
    start, end = _bounds(filters.month_from, filters.month_to)
    conds += [r.c.rated_at >= start, r.c.rated_at < end,
              sa.func.coalesce(r.c.appeal_upheld, sa.false()) == sa.false()]
    return conds


def review_levels(
    engine: Engine, filters: Filters, region_codes: Sequence[str] | None
) -> pl.DataFrame:
    """level (1..5), n: valid reviews rated in the month range (the five-level distribution)."""
    r = schema.reviews
    stmt = (sa.select(r.c.level, sa.func.count().label("n"))
            .where(*_review_scope(filters, region_codes)).group_by(r.c.level).order_by(r.c.level))
    with engine.connect() as conn:
        return _frame(conn, stmt)


def bad_review_tags(
    engine: Engine, filters: Filters, region_codes: Sequence[str] | None, top: int = 15
) -> pl.DataFrame:
    """tag, n: how often each 差评 tag appears on valid bad reviews (tags are ';'-separated)."""
    r = schema.reviews
    stmt = (sa.select(r.c.tags, sa.func.count().label("n"))
            .where(*_review_scope(filters, region_codes), r.c.level <= 2, r.c.tags.is_not(None))
            .group_by(r.c.tags))
    with engine.connect() as conn:
        df = _frame(conn, stmt)
    if df.is_empty():
        return pl.DataFrame(schema={"tag": pl.String(), "n": pl.Int64()})
    return (df.with_columns(pl.col("tags").str.split(";")).explode("tags")
            .with_columns(pl.col("tags").str.strip_chars()).filter(pl.col("tags") != "")
            .group_by(pl.col("tags").alias("tag")).agg(pl.col("n").sum())
            .sort(["n", "tag"], descending=[True, False]).head(top))


def rectification_status(
    engine: Engine, filters: Filters, region_codes: Sequence[str] | None
) -> pl.DataFrame:
    """status, n for valid bad reviews rated in range: rectified / open, on time / overdue.

    "Overdue" means the review earned a yellow card (not rectified within rectify_days working
    days, metrics.md §6), read from the cards table so the working-day clock is not redone here.
    """
    r, k = schema.reviews, schema.cards
    # "Has a review card" by one hash join with the carded review ids: a correlated EXISTS
    # (or an IN) used twice in the CASE made PostgreSQL scan `cards` twice per query.
    carded_ids = (sa.select(k.c.review_id).where(k.c.subject == "review",
                                                 k.c.review_id.is_not(None))
                  .distinct().subquery("carded"))
    carded = carded_ids.c.review_id.is_not(None)
    rectified = r.c.rectified_at.is_not(None)
    status = sa.case(
        (sa.and_(rectified, ~carded), sa.literal("rectified_on_time")),
        (rectified, sa.literal("rectified_late")),
        (carded, sa.literal("open_overdue")),
        else_=sa.literal("open_in_time"),
    ).label("status")
    stmt = (sa.select(status, sa.func.count().label("n"))
            .select_from(r.outerjoin(carded_ids, carded_ids.c.review_id == r.c.review_id))
            .where(*_review_scope(filters, region_codes), r.c.level <= 2)
            .group_by(status))
    with engine.connect() as conn:
        return _frame(conn, stmt)


# ---------------------------------------------------------------------------------------------
# Timeliness


def used_days_histogram(
    engine: Engine, filters: Filters, region_codes: Sequence[str] | None
) -> pl.DataFrame:
    """used_wd, n: completed cases by working days used, over the filter's month range."""
    df = extracts.fact_sums(engine, "used_days_hist", ["n"], month_start(filters.month_from),
                            month_start(filters.month_to), filters, region_codes, (),
                            with_used_wd=True)
    return df.group_by("used_wd").agg(pl.col("n").sum()).sort("used_wd")


def day_unit(
    engine: Engine, filters: Filters, region_codes: Sequence[str] | None
) -> str | None:
    """The day unit of the cases completed in view: "working", "natural" or "mixed".

    Used times are counted on each case's clock (metrics.md §1): working days, or every day for
    natural-day limits. Labels say 工作日 / 自然日 / 天 after this (a permit log whose limits
    are all natural days must not read "working days"); None when nothing was completed.
    """
    df = extracts.fact_sums(engine, "case_facts", ["completed", "completed_natural"],
                            month_start(filters.month_from), month_start(filters.month_to),
                            filters, region_codes)
    completed, natural = int(df["completed"].sum()), int(df["completed_natural"].sum())
    if completed == 0:
        return None
    return "natural" if natural == completed else "working" if natural == 0 else "mixed"


# ---------------------------------------------------------------------------------------------
# Quarantine and calendar


def quarantine_rules(engine: Engine) -> pl.DataFrame:
    """rule, n: how many quarantined rows broke each rule (a row may break several)."""
    q = schema.quarantine
    with engine.connect() as conn:
        df = _frame(conn, sa.select(q.c.rules, sa.func.count().label("n")).group_by(q.c.rules))
    if df.is_empty():
        return pl.DataFrame(schema={"rule": pl.String(), "n": pl.Int64()})
    return (df.with_columns(pl.col("rules").str.split(";")).explode("rules")
            .group_by(pl.col("rules").str.strip_chars().alias("rule")).agg(pl.col("n").sum())
            .sort(["n", "rule"], descending=[True, False]))


def quarantine_rows(
    engine: Engine, rule: str | None = None, table: str | None = None,
    load_id: str | None = None, limit: int = 1000,
) -> tuple[pl.DataFrame, int]:
    """Quarantined rows (newest first), optionally only those that broke `rule`."""
    q = schema.quarantine
    where: list[sa.ColumnElement[bool]] = []
    if rule:
        padded = sa.literal(";") + q.c.rules + sa.literal(";")
        where.append(padded.contains(f";{rule};", autoescape=True))
    if table:
        where.append(q.c.table_name == table)
    if load_id:
        where.append(q.c.load_id == load_id)
    stmt = (sa.select(q.c.id, q.c.load_id, q.c.table_name, q.c.source_file, q.c.source_line,
                      q.c.row_key, q.c.rules, q.c.reasons,
                      sa.cast(q.c.raw, sa.Text).label("raw"), q.c.quarantined_at)
            .where(*where).order_by(q.c.id.desc()).limit(limit))
    count = sa.select(sa.func.count()).select_from(q).where(*where)
    with engine.connect() as conn:
        return _frame(conn, stmt), int(conn.execute(count).scalar_one())


def calendar_days(engine: Engine, year: int) -> pl.DataFrame:
    """date, is_workday, name, source of one year of the stored working-day calendar."""
    w = schema.work_calendar
    stmt = (sa.select(w.c.date, w.c.is_workday, w.c.name, w.c.source)
            .where(w.c.date >= dt.date(year, 1, 1), w.c.date <= dt.date(year, 12, 31))
            .order_by(w.c.date))
    with engine.connect() as conn:
        return _frame(conn, stmt)


# ---------------------------------------------------------------------------------------------
# Catalogue and business environment


def online_depth_counts(engine: Engine, filters: Filters) -> pl.DataFrame:
    """online_depth (1..4), n: catalogue items by online-service depth (the current catalogue).

    The catalogue is not per agency or channel, so only the item filters (sector, item type,
    item code) apply, as for the catalogue metrics.
    """
    i = schema.items
    conds: list[sa.ColumnElement[bool]] = []
    if filters.sectors:
        conds.append(i.c.sector.in_(list(filters.sectors)))
    if filters.item_types:
        conds.append(i.c.item_type.in_(list(filters.item_types)))
    if filters.item_codes:
        conds.append(i.c.item_code.in_(list(filters.item_codes)))
    stmt = (sa.select(i.c.online_depth, sa.func.count().label("n")).where(*conds)
            .group_by(i.c.online_depth).order_by(i.c.online_depth))
    with engine.connect() as conn:
        return _frame(conn, stmt)


def be_scores(
    engine: Engine, month_from: dt.date, month_to: dt.date, region_codes: Sequence[str]
) -> pl.DataFrame:
    """Every stored 营商环境 row (value, n, score, weight, contribution, rank, change)."""
    b = schema.be_scores
    stmt = (sa.select(b.c.month, b.c.region_code, b.c.indicator, b.c.pillar, b.c.value, b.c.n,
                      b.c.score, b.c.weight, b.c.contribution, b.c.rank, b.c.change)
            .where(b.c.month >= month_start(month_from), b.c.month <= month_start(month_to),
                   b.c.region_code.in_(list(region_codes)))
            .order_by(b.c.month, b.c.region_code, b.c.indicator))
    with engine.connect() as conn:
        return _frame(conn, stmt)


def overdue_cases(
    engine: Engine, filters: Filters, region_codes: Sequence[str] | None, month: dt.date,
    limit: int = 200,
) -> pl.DataFrame:
    """The first `limit` cases behind the `overdue` count of `month`, most days over first.

    The same rule as `extracts.CASE_RULES["overdue"]` (completed in the month with a deadline
    and late, or open at month end with its yellow card issued before then), but driven from
    the card table with a join: a case is late iff it has a case yellow card, and there is at
    most one per case. The EXISTS form of the generic case list scans `cards` once per
    candidate case, which takes tens of seconds on SQLite without an index on cards.case_id.

    No count: the number of these cases is the `overdue` metric (the facts hold it; a test
    checks the two agree), while counting here joins every yellow card to its case — ~4 s at
    20 million cases, against ~0.3 s for the first rows, which stop early. As in
    `bulletin_extracts.overdue_cases`, the scope is matched on the card (it carries its case's
    agency, item and channel) and the card must be issued by the month's end (a card is dated
    the day its case crossed the deadline, never after completion), so the database sorts and
    looks up only the cards that can qualify.
    """
    c, k = schema.cases, schema.cards
    ctx = extracts.RuleContext(month_start(month), ())
    src, names = _named(c)
    src = src.join(k, sa.and_(k.c.case_id == c.c.case_id, k.c.kind == "yellow",
                              k.c.subject == "case"))
    in_clock = sa.and_(c.c.accepted_at.is_not(None),
                       c.c.status.not_in(["not_accepted", "withdrawn"]))
    completed_late = sa.and_(c.c.completed_at >= ctx.start, c.c.completed_at < ctx.end,
                             sa.or_(c.c.promised_days.is_not(None),
                                    c.c.statutory_days.is_not(None)))
    open_late = sa.and_(c.c.accepted_at < ctx.end,
                        sa.or_(c.c.completed_at.is_(None), c.c.completed_at >= ctx.end))
    where = [k.c.month <= ctx.month, k.c.issued_on < add_months(ctx.month, 1),
             *extracts.scope_conditions(k, filters, region_codes),
             in_clock, sa.or_(completed_late, open_late)]
    stmt = (sa.select(c.c.case_id, *names, c.c.agency_code, c.c.item_code, c.c.channel,
                      c.c.accepted_at, c.c.completed_at, c.c.status, c.c.promised_days,
                      c.c.statutory_days, c.c.due_at, k.c.issued_on, k.c.days_over)
            .select_from(src).where(*where)
            .order_by(k.c.days_over.desc(), c.c.case_id).limit(limit))
    with engine.connect() as conn:
        return _frame(conn, stmt)
