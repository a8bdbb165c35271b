"""Statistical check of the bulletin's criticism (通报批评): is a unit's gap real?

A unit at the bottom of the ranking may be behind for real, or only look behind because it is
small (noise) or handles hard items (case mix). Under the default rule (`[scoring] criticism =
"confirmed"`, docs/bulletin.md) it is criticised only when the statistics confirm the gap:

- its overdue completions are outside the 99.8% limit of the case-mix-adjusted funnel
  (observed against what its items, channels and months lead one to expect — the case-mix
  model of `metrics.stats.casemix`, overdispersion-adjusted as `metrics.stats.funnel` decides),
  on the worse side; or
- its 按时办结率 gets worse month by month *after* adjusting for case mix
  (`metrics.stats.trends.casemix_trends`: observed against expected overdue counts, month by
  month, FDR-controlled over all units). An unadjusted trend is no evidence: a unit whose items
  get harder "worsens" although it handles each item as its peers do.

Every verdict carries a plain-Chinese sentence for the body ("超期件明显多于同类单位的预期（33件，
预期17件）") and the technical details (ratios, limits, corrected p-values) for the 附件.

Why from the metric facts, not the case log: the only case-level facts the funnel and the trend
need — completed cases with a deadline and the late ones per agency × item × channel × month —
are in `case_facts`, clocked by the metric job with the same clock. One read of those cells over
the trend window (summed by the database) replaces a year and a half of the case log. The model
and the funnel are estimated on every agency of the city (a county's units alone would make
another funnel), then narrowed. Departments are checked as agencies; counties, districts and
towns as the subtree totals the ranking uses (expected counts summed per region unit).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field

import polars as pl
from sqlalchemy.engine import Engine

from metrics.bulletin import text as tx
from metrics.stats.casemix import CaseMix, adjusted_funnel, expected_overdue, raw_funnel
from metrics.stats.funnel import Funnel
from metrics.stats.settings import StatsSettings
from metrics.stats.trends import casemix_monthly, casemix_trends
from queries import extracts, facts_store
from queries.extracts import Filters, add_months

OTHER = "__other__"  # agencies in no region unit (e.g. 市直部门): in the model, not the funnel
Period = tuple[dt.date, dt.date]  # first and last month


@dataclass(frozen=True)
class Verdict:
    """What the statistics say about one unit.

    kind: lagging (gap confirmed) / alert / explained (by case mix) / in_control / no_data.
    `text` is plain Chinese for the body, `detail` the technical account for the 附件."""

    kind: str
    text: str
    detail: str = ""
    reasons: tuple[str, ...] = ()  # casemix_alarm / worsening (lagging only)
    numbers: dict = field(default_factory=dict)  # cases, observed, expected, ratio, q …

    @property
    def confirmed(self) -> bool:
        return self.kind == "lagging"


NO_DATA = Verdict("no_data", "本期无有时限办结件，未作统计检验",
                  "本期无有时限办结件，漏斗图和趋势检验均无数据。")


@dataclass(frozen=True)
class StatsCheck:
    """Verdicts per (level, code) for one period, and the units found lagging per level."""

    period: Period
    verdicts: dict[tuple[str, str], Verdict]
    settings: StatsSettings
    method: str  # how the funnel was adjusted (multiplicative / additive / none)

    def verdict(self, level: str, code: str) -> Verdict:
        return self.verdicts.get((level, code), NO_DATA)

    def lagging(self, level: str) -> list[str]:
        return sorted(c for (lv, c), v in self.verdicts.items() if lv == level and v.confirmed)


def _n(x: float) -> str:
    """An expected count as a reader takes it: 17件 from 10 up, 6.8件 below."""
    return f"{x:.0f}" if x >= 10 else tx.fixed(x, 1)


def _p_text(q: float) -> str:
    return "小于0.001" if q < 0.001 else tx.fixed(q, 3)


def _trend_words(t: dict) -> tuple[str, str]:
    """(plain, technical) sentences of a worsening adjusted trend."""
    a, b = tx.pct(t["first_rate"]), tx.pct(t["last_rate"])
    moved = f"由{a}降至{b}" if t["last_rate"] < t["first_rate"] else f"由{a}变为{b}"
    plain = (f"扣除所办事项结构的影响后，按时办结情况逐月变差（近{t['months']}个月按时办结率"
             f"{moved}）")
    per_month = (math.exp(t["log_odds_slope"]) - 1) * 100
    tech = (f"近{t['months']}个月超期件观察数与预期数之比平均每月上升{tx.fixed(per_month, 1)}%"
            f"（泊松回归，以事项结构调整后的预期超期件为偏移量），单侧检验经错误发现率校正后"
            f"P值{_p_text(t['q_worse'])}")
    return plain, tech


def _verdicts(level: str, adjusted: Funnel, raw: Funnel, trends: pl.DataFrame,
              s: StatsSettings) -> dict[tuple[str, str], Verdict]:
    alarm, alert = f"{100 * s.alarm_level:g}%", f"{100 * s.alert_level:g}%"
    od = "经离散度调整" if adjusted.adjusted else "精确泊松界限"
    worse_trend = {r["unit"]: r for r in trends.filter(pl.col("worsening")).iter_rows(named=True)}
    raw_worse = set(raw.units.filter(pl.col("worse"))["unit"].to_list())
    out: dict[tuple[str, str], Verdict] = {}
    for r in adjusted.units.iter_rows(named=True):
        unit = r["unit"]
        if r["flag"] == "no_data":
            out[(level, unit)] = NO_DATA
            continue
        o, e = int(round(r["numerator"])), float(r["denominator"])
        nums = {"observed": o, "expected": e, "ratio": o / e if e else None}
        ratio = tx.fixed(o / e, 2) if e else "—"
        funnel_tech = (f"超期办结{o}件，按事项、渠道和月份调整后预期{tx.fixed(e, 1)}件（观察/预期"
                       f"{ratio}），")
        alarm_hit = r["worse"] and r["flag"] == "alarm"
        if alarm_hit or unit in worse_trend:
            plain, tech, reasons = [], [], []
            if alarm_hit:
                reasons.append("casemix_alarm")
                plain.append(f"超期件明显多于同类单位的预期（{o}件，预期{_n(e)}件）")
                tech.append(funnel_tech + f"超出漏斗图{alarm}控制限（{od}）")
            if unit in worse_trend:
                reasons.append("worsening")
                p, t = _trend_words(worse_trend[unit])
                plain.append(p)
                tech.append(t)
                nums["q"] = worse_trend[unit]["q_worse"]
            v = Verdict("lagging", "；".join(plain), "；".join(tech) + "。", tuple(reasons), nums)
        elif r["worse"]:  # outside the alert limits only
            v = Verdict("alert", f"超期件多于预期（{o}件，预期{_n(e)}件），差距尚不能确认",
                        funnel_tech + f"超出{alert}预警线，未超出{alarm}报警线。", (), nums)
        elif unit in raw_worse:
            v = Verdict("explained", f"按时办结率偏低主要与所办事项的难度有关，扣除该因素后差距属"
                        f"正常波动（超期{o}件，预期{_n(e)}件）",
                        funnel_tech + "未调整的按时办结率超出控制限，按事项结构调整后在控制限内。",
                        (), nums)
        elif o <= e:
            v = Verdict("in_control", f"超期件不多于同类单位的预期（{o}件，预期{_n(e)}件）",
                        funnel_tech + f"在{alert}预警线内。", (), nums)
        else:
            v = Verdict("in_control", f"超期件数（{o}件）与预期（{_n(e)}件）的差距在正常波动范围内",
                        funnel_tech + f"在{alert}预警线内。", (), nums)
        out[(level, unit)] = v
    return out


def _by_region(cm: CaseMix, region_of: dict[str, str]) -> CaseMix:
    """The agency-level expected counts summed per region unit: the model has no unit term, so
    a region's expected count is the sum of its agencies' (what `expected_overdue` with the
    region as unit would give, without fitting the same model twice)."""
    units = cm.units.with_columns(
        pl.col("unit").replace_strict(region_of, default=OTHER, return_dtype=pl.String)
    ).group_by("unit").agg(pl.col("cases", "observed", "expected", "on_time").sum()) \
        .filter(pl.col("unit") != OTHER).sort("unit")
    return dataclasses.replace(cm, units=units)


def read_cells(engine: Engine, first: dt.date, last: dt.date) -> pl.DataFrame:
    """Completed-with-deadline cells per agency × item × channel × month over [first, last]
    (summed by the database): agency_code, item_code, channel, month, n, overdue."""
    measures = ["completed_with_deadline", "completed_overdue"]
    df = extracts.fact_sums(engine, "case_facts", measures, first, last, Filters(first, last),
                            None, ("agency_code", "item_code", "channel"))
    return df.filter(pl.col("completed_with_deadline") > 0).select(
        "agency_code", "item_code", "channel", "month",
        pl.col("completed_with_deadline").alias("n"), pl.col("completed_overdue").alias("overdue"))


def window_start(periods: Sequence[Period], s: StatsSettings) -> dt.date:
    """The first month any of the periods' models or trends reads."""
    return min(min(first, add_months(last, 1 - max(s.trend_months, s.casemix_months)))
               for first, last in periods)


