"""The metric job: compute every family for a set of months and store the facts.

This is the one place that collects. `compute_frames` is pure (frames in, frames out) so that
tests, the oracle and the benchmarks run it without a database; `run_compute` reads the inputs
from the database, calls it, replaces the months atomically and records the run (as-of time,
input row counts, calendar version and fallback years, settings digest, duration).
"""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy.engine import Engine

from metrics import business_env, case_measures, catalogue, reviews
from metrics.calendar import WorkCalendar
from metrics.cards import CARD_COLUMNS, card_facts, case_cards, mark_revoked, warning_list
from metrics.settings import Settings
from queries import facts_store, inputs, revocations
from queries.audit import AuditHook
from queries.case_sources import (
    CASE_KEY,
    CODED_COLUMNS,
    CaseSource,
    DatabaseSource,
    FrameSource,
    iter_slices,
)
from queries.contract import DATE_FLOOR
from queries.errors import XiaonengError
from queries.extracts import add_months
from queries.schema import GRAIN

# What the job's one pass over the cases reads (metrics.case_measures.case_pass): the clock's
# inputs and every per-case intake and completion measure's. The pass is the job's largest
# intermediate, so its width is its memory.
PASS_CASE_COLUMNS = (
    "case_id", "item_code", "agency_code", "channel", "accepted_at", "completed_at", "status",
    "statutory_days", "promised_days", "limit_unit", "e_result", "reported_at", "visits",
    "full_online", "cross_region",
)


# Case columns any metric family reads (the rest — applicant, decision, due_at — are for case
# lists): a source may read only these.
JOB_CASE_COLUMNS = (
    "case_id", "item_code", "agency_code", "channel", "bundle_id", "project_code",
    "submitted_at", "accepted_at", "completed_at", "status", "statutory_days", "promised_days",
    "limit_unit", "visits", "full_online", "cross_region", "e_result", "reported_at",
)


def month_range(first: dt.date, last: dt.date) -> list[dt.date]:
    out, m = [], first.replace(day=1)
    while m <= last:
        out.append(m)
        m = add_months(m, 1)
    return out


def previous_month(m: dt.date) -> dt.date:
    return add_months(m, -1)


@dataclass
class JobResult:
    run_id: str
    months: list[dt.date]
    as_of: dt.datetime
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    input_rows: dict[str, int] = field(default_factory=dict)
    written: dict[str, int] = field(default_factory=dict)
    calendar_version: str = ""
    fallback_years: tuple[int, ...] = ()
    duration_s: float = 0.0
    data_cutoff: dt.datetime | None = None

    def format(self) -> str:
        span = f"{self.months[0]:%Y-%m}..{self.months[-1]:%Y-%m}" if self.months else "-"
        lines = [f"compute {span} as of {self.as_of:%Y-%m-%d %H:%M} "
                 f"in {self.duration_s:.1f}s (run {self.run_id[:8]})"]
        if self.data_cutoff is not None:
            lines.append(f"  data cut-off {self.data_cutoff:%Y-%m-%d %H:%M}"
                         + ("  (warning: the as-of time is after it — open cases and pending "
                            "deadlines are judged on days the data do not cover)"
                            if self.as_of > self.data_cutoff else ""))
        lines += [f"  {k}: {v:,} rows" for k, v in self.written.items()]
        if self.fallback_years:
            lines.append(f"  warning: calendar years {list(self.fallback_years)} counted "
                         "Monday–Friday (no official calendar loaded)")
        return "\n".join(lines)


# Months of acceptance per slice in a full recompute: about 3.5 M cases a slice at 20 M cases
# over 34 months, which keeps the job's peak memory to one slice's working set (plus the next
# slice's inputs while they are read ahead from the database).
FULL_RECOMPUTE_SLICE_MONTHS = 6

SLICE_FRAMES = ("case_facts", "used_days_hist", "review_facts", "cards", "warnings")
# Additive frames and the keys their rows are summed on when slices are combined.
_ADDITIVE_KEYS = {
    "case_facts": GRAIN,
    "used_days_hist": (*GRAIN, "used_wd"),
    "review_facts": GRAIN,
}


