"""The lagging-unit statistics of one month from the metric facts instead of the case log.

Why: `metrics.stats.lagging.assess` reads and clocks a year and a half of cases — at 20 million
cases that is ~15 million rows and several GB per computation, too slow for a page load and
too big for many dashboard sessions at once. Every count the funnels and the trends need is
already in the additive fact tables, clocked by the metric job with the same clock:

- case mix and the 按时办结率 funnel: completed cases with a deadline and the late ones per
  agency × item × channel × month (`case_facts.completed_with_deadline`, `completed_overdue`),
  the cell counts `expected_overdue` takes besides one row per case;
- trends: on-time and completed-with-deadline counts per agency and month, summed by the
  database (`completed_on_time`, `completed_with_deadline`);
- 网上办理率: `case_facts.online_accepted` / `accepted` of the month (intake month);
- 差评率: `review_facts.bad` / `reviews_valid` of the month (rating month).

A few thousand fact rows replace the case log, and from the counts on the code is the case-log
path's own (`lagging.assessment`, `share_funnel`, the public functions of `casemix`), so the
单位分析 page, the bulletin's 统计检验 (`metrics.bulletin.stats_check`) and `assess` on the case
log give the same verdicts for the same month (tests check it). The model and the funnels are
always estimated on every agency of the city; callers narrow the result to a user's scope.
"""

from __future__ import annotations

import datetime as dt
import time
from concurrent.futures import ThreadPoolExecutor

import polars as pl
from sqlalchemy.engine import Engine

from metrics.settings import Settings
from metrics.stats.casemix import expected_overdue
from metrics.stats.funnel import Funnel, direction_higher
from metrics.stats.lagging import Assessment, assessment, share_funnel
from metrics.stats.settings import StatsSettings
from queries import extracts
from queries.extracts import Filters, add_months


def read_cells(engine: Engine, month: dt.date, s: StatsSettings) -> pl.DataFrame:
    """Completed-with-deadline cells for the case-mix window of `month`, the whole city, in the
    form `expected_overdue` takes besides one row per case: agency_code, item_code, channel,
    month, `n` cases, `overdue` late.

    Only `month` itself is read per agency: the earlier months of the window are summed over
    agencies by the database (agency_code null). The model has no agency term — its fit sums
    the cells over agencies anyway — and only the assessed month is scored per agency, so the
    expected counts are the same as from agency cells for every month (a test checks it), from
    a fraction of the rows (at 20M, ~25,000 instead of ~150,000 per computation)."""
    first = add_months(month, 1 - s.casemix_months)
    measures = ["completed_with_deadline", "completed_overdue"]
    parts = [extracts.fact_sums(engine, "case_facts", measures, month, month,
                                Filters(month, month), None,
                                ("agency_code", "item_code", "channel"))]
    if first < month:
        before = add_months(month, -1)
        parts.append(extracts.fact_sums(engine, "case_facts", measures, first, before,
                                        Filters(first, before), None, ("item_code", "channel"))
                     .with_columns(pl.lit(None, dtype=pl.String).alias("agency_code")))
    cols = ("agency_code", "item_code", "channel", "month")
    return pl.concat([p.select(*cols, *measures) for p in parts]) \
        .filter(pl.col("completed_with_deadline") > 0).select(
        *cols, pl.col("completed_with_deadline").alias("n"),
        pl.col("completed_overdue").alias("overdue"))


def read_monthly(engine: Engine, month: dt.date, s: StatsSettings) -> pl.DataFrame:
    """On-time and completed-with-deadline counts per agency and month for the trend window
    (summed by the database: the trends need no item or channel)."""
    first = add_months(month, 1 - s.trend_months)
    return extracts.fact_sums(engine, "case_facts", ["completed_on_time",
                                                     "completed_with_deadline"],
                              first, month, Filters(first, month), None, ("agency_code",)) \
        .filter(pl.col("completed_with_deadline") > 0)


def monthly(facts: pl.DataFrame, unit: str) -> pl.DataFrame:
    """`read_monthly`'s counts per `unit` column: unit, month, numerator (on time), denominator
    (completed with a deadline) — the input of `unit_trends`."""
    return facts.group_by(pl.col(unit).alias("unit"), "month").agg(
        pl.col("completed_on_time").sum().alias("numerator"),
        pl.col("completed_with_deadline").sum().alias("denominator"),
    ).sort("unit", "month")


def share_funnels(engine: Engine, month: dt.date, s: StatsSettings
                  ) -> tuple[Funnel | None, Funnel | None]:
    """网上办理率 and 差评率 funnels of the agencies in `month` from `case_facts` (intake month)
    and `review_facts` (rating month); None when the month has no case accepted / no valid
    review. The same sums `lagging.share_funnels` forms from the case log."""
    f = Filters(month, month)
    intake = extracts.fact_sums(engine, "case_facts", ["online_accepted", "accepted"], month,
                                month, f, None, ("agency_code",)).filter(pl.col("accepted") > 0)
    online = (share_funnel(intake, "online_accepted", "accepted",
                           direction_higher("online_rate"), s)
              if not intake.is_empty() else None)
    rated = extracts.fact_sums(engine, "review_facts", ["bad", "reviews_valid"], month, month, f,
                               None, ("agency_code",)).filter(pl.col("reviews_valid") > 0)
    bad = (share_funnel(rated, "bad", "reviews_valid", direction_higher("bad_review_rate"), s)
           if not rated.is_empty() else None)
    return online, bad


def assess(engine: Engine, month: dt.date, rules: Settings | None = None,
           settings: StatsSettings | None = None, include_share_alarms: bool = False
           ) -> Assessment:
    """`lagging.assess` for `month` from the fact tables: case-mix-adjusted and raw 按时办结率
    funnels, raw vs adjusted comparison, trends, 网上办理率 and 差评率 funnels and the lagging
    list of every agency of the city. Raises ValueError when the case-mix window has no
    completed case with a deadline (as `assess` does)."""
    rules = rules or Settings()
    s = settings or rules.stats
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    # independent reads, run concurrently: the page waits for the slowest, not for their sum
    with ThreadPoolExecutor(max_workers=5) as pool:
        cells_f = pool.submit(read_cells, engine, month, s)
        facts_f = pool.submit(read_monthly, engine, month, s)
        shares_f = pool.submit(share_funnels, engine, month, s)
        items_f = pool.submit(extracts.load_items, engine)
        agencies_f = pool.submit(extracts.load_agencies, engine)
        cells, facts, items = cells_f.result(), facts_f.result(), items_f.result()
        timings["read"] = time.perf_counter() - t0
        if cells.filter(pl.col("month") == month).is_empty():
            raise ValueError(f"no completed cases with a deadline in {month:%Y-%m}")
        t0 = time.perf_counter()
        cm = expected_overdue(cells, (month, month), s, items)
        timings["casemix_funnel"] = time.perf_counter() - t0
        online, bad = shares_f.result()
        agencies = agencies_f.result()
    names = dict(agencies.select("agency_code", "name").iter_rows())
    return assessment(cm, monthly(facts, "agency_code"), month, names, s, online, bad,
                      include_share_alarms, timings)