@dataclass(frozen=True)
class _Models:
    """The city-wide models of one period: the same for every scope's bulletin of it."""

    cm: CaseMix  # expected overdue per agency in the period (the funnel's)
    oe: pl.DataFrame  # observed and expected per agency and month (the trend's)


_CACHE: OrderedDict[tuple, tuple[pl.DataFrame, dict[Period, _Models | None]]] = OrderedDict()
_LOCK = threading.Lock()
CACHE_SIZE = 4


def _models(engine: Engine, periods: Sequence[Period], s: StatsSettings
            ) -> tuple[pl.DataFrame, dict[Period, _Models | None]]:
    """Agencies and the fitted models of each period. The models are fitted on every agency of
    the city, whatever the bulletin's scope, so they are kept per database, job run, periods and
    settings: the bulletins of the city, its counties and its sectors for one month fit them
    once (a new job run, a new key)."""
    run = facts_store.last_run(engine)
    key = (engine.url.render_as_string(hide_password=True), run and run["run_id"],
           tuple(periods), s.digest())
    with _LOCK:
        if key in _CACHE:
            _CACHE.move_to_end(key)
            return _CACHE[key]
    cells = read_cells(engine, window_start(periods, s), max(last for _, last in periods))
    agencies = extracts.load_agencies(engine)
    items = extracts.load_items(engine)
    models: dict[Period, _Models | None] = {}
    for first, last in periods:
        if cells.filter(pl.col("month").is_between(first, last)).is_empty():
            models[(first, last)] = None
            continue
        models[(first, last)] = _Models(expected_overdue(cells, (first, last), s, items),
                                        casemix_monthly(cells, last, s, items))
    with _LOCK:
        _CACHE[key] = (agencies, models)
        while len(_CACHE) > CACHE_SIZE:
            _CACHE.popitem(last=False)
    return agencies, models


