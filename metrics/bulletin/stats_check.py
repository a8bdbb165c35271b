"""Statistical check of the bulletin's criticism (通报批评) with the lagging-unit statistics.

A unit criticised for a low composite score may be behind for real, or only look behind because
it is small (noise) or handles hard items (case mix). The bulletin says which, for every unit it
criticises, with the statistics of `metrics.stats` (issue 6): the case-mix-adjusted,
overdispersion-adjusted funnel of overdue completions, and the FDR-controlled trend of the
按时办结率; and it names the units those statistics find lagging although they are not in the
bottom N. The verdicts and reasons are `metrics.stats.lagging.lagging_units`' own.

Why from the metric facts, not the case log: `metrics.stats.lagging.assess` reads and clocks a
year and a half of cases (seconds at 200 k cases, minutes at 20 M), while the only case-level
facts the funnel and the trends need — completed cases with a deadline and whether each was
late, per item × channel × month and agency — are in `case_facts`, already clocked by the same
job with the same clock (`completed_with_deadline`, `completed_overdue`, `completed_on_time`).
Two reads of facts (six months of cells for the model, twelve months per agency for the trend,
summed by the database: `metrics.stats.facts`, the readers the 单位分析 page uses too) replace
the case log, and the public functions of `metrics.stats` (expected_overdue, raw_funnel and
`lagging.assessment`: adjusted funnel, trends, lagging list) do the rest, so a verdict here
equals the 单位分析 page's for the same month (a test checks it against `assess` on the case
log). The model and the funnel are always estimated on every
agency of the city (a county's units alone would make another funnel), then narrowed.

Departments are checked as agencies; counties/districts as the subtree totals the ranking uses
(the same model's expected counts summed per county, and their own funnel).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

import polars as pl
from sqlalchemy.engine import Engine

from metrics.stats import facts as facts_io
from metrics.stats.casemix import CaseMix, expected_overdue, raw_funnel
from metrics.stats.funnel import Funnel
from metrics.stats.lagging import assessment
from metrics.stats.settings import StatsSettings
from queries import extracts

OTHER = "__other__"  # agencies in no ranked county (e.g. 市直部门): in the model, not the funnel


@dataclass(frozen=True)
class Verdict:
    """What the statistics say about one unit: a short verdict and the reasons in words."""

    kind: str  # lagging / alert / explained / in_control / no_data
    text: str  # short, for the table cell
    reason: str = ""  # lagging_units' reason_zh when lagging


@dataclass(frozen=True)
class StatsCheck:
    """Verdicts per (level, code) and the lagging units per level (with reasons)."""

    verdicts: dict[tuple[str, str], Verdict]
    lagging: dict[str, pl.DataFrame]  # level → lagging_units() frame (unit, name, reason_zh…)
    settings: StatsSettings
    method: str  # how the funnel was adjusted (for the note)

    def verdict(self, level: str, code: str) -> Verdict:
        return self.verdicts.get((level, code), NO_DATA)


NO_DATA = Verdict("no_data", "本月无有时限办结件，未作统计检验")


def _verdicts(level: str, adjusted: Funnel, raw: Funnel, lag: pl.DataFrame,
              s: StatsSettings) -> dict[tuple[str, str], Verdict]:
    alarm, alert = f"{100 * s.alarm_level:g}%", f"{100 * s.alert_level:g}%"
    reasons = dict(zip(lag["unit"].to_list(), lag["reason_zh"].to_list(), strict=True))
    codes = dict(zip(lag["unit"].to_list(), lag["reasons"].to_list(), strict=True))
    raw_worse = set(raw.units.filter(pl.col("worse"))["unit"].to_list())
    out: dict[tuple[str, str], Verdict] = {}
    for r in adjusted.units.iter_rows(named=True):
        unit = r["unit"]
        if unit in reasons:
            parts = []
            if "casemix_alarm" in codes[unit]:
                parts.append(f"经事项结构调整后仍显著落后（超期件数在漏斗图{alarm}控制限外）")
            if "worsening" in codes[unit]:
                parts.append("按时办结率显著下降（经多重检验校正）")
            v = Verdict("lagging", "；".join(parts) or "统计上显著落后", reasons[unit])
        elif r["flag"] == "no_data":
            v = NO_DATA
        elif r["worse"]:  # outside the alert limits only
            v = Verdict("alert", f"超出{alert}预警线但在{alarm}报警线内，差距尚不能确认")
        elif unit in raw_worse:
            v = Verdict("explained", "按时办结率偏低可由事项结构解释（调整后在控制限内）")
        else:
            v = Verdict("in_control", "差距在随机波动范围内（经事项结构调整后在控制限内）")
        out[(level, unit)] = v
    return out


def _by_region(cm: CaseMix, region_of: dict[str, str]) -> CaseMix:
    """The agency-level expected counts summed per county: the model has no unit term, so a
    county's expected count is the sum of its agencies' (what `expected_overdue` with the
    county as unit would give, without fitting the same model twice)."""
    units = cm.units.with_columns(
        pl.col("unit").replace_strict(region_of, default=OTHER, return_dtype=pl.String)
    ).group_by("unit").agg(pl.col("cases", "observed", "expected", "on_time").sum()) \
        .filter(pl.col("unit") != OTHER).sort("unit")
    return dataclasses.replace(cm, units=units)


def _assess(cm: CaseMix, monthly: pl.DataFrame, month: dt.date, level: str,
            names: dict[str, str], s: StatsSettings
            ) -> tuple[dict[tuple[str, str], Verdict], pl.DataFrame, Funnel]:
    a = assessment(cm, monthly.filter(pl.col("unit") != OTHER), month, names, s, compare=False)
    return _verdicts(level, a.adjusted, raw_funnel(cm, s), a.lagging, s), a.lagging, a.adjusted


def check(engine: Engine, month: dt.date, region_units: dict[str, Sequence[str]],
          settings: StatsSettings | None = None) -> StatsCheck | None:
    """Verdicts for every agency of the city and every county of `region_units` (county code →
    region codes of its subtree) for `month`; None when the month has no completed case with a
    deadline to learn from."""
    s = settings or StatsSettings()
    cells = facts_io.read_cells(engine, month, s)
    if cells.filter(pl.col("month") == month).is_empty():
        return None
    facts = facts_io.read_monthly(engine, month, s)
    agencies = extracts.load_agencies(engine)
    items = extracts.load_items(engine)
    regions = extracts.load_regions(engine)
    in_unit = {code: unit for unit, codes in region_units.items() for code in codes}
    region_of = {a: in_unit.get(r, OTHER) for a, r in
                 agencies.select("agency_code", "region_code").iter_rows()}
    cm = expected_overdue(cells, (month, month), s, items)
    verdicts, lag, adj = _assess(cm, facts_io.monthly(facts, "agency_code"), month, "agency",
                                 dict(agencies.select("agency_code", "name").iter_rows()), s)
    lagging = {"agency": lag}
    if region_units:
        facts = facts.with_columns(pl.col("agency_code").replace_strict(
            region_of, default=OTHER, return_dtype=pl.String).alias("region_unit"))
        v, lagging["region"], _ = _assess(
            _by_region(cm, region_of), facts_io.monthly(facts, "region_unit"), month, "region",
            dict(regions.select("region_code", "name").iter_rows()), s)
        verdicts |= v
    return StatsCheck(verdicts, lagging, s, adj.method)
