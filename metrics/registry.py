"""The metric registry: every metric of metrics.md declared once, as data.

Like a dbt MetricFlow semantic layer: a *measure* is an additive column of a fact table
(`queries.schema`), a *metric* names its numerator and denominator measures (each a sum of one
or more measures), its unit, direction, display format, definition, source and default target.
The query API, the pages, the bulletin, the export and the definitions page all read this
registry; a metric is findable end to end by its `id`, which is a public interface (URLs,
exports, settings) and must never be renamed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from queries import schema

Kind = Literal["count", "share", "ratio", "quantile", "coverage", "index"]

# A share of `unknown` (e.g. unknown_channel_share) at or above this is stated wherever the
# rates it affects are shown, so a low rate is never read as measured (docs/importing.md).
UNKNOWN_SHARE_NOTED = 0.01
Direction = Literal["higher", "lower", "neutral"]
Fmt = Literal["int", "pct", "days", "score", "num"]
Family = Literal["volume", "timeliness", "online", "cards", "reviews", "catalogue", "business_env"]

FACT_TABLES: dict[str, tuple[str, ...]] = {
    "case_facts": schema.CASE_MEASURES + tuple(schema.GRAIN_FILTERED_MEASURES),
    "review_facts": schema.REVIEW_MEASURES,
    "card_facts": schema.CARD_MEASURES,
    "catalogue_facts": schema.CATALOGUE_MEASURES,
}


@dataclass(frozen=True)
class Measure:
    """An additive fact column: `id` is the column name in `table`."""

    id: str
    table: str
    zh: str
    en: str
    month_basis: str  # which event's month the row belongs to (metrics.md §2)
    definition: str


@dataclass(frozen=True)
class Target:
    op: Literal[">=", "<="]
    value: float
    source: str


@dataclass(frozen=True)
class Metric:
    id: str
    zh: str
    en: str
    family: Family
    kind: Kind
    numerator: tuple[str, ...]  # measures summed into the numerator (or the count)
    denominator: tuple[str, ...] = ()
    unit: str = ""
    unit_en: str = ""
    direction: Direction = "higher"
    fmt: Fmt = "pct"
    definition_zh: str = ""
    definition_en: str = ""
    source: str = ""
    target: Target | None = None
    settings: tuple[str, ...] = ()  # settings that shape this metric
    # Days counted on each case's own clock (metrics.md §1): working days, or natural days for
    # natural-day items, so the unit shown is that of the cases in view, not `unit`.
    unit_follows_cases: bool = False

    @property
    def is_share(self) -> bool:
        """A 0–1 proportion of counts, for which a Wilson interval is meaningful."""
        return self.kind == "share"


def _m(id: str, table: str, zh: str, en: str, basis: str, definition: str) -> Measure:
    return Measure(id, table, zh, en, basis, definition)


CF, RF, KF, GF = "case_facts", "review_facts", "card_facts", "catalogue_facts"
ACC, COMP, EOM, RATED, ISSUE, SNAP = (
    "accepted", "completed", "month_end", "rated", "card_issue", "catalogue_snapshot",
)

MEASURES: tuple[Measure, ...] = (
    _m("accepted", CF, "受理件数", "cases accepted", ACC, "cases with accepted_at in the month"),
    _m("cmp_statutory", CF, "法定时限合计(压缩)", "Σ statutory days (compression)", ACC,
       "Σ statutory_days over accepted cases with statutory > 0 and promised set"),
    _m("cmp_gap", CF, "法定−承诺时限合计", "Σ (statutory − promised)", ACC,
       "Σ (statutory_days − promised_days) over the same cases"),
    _m("online_accepted", CF, "网上受理件数", "accepted online", ACC,
       "accepted cases whose channel is in the online channel set (setting online_channels)"),
    _m("full_online_accepted", CF, "全程网办件数", "accepted fully online", ACC,
       "accepted cases with full_online"),
    _m("mobile_accepted", CF, "掌上受理件数", "accepted via mobile", ACC,
       "accepted cases with channel = mobile"),
    _m("unknown_channel_accepted", CF, "渠道未知受理件数", "accepted with channel unknown", ACC,
       "accepted cases whose channel the export did not record (channel = unknown): the "
       "`accepted` of the fact rows whose channel is unknown (no column of its own)"),
    _m("visits_known", CF, "到现场次数已知件数", "accepted with visits known", ACC,
       "accepted cases with visits not null"),
    _m("no_visit", CF, "不见面件数", "zero-visit cases", ACC, "accepted cases with visits = 0"),
    _m("max_one_visit", CF, "最多跑一次件数", "at-most-one-visit cases", ACC,
       "accepted cases with visits ≤ 1"),
    _m("instant_accepted", CF, "即办件数", "instant cases", ACC,
       "accepted cases with promised_days = 0"),
    _m("cross_region_accepted", CF, "跨域通办件数", "cross-region cases", ACC,
       "accepted cases with cross_region"),
    _m("bundles_started", CF, "一件事数", "one-thing bundles", ACC,
       "distinct bundle_id, each counted once at the bundle's first accepted case"),
    _m("completed", CF, "办结件数", "cases completed", COMP, "cases with completed_at in the month"),
    _m("spd_statutory", CF, "法定时限合计(提速)", "Σ statutory days (speed-up)", COMP,
       "Σ statutory_days over completed cases with statutory > 0"),
    _m("spd_statutory_gap", CF, "法定时限−实际用时合计", "Σ (statutory − used)", COMP,
       "Σ (statutory_days − used_wd) over the same cases"),
    _m("spd_promised", CF, "承诺时限合计(提速)", "Σ promised days (speed-up)", COMP,
       "Σ promised_days over completed cases with promised > 0"),
    _m("spd_promised_gap", CF, "承诺时限−实际用时合计", "Σ (promised − used)", COMP,
       "Σ (promised_days − used_wd) over the same cases"),
    _m("completed_with_deadline", CF, "有时限办结件数", "completed with a deadline", COMP,
       "completed cases with promised or statutory days"),
    _m("completed_on_time", CF, "按时办结件数", "completed on time", COMP,
       "completed cases with used_wd ≤ deadline days"),
    _m("completed_no_deadline", CF, "无时限办结件数", "completed without a deadline", COMP,
       "completed cases with neither promised nor statutory days (left out of timeliness)"),
    _m("completed_same_day", CF, "当场办结件数", "completed the same day", COMP,
       "completed cases with used_wd = 0"),
    _m("used_wd_sum", CF, "实际用时合计", "Σ used working days", COMP,
       "Σ used_wd over completed cases"),
    _m("completed_overdue", CF, "超期办结件数", "completed overdue", COMP,
       "completed cases with used_wd > deadline days"),
    _m("e_result_known", CF, "结果电子化已知件数", "completed with e_result known", COMP,
       "completed cases with e_result not null"),
    _m("e_result_yes", CF, "结果电子化件数", "completed with an electronic result", COMP,
       "completed cases with e_result"),
    _m("completed_reviewed", CF, "已评价办结件数", "completed and reviewed", COMP,
       "completed cases with at least one valid review (as of the run)"),
    _m("completed_actively_reviewed", CF, "实际评价办结件数", "completed and actively reviewed",
       COMP, "completed cases with at least one valid active review (not a system default "
             "rating)"),
    _m("completed_natural", CF, "自然日时限办结件数", "completed with natural-day limits",
       COMP, "completed cases whose limits count natural days (limit_unit = natural): the "
             "day unit of used-time labels"),
    _m("case_report_known", CF, "汇聚时间已知办件数", "cases with reported_at", COMP,
       "completed cases with reported_at not null"),
    _m("case_report_timely", CF, "及时汇聚办件数", "cases reported in time", COMP,
       "completed cases reported within report_lag_days working days of completion"),
    _m("in_progress_eom", CF, "月末在办件数", "in progress at month end", EOM,
       "accepted, inside the clock, not completed at the month's last moment"),
    _m("overdue_open_eom", CF, "月末超期未办结件数", "open and overdue at month end", EOM,
       "in progress at month end with used_wd > deadline days"),
    _m("warnings_eom", CF, "月末预警件数", "warnings at month end", EOM,
       "in progress at month end, not overdue, within warn_days or warn_share of the deadline"),
    _m("reviews_valid", RF, "有效评价数", "valid reviews", RATED, "reviews without appeal_upheld"),
    _m("reviews_void", RF, "申诉成立评价数", "void reviews", RATED, "reviews with appeal_upheld"),
    _m("good", RF, "好评数", "good reviews", RATED, "valid reviews with level ≥ 4"),
    _m("neutral", RF, "中评数", "neutral reviews", RATED, "valid reviews with level = 3"),
    _m("bad", RF, "差评数", "bad reviews", RATED, "valid reviews with level ≤ 2"),
    _m("score_sum", RF, "满意度得分合计", "Σ satisfaction score", RATED,
       "Σ score of valid reviews on the review_score_scale (default 10/8/6/3/0)"),
    _m("active", RF, "主动评价数", "active reviews", RATED, "valid reviews with active"),
    _m("bad_real_name", RF, "实名差评数", "real-name bad reviews", RATED,
       "valid bad reviews with real_name"),
    _m("bad_callback_due", RF, "回访期限已到实名差评数",
       "real-name bad reviews past their call-back deadline", RATED,
       "valid real-name bad reviews whose callback_days deadline is on or before the as-of "
       "date"),
    _m("bad_callback_timely", RF, "差评按时回访数", "bad reviews called back in time", RATED,
       "of those, called back within callback_days working days"),
    _m("bad_rect_due", RF, "整改期限已到差评数", "bad reviews past their rectification deadline",
       RATED, "valid bad reviews whose rectify_days deadline is on or before the as-of date"),
    _m("bad_rect_timely", RF, "差评按期整改数", "bad reviews rectified in time", RATED,
       "of those, rectified within rectify_days working days"),
    _m("bad_open", RF, "差评未整改数", "bad reviews not yet rectified", RATED,
       "valid bad reviews with no rectified_at as of the run"),
    _m("review_report_known", RF, "汇聚时间已知评价数", "reviews with reported_at", RATED,
       "valid reviews with reported_at not null"),
    _m("review_report_timely", RF, "及时汇聚评价数", "reviews reported in time", RATED,
       "valid reviews reported within report_lag_days working days of rating"),
    _m("yellow_cards", KF, "黄牌数", "yellow cards", ISSUE, "yellow cards issued in the month"),
    _m("red_cards", KF, "红牌数", "red cards", ISSUE, "red cards issued in the month"),
    _m("revoked_cards", KF, "撤销牌数", "revoked cards", ISSUE,
       "cards issued in the month and revoked (申诉成立)"),
    _m("yellow_cards_net", KF, "净黄牌数", "yellow cards (net)", ISSUE,
       "yellow cards issued in the month and not revoked"),
    _m("red_cards_net", KF, "净红牌数", "red cards (net)", ISSUE,
       "red cards issued in the month and not revoked"),
    _m("items", GF, "事项数", "items", SNAP, "items in the catalogue"),
    _m("online_capable_items", GF, "网上可办事项数", "online-capable items", SNAP,
       "items with online_depth ≥ 2"),
    _m("full_online_items", GF, "全程网办事项数", "fully online items", SNAP,
       "items with online_depth = 4"),
    _m("zero_visit_items", GF, "零跑动事项数", "zero-visit items", SNAP,
       "items with max_visits = 0 or online_depth = 4"),
    _m("materials_sum", GF, "申请材料合计", "Σ materials", SNAP, "Σ materials over items"),
    _m("materials_known", GF, "材料数已知事项数", "items with materials known", SNAP,
       "items with materials not null"),
    _m("steps_sum", GF, "办理环节合计", "Σ steps", SNAP, "Σ steps over items"),
    _m("steps_known", GF, "环节数已知事项数", "items with steps known", SNAP,
       "items with steps not null"),
    _m("cat_statutory", GF, "目录法定时限合计", "Σ catalogue statutory days", SNAP,
       "Σ statutory_days over items with statutory > 0 and promised set"),
    _m("cat_gap", GF, "目录法定−承诺合计", "Σ catalogue (statutory − promised)", SNAP,
       "Σ (statutory_days − promised_days) over the same items"),
)

MEASURE_BY_ID: dict[str, Measure] = {m.id: m for m in MEASURES}

LAW = "《行政许可法》§42–§45, §82"
ASSESS = "全国一体化政务服务能力评估 (在线服务成效度)"
HCP = "国办发〔2019〕51号; GB/T 39734-2020, GB/T 39735-2020"
ZJ = "《浙江省保障“最多跑一次”改革规定》§2; 江苏《“不见面审批”标准化指引》(2018)"
SUPERVISE = "行政效能电子监察 municipal rules (预警/黄牌/红牌)"
DB = "World Bank Doing Business distance-to-frontier; 《中国营商环境报告》"

METRICS: tuple[Metric, ...] = (
    # §4 volumes and timeliness
    Metric("accepted", "受理量", "Cases accepted", "volume", "count", ("accepted",),
           unit="件", unit_en="cases", direction="neutral", fmt="int",
           definition_zh="当月受理的办件数（按受理时间归月，不论后续状态）",
           definition_en="Cases with accepted_at in the month, whatever happened later.",
           source=LAW),
    Metric("completed", "办结量", "Cases completed", "volume", "count", ("completed",),
           unit="件", unit_en="cases", direction="neutral", fmt="int",
           definition_zh="当月办结的办件数（按办结时间归月）",
           definition_en="Cases with completed_at in the month.", source=LAW),
    Metric("in_progress", "在办件", "In progress", "volume", "count", ("in_progress_eom",),
           unit="件", unit_en="cases", direction="neutral", fmt="int",
           definition_zh="月末（或截至当前）已受理未办结的办件数；不予受理、撤回不计",
           definition_en="Accepted and not completed at month end (or now); not_accepted and "
                         "withdrawn cases are outside the clock.", source=LAW),
    Metric("promise_compression_rate", "承诺时限压缩率", "Promised-limit compression rate",
           "timeliness", "ratio", ("cmp_gap",), ("cmp_statutory",), unit="%", fmt="pct",
           definition_zh="(Σ法定时限 − Σ承诺时限) / Σ法定时限，按当月受理且法定时限>0、承诺时限已设的办件加权",
           definition_en="(Σ statutory − Σ promised) / Σ statutory over cases accepted in the "
                         "month with statutory > 0 and promised set (case-weighted).",
           source=ASSESS),
    Metric("catalogue_compression_rate", "承诺时限压缩率（目录）",
           "Promised-limit compression rate (catalogue)", "timeliness", "ratio", ("cat_gap",),
           ("cat_statutory",), unit="%", fmt="pct",
           definition_zh="事项目录中法定时限>0且承诺时限已设的事项：(Σ法定 − Σ承诺) / Σ法定",
           definition_en="The same sums over catalogue items with statutory > 0 and promised set.",
           source=ASSESS),
    Metric("statutory_speedup_rate", "法定时限提速率", "Speed-up on statutory limit",
           "timeliness", "ratio", ("spd_statutory_gap",), ("spd_statutory",), unit="%", fmt="pct",
           definition_zh="(Σ法定时限 − Σ实际用时) / Σ法定时限，当月办结且法定时限>0的办件",
           definition_en="(Σ statutory − Σ used_wd) / Σ statutory, completed cases with "
                         "statutory > 0.", source=LAW),
    Metric("promise_speedup_rate", "承诺时限提速率", "Speed-up on promised limit", "timeliness",
           "ratio", ("spd_promised_gap",), ("spd_promised",), unit="%", fmt="pct",
           definition_zh="(Σ承诺时限 − Σ实际用时) / Σ承诺时限，当月办结且承诺时限>0的办件",
           definition_en="(Σ promised − Σ used_wd) / Σ promised, completed cases with "
                         "promised > 0.", source=LAW),
    Metric("on_time_rate", "按时办结率", "On-time completion rate", "timeliness", "share",
           ("completed_on_time",), ("completed_with_deadline",), unit="%", fmt="pct",
           definition_zh="按时办结件数 / 有时限的办结件数（用时≤承诺时限，无承诺时用法定时限；挂起不计时）",
           definition_en="Completed on time / completed with a deadline (used_wd ≤ promised, "
                         "else statutory days; suspensions do not count).",
           source=LAW, target=Target(">=", 1.0, "限时办结制")),
    Metric("same_day_rate", "当场办结率", "Same-day completion rate", "timeliness", "share",
           ("completed_same_day",), ("completed",), unit="%", fmt="pct",
           definition_zh="用时为0个工作日的办结件数 / 办结件数",
           definition_en="Completed with used_wd = 0 / completed.", source=LAW),
    Metric("avg_used_days", "平均办结用时", "Average time used", "timeliness", "ratio",
           ("used_wd_sum",), ("completed",), unit="工作日", unit_en="working days",
           direction="lower", fmt="days",
           definition_zh="Σ实际用时（按事项时限单位计的工作日或自然日，扣除挂起）/ 办结件数",
           definition_en="Σ used days (working days, or calendar days for natural-day items; "
                         "suspensions excluded) / completed.", source=LAW,
           unit_follows_cases=True),
    Metric("median_used_days", "办结用时中位数", "Median time used", "timeliness",
           "quantile", ("used_days_hist:0.5",), unit="工作日", unit_en="working days",
           direction="lower", fmt="days", unit_follows_cases=True,
           definition_zh="办结用时的中位数：居中的值，件数为偶数时取中间两个值的平均（同 Excel MEDIAN），"
                         "由用时直方图计算，任意汇总层级精确",
           definition_en="Median of the used days: the middle value, for an even count the mean "
                         "of the two middle values (as Excel's MEDIAN); computed from the "
                         "histogram, exact at any roll-up.",
           source=LAW),
    Metric("p90_used_days", "办结用时P90", "P90 time used", "timeliness", "quantile",
           ("used_days_hist:0.9",), unit="工作日", unit_en="working days", direction="lower",
           fmt="days", unit_follows_cases=True, definition_zh="办结用时的第90百分位数（最近秩法：至少90%的办件不超过该值的最小用时）",
           definition_en="90th percentile of the used days, nearest rank: the smallest value "
                         "with at least 90 % of the cases at or below it.", source=LAW),
    Metric("overdue", "超期件", "Overdue cases", "timeliness", "count",
           ("completed_overdue", "overdue_open_eom"), unit="件", unit_en="cases",
           direction="lower", fmt="int",
           definition_zh="当月超期办结件数 + 月末超期未办结件数",
           definition_en="Completed overdue in the month + in progress and overdue at month end.",
           source=SUPERVISE),
    # §5 online handling
    Metric("online_rate", "网上办理率", "Online handling rate", "online", "share",
           ("online_accepted",), ("accepted",), unit="%", fmt="pct",
           definition_zh="申报渠道属于网上渠道集合（默认政务服务网、移动端）的受理件数 / 受理件数",
           definition_en="Accepted via the online channel set (default online, mobile) / "
                         "accepted.", source=ASSESS, settings=("online_channels",)),
    Metric("full_online_rate", "全程网办率", "Fully-online rate", "online", "share",
           ("full_online_accepted",), ("accepted",), unit="%", fmt="pct",
           definition_zh="全程网办件数 / 受理件数", definition_en="full_online / accepted.",
           source=ZJ),
    Metric("mobile_rate", "掌上办理率", "Mobile handling rate", "online", "share",
           ("mobile_accepted",), ("accepted",), unit="%", fmt="pct",
           definition_zh="移动端受理件数 / 受理件数", definition_en="Mobile / accepted.",
           source=ZJ),
    Metric("unknown_channel_share", "渠道未知占比", "Channel-unknown share", "online", "share",
           ("unknown_channel_accepted",), ("accepted",), unit="%", direction="lower", fmt="pct",
           definition_zh="申报渠道未记录（未知）的受理件数 / 受理件数。网上办理率、掌上办理率仍以"
                         "全部受理件为分母，渠道未知的办件计入分母而不计入分子；占比达到1%时各页面"
                         "和通报注明，全部未知时显示“渠道未记录”而不显示比率",
           definition_en="Accepted with an unrecorded channel / accepted. Online and mobile rates "
                         "keep all accepted cases as denominator (unknown counts as not online); "
                         "pages and the bulletin state the share from 1 %, and show 'channel "
                         "not recorded' instead of the rates when every case is unknown.",
           source="本系统数据质量口径（docs/importing.md）"),
    Metric("no_visit_rate", "不见面办理率", "Zero-visit rate", "online", "share", ("no_visit",),
           ("visits_known",), unit="%", fmt="pct",
           definition_zh="到现场次数为0的件数 / 到现场次数已知的受理件数",
           definition_en="visits = 0 / accepted with visits known.", source=ZJ),
    Metric("max_one_visit_rate", "最多跑一次率", "At-most-one-visit rate", "online", "share",
           ("max_one_visit",), ("visits_known",), unit="%", fmt="pct",
           definition_zh="到现场次数≤1的件数 / 到现场次数已知的受理件数",
           definition_en="visits ≤ 1 / accepted with visits known.", source=ZJ,
           target=Target(">=", 1.0, "最多跑一次改革")),
    Metric("instant_rate", "即办件率", "Instant-case rate", "online", "share",
           ("instant_accepted",), ("accepted",), unit="%", fmt="pct",
           definition_zh="承诺时限为0的受理件数 / 受理件数",
           definition_en="promised_days = 0 / accepted.", source=LAW),
    Metric("e_result_rate", "结果电子化率", "Electronic-result rate", "online", "share",
           ("e_result_yes",), ("e_result_known",), unit="%", fmt="pct",
           definition_zh="结果电子化的办结件数 / 结果电子化已知的办结件数",
           definition_en="Completed with e_result / completed with e_result known.",
           source="city work plan 2021", target=Target(">=", 0.5, "city work plan 2021")),
    Metric("cross_region", "跨域通办量", "Cross-region cases", "online", "count",
           ("cross_region_accepted",), unit="件", unit_en="cases", direction="neutral",
           fmt="int", definition_zh="当月受理的跨域通办件数",
           definition_en="cross_region cases accepted.", source=ZJ),
    Metric("bundles", "一件事办件量", "One-thing bundles", "online", "count",
           ("bundles_started",), unit="件", unit_en="bundles", direction="neutral", fmt="int",
           definition_zh="当月受理的不同一件事编号数（一件事计入其首件受理的单位和月份，可加总）",
           definition_en="Distinct bundle_id among accepted cases, each bundle counted once at "
                         "its first accepted case so that the count stays additive.", source=ZJ),
    Metric("online_capable_item_rate", "网上可办率", "Online-capable item rate", "catalogue",
           "share", ("online_capable_items",), ("items",), unit="%", fmt="pct",
           definition_zh="网办深度≥Ⅱ级的事项数 / 事项数",
           definition_en="Items with online_depth ≥ 2 / items.", source=ASSESS,
           target=Target(">=", 1.0, "一网通办")),
    Metric("full_online_item_rate", "全程网办事项率", "Fully-online item rate", "catalogue",
           "share", ("full_online_items",), ("items",), unit="%", fmt="pct",
           definition_zh="网办深度Ⅳ级的事项数 / 事项数",
           definition_en="Items with online_depth = 4 / items.", source=ASSESS),
    Metric("zero_visit_item_rate", "零跑动事项率", "Zero-visit item rate", "catalogue", "share",
           ("zero_visit_items",), ("items",), unit="%", fmt="pct",
           definition_zh="到现场次数为0或网办深度Ⅳ级的事项数 / 事项数",
           definition_en="Items with max_visits = 0 or online_depth = 4 / items.", source=ZJ),
    Metric("avg_materials", "平均申请材料数", "Average materials", "catalogue", "ratio",
           ("materials_sum",), ("materials_known",), unit="份", unit_en="documents",
           direction="lower", fmt="num", definition_zh="Σ申请材料数 / 事项数（减材料）",
           definition_en="Σ materials / items (with materials known).", source=ZJ),
    Metric("avg_steps", "平均办理环节数", "Average steps", "catalogue", "ratio", ("steps_sum",),
           ("steps_known",), unit="个", unit_en="steps", direction="lower", fmt="num",
           definition_zh="Σ办理环节数 / 事项数（减环节）",
           definition_en="Σ steps / items (with steps known).", source=ZJ),
    # §6 cards
    Metric("warnings", "预警件数", "Warnings", "cards", "count", ("warnings_eom",), unit="件",
           unit_en="cases", direction="lower", fmt="int",
           definition_zh="在办未超期、剩余工作日≤warn_days 或已用时≥warn_share×承诺时限的办件",
           definition_en="In progress, not overdue, remaining working days ≤ warn_days or "
                         "used_wd ≥ warn_share × promised_days.", source=SUPERVISE,
           settings=("warn_days", "warn_share")),
    Metric("yellow_cards", "黄牌", "Yellow cards", "cards", "count", ("yellow_cards",),
           unit="张", unit_en="cards", direction="lower", fmt="int",
           definition_zh="用时超过承诺时限（无承诺用法定）的办件，按发牌日期归月；差评逾期未整改亦发黄牌"
                         "（毛数，含申诉成立撤销的牌）",
           definition_en="Cases whose used_wd exceeded the deadline days, by month of issue; "
                         "bad reviews not rectified within rectify_days also earn one.",
           source=SUPERVISE, settings=("rectify_days",)),
    Metric("red_cards", "红牌", "Red cards", "cards", "count", ("red_cards",), unit="张",
           unit_en="cards", direction="lower", fmt="int",
           definition_zh="用时超过 min(法定时限, 时限+red_grace_days) 的办件，按发牌日期归月"
                         "（毛数，含申诉成立撤销的牌）",
           definition_en="Cases whose used_wd exceeded min(statutory, deadline + "
                         "red_grace_days), by month of issue.", source=SUPERVISE,
           settings=("red_grace_days",)),
    Metric("revoked_cards", "撤销牌", "Revoked cards", "cards", "count", ("revoked_cards",),
           unit="张", unit_en="cards", direction="neutral", fmt="int",
           definition_zh="因申诉成立撤销的牌（毛数与净数分别报告）",
           definition_en="Cards revoked because the appeal was upheld (gross and net both "
                         "reported).", source=SUPERVISE),
    Metric("net_yellow_cards", "黄牌（净）", "Yellow cards (net)", "cards", "count",
           ("yellow_cards_net",), unit="张", unit_en="cards", direction="lower", fmt="int",
           definition_zh="按发牌日期归月的黄牌数，扣除申诉成立撤销的牌",
           definition_en="Yellow cards by month of issue, less those revoked on appeal.",
           source=SUPERVISE, settings=("rectify_days",)),
    Metric("net_red_cards", "红牌（净）", "Red cards (net)", "cards", "count",
           ("red_cards_net",), unit="张", unit_en="cards", direction="lower", fmt="int",
           definition_zh="按发牌日期归月的红牌数，扣除申诉成立撤销的牌",
           definition_en="Red cards by month of issue, less those revoked on appeal.",
           source=SUPERVISE, settings=("red_grace_days",)),
    # §7 reviews
    Metric("reviews", "评价量", "Reviews", "reviews", "count", ("reviews_valid",), unit="条",
           unit_en="reviews", direction="neutral", fmt="int",
           definition_zh="有效评价数（申诉成立的评价作废，不计入任何指标）",
           definition_en="Valid reviews (appeal-upheld reviews are void everywhere).", source=HCP),
    Metric("good_review_rate", "好评率", "Good-review rate", "reviews", "share", ("good",),
           ("reviews_valid",), unit="%", fmt="pct",
           definition_zh="非常满意、满意的评价数 / 有效评价数",
           definition_en="Level ≥ 4 / valid reviews.", source=HCP),
    Metric("neutral_review_rate", "中评率", "Neutral-review rate", "reviews", "share",
           ("neutral",), ("reviews_valid",), unit="%", direction="neutral", fmt="pct",
           definition_zh="基本满意的评价数 / 有效评价数", definition_en="Level 3 / valid reviews.",
           source=HCP),
    Metric("bad_review_rate", "差评率", "Bad-review rate", "reviews", "share", ("bad",),
           ("reviews_valid",), unit="%", direction="lower", fmt="pct",
           definition_zh="不满意、非常不满意的评价数 / 有效评价数",
           definition_en="Level ≤ 2 / valid reviews.", source=HCP),
    Metric("review_score", "满意度平均分", "Average satisfaction score", "reviews", "ratio",
           ("score_sum",), ("reviews_valid",), unit="分", unit_en="points", fmt="score",
           definition_zh="五级评价按 10/8/6/3/0 分的平均分（分值可配置）",
           definition_en="Mean of 10/8/6/3/0 for levels 5/4/3/2/1 (configurable scale).",
           source=HCP, settings=("review_score_scale",)),
    Metric("active_review_rate", "主动评价率", "Active-review rate", "reviews", "share",
           ("active",), ("reviews_valid",), unit="%", fmt="pct",
           definition_zh="主动评价数 / 有效评价数", definition_en="Active / valid reviews.",
           source=HCP),
    Metric("review_participation_rate", "参评率", "Review participation rate", "reviews",
           "share", ("completed_reviewed",), ("completed",), unit="%", fmt="pct",
           definition_zh="当月办结且有至少一条有效评价的办件数 / 当月办结件数",
           definition_en="Cases completed in the month with ≥ 1 valid review / cases completed.",
           source=HCP),
    Metric("actual_review_rate", "实际评价率", "Actual review rate", "reviews", "share",
           ("completed_actively_reviewed",), ("completed",), unit="%", fmt="pct",
           definition_zh="当月办结且有至少一条群众主动作出的有效评价（不含系统默认评价）的办件数 / "
                         "当月办结件数",
           definition_en="Cases completed in the month with ≥ 1 valid active review (not a "
                         "system default rating) / cases completed.",
           source=HCP + "; 衡阳 二十六 (群众实际评价率)"),
    Metric("review_coverage_rate", "评价覆盖率", "Review coverage rate", "reviews", "coverage",
           ("reviews_valid",), ("accepted", "completed"), unit="%", fmt="pct",
           definition_zh="有至少一条有效评价的单位（或事项）数 / 有办件的单位（或事项）数",
           definition_en="Agencies (or items) with ≥ 1 valid review / agencies (or items) with "
                         "cases.", source=HCP),
    Metric("bad_review_callback_rate", "差评回访率", "Bad-review call-back rate", "reviews",
           "share", ("bad_callback_timely",), ("bad_callback_due",), unit="%", fmt="pct",
           definition_zh="callback_days 个工作日内回访的实名差评数 / 回访期限已到的实名差评数"
                         "（截至计算时点尚未到期的差评不计入）",
           definition_en="Real-name bad reviews called back within callback_days / real-name "
                         "bad reviews whose call-back deadline has passed by the as-of time.",
           source=HCP + "; 浙江 1 working day",
           target=Target(">=", 1.0, "好差评 rules"), settings=("callback_days",)),
    Metric("bad_review_rectified_rate", "差评按期整改率", "Bad reviews rectified in time",
           "reviews", "share", ("bad_rect_timely",), ("bad_rect_due",), unit="%", fmt="pct",
           definition_zh="rectify_days 个工作日内整改的差评数 / 整改期限已到的差评数（差评有效处置率）",
           definition_en="Bad reviews rectified within rectify_days / bad reviews whose "
                         "rectification deadline has passed.",
           source=HCP + "; 浙江 15 days, 四川/澄江 15, 德州 5, 太原 10",
           target=Target(">=", 1.0, "好差评 rules"), settings=("rectify_days",)),
    Metric("report_timely_rate", "数据汇集及时率", "Data reporting timeliness", "reviews",
           "share", ("case_report_timely", "review_report_timely"),
           ("case_report_known", "review_report_known"), unit="%", fmt="pct",
           definition_zh="汇聚时间在事件（办结或评价）后 report_lag_days 个工作日内的办件和评价数 / 汇聚时间已知的数量",
           definition_en="Cases and reviews whose reported_at is within report_lag_days working "
                         "days of the event / those with reported_at known.", source=HCP,
           settings=("report_lag_days",)),
    # §8 business environment (stored per region and month in be_scores)
    Metric("startup_days", "开办企业用时", "Business start-up time", "business_env", "index",
           ("be:startup_days",), unit="工作日", unit_en="working days", direction="lower",
           fmt="days",
           definition_zh="企业开办一件事从首件受理到末件办结的工作日数，取中位数（偶数个时取中间两个值的平均）",
           definition_en="Working days from the first acceptance to the last completion of "
                         "each business_startup bundle, median over bundles.", source=DB,
           target=Target("<=", 5, "county reform plan 2018")),
    Metric("construction_days", "工程建设项目审批用时", "Construction permit time",
           "business_env", "index", ("be:construction_days",), unit="工作日",
           unit_en="working days", direction="lower", fmt="days",
           definition_zh="同一项目代码的工程建设审批链从首件受理到末件办结的工作日数，取中位数（偶数个时取中间两个值的平均）",
           definition_en="Same over construction_permit chains (project_code), median.",
           source=DB + "; 国办发〔2019〕11号",
           target=Target("<=", 120, "国办发〔2019〕11号")),
    Metric("property_days", "不动产登记用时", "Property registration time", "business_env",
           "index", ("be:property_days",), unit="工作日", unit_en="working days",
           direction="lower", fmt="days",
           definition_zh="不动产登记办件的平均用时（工作日）",
           definition_en="Mean used_wd of property_registration cases.", source=DB,
           target=Target("<=", 2, "county reform plan 2018")),
    Metric("be_index", "营商环境指数", "Business-environment index", "business_env", "index",
           ("be:be_index",), unit="分", unit_en="points", fmt="score",
           definition_zh="各子指标按前沿距离法（固定前沿值与最差值）计 0–100 分后加权平均",
           definition_en="Weighted mean of distance-to-frontier scores (fixed frontier and "
                         "worst bounds) of the sub-indicators.", source=DB,
           settings=("be_bounds", "be_weights")),
)

METRIC_BY_ID: dict[str, Metric] = {m.id: m for m in METRICS}


def metric(metric_id: str) -> Metric:
    try:
        return METRIC_BY_ID[metric_id]
    except KeyError:
        raise KeyError(f"unknown metric id {metric_id!r}") from None


def measure_table(measure_ids: tuple[str, ...]) -> dict[str, list[str]]:
    """Group measure ids by the fact table that holds them."""
    out: dict[str, list[str]] = {}
    for mid in measure_ids:
        out.setdefault(MEASURE_BY_ID[mid].table, []).append(mid)
    return out


def validate_registry() -> list[str]:
    """Problems with the registry (empty when it is consistent). Run by tests and at start-up."""
    problems: list[str] = []
    ids = [m.id for m in METRICS]
    if len(ids) != len(set(ids)):
        problems.append("duplicate metric ids")
    for m in MEASURES:
        if m.id not in FACT_TABLES.get(m.table, ()):
            problems.append(f"measure {m.id} has no column in {m.table}")
    for met in METRICS:
        for mid in (*met.numerator, *met.denominator):
            if mid.startswith(("used_days_hist:", "be:")):
                continue
            if mid not in MEASURE_BY_ID:
                problems.append(f"metric {met.id} names unknown measure {mid}")
        if met.kind in ("share", "ratio") and not met.denominator:
            problems.append(f"metric {met.id} is a {met.kind} without a denominator")
        if met.kind == "count" and met.denominator:
            problems.append(f"metric {met.id} is a count with a denominator")
    return problems
