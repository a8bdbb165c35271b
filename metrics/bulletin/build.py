"""Assemble the bulletin (月度通报, metrics.md §10; quarterly and annual 考核通报) as a 公文.

Every number comes from `metrics.query.metric_values` (or, for named records, from
`queries.bulletin_extracts`, scoped the same way), so the bulletin's numbers are the dashboard's
numbers for the same period and scope. Sentences are generated from those numbers by
`metrics.bulletin.text` and `metrics.bulletin.ranking`, each true for the scope it speaks of.
Nothing here renders a file: the result is a frozen `Bulletin`.

The document (GB/T 9704-2012; docs/bulletin.md):
- 版头 and 文号, title "关于2025年5月全市政务服务效能情况的通报", 主送机关;
- opening: the 依据 and the rule the ranking applies (`ranking.rule_statement`);
- 正文: 一、总体情况 二、考核排名情况 (per peer group) 三、红黄牌和督办情况 四、好差评情况
  五、营商环境指数 (not for a sector) 六、通报表扬和批评 七、工作要求;
- 附件: every detail table (indicators, deductions, lists, statistics, data sources);
- 落款, 成文日期 and 版记 (抄送, 印发机关, 印发日期) — the `Frame`.

Which units are ranked: `metrics.bulletin.groups` (peer groups by scope).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import polars as pl
from sqlalchemy.engine import Engine

from metrics.bulletin import stats_check
from metrics.bulletin import text as tx
from metrics.bulletin.groups import PeerGroup, child_regions, peer_groups
from metrics.bulletin.model import (
    Bulletin,
    Column,
    Frame,
    Scope,
    Section,
    Table,
    UnitNote,
    canonical_json,
)
from metrics.bulletin.office import OfficeTexts, default_texts, doc_number
from metrics.bulletin.ranking import group_chart as _group_chart
from metrics.bulletin.ranking import (
    indicator_table,
    list_tables,
    notes,
    praise_paragraphs,
    rank_frame,
    rank_metric_ids,
    ranking_paragraphs,
    rule_statement,
    score_table,
)
from metrics.bulletin.rules import BulletinRules, Lists, select_lists
from metrics.bulletin.scope import period_bounds, scope_filters
from metrics.bulletin.stats_check import StatsCheck, Verdict
from metrics.query import metric_values
from metrics.registry import METRIC_BY_ID, METRICS, UNKNOWN_SHARE_NOTED
from metrics.settings import SUB_INDICATORS, Settings
from queries import bulletin_extracts as bx
from queries import extracts, facts_store
from queries.calendar import calendar_version
from queries.errors import XiaonengError
from queries.extracts import add_months, month_start

FORMAT_VERSION = 3  # bump when the bulletin's structure changes (3: 公文 form, peer groups)
# Concurrent reads while building: a handful of independent queries, none large.
QUERY_THREADS = 4

OVERALL_IDS = (
    "accepted", "completed", "in_progress", "instant_rate", "online_rate", "full_online_rate",
    "on_time_rate", "overdue", "avg_used_days", "promise_compression_rate",
    "statutory_speedup_rate", "promise_speedup_rate",
)
REVIEW_IDS = ("reviews", "good_review_rate", "bad_review_rate", "review_score",
              "bad_review_rectified_rate", "bad_review_callback_rate", "actual_review_rate")
REVIEW_CHANNEL_ZH = {"window": "窗口评价器", "pad": "平板", "online": "网上", "mobile": "移动端",
                     "self_service": "自助终端", "sms": "短信", "hotline": "热线"}
LEVEL_ZH = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
END_ZH = {"month": "月末", "quarter": "季末", "year": "年末"}
WHOLE_ZH = {"city": "全市", "county": None, "sector": None}


def definitions_version() -> str:
    """A fingerprint of the metric definitions (ids, measures, kinds, texts, settings)."""
    spec = [[m.id, m.kind, list(m.numerator), list(m.denominator), m.direction,
             m.definition_zh, list(m.settings)] for m in METRICS]
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:12]


def _by_metric(df: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["metric_id"]: r for r in df.iter_rows(named=True)}


def _v(rows: dict[str, dict[str, Any]], mid: str, col: str = "value") -> Any:
    return rows.get(mid, {}).get(col)


def _prev(rows: dict[str, dict[str, Any]], mid: str, change: str = "mom") -> Any:
    """The value of the previous period (change "mom") or a year before ("yoy")."""
    v, d = _v(rows, mid), _v(rows, mid, change)
    return None if v is None or d is None else v - d


def scope_phrase(scope: Scope) -> str:
    """全市 / 全县 / 全区 / 全市市场监管条线: how a title names the scope."""
    if scope.kind == "city":
        return "全市"
    if scope.kind == "sector":
        return f"全市{scope.sector}条线"
    last = scope.name[-1:]
    return f"全{last}" if last in ("市", "县", "区") else scope.name


# ---------------------------------------------------------------------------------------------
# 正文 sections (each returns its section and the tables it sends to the 附件)


def _changes(rows: dict[str, dict[str, Any]], mid: str, period: str) -> str:
    """"环比增长4.12%，同比下降1.05%" for a count; one comparison for a year."""
    labels = (("mom", tx.CHANGE_ZH[period]),) if period == "year" else (
        ("mom", "环比"), ("yoy", "同比"))
    return "，".join(tx.rel_change(label, _v(rows, mid), _prev(rows, mid, k))
                    for k, label in labels)


def _overall(rows: dict[str, dict[str, Any]], scope: Scope, last: dt.date, period: str
             ) -> tuple[Section, Table]:
    table_rows, fmts = [], []
    for mid in OVERALL_IDS:
        met = METRIC_BY_ID[mid]
        value, prev, year_ago = _v(rows, mid), _prev(rows, mid), _prev(rows, mid, "yoy")
        if met.fmt == "int":
            change = (_v(rows, mid, "mom_rel"), _v(rows, mid, "yoy_rel"))
            fmt = ("text", "int", "int", "rel", "rel")
        elif met.fmt == "pct":  # changes as the shown values differ (text.shown_diff)
            change = (tx.shown_diff(value, prev, "pct"), tx.shown_diff(value, year_ago, "pct"))
            fmt = ("text", "pct", "pct", "pp", "pp")
        else:
            change = (tx.shown_diff(value, prev, met.fmt), tx.shown_diff(value, year_ago,
                                                                          met.fmt))
            fmt = ("text", met.fmt, met.fmt, f"+{met.fmt}", f"+{met.fmt}")
        table_rows.append((met.zh, value, prev, *change))
        fmts.append(fmt)
    this, before = tx.THIS_ZH[period], tx.PREVIOUS_ZH[period]
    table = Table(
        "overall", "主要指标情况",
        (Column("metric", "指标"), Column("value", this, "num"), Column("prev", before, "num"),
         Column("mom", tx.CHANGE_ZH[period], "num"), Column("yoy", "同比", "num")),
        tuple(table_rows),
        note="办件量的环比、同比为增减幅度；比率类指标的环比、同比为增减百分点，按表中公布的数值"
             "计算；用时为工作日。",
        row_fmts=tuple(fmts),
    )
    r = rows
    acc, comp = _v(r, "accepted"), _v(r, "completed")
    instant = _v(r, "instant_rate", "numerator")
    on_time = _v(r, "on_time_rate")
    chg = tx.CHANGE_ZH[period]
    unknown = _v(r, "unknown_channel_share")
    online = (
        f"网上办理率{tx.pct(_v(r, 'online_rate'))}"
        f"（{tx.pp_change(chg, _v(r, 'online_rate'), _prev(r, 'online_rate'))}），"
        if unknown is None or unknown < 1 else "受理办件均未记录申报渠道，网上办理率无法计算；"
    )
    sentences = [
        f"{tx.period_zh(period, last)}，{scope.name}共受理办件{tx.count(acc)}，"
        f"{_changes(r, 'accepted', period)}；办结{tx.count(comp)}，"
        f"{_changes(r, 'completed', period)}。{END_ZH[period]}在办"
        f"{tx.count(_v(r, 'in_progress'))}。",
        f"受理办件中即办件{tx.count(instant)}，占{tx.pct(_v(r, 'instant_rate'))}；"
        f"承诺件{tx.count(acc - instant if acc is not None and instant is not None else None)}。"
        f"{online}全程网办率{tx.pct(_v(r, 'full_online_rate'))}。"
        + (f"受理办件中申报渠道未记录的占{tx.pct(unknown)}，网上办理率按全部受理办件计算，"
           "渠道未记录的办件未计入网上办理。"
           if unknown is not None and UNKNOWN_SHARE_NOTED <= unknown < 1 else ""),
        f"按时办结率{tx.pct(on_time)}（{tx.pp_change(chg, on_time, _prev(r, 'on_time_rate'))}）"
        f"{_target_gap(on_time)}；超期件{tx.count(_v(r, 'overdue'))}"
        f"（{tx.rel_change(chg, _v(r, 'overdue'), _prev(r, 'overdue'))}）。"
        f"平均办结用时{tx.days(_v(r, 'avg_used_days'))}"
        f"（{tx.days_change(chg, _v(r, 'avg_used_days'), _prev(r, 'avg_used_days'))}）；"
        f"承诺时限压缩率{tx.pct(_v(r, 'promise_compression_rate'))}，"
        f"法定时限提速率{tx.pct(_v(r, 'statutory_speedup_rate'))}，"
        f"承诺时限提速率{tx.pct(_v(r, 'promise_speedup_rate'))}。",
    ]
    return Section("overall", "总体情况", tuple(sentences)), table


def _target_gap(on_time: float | None) -> str:
    target = METRIC_BY_ID["on_time_rate"].target
    if on_time is None or target is None:
        return ""
    gap = tx.shown_diff(target.value, on_time, "pct")
    if gap is None or gap <= 0:
        return f"，达到{tx.pct(target.value, 0)}的目标"
    return f"，距{tx.pct(target.value, 0)}的目标差{tx.fixed(gap * 100, 2)}个百分点"


def _cards(cards: pl.DataFrame, overdue: pl.DataFrame, total: int,
           rows: dict[str, dict[str, Any]], rules: BulletinRules, period: str
           ) -> tuple[Section, list[Table]]:
    this = tx.THIS_ZH[period]
    y, r_, v = (int(_v(rows, m) or 0) for m in ("yellow_cards", "red_cards", "revoked_cards"))
    p1 = f"{this}共发出黄牌{y}张、红牌{r_}张，经申诉撤销{v}张，净{y + r_ - v}张。"
    if not cards.is_empty():
        by_agency = cards.group_by("agency_name").agg(pl.col("red").sum(), pl.col("yellow").sum()) \
            .sort(["red", "yellow", "agency_name"], descending=[True, True, False])
        top = [f"{a}（红牌{rr}张、黄牌{yy}张）" for a, rr, yy in by_agency.head(3).iter_rows()]
        p1 += f"红黄牌较多的单位：{tx.names(top)}。"
    p2 = f"{this}超期件{total}件"
    if total:
        open_n = int(overdue["still_open"].sum()) if total <= rules.list_rows else None
        worst = overdue.row(0, named=True)
        p2 += (f"，超期最长的是{worst['agency_name']}办理的“{worst['item_name']}”，"
               f"超期{worst['days_over']}个工作日")
        if open_n:
            p2 += f"；其中{END_ZH[period]}仍未办结{open_n}件"
    p2 += "，请相关单位抓紧督办（明细见附件）。" if total else "。"
    shown = cards.head(rules.list_rows)
    card_table = Table(
        "cards", "红黄牌明细（按单位和事项）",
        (Column("agency_name", "单位"), Column("item_name", "事项"),
         Column("yellow", "黄牌", "int"), Column("red", "红牌", "int"),
         Column("revoked", "撤销", "int"), Column("open", "仍未办结", "int")),
        tuple(shown.select("agency_name", "item_name", "yellow", "red", "revoked", "open")
              .iter_rows()),
        note=(f"共{cards.height}条，列前{rules.list_rows}条（按红牌、黄牌数排序）。"
              if cards.height > rules.list_rows else ""),
        card={"red": "red", "yellow": "yellow"},
    )
    ov_rows = tuple(
        (c, a, i, tx.date_zh(acc.date()) if acc else None, "未办结" if op else "已办结", d)
        for c, a, i, acc, _, op, d in overdue.iter_rows()
    )
    ov_table = Table(
        "overdue", "超期办件（按超期工作日排序）",
        (Column("case_id", "办件编号"), Column("agency_name", "单位"), Column("item_name", "事项"),
         Column("accepted_on", "受理日期"), Column("state", f"{END_ZH[period]}状态"),
         Column("days_over", "超期工作日", "int")),
        ov_rows,
        note=f"共{total}件，列前{rules.list_rows}件。" if total > rules.list_rows else "",
    )
    return Section("cards", "红黄牌和督办情况", (p1, p2)), [card_table, ov_table]


def _reviews(levels: dict[int, int], tags: list[tuple[str, int]], unrect: pl.DataFrame,
             by_channel: pl.DataFrame, rows: dict[str, dict[str, Any]], as_of: dt.datetime,
             rules: BulletinRules, period: str) -> tuple[Section, list[Table]]:
    n, bad = _v(rows, "reviews"), _v(rows, "bad_review_rate", "numerator")
    chg = tx.CHANGE_ZH[period]
    p1 = (
        f"{tx.THIS_ZH[period]}收到有效评价{tx.count(n, '条')}，好评率"
        f"{tx.pct(_v(rows, 'good_review_rate'))}"
        f"（{tx.pp_change(chg, _v(rows, 'good_review_rate'), _prev(rows, 'good_review_rate'))}），"
        f"差评{tx.count(bad, '条')}，差评率{tx.pct(_v(rows, 'bad_review_rate'))}，"
        f"满意度平均分{tx.score(_v(rows, 'review_score'))}。"
        f"当月办结件实际评价率{tx.pct(_v(rows, 'actual_review_rate'))}。"
        f"差评按期整改率{tx.pct(_v(rows, 'bad_review_rectified_rate'))}，"
        f"差评回访率{tx.pct(_v(rows, 'bad_review_callback_rate'))}。"
    )
    paras = [p1]
    if tags:
        paras.append("差评反映的主要问题：" + tx.names(
            [f"{t}（{c}条）" for t, c in tags[:3]]) + "。")
    open_total = int(unrect["open_bad"].sum()) if not unrect.is_empty() else 0
    paras.append(
        f"截至{tx.date_zh(as_of.date())}，"
        + (f"尚有{open_total}条差评未整改，涉及{unrect.height}个单位，请督促限期整改。"
           if open_total else "差评均已整改。")
    )
    ch_rows: tuple = ()
    if not by_channel.is_empty():
        from metrics.bulletin.ranking import wide

        w = wide(by_channel.rename({"channel": "key"}).with_columns(pl.col("key").alias("name")),
                 "key", "name", ["reviews", "good_review_rate", "review_score"]).sort("key")
        ch_rows = tuple(
            (REVIEW_CHANNEL_ZH.get(r["key"], r["key"]), _int(r.get("reviews")),
             r.get("good_review_rate"), _int(r.get("numerator_bad_review_rate") or 0),
             r.get("review_score"))
            for r in w.iter_rows(named=True)
        )
    total = sum(levels.values())
    lv_rows = tuple((LEVEL_ZH[lv], levels[lv], levels[lv] / total if total else None)
                    for lv in (5, 4, 3, 2, 1))
    tables = [
        Table("reviews_channel", "好差评分渠道情况",
              (Column("channel", "评价渠道"), Column("reviews", METRIC_BY_ID["reviews"].zh, "int"),
               Column("good_review_rate", METRIC_BY_ID["good_review_rate"].zh, "pct"),
               Column("bad", "差评数", "int"),
               Column("review_score", METRIC_BY_ID["review_score"].zh, "score")), ch_rows),
        Table("reviews_levels", "评价等级分布",
              (Column("level", "评价等级"), Column("count", "评价数", "int"),
               Column("share", "占比", "pct")), lv_rows),
        Table("bad_tags", "差评问题标签",
              (Column("tag", "标签"), Column("count", "差评数", "int")),
              tuple(tags[: rules.tag_rows])),
        Table("bad_open", "差评未整改情况（按单位）",
              (Column("agency_name", "单位"), Column("open_bad", "未整改差评", "int"),
               Column("oldest", "最早评价日期")),
              tuple((a, o, tx.date_zh(d.date()) if d else None)
                    for _, a, o, d in unrect.head(rules.list_rows).iter_rows()),
              note=f"共{unrect.height}个单位，列前{rules.list_rows}个。"
              if unrect.height > rules.list_rows else "",
              card={"open_bad": "yellow"}),
    ]
    return Section("reviews", "好差评情况", tuple(paras)), tables


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def _business_env(scope: Scope, tree: pl.DataFrame, df: pl.DataFrame | None
                  ) -> tuple[Section | None, Table | None]:
    if scope.kind == "sector" or df is None:
        return None, None
    names = dict(zip(tree["region_code"], tree["name"], strict=True))
    children = child_regions(tree, scope.region_code)
    units = [c for c in children if c in set(df["region_code"].to_list())] or [scope.region_code]
    rows = []
    for code in sorted(units):
        sub = {r["indicator"]: r for r in df.filter(pl.col("region_code") == code)
               .iter_rows(named=True)}
        idx = sub.get("be_index", {})
        rows.append((names.get(code, code), idx.get("value") if idx.get("value") is not None
                     else idx.get("score"), idx.get("rank"), idx.get("change"),
                     *(sub.get(s, {}).get("score") for s in SUB_INDICATORS)))
    rows.sort(key=lambda r: (r[2] is None, r[2] or 0, r[0]))
    table = Table(
        "business_env", "营商环境指数及子指标得分",
        (Column("region", "区域"), Column("index", METRIC_BY_ID["be_index"].zh, "score"),
         Column("rank", "排名", "int"), Column("change", "较上月", "+score"),
         *(Column(s, METRIC_BY_ID[s].zh, "score") for s in SUB_INDICATORS)),
        tuple(rows), note="子指标按前沿距离法计0—100分，指数为各子指标得分的加权平均。",
    )
    ranked = [r for r in rows if r[1] is not None]
    if not ranked:
        return Section("business_env", "营商环境指数", ("本期无营商环境指数数据。",)), table
    if len(units) == 1:  # a county: its own index and its place among the city's counties
        r = ranked[0]
        text = f"{r[0]}营商环境指数{tx.score(r[1])}"
        text += f"，在全市排第{r[2]}位" if r[2] is not None else ""
        text += f"，较上月{tx.score_change(r[3])}。" if r[3] is not None else "。"
        return Section("business_env", "营商环境指数", (text,)), table
    paras = [f"营商环境指数排名前列的是{tx.names([f'{r[0]}（{tx.score(r[1])}）' for r in ranked[:3]])}。"]
    moved = [r for r in ranked if r[3] is not None and tx.shown(r[3], 2) != 0]
    up = [r for r in moved if r[3] > 0]
    down = [r for r in moved if r[3] < 0]
    parts = []
    if up:
        best = max(up, key=lambda r: (r[3], r[0]))
        parts.append(f"较上月提升最多的是{best[0]}（{tx.score_change(best[3])}）")
    if down:
        worst = min(down, key=lambda r: (r[3], r[0]))
        parts.append(f"下降最多的是{worst[0]}（{tx.score_change(worst[3])}）")
    if parts:
        paras.append("，".join(parts) + "。")
    return Section("business_env", "营商环境指数", tuple(paras)), table


def _requirements(office: OfficeTexts, total_overdue: int, cards: int, open_bad: int,
                  crit: list[UnitNote], reminded: bool) -> Section:
    """工作要求: the office's own text blocks, or items that follow from this period's findings."""
    if office.requirements:
        items = list(office.requirements)
    else:
        items = []
        if total_overdue or cards:
            items.append("对本通报所列超期办件和红黄牌，相关单位要逐件核查原因，尽快办结，"
                         f"并将整改情况报送{office.issuer}。")
        if open_bad:
            items.append("对尚未整改的差评，相关单位要按照“好差评”制度要求限期整改、及时回访。")
        if crit:
            text = "被通报批评的单位要深入分析原因，制定整改措施，切实提升办件效能"
            if any(u.interview for u in crit):
                text += "；被约谈单位主要负责人要按要求接受约谈"
            items.append(text + "。")
        if reminded:
            items.append("综合得分排名后列的单位要对照扣分项目查找不足，持续改进。")
        items.append("各单位要严格执行承诺时限，及时、准确汇集办件和评价数据，确保监测数据真实完整。")
    return Section("requirements", "工作要求",
                   tuple(f"{i}．{t}" for i, t in enumerate(items, start=1)))


# ---------------------------------------------------------------------------------------------
# peer groups, lists and statistics


@dataclasses.dataclass(frozen=True)
class _Ranked:
    group: PeerGroup
    current: pl.DataFrame
    previous: list[pl.DataFrame]  # the periods before, most recent first


def _group_rows(df: pl.DataFrame, group: PeerGroup) -> pl.DataFrame:
    key = "region_code" if group.level == "region" else "agency_code"
    return df.filter(pl.col(key).is_in(list(group.codes)))


def _read_groups(engine: Engine, scope: Scope, groups: list[PeerGroup], first: dt.date,
                 last: dt.date, period: str, n_prev: int, rules: BulletinRules
                 ) -> list[_Ranked]:
    """Each group's ranked frame for the period and the `n_prev` periods before, from one
    `metric_values` call per grain (the previous periods come with the same read)."""
    size = {"month": 1, "quarter": 3, "year": 12}[period]
    f = dataclasses.replace(scope_filters(scope, first, last),
                            month_from=add_months(first, -size * n_prev))
    ids = rank_metric_ids(rules)
    frames = {}
    for grain in sorted({g.level for g in groups}):
        frames[grain] = metric_values(engine, ids, f, grain, period)  # type: ignore[arg-type]
    out = []
    for g in groups:
        df = _group_rows(frames[g.level], g)
        key, name = (("region_code", "region_name") if g.level == "region"
                     else ("agency_code", "agency_name"))
        ends = [add_months(last, -size * k) for k in range(n_prev + 1)]
        ranked = [rank_frame(df.filter(pl.col("period_end") == e), key, name, rules)
                  for e in ends]
        out.append(_Ranked(g, ranked[0], ranked[1:]))
    return out


def _lists(ranked: _Ranked, rules: BulletinRules, stats: StatsCheck | None,
           frame: pl.DataFrame) -> Lists:
    confirmed = set(stats.lagging(ranked.group.level)) if stats is not None else None
    return select_lists(frame, rules, "code", confirmed)


def _criticised(ranked: list[_Ranked], k: int, rules: BulletinRules,
                stats: StatsCheck | None) -> set[tuple[str, str]]:
    """(level, code) criticised in the k-th previous period under the same rules."""
    out: set[tuple[str, str]] = set()
    for r in ranked:
        if k < len(r.previous) and not r.previous[k].is_empty():
            lists = _lists(r, rules, stats, r.previous[k])
            out |= {(r.group.level, x["code"]) for x in lists.criticism}
    return out


def _other_lagging(groups: list[tuple[PeerGroup, pl.DataFrame, Lists]],
                   stats: StatsCheck | None) -> list[tuple[PeerGroup, str, str, Verdict]]:
    """Units of this bulletin's groups the statistics find lagging, outside the bottom block."""
    if stats is None:
        return []
    out = []
    for g, df, lists in groups:
        named = {r["code"] for r in lists.bottom}
        names = dict(zip(df["code"], df["name"], strict=True)) if not df.is_empty() else {}
        for code in stats.lagging(g.level):
            if code in g.codes and code not in named and code in names:
                out.append((g, code, names[code], stats.verdict(g.level, code)))
    return out


