"""The lagging-unit list: who is behind, on evidence that survives noise and case mix, and why.

A unit is listed when at least one of these holds for the assessed month (or period):

- `casemix_alarm`: its overdue count is outside the 99.8% limits of the case-mix-adjusted,
  overdispersion-adjusted funnel, on the worse side (more overdue than its items, channels
  and months explain);
- `worsening`: its 按时办结率 has a significant downward trend over the last `trend_months`
  months, with the false discovery rate controlled over all units scanned;
- `bad_review_alarm` / `online_alarm`: its 差评率 is above, or its 网上办理率 below, the 99.8%
  limits of the adjusted funnel for those shares (no case-mix model for these: the reason
  says so).

Each reason is written out in words (Chinese for the page and the bulletin's 通报批评 section,
English alongside), with the numbers behind it, so a criticism can be checked and quoted.
`assess` runs everything for one month from the contract tables and times each step.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass, field

import polars as pl

from metrics.case_measures import intake_measures
from metrics.reviews import review_facts
from metrics.settings import Settings
from metrics.stats import data
from metrics.stats.casemix import CaseMix, adjusted_funnel, expected_overdue, raw_vs_adjusted
from metrics.stats.funnel import Funnel, direction_higher, funnel
from metrics.stats.settings import StatsSettings
from metrics.stats.trends import monthly_counts, unit_trends
from queries.extracts import add_months

LAGGING_COLUMNS = ("unit", "name", "reasons", "reason_zh", "reason_en", "severity")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def lagging_units(
    adjusted: Funnel,
    trends: pl.DataFrame,
    names: dict[str, str] | None = None,
    bad_reviews: Funnel | None = None,
    online: Funnel | None = None,
    settings: StatsSettings | None = None,
) -> pl.DataFrame:
    """One row per lagging unit with its reasons (codes, Chinese and English sentences) and
    `severity` (number of reasons), most reasons first."""
    s = settings or StatsSettings()
    names = names or {}
    alarm = f"{100 * s.alarm_level:g}%"
    found: dict[str, list[tuple[str, str, str]]] = {}
    od_zh = "经离散度调整" if adjusted.adjusted else "精确泊松界限，无显著离散"
    od_en = ("overdispersion-adjusted" if adjusted.adjusted
             else "exact Poisson (no significant overdispersion)")

    def add(unit: str, code: str, zh: str, en: str) -> None:
        found.setdefault(unit, []).append((code, zh, en))

    for r in adjusted.units.filter(pl.col("worse") & (pl.col("flag") == "alarm")).iter_rows(
            named=True):
        o, e = int(r["numerator"]), r["denominator"]
        add(r["unit"], "casemix_alarm",
            f"超期办结{o}件，按事项、渠道和月份调整后预期{e:.1f}件（{r['value']:.2f}倍），"
            f"超出{alarm}控制限（{od_zh}）",
            f"{o} cases completed late against {e:.1f} expected for its items, channels and "
            f"months (O/E {r['value']:.2f}), outside the {alarm} limit ({od_en})")
    for r in trends.filter(pl.col("worsening")).iter_rows(named=True):
        pp, lo, hi = (100 * r["slope"], 100 * r["slope_ci_low"], 100 * r["slope_ci_high"])
        add(r["unit"], "worsening",
            f"按时办结率近{r['months']}个月由{_pct(r['first_rate'])}降至{_pct(r['last_rate'])}，"
            f"平均每月变化{pp:+.1f}个百分点（95%区间{lo:+.1f}至{hi:+.1f}），"
            f"多重检验校正后显著（q={r['q_worse']:.3g}）",
            f"on-time rate fell from {_pct(r['first_rate'])} to {_pct(r['last_rate'])} over "
            f"{r['months']} months, {pp:+.1f} points a month (95% CI {lo:+.1f} to {hi:+.1f}), "
            f"significant after FDR control (q = {r['q_worse']:.3g})")
    for f, code, zh_name, en_name in ((bad_reviews, "bad_review_alarm", "差评率", "bad-review rate"),
                                      (online, "online_alarm", "网上办理率", "online share")):
        if f is None:
            continue
        for r in f.units.filter(pl.col("worse") & (pl.col("flag") == "alarm")).iter_rows(
                named=True):
            add(r["unit"], code,
                f"{zh_name}{_pct(r['value'])}（{int(r['numerator'])}/{int(r['denominator'])}），"
                f"全市{_pct(f.target)}，超出{alarm}控制限（未做事项结构调整）",
                f"{en_name} {_pct(r['value'])} ({int(r['numerator'])}/{int(r['denominator'])}) "
                f"against {_pct(f.target)} city-wide, outside the {alarm} limit (not adjusted "
                f"for case mix)")
    rows = [{
        "unit": unit, "name": names.get(unit, unit), "reasons": [c for c, _, _ in reasons],
        "reason_zh": "；".join(z for _, z, _ in reasons) + "。",
        "reason_en": "; ".join(e for _, _, e in reasons) + ".",
        "severity": len(reasons),
    } for unit, reasons in found.items()]
    if not rows:
        return pl.DataFrame(schema={"unit": pl.String, "name": pl.String,
                                    "reasons": pl.List(pl.String), "reason_zh": pl.String,
                                    "reason_en": pl.String, "severity": pl.Int64})
    return pl.DataFrame(rows).sort(["severity", "unit"], descending=[True, False])


@dataclass
class Assessment:
    """Everything the 单位分析 page and the bulletin need for one month."""

    month: dt.date
    casemix: CaseMix
    adjusted: Funnel
    comparison: pl.DataFrame  # raw vs adjusted, side by side
    trends: pl.DataFrame
    bad_reviews: Funnel | None
    online: Funnel | None
    lagging: pl.DataFrame
    timings: dict[str, float] = field(default_factory=dict)


def share_funnel(facts: pl.DataFrame, num: str, den: str, higher_is_better: bool,
                 s: StatsSettings) -> Funnel:
    """The per-agency funnel of Σ`num` / Σ`den` (rows of clocked measures or of fact cells:
    the same sums, so the case-log and fact-table paths share it)."""
    per = facts.group_by(pl.col("agency_code").alias("unit")).agg(
        pl.col(num).sum().alias("numerator"), pl.col(den).sum().alias("denominator"))
    return funnel(per, kind="proportion", higher_is_better=higher_is_better, settings=s)


def share_funnels(tables: data.Tables, month: dt.date, s: StatsSettings, rules: Settings
                  ) -> tuple[Funnel, Funnel | None]:
    """网上办理率 and 差评率 funnels of the agencies in `month` (差评率 None without reviews).

    Both read only the month's rows: 网上办理率 from the cases accepted in it (intake_measures;
    the bundle heads it also finds do not enter these two measures), 差评率 from the reviews
    rated in it. A review carries its own agency; the only thing review_facts takes from the
    cases table is the rated case's item, which a per-agency funnel does not use — so no case
    is joined (a 20-million-row join for nothing); tests/stats check the result is the same."""
    start, end = data.month_bounds(month)
    # a lazy scan reads only the columns intake_measures uses and the month's row groups
    cases = tables.cases.lazy().filter(pl.col("accepted_at").is_between(start, end,
                                                                         closed="left"))
    intake = intake_measures(cases, [month], rules).select(
        "agency_code", "online_accepted", "accepted").collect()
    online = share_funnel(intake, "online_accepted", "accepted", direction_higher("online_rate"),
                           s)
    bad = None
    if tables.reviews is not None:
        as_of = data.month_end_moment(month)
        reviews = tables.reviews.lazy().filter(pl.col("rated_at").is_between(start, end,
                                                                              closed="left"))
        no_cases = pl.LazyFrame(schema={"case_id": pl.String, "item_code": pl.String})
        facts = review_facts(reviews, no_cases, tables.calendar, [month], rules, as_of).select(
            "agency_code", "bad", "reviews_valid").collect()
        bad = share_funnel(facts, "bad", "reviews_valid", direction_higher("bad_review_rate"), s)
    return online, bad


def assessment(cm: CaseMix, monthly: pl.DataFrame, month: dt.date, names: dict[str, str],
               s: StatsSettings, online: Funnel | None = None, bad: Funnel | None = None,
               include_share_alarms: bool = False,
               timings: dict[str, float] | None = None, compare: bool = True) -> Assessment:
    """The assessment of `month` from a fitted case-mix model and the units' monthly on-time
    counts (unit, month, numerator = on time, denominator = completed with a deadline).

    Why a function of its own: the case-log path (`assess`) and the fact-table path
    (`metrics.stats.facts.assess`, used by the 单位分析 page and the bulletin) count the same
    population by different routes; from the counts on, they must be the same code, so a
    verdict on the page equals the bulletin's and the CLI's for the same month. `compare`
    False skips the raw-vs-adjusted table (empty), for a `cm` summed over units afterwards
    (the bulletin's counties), which has no per-unit intervals."""
    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    adj = adjusted_funnel(cm, s)
    comparison = raw_vs_adjusted(cm, s) if compare else pl.DataFrame()
    timings["casemix_funnel"] = timings.get("casemix_funnel", 0.0) + time.perf_counter() - t0
    t0 = time.perf_counter()
    trends = unit_trends(monthly, month, True, s)
    timings["trends"] = time.perf_counter() - t0
    lag = lagging_units(adj, trends, names, bad if include_share_alarms else None,
                        online if include_share_alarms else None, s)
    return Assessment(month, cm, adj, comparison, trends, bad, online, lag, timings)


def assess(tables: data.Tables, month: dt.date, settings: StatsSettings | None = None,
           rules: Settings | None = None, include_share_alarms: bool = False) -> Assessment:
    """Case-mix-adjusted funnel, trends, 差评率 and 网上办理率 funnels and the lagging list for
    the agencies in `month`, from the contract tables. The share funnels are computed and
    returned, but enter the lagging list only with `include_share_alarms`: without a case-mix
    model they call every 民政局 "behind" on 网上办理率, since 婚姻登记 cannot be done online.
    `settings` defaults to the statistics settings in `rules` (the settings file's [stats]).
    The same assessment from the metric facts instead of the case log:
    `metrics.stats.facts.assess`."""
    rules = rules or Settings()
    s = settings or rules.stats
    timings: dict[str, float] = {}
    t0 = time.perf_counter()
    as_of = data.month_end_moment(month)
    first = add_months(month, 1 - max(s.trend_months, s.casemix_months))
    # cases completing in the window may have been accepted long before it (project stages)
    cells = data.completed_cells(tables, (first, month), as_of, add_months(first, -12), rules)
    timings["clock"] = time.perf_counter() - t0

    t0 = time.perf_counter()
    cm = expected_overdue(cells, (month, month), s, tables.items)
    timings["casemix_funnel"] = time.perf_counter() - t0
    on_time = cells.with_columns((pl.col("n") - pl.col("overdue")).alias("on_time"))
    monthly = monthly_counts(on_time, "on_time", cases="n")

    t0 = time.perf_counter()
    online, bad = share_funnels(tables, month, s, rules)
    timings["share_funnels"] = time.perf_counter() - t0

    names = dict(tables.agencies.select("agency_code", "name").iter_rows())
    return assessment(cm, monthly, month, names, s, online, bad, include_share_alarms, timings)