def check(engine: Engine, periods: Sequence[Period],
          region_units: dict[str, Sequence[str]] | None = None,
          settings: StatsSettings | None = None) -> list[StatsCheck | None]:
    """One `StatsCheck` per period (None for a period with no completed case with a deadline),
    for every agency of the city and every region unit of `region_units` (unit code → region
    codes of its subtree). The cells are read once for all periods."""
    s = settings or StatsSettings()
    agencies, models = _models(engine, periods, s)
    return [check_models(models[p], p, agencies, region_units or {}, s) for p in periods]


def check_models(models: _Models | None, period: Period, agencies: pl.DataFrame,
                 region_units: dict[str, Sequence[str]], s: StatsSettings) -> StatsCheck | None:
    """The check of one period from its fitted models."""
    if models is None:
        return None
    _, last = period
    in_unit = {code: unit for unit, codes in region_units.items() for code in codes}
    region_of = {a: in_unit.get(r, OTHER) for a, r in
                 agencies.select("agency_code", "region_code").iter_rows()}
    cm, oe = models.cm, models.oe
    adj = adjusted_funnel(cm, s)
    verdicts = _verdicts("agency", adj, raw_funnel(cm, s), casemix_trends(oe, last, s), s)
    if region_units:
        rcm = _by_region(cm, region_of)
        roe = oe.with_columns(pl.col("unit").replace_strict(
            region_of, default=OTHER, return_dtype=pl.String)).filter(pl.col("unit") != OTHER) \
            .group_by("unit", "month").agg(pl.col("cases", "observed", "expected").sum())
        verdicts |= _verdicts("region", adjusted_funnel(rcm, s), raw_funnel(rcm, s),
                              casemix_trends(roe, last, s), s)
    return StatsCheck(period, verdicts, s, adj.method)