def slice_frames(
    tables: dict[str, pl.DataFrame],
    months: list[dt.date],
    be_months: list[dt.date],
    as_of: dt.datetime,
    settings: Settings,
    calendar: WorkCalendar,
    bundle_heads: pl.LazyFrame | None = None,
) -> dict[str, pl.DataFrame]:
    """The additive facts, cards and 预警 of one slice of cases (with their suspensions and
    reviews). Facts cover `be_months`; cards only `months`."""
    cases = tables["cases"].lazy()
    susp = tables["suspensions"].lazy()
    revs = tables["reviews"].lazy()
    # The clock of every case is the costliest step: compute it once (in the one pass over
    # the cases) and share it with the cards and the 预警 list.
    key = [CASE_KEY] if CASE_KEY in tables["cases"].columns else []
    case_rows = case_measures.case_pass(cases.select(*key, *PASS_CASE_COLUMNS), susp, calendar,
                                        settings, as_of).collect().lazy()
    facts, hist = case_measures.case_facts(cases, susp, revs, calendar, be_months, settings,
                                           as_of, case_rows=case_rows, bundle_heads=bundle_heads)
    # The rows of the cards and the 预警 list (metrics.cards.clock_cases).
    clocked = case_rows.filter(pl.col("in_clock"))
    review_facts = reviews.review_facts(revs, cases, calendar, be_months, settings, as_of)
    cards = pl.concat(
        [
            case_cards(clocked, months),
            reviews.review_cards(revs, cases, calendar, settings, as_of)
            .filter(pl.col("month").is_in(months))
            .select(CARD_COLUMNS),
        ],
        how="vertical_relaxed",
    )
    warn = warning_list(clocked, settings, as_of)
    collected = pl.collect_all([facts, hist, review_facts, decoded(cards), decoded(warn)])
    return dict(zip(SLICE_FRAMES, collected, strict=True))


def decoded(frame: pl.LazyFrame) -> pl.LazyFrame:
    """The grain columns back as strings: the job works on their integer codes
    (queries.case_sources.coded) and decodes only what it outputs."""
    names = frame.collect_schema()
    return frame.with_columns(
        pl.col(c).cast(pl.String) for c in CODED_COLUMNS
        if c in names and names[c] == pl.Categorical
    )


def _sum(parts: list[pl.DataFrame], keys: tuple[str, ...]) -> pl.DataFrame:
    """Sum the slices' additive frames row-wise on `keys` (slices overlap on a few months),
    in one group-by on the coded keys, then decode them."""
    if len(parts) == 1:
        return decoded(parts[0].lazy()).collect()
    values = [c for c in parts[0].columns if c not in keys]
    return decoded(
        pl.concat([p.lazy() for p in parts], how="vertical_relaxed")
        .group_by(*keys)
        .agg(pl.col(values).sum())
    ).collect()