def _region_units(tree: pl.DataFrame, scope: Scope) -> dict[str, list[str]]:
    """Region unit → its subtree, for the region groups ranked (none for a sector bulletin)."""
    if scope.kind == "sector":
        return {}
    return {c: _subtree(tree, c) for c in child_regions(tree, scope.region_code)}


# ---------------------------------------------------------------------------------------------


def build_bulletin(
    engine: Engine,
    month: dt.date,
    scope: Scope,
    settings: Settings | None = None,
    rules: BulletinRules | None = None,
    previous_bottom: set[tuple[str, str]] | None = None,
    previous_source: str | None = None,
    *,
    period: str = "month",
    office: OfficeTexts | None = None,
    issued_on: dt.date | None = None,
    seq: int | None = None,
) -> Bulletin:
    """The bulletin for the `period` (month / quarter / year) containing `month`, for `scope`.

    `previous_bottom`: the (level, code) units criticised in the previous period, as published;
    when None they are recomputed from that period's facts under the same rules (for 约谈).
    `office`: the issuing office's texts (defaults for the scope); `issued_on`: the 成文日期
    (today); `seq`: the number in the 文号 (the period's ordinal in its year by default).
    """
    settings = settings or Settings()
    rules = rules or BulletinRules.from_settings(settings)
    first, last = period_bounds(month_start(month), period)
    run = facts_store.last_run(engine)
    if run is None:
        raise XiaonengError("no metric facts yet: run `xiaoneng compute` first")
    as_of: dt.datetime = run["as_of"]
    f = scope_filters(scope, first, last)
    tree = extracts.load_regions(engine)
    agencies = extracts.load_agencies(engine)
    region_codes = _subtree(tree, scope.region_code)
    groups = peer_groups(scope, tree, agencies)
    size = {"month": 1, "quarter": 3, "year": 12}[period]
    n_prev = max(1, rules.scoring.interview_after - 1)
    periods = [(add_months(first, -size * k), add_months(last, -size * k))
               for k in range(n_prev + 1)]
    # the previous period's statistics decide its criticism list: not needed when that list
    # is the published one (and 约谈 looks back one period)
    stats_periods = periods[:1] if previous_bottom is not None and n_prev == 1 else periods
    office = office or default_texts(scope, tree)

    # The reads are independent: run them side by side (each on its own pooled connection).
    with ThreadPoolExecutor(max_workers=QUERY_THREADS, thread_name_prefix="bulletin") as pool:
        def go(fn, *args) -> Future:
            return pool.submit(fn, *args)

        stats_f = (go(stats_check.check, engine, stats_periods, _region_units(tree, scope),
                      settings.stats) if rules.stats_check else None)
        ranked_f = go(_read_groups, engine, scope, groups, first, last, period, n_prev, rules)
        city_f = go(metric_values, engine,
                    list(dict.fromkeys((*OVERALL_IDS, *rank_metric_ids(rules), *REVIEW_IDS,
                                        "unknown_channel_share"))),
                    f, "city", period)
        # the count is the `overdue` metric (a test checks they agree): list rows only
        overdue_f = go(bx.overdue_cases, engine, first, f, region_codes, rules.list_rows, False,
                       last)
        unrect_f = go(bx.unrectified_bad_reviews, engine, last, f, region_codes, as_of)
        channel_f = go(metric_values, engine, ["reviews", "good_review_rate", "bad_review_rate",
                                               "review_score"], f, "channel", period)
        cards_f = go(bx.card_counts, engine, first, f, region_codes, last)
        levels_f = go(bx.review_levels, engine, first, f, region_codes, last, as_of)
        tags_f = go(bx.bad_review_tags, engine, first, f, region_codes, last, as_of)
        be_f = (None if scope.kind == "sector" else
                go(bx.be_table, engine, last, [scope.region_code, *child_regions(tree, scope.region_code)]))
        calendar_f = go(calendar_version, engine)

        city = city_f.result()
        rows = _by_metric(city.filter(pl.col("period_end") == last))
        if _v(rows, "accepted") is None and _v(rows, "completed") is None:
            pool.shutdown(wait=True, cancel_futures=True)
            raise XiaonengError(
                f"no metric facts for {tx.period_zh(period, last)} ({first:%Y-%m}..{last:%Y-%m})"
                f" in scope {scope.name}: run `xiaoneng compute` for those months first"
            )
        ranked = ranked_f.result()
        checks = stats_f.result() if stats_f is not None else []
        checks += [None] * (len(periods) - len(checks))
        stats = checks[0]
        glists = [(r.group, r.current, _lists(r, rules, stats, r.current)) for r in ranked
                  if not r.current.is_empty()]
        if previous_bottom is None:
            previous = _criticised(ranked, 0, rules, checks[1])
            previous_source = previous_source or "按上期数据以同一规则重新计算"
        else:
            previous = set(previous_bottom)
        for k in range(1, n_prev):  # 约谈 after more than two periods: every one of them
            previous &= _criticised(ranked, k, rules, checks[k + 1])
        praise, crit = notes(glists, previous)
        others = _other_lagging(glists, stats)
        overdue, _ = overdue_f.result()
        overdue_total = int(_v(rows, "overdue") or 0)
        unrect = unrect_f.result()
        cards = cards_f.result()

        overall, overall_table = _overall(rows, scope, last, period)
        cards_sec, cards_tables = _cards(cards, overdue, overdue_total, rows, rules, period)
        reviews_sec, review_tables = _reviews(levels_f.result(), tags_f.result(), unrect,
                                              channel_f.result(), rows, as_of, rules, period)
        be_sec, be_table = _business_env(scope, tree, be_f.result() if be_f else None)
        calendar = calendar_f.result()

    names_table, tech_table = list_tables(glists, stats, praise, crit, others)
    sections = [
        overall,
        Section("rankings", "考核排名情况", tuple(ranking_paragraphs(glists, rules))),
        cards_sec, reviews_sec,
        *([be_sec] if be_sec is not None else []),
        Section("praise", "通报表扬和批评",
                tuple(praise_paragraphs(glists, crit, rules, stats, others))),
        _requirements(office, overdue_total, int(_v(rows, "yellow_cards") or 0)
                      + int(_v(rows, "red_cards") or 0), int(unrect["open_bad"].sum())
                      if not unrect.is_empty() else 0, crit,
                      any(lists.reminded for _, _, lists in glists)),
    ]
    city_rate = _v(rows, "on_time_rate")
    attachments = [Section("a_overall", f"{tx.period_zh(period, last)}{scope.name}主要指标情况",
                           tables=(overall_table,))]
    for g, df, _ in glists:
        chart = _group_chart(df, g, city_rate)
        attachments.append(Section(f"a_{g.id}", f"{g.label}效能指标和考核得分",
                                   tables=(indicator_table(df, g, rules),
                                           score_table(df, g, rules)),
                                   charts=(chart,) if chart is not None else ()))
    attachments.append(Section("a_cards", "红黄牌和超期办件明细", tables=tuple(cards_tables)))
    attachments.append(Section("a_reviews", "好差评情况", tables=tuple(review_tables)))
    if be_table is not None:
        attachments.append(Section("a_business_env", "营商环境指数", tables=(be_table,)))
    attachments.append(Section(
        "a_stats", "通报表扬和批评名单及统计检验情况",
        paragraphs=(_stats_method(stats, settings, rules),), tables=(names_table, tech_table)))
    provenance = {
        "format_version": FORMAT_VERSION,
        "period": period,
        "months": f"{first:%Y-%m}..{last:%Y-%m}",
        "as_of": as_of.isoformat(sep=" "),
        "data_cutoff": (run["data_cutoff"].isoformat(sep=" ")
                        if run.get("data_cutoff") else None),
        "job_run_id": run["run_id"],
        "job_months": run["months"],
        "calendar_version": calendar,
        "job_calendar_version": run.get("calendar_version"),
        "calendar_fallback_years": run.get("fallback_years") or "",
        "job_settings_digest": run.get("settings_hash"),
        "settings_digest": settings.digest(),
        "settings": settings.as_dict(),
        "rules": rules.as_dict(),
        "definitions_version": definitions_version(),
        "previous_source": previous_source or "上期已发布通报",
        "stats": ({"source": "case_facts", "settings_digest": stats.settings.digest(),
                   "od_method": stats.method} if stats is not None else None),
        "filters": {"region_code": scope.region_code, "sectors": [scope.sector] if scope.sector
                    else []},
    }
    if office.show_provenance:
        attachments.append(_provenance_attachment(provenance, period, last, rules))
    attachments = _number_tables(attachments)
    year_seq = seq if seq is not None else _default_seq(period, last)
    issued = issued_on or dt.date.today()
    frame = Frame(
        issuer=office.issuer, doc_number=doc_number(office.doc_number, last.year, year_seq,
                                                    last.month),
        recipients=office.recipients, issued_on=issued.isoformat(), cc=office.cc,
        printer=office.printer or office.issuer, printed_on=issued.isoformat(),
        date_style=office.date_style, seq=year_seq, show_provenance=office.show_provenance)
    kind = "政务服务效能" if period == "month" else "政务服务效能考核"
    title = f"关于{tx.period_zh(period, last)}{scope_phrase(scope)}{kind}情况的通报"
    opening = (
        f"根据{office.basis}，现将{tx.period_zh(period, last)}{scope.name}政务服务效能监测和考核"
        f"情况通报如下（数据统计截至{tx.datetime_zh(run.get('data_cutoff') or as_of)}）。",
        rule_statement([g for g, _, _ in glists], rules),
    )
    b = Bulletin(f"{last:%Y-%m}", scope, title, tuple(sections), tuple(praise), tuple(crit),
                 provenance, period=period, frame=frame, opening=opening,
                 attachments=tuple(attachments))
    return b.with_hash()