def compute_source(
    source: CaseSource,
    months: list[dt.date],
    as_of: dt.datetime,
    settings: Settings,
    calendar: WorkCalendar,
    months_per_slice: int = 0,
    revoked: Sequence[str] = (),
    prefetch: bool = False,
) -> tuple[dict[str, pl.DataFrame], dict[str, int]]:
    """Every fact frame for `months`, reading `source` one slice of cases at a time.

    `months_per_slice` = 0 reads everything as one slice. `revoked`: ids of cards an appeal
    decision revoked (queries.revocations), marked revoked before the card counts. Returns the
    frames and the number of input rows read per table. Slicing changes nothing in the result: facts are sums over cases
    and are summed over slices; bundle heads and the 营商环境 chains, which span slices, are
    read whole (queries.case_sources). `prefetch` reads the next slice while this one is
    computed (queries.case_sources.iter_slices).
    """
    # The 营商环境 change-from-last-month needs the previous month beside the requested ones.
    be_months = sorted({*months, previous_month(months[0])})
    ref = source.reference()
    input_rows = {k: v.height for k, v in ref.items()}
    # One slice finds each bundle's first case itself; several need them found over all cases.
    heads = source.bundle_heads().lazy() if months_per_slice > 0 else None
    # Each slice's facts are already summed to the grain (a few hundred thousand rows), so
    # they are kept and summed once at the end, on their integer codes.
    lists: dict[str, list[pl.DataFrame]] = {name: [] for name in SLICE_FRAMES}
    for tables in iter_slices(source, months_per_slice, prefetch):
        for k in ("cases", "suspensions", "reviews"):
            input_rows[k] = input_rows.get(k, 0) + tables[k].height
        part = slice_frames(tables, months, be_months, as_of, settings, calendar, heads)
        del tables
        for name in lists:
            lists[name].append(part[name])
        del part
    out: dict[str, pl.DataFrame] = {
        name: _sum(lists.pop(name), keys) for name, keys in _ADDITIVE_KEYS.items()
    }
    out["cards"] = mark_revoked(pl.concat(lists["cards"], how="vertical_relaxed"), revoked)
    out["warnings"] = pl.concat(lists["warnings"], how="vertical_relaxed")
    out["catalogue_facts"] = catalogue.catalogue_facts(
        ref["items"].lazy(), as_of.date().replace(day=1)).collect()
    out["card_facts"] = card_facts(out["cards"].lazy()).collect()
    be_items = ref["items"].filter(pl.col("be_indicator").is_not_null())["item_code"].to_list()
    be_in = source.cases_of_items(be_items)
    be = business_env.be_scores(
        be_in["cases"].lazy(), ref["items"].lazy(), ref["agencies"].lazy(),
        ref["regions"].lazy(), out["case_facts"].lazy(), out["review_facts"].lazy(), calendar,
        be_months, settings, as_of, suspensions=be_in["suspensions"].lazy(),
    ).collect()
    for name in ("case_facts", "used_days_hist", "review_facts"):
        out[name] = out[name].filter(pl.col("month").is_in(months))
    out["be_scores"] = be.filter(pl.col("month").is_in(months))
    return out, input_rows


def compute_frames(
    tables: dict[str, pl.DataFrame],
    months: list[dt.date],
    as_of: dt.datetime,
    settings: Settings,
    calendar: WorkCalendar,
    months_per_slice: int = 0,
    revoked: Sequence[str] = (),
) -> dict[str, pl.DataFrame]:
    """Every fact frame for `months` from in-memory contract tables (no database)."""
    frames, _ = compute_source(FrameSource(tables), months, as_of, settings, calendar,
                               months_per_slice, revoked)
    return frames


def load_inputs(engine: Engine, window: tuple[dt.date, dt.date] | None,
                rectify_days: int = 15) -> dict[str, pl.DataFrame]:
    cases = inputs.read_cases(engine, window)
    reviews = inputs.read_reviews(engine, window, rectify_days)
    if window:
        # Each review takes its case's item, as in a full run — also an older 差评 carding in
        # the window whose case is outside the window's cases (looked up by key).
        known = cases.select("case_id", "item_code")
        missing = reviews.filter(pl.col("case_id").is_not_null()
                                 & ~pl.col("case_id").is_in(known["case_id"].implode()))
        items = pl.concat([known, inputs.case_items(
            engine, missing["case_id"].unique().sort().to_list())])
        reviews = reviews.join(items, on="case_id", how="left", maintain_order="left"
                               ).with_columns(pl.col("item_code").fill_null(""))
    return {
        "regions": inputs.read_table(engine, "regions"),
        "agencies": inputs.read_table(engine, "agencies"),
        "items": inputs.read_table(engine, "items"),
        "cases": cases,
        "suspensions": inputs.read_suspensions(engine, cases["case_id"] if window else None),
        "reviews": reviews,
    }


def run_compute(
    engine: Engine,
    months: list[dt.date] | None,
    as_of: dt.datetime | None = None,
    settings: Settings | None = None,
    audit: AuditHook | None = None,
) -> JobResult:
    """Recompute `months` (None: every month with data) and replace them atomically.

    `as_of` defaults to min(now, the data cut-off) (`facts_store.default_as_of`): metrics whose
    deadline falls after the cut-off (差评 rectification and call-back, open-case cards) then
    count only what was due by it. The run records the cut-off beside its as-of time.

    `audit` (queries.audit.hook) writes the run's audit row inside the transaction that replaces
    the facts, so the facts and their record commit or roll back together."""
    settings = settings or Settings()
    cutoff = facts_store.data_cutoff(engine)
    as_of = as_of or facts_store.default_as_of(cutoff)
    if months is None:
        bounds = inputs.case_month_bounds(engine)
        if bounds is None:
            raise XiaonengError("no cases in the database: import data or run "
                                "`xiaoneng generate` first")
        months = month_range(bounds[0], min(bounds[1], as_of.date().replace(day=1)))
        window = None
    else:
        window = (previous_month(min(months)), max(months))
    months = [m for m in months if m <= as_of.date()]
    if not months:
        raise XiaonengError("every requested month lies after the as-of time")
    run_id = str(uuid.uuid4())
    t0 = time.perf_counter()
    started = dt.datetime.now()
    facts_store.start_run(engine, dict(
        run_id=run_id, started_at=started, as_of=as_of,
        months=f"{months[0]:%Y-%m}..{months[-1]:%Y-%m}", status="running",
        settings_hash=settings.digest(), settings=settings.as_dict(), data_cutoff=cutoff,
    ))
    try:
        if window is None:
            # Everything: read slice by slice so that memory stays that of one slice.
            source: CaseSource = DatabaseSource(engine, JOB_CASE_COLUMNS)
            slice_months = FULL_RECOMPUTE_SLICE_MONTHS
            bounds = source.key_month_bounds()
            lo = bounds[0] if bounds else None
        else:
            tables = load_inputs(engine, window, settings.rectify_days)
            source, slice_months = FrameSource(tables), 0
            first = tables["cases"]["submitted_at"].min() if tables["cases"].height else None
            lo = max(first.date(), DATE_FLOOR) if first else None  # never expand from year 0024
        calendar = WorkCalendar.from_engine(engine)
        span_start = min(lo or months[0], months[0])
        span_end = max(as_of.date(), months[-1]) + dt.timedelta(days=400)
        calendar.cover(span_start, span_end)
        fallback = calendar.fallback_years_between(span_start, as_of.date())
        frames, input_rows = compute_source(source, months, as_of, settings, calendar,
                                            slice_months, revocations.revoked_ids(engine),
                                            prefetch=window is None)
        # The catalogue is valid at the data's cut-off: its snapshot is that month's, and
        # holds for the months after it until the next snapshot (metrics.query._catalogue).
        snapshot = min(as_of, cutoff or as_of).date().replace(day=1)
        written = facts_store.replace_months(
            engine, months,
            {k: frames[k] for k in facts_store.MONTHLY_TABLES},
            frames["warnings"] if as_of.date().replace(day=1) >= months[-1] else None,
            (snapshot, frames["catalogue_facts"].with_columns(pl.lit(snapshot).alias("month"))),
            audit=audit, card_facts_of=lambda rows: card_facts(rows.lazy()).collect(),
        )
    except Exception as exc:
        facts_store.finish_run(engine, run_id, status="failed", finished_at=dt.datetime.now(),
                               error=f"{type(exc).__name__}: {exc}"[:2000],
                               duration_s=time.perf_counter() - t0)
        raise
    result = JobResult(
        run_id, months, as_of, frames,
        input_rows=input_rows,
        written=written, calendar_version=calendar.version, fallback_years=fallback,
        duration_s=time.perf_counter() - t0, data_cutoff=cutoff,
    )
    facts_store.finish_run(
        engine, run_id, status="ok", finished_at=dt.datetime.now(),
        input_rows=result.input_rows, output_rows=written,
        calendar_version=calendar.version,
        fallback_years=",".join(map(str, fallback)), duration_s=result.duration_s,
    )
    return result