def _default_seq(period: str, last: dt.date) -> int:
    """The 文号 number when the caller gives none: the period's ordinal in its year."""
    return {"month": last.month, "quarter": (last.month - 1) // 3 + 1, "year": 1}[period]


def _number_tables(attachments: list[Section]) -> list[Section]:
    """表1, 表2 … across the 附件, in order."""
    n, out = 0, []
    for a in attachments:
        tables = []
        for t in a.tables:
            n += 1
            tables.append(dataclasses.replace(t, title=f"表{n} {t.title}"))
        out.append(dataclasses.replace(a, tables=tuple(tables)))
    return out


OD_ZH = {"additive": "加性方差调整", "multiplicative": "乘性离散系数调整", "none": "未作离散度调整"}


def _stats_method(stats: StatsCheck | None, settings: Settings, rules: BulletinRules) -> str:
    if not rules.stats_check:
        return "本期未进行统计检验。"
    if stats is None:
        return "本期无有时限办结件，未进行统计检验。"
    s = stats.settings
    od = ("本期单位间差异未显著大于随机波动，未作离散度调整" if stats.method == "none" else
          f"本期单位间差异显著大于随机波动，已作{OD_ZH.get(stats.method, stats.method)}")
    return (f"统计检验方法：按事项、办理渠道和月份建立超期概率模型（近{s.casemix_months}个月数据），"
            f"推算各单位在全市平均水平下应有的超期件数（预期数），与实际超期件数比较；以漏斗图判断"
            f"差距是否超出随机波动（{100 * s.alert_level:g}%预警线、{100 * s.alarm_level:g}%报警线，"
            f"{od}）；并检验近"
            f"{s.trend_months}个月实际与预期超期件之比是否逐月上升（多重检验按错误发现率"
            f"{tx.pct(s.fdr_q, 0)}校正）。综合得分中的网上办理、好差评和红黄牌不在检验之内。")


def _provenance_attachment(p: dict[str, Any], period: str, last: dt.date,
                           rules: BulletinRules) -> Section:
    years = str(p["calendar_version"]).split(":")[0].replace("-", "—")
    rows = [
        ("统计期间", tx.period_zh(period, last)),
        ("数据截至", tx.datetime_zh(dt.datetime.fromisoformat(p.get("data_cutoff")
                                                              or p["as_of"]))),
        ("指标计算时点", tx.datetime_zh(dt.datetime.fromisoformat(p["as_of"]))),
        ("工作日历", f"国务院办公厅公布的{years}年节假日安排"),
    ]
    if p["calendar_fallback_years"]:
        rows.append(("工作日历说明", f"{p['calendar_fallback_years']}年尚无官方节假日安排，"
                                     "暂按周一至周五计算工作日"))
    rows += [
        ("指标口径", "按效能监测平台“指标口径”页公布的统一口径计算"),
        ("排名门槛", f"有时限办结不少于{rules.min_n}件"),
        ("上期批评名单", p["previous_source"]),
    ]
    table = Table("provenance", "数据来源与口径",
                  (Column("item", "项目"), Column("value", "内容")), tuple(rows))
    return Section("a_provenance", "数据来源与口径说明", tables=(table,))


def _subtree(tree: pl.DataFrame, code: str) -> list[str]:
    children: dict[str, list[str]] = {}
    for c, parent in tree.select("region_code", "parent_code").iter_rows():
        children.setdefault(parent, []).append(c)
    out, stack = [], [code]
    while stack:
        c = stack.pop()
        if c in out:
            continue
        out.append(c)
        stack.extend(children.get(c, []))
    return out


def bottom_units(engine: Engine, scope: Scope, month: dt.date, rules: BulletinRules,
                 settings: Settings | None = None, period: str = "month"
                 ) -> set[tuple[str, str]]:
    """(level, code) of the units criticised for the period of `month` under `rules`."""
    b = build_bulletin(engine, month, scope, settings, rules, previous_bottom=set(),
                       period=period, issued_on=dt.date(2000, 1, 1))
    return {(u.level, u.code) for u in b.criticism}
