"""Assemble the monthly bulletin (月度通报, metrics.md §10) from the query API.

Every number comes from `metrics.query.metric_values` (or, for named records, from
`queries.bulletin_extracts`, scoped the same way), so the bulletin's numbers are the
dashboard's numbers for the same month and scope. Sentences are generated from those numbers
by `metrics.bulletin.text`. Nothing here renders a file: the result is a frozen `Bulletin`.

Which units are ranked (a choice, shown in the bulletin's notes):
- "by county/district": the region grain of the query API — the scope region's children, each
  with its whole subtree, plus "…本级" for agencies attached to the scope region itself.
- "by department": the agencies attached to the scope region (市直部门 for the city, 县直部门
  for a county); for a sector bulletin, every agency of that sector in the city.
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
from metrics.bulletin.model import (
    Bulletin,
    Chart,
    Column,
    Scope,
    Section,
    Table,
    UnitNote,
    canonical_json,
)
from metrics.bulletin.rules import BulletinRules, composite_scores, praise_and_criticism, rank_units
from metrics.bulletin.scope import scope_filters
from metrics.bulletin.stats_check import StatsCheck
from metrics.query import metric_values
from metrics.registry import METRIC_BY_ID, METRICS, UNKNOWN_SHARE_NOTED
from metrics.settings import SUB_INDICATORS, Settings
from queries import bulletin_extracts as bx
from queries import extracts, facts_store
from queries.calendar import calendar_version
from queries.errors import XiaonengError
from queries.extracts import add_months, month_start

FORMAT_VERSION = 2  # bump when the bulletin's structure changes
# Concurrent reads while building: a handful of independent queries, none large.
QUERY_THREADS = 4

OVERALL_IDS = (
    "accepted", "completed", "in_progress", "instant_rate", "online_rate", "full_online_rate",
    "on_time_rate", "overdue", "avg_used_days", "promise_compression_rate",
    "statutory_speedup_rate", "promise_speedup_rate",
)
RANK_IDS = (
    "accepted", "completed", "on_time_rate", "overdue", "yellow_cards", "red_cards",
    "revoked_cards", "online_rate", "good_review_rate", "bad_review_rate",
    "bad_review_rectified_rate",
)
REVIEW_IDS = ("reviews", "good_review_rate", "bad_review_rate", "review_score",
              "bad_review_rectified_rate", "bad_review_callback_rate", "actual_review_rate")
REVIEW_CHANNEL_ZH = {"window": "窗口评价器", "pad": "平板", "online": "网上", "mobile": "移动端",
                     "self_service": "自助终端", "sms": "短信", "hotline": "热线"}
LEVEL_ZH = {5: "非常满意", 4: "满意", 3: "基本满意", 2: "不满意", 1: "非常不满意"}
SUB_ZH = {
    "startup_days": "开办企业", "construction_days": "工程建设", "property_days": "不动产登记",
    "online_rate": "网上办理率", "full_online_rate": "全程网办率", "on_time_rate": "按时办结率",
    "promise_compression_rate": "承诺压缩率", "good_review_rate": "好评率",
    "no_visit_rate": "不见面办理率",
}


def definitions_version() -> str:
    """A fingerprint of the metric definitions (ids, measures, kinds, texts, settings)."""
    spec = [[m.id, m.kind, list(m.numerator), list(m.denominator), m.direction,
             m.definition_zh, list(m.settings)] for m in METRICS]
    return hashlib.sha256(canonical_json(spec).encode()).hexdigest()[:12]


def _by_metric(df: pl.DataFrame) -> dict[str, dict[str, Any]]:
    return {r["metric_id"]: r for r in df.iter_rows(named=True)}


def _v(rows: dict[str, dict[str, Any]], mid: str, col: str = "value") -> Any:
    return rows.get(mid, {}).get(col)


def _wide(df: pl.DataFrame, key: str, name: str) -> pl.DataFrame:
    """metric_values rows (one per unit × metric) → one row per unit with a column per metric."""
    if df.is_empty():
        return pl.DataFrame(schema={key: pl.String(), name: pl.String()})
    vals = df.pivot(on="metric_id", index=[key, name], values="value")
    extra = df.filter(pl.col("metric_id").is_in(["bad_review_rate", "on_time_rate"])).pivot(
        on="metric_id", index=[key], values=["numerator", "denominator"]
    )
    out = vals.join(extra, on=key, how="left") if not extra.is_empty() else vals
    for col in (*RANK_IDS, "numerator_bad_review_rate", "denominator_on_time_rate"):
        if col not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias(col))
    return out


# ---------------------------------------------------------------------------------------------
# Section builders


def _overall(rows: dict[str, dict[str, Any]], scope: Scope, month: dt.date) -> Section:
    table_rows, fmts = [], []
    for mid in OVERALL_IDS:
        met = METRIC_BY_ID[mid]
        value, mom, yoy = _v(rows, mid), _v(rows, mid, "mom"), _v(rows, mid, "yoy")
        prev = value - mom if value is not None and mom is not None else None
        if met.fmt == "int":
            change = (_v(rows, mid, "mom_rel"), _v(rows, mid, "yoy_rel"))
            fmt = ("text", "int", "int", "rel", "rel")
        elif met.fmt == "pct":
            change, fmt = (mom, yoy), ("text", "pct", "pct", "pp", "pp")
        else:
            change, fmt = (mom, yoy), ("text", met.fmt, met.fmt, met.fmt, met.fmt)
        table_rows.append((met.zh, value, prev, *change))
        fmts.append(fmt)
    table = Table(
        "overall", "表1 总体情况",
        (Column("metric", "指标"), Column("value", "本月", "num"), Column("prev", "上月", "num"),
         Column("mom", "环比", "num"), Column("yoy", "同比", "num")),
        tuple(table_rows),
        note="办件量环比、同比为增减幅度；比率类指标的环比、同比为增减百分点；用时为工作日。",
        row_fmts=tuple(fmts),
    )
    r = rows
    acc, comp = _v(r, "accepted"), _v(r, "completed")
    instant = _v(r, "instant_rate", "numerator")
    where = scope.name
    p1 = (
        f"{tx.month_zh(month)}，{where}共受理办件{tx.count(acc)}，"
        f"{tx.rel_change('环比', _v(r, 'accepted', 'mom_rel'))}，"
        f"{tx.rel_change('同比', _v(r, 'accepted', 'yoy_rel'))}；办结{tx.count(comp)}，"
        f"{tx.rel_change('环比', _v(r, 'completed', 'mom_rel'))}，"
        f"{tx.rel_change('同比', _v(r, 'completed', 'yoy_rel'))}。"
        f"月末在办{tx.count(_v(r, 'in_progress'))}。"
    )
    unknown = _v(r, "unknown_channel_share")
    online = (
        f"网上办理率{tx.pct(_v(r, 'online_rate'))}"
        f"（{tx.pp_change('环比', _v(r, 'online_rate', 'mom'))}），"
        if unknown is None or unknown < 1 else "受理办件均未记录申报渠道，网上办理率无法计算；"
    )
    p2 = (
        f"受理办件中即办件{tx.count(instant)}，占{tx.pct(_v(r, 'instant_rate'))}；"
        f"承诺件{tx.count(acc - instant if acc is not None and instant is not None else None)}。"
        f"{online}全程网办率{tx.pct(_v(r, 'full_online_rate'))}。"
        + (f"受理办件中申报渠道未记录的占{tx.pct(unknown)}，网上办理率按全部受理办件计算，"
           "渠道未记录的办件未计入网上办理。"
           if unknown is not None and UNKNOWN_SHARE_NOTED <= unknown < 1 else "")
    )
    on_time = _v(r, "on_time_rate")
    target = METRIC_BY_ID["on_time_rate"].target
    miss = ""
    if on_time is not None and target is not None and on_time < target.value:
        miss = f"，距{tx.pct(target.value, 0)}的目标差{(target.value - on_time) * 100:.1f}个百分点"
    p3 = (
        f"按时办结率{tx.pct(on_time)}（{tx.pp_change('环比', _v(r, 'on_time_rate', 'mom'))}）"
        f"{miss}；超期件{tx.count(_v(r, 'overdue'))}"
        f"（{tx.rel_change('环比', _v(r, 'overdue', 'mom_rel'))}）。"
        f"平均办结用时{tx.days(_v(r, 'avg_used_days'))}"
        f"（{tx.days_change('环比', _v(r, 'avg_used_days', 'mom'))}）；"
        f"承诺时限压缩率{tx.pct(_v(r, 'promise_compression_rate'))}，"
        f"法定时限提速率{tx.pct(_v(r, 'statutory_speedup_rate'))}，"
        f"承诺时限提速率{tx.pct(_v(r, 'promise_speedup_rate'))}。"
    )
    return Section("overall", "总体情况", (p1, p2, p3), (table,))


RANK_COLUMNS = (
    Column("name", "单位"), Column("accepted", "受理量", "int"),
    Column("on_time_rate", "按时办结率", "pct"), Column("overdue", "超期件", "int"),
    Column("yellow_cards", "黄牌", "int"), Column("red_cards", "红牌", "int"),
    Column("revoked_cards", "撤销", "int"), Column("net_cards", "净牌数", "int"),
    Column("online_rate", "网上办理率", "pct"), Column("good_review_rate", "好评率", "pct"),
    Column("bad_reviews", "差评数", "int"),
    Column("bad_review_rectified_rate", "差评按期整改率", "pct"),
    Column("score", "综合得分", "score"), Column("rank", "排名", "int"),
    Column("code", "代码"), Column("rank_note", "说明"),
)


def _ranked_units(engine: Engine, scope: Scope, month: dt.date, grain: str,
                  rules: BulletinRules, with_previous: bool = False
                  ) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """One row per unit of `grain` with the ranking columns, composite score and rank, for
    `month` and (with_previous) for the month before.

    Both months come from one `metric_values` call over the two-month range: each call reads
    the twelve months before its range for the changes, so asking for the previous month
    separately (for the 约谈 flag) read the same fact rows twice.
    """
    f = scope_filters(scope, month)
    if with_previous:
        f = dataclasses.replace(f, month_from=add_months(month, -1))
    df = metric_values(engine, list(RANK_IDS), f, grain)  # type: ignore[arg-type]
    key, name = ("region_code", "region_name") if grain == "region" else ("agency_code",
                                                                           "agency_name")
    if grain == "agency" and scope.kind != "sector":
        df = df.filter(pl.col("region_code") == scope.region_code)
    if grain == "region":  # the scope's own agencies ("…本级") are ranked as departments
        df = df.filter(pl.col("region_code") != scope.region_code)
    current = _rank_frame(df.filter(pl.col("period_end") == month), key, name, rules)
    if not with_previous:
        return current, None
    prev = add_months(month, -1)
    return current, _rank_frame(df.filter(pl.col("period_end") == prev), key, name, rules)


def _rank_frame(df: pl.DataFrame, key: str, name: str, rules: BulletinRules) -> pl.DataFrame:
    """metric_values rows of one month → ranked units (composite score, rank, notes)."""
    wide = _wide(df, key, name)
    if wide.is_empty():
        return wide
    counts = ("accepted", "completed", "overdue", "yellow_cards", "red_cards", "revoked_cards")
    wide = wide.with_columns(pl.col(c).fill_null(0) for c in counts).with_columns(
        (pl.col("yellow_cards") + pl.col("red_cards") - pl.col("revoked_cards")).alias("net_cards"),
        pl.col("numerator_bad_review_rate").fill_null(0).alias("bad_reviews"),
        pl.col("denominator_on_time_rate").alias("min_n_base"),
        pl.col(key).alias("code"), pl.col(name).alias("name"),
    )
    wide = composite_scores(wide, rules)
    return rank_units(wide, rules, "code")


def _rank_table(df: pl.DataFrame, tid: str, title: str) -> Table:
    keys = [c.key for c in RANK_COLUMNS]
    rows = tuple(tuple(r[k] for k in keys) for r in df.iter_rows(named=True)) \
        if not df.is_empty() else ()
    return Table(tid, title, RANK_COLUMNS, rows,
                 note="综合得分 = 按时办结率、网上办理率、好评率、差评按期整改率（百分制）与红黄牌得分"
                      "的加权平均；净牌数 = 黄牌 + 红牌 − 撤销。",
                 card={"red_cards": "red", "yellow_cards": "yellow"})


def _int_counts(df: pl.DataFrame) -> pl.DataFrame:
    ints = ("accepted", "completed", "overdue", "yellow_cards", "red_cards", "revoked_cards",
            "net_cards", "bad_reviews")
    return df.with_columns(pl.col(c).cast(pl.Int64) for c in ints if c in df.columns)


def _rankings(regions: pl.DataFrame, agencies: pl.DataFrame, scope: Scope,
              rules: BulletinRules) -> Section:
    paras = []
    for label, df in (("县（市、区）", regions), ("部门", agencies)):
        ranked = df.filter(pl.col("ranked")) if not df.is_empty() else df
        if ranked.is_empty():
            paras.append(f"按{label}：本月无满足排名条件（有时限办结不少于{rules.min_n}件）的单位。")
            continue
        first, last = ranked.row(0, named=True), ranked.row(-1, named=True)
        paras.append(
            f"按{label}综合得分排名，{first['name']}以{tx.score(first['score'])}居首，"
            f"{last['name']}以{tx.score(last['score'])}居末；参与排名{ranked.height}个单位"
            + (f"，另有{df.height - ranked.height}个单位因办件量不足未参与排名" if
               df.height > ranked.height else "") + "。"
        )
    tables = (_rank_table(_int_counts(regions), "rank_regions", "表2 各县（市、区）效能指标排名"),
              _rank_table(_int_counts(agencies), "rank_agencies", "表3 各部门效能指标排名"))
    charts = ()
    if not regions.is_empty():
        named = regions.sort("code")
        charts = (Chart("on_time_by_region", "各县（市、区）按时办结率",
                        tuple(named["name"].to_list()),
                        tuple(named["on_time_rate"].to_list()), "pct", 1.0),)
    return Section("rankings", "排名情况", tuple(paras), tables, charts)


def _cards(cards: pl.DataFrame, overdue: pl.DataFrame, total: int,
           rows: dict[str, dict[str, Any]], rules: BulletinRules) -> Section:
    y, r_, v = (int(_v(rows, m) or 0) for m in ("yellow_cards", "red_cards", "revoked_cards"))
    p1 = f"本月共发出黄牌{y}张、红牌{r_}张，经申诉撤销{v}张，净{y + r_ - v}张。"
    if not cards.is_empty():
        by_agency = cards.group_by("agency_name").agg(pl.col("red").sum(), pl.col("yellow").sum()) \
            .sort(["red", "yellow", "agency_name"], descending=[True, True, False])
        top = [f"{a}（红牌{rr}张、黄牌{yy}张）" for a, rr, yy in by_agency.head(3).iter_rows()]
        p1 += f"红黄牌较多的单位：{tx.names(top)}。"
    p2 = f"本月超期件{total}件"
    if total:
        open_n = int(overdue["still_open"].sum()) if total <= rules.list_rows else None
        worst = overdue.row(0, named=True)
        p2 += (f"，超期最长的是{worst['agency_name']}办理的“{worst['item_name']}”"
               f"（{worst['case_id']}），超期{worst['days_over']}个工作日")
        if open_n is not None:
            p2 += f"；其中月末仍未办结{open_n}件"
    p2 += "，请相关单位抓紧督办。" if total else "。"
    shown = cards.head(rules.list_rows)
    card_table = Table(
        "cards", "表4 红黄牌明细（按单位和事项）",
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
        (c, a, i, acc.strftime("%Y-%m-%d") if acc else None, "未办结" if op else "已办结", d)
        for c, a, i, acc, _, op, d in overdue.iter_rows()
    )
    ov_table = Table(
        "overdue", "表5 超期办件（按超期工作日排序）",
        (Column("case_id", "办件编号"), Column("agency_name", "单位"), Column("item_name", "事项"),
         Column("accepted_on", "受理日期"), Column("state", "月末状态"),
         Column("days_over", "超期工作日", "int")),
        ov_rows,
        note=f"共{total}件，列前{rules.list_rows}件。" if total > rules.list_rows else "",
    )
    return Section("cards", "红黄牌和督办情况", (p1, p2), (card_table, ov_table))


def _reviews(levels: dict[int, int], tags: list[tuple[str, int]], unrect: pl.DataFrame,
             by_channel: pl.DataFrame, rows: dict[str, dict[str, Any]], as_of: dt.datetime,
             rules: BulletinRules) -> Section:
    n, bad = _v(rows, "reviews"), _v(rows, "bad_review_rate", "numerator")
    p1 = (
        f"本月收到有效评价{tx.count(n, '条')}，好评率{tx.pct(_v(rows, 'good_review_rate'))}"
        f"（{tx.pp_change('环比', _v(rows, 'good_review_rate', 'mom'))}），"
        f"差评{tx.count(bad, '条')}，差评率{tx.pct(_v(rows, 'bad_review_rate'), 2)}，"
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
        f"截至{as_of:%Y年%m月%d日}，尚有{open_total}条差评未整改"
        + (f"，涉及{unrect.height}个单位，请督促限期整改。" if open_total else "。")
    )
    wide = _wide(by_channel.rename({"channel": "key"}).with_columns(
        pl.col("key").alias("name")), "key", "name") if not by_channel.is_empty() else None
    ch_rows: tuple = ()
    if wide is not None:
        wide = wide.sort("key")
        ch_rows = tuple(
            (REVIEW_CHANNEL_ZH.get(r["key"], r["key"]), _int(r.get("reviews")),
             r.get("good_review_rate"), _int(r.get("numerator_bad_review_rate") or 0),
             r.get("review_score"))
            for r in wide.iter_rows(named=True)
        )
    total = sum(levels.values())
    lv_rows = tuple((LEVEL_ZH[lv], levels[lv], levels[lv] / total if total else None)
                    for lv in (5, 4, 3, 2, 1))
    tables = (
        Table("reviews_channel", "表6 好差评分渠道情况",
              (Column("channel", "评价渠道"), Column("reviews", "有效评价", "int"),
               Column("good_review_rate", "好评率", "pct"), Column("bad", "差评数", "int"),
               Column("review_score", "满意度平均分", "num")), ch_rows),
        Table("reviews_levels", "表7 评价等级分布",
              (Column("level", "评价等级"), Column("count", "评价数", "int"),
               Column("share", "占比", "pct")), lv_rows),
        Table("bad_tags", "表8 差评问题标签",
              (Column("tag", "标签"), Column("count", "差评数", "int")),
              tuple(tags[: rules.tag_rows])),
        Table("bad_open", "表9 差评未整改情况（按单位）",
              (Column("agency_name", "单位"), Column("open_bad", "未整改差评", "int"),
               Column("oldest", "最早评价日期")),
              tuple((a, o, d.strftime("%Y-%m-%d") if d else None)
                    for _, a, o, d in unrect.head(rules.list_rows).iter_rows()),
              note=f"共{unrect.height}个单位，列前{rules.list_rows}个。"
              if unrect.height > rules.list_rows else "",
              card={"open_bad": "yellow"}),
    )
    charts = (Chart("review_levels", "评价等级分布", tuple(r[0] for r in lv_rows),
                    tuple(float(r[1]) for r in lv_rows), "int"),)
    return Section("reviews", "好差评情况", tuple(paras), tables, charts)


def _int(v: Any) -> int | None:
    return None if v is None else int(v)


def _be_children(tree: pl.DataFrame, scope: Scope) -> list[str]:
    return tree.filter(pl.col("parent_code") == scope.region_code)["region_code"].to_list()


def _business_env(scope: Scope, tree: pl.DataFrame, df: pl.DataFrame | None) -> Section:
    if scope.kind == "sector" or df is None:
        return Section("business_env", "营商环境指数",
                       ("营商环境指数按区域计算，不适用于单一条线的通报。",))
    names = dict(zip(tree["region_code"], tree["name"], strict=True))
    children = _be_children(tree, scope)
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
        "business_env", "表10 营商环境指数及子指标得分",
        (Column("region", "区域"), Column("index", "指数", "score"), Column("rank", "排名", "int"),
         Column("change", "较上月", "score"),
         *(Column(s, SUB_ZH[s], "score") for s in SUB_INDICATORS)),
        tuple(rows), note="子指标按前沿距离法计 0–100 分，指数为加权平均（metrics.md §8）。",
    )
    paras = []
    ranked = [r for r in rows if r[1] is not None]
    if not ranked:
        paras.append("本月无营商环境指数数据。")
    else:
        top = [f"{r[0]}（{tx.score(r[1])}）" for r in ranked[:3]]
        paras.append(f"营商环境指数排名前列的是{tx.names(top)}。")
        moved = [r for r in ranked if r[3] is not None]
        if moved:
            best = max(moved, key=lambda r: (r[3], r[0]))
            worst = min(moved, key=lambda r: (r[3], r[0]))
            paras.append(f"较上月提升最多的是{best[0]}（{best[3]:+.1f}分），"
                         f"变化最不利的是{worst[0]}（{worst[3]:+.1f}分）。")
    return Section("business_env", "营商环境指数", tuple(paras), (table,))


def _notes(df: pl.DataFrame, level: str, rules: BulletinRules,
           prev_bottom: set[tuple[str, str]]) -> tuple[list[UnitNote], list[UnitNote]]:
    if df.is_empty():
        return [], []
    top, bottom = praise_and_criticism(df, rules, "code")
    praise = [UnitNote(level, r["code"], r["name"], r["rank"], r["score"]) for r in top]  # type: ignore[arg-type]
    crit = [UnitNote(level, r["code"], r["name"], r["rank"], r["score"],  # type: ignore[arg-type]
                     interview=(level, r["code"]) in prev_bottom) for r in bottom]
    return praise, crit


UNIT_LEVEL_ZH = {"region": "县（市、区）", "agency": "部门"}
OD_ZH = {"additive": "加性方差（τ²）", "multiplicative": "乘性离散系数（φ）", "none": "不调整"}


def _praise_section(praise: list[UnitNote], crit: list[UnitNote], rules: BulletinRules,
                    prev_source: str, stats: StatsCheck | None = None,
                    stats_scope: tuple[set[str], set[str]] | None = None) -> Section:
    """通报表扬和批评; with `stats`, a 统计检验 column for the criticised units and a table of
    the units the statistics find lagging outside the bottom N (`stats_scope`: the region and
    agency codes this bulletin may name)."""
    paras = []
    for level, label in UNIT_LEVEL_ZH.items():
        p = [u.name for u in praise if u.level == level]
        c = [u for u in crit if u.level == level]
        if p:
            paras.append(f"对综合得分排名前{rules.top_n}位的{label}{tx.names(p)}予以通报表扬。")
        if c:
            text = f"对综合得分排名后{rules.top_n}位的{label}{tx.names([u.name for u in c])}予以通报批评"
            talk = [u.name for u in c if u.interview]
            text += (f"；其中{tx.names(talk)}连续两个月排名后{rules.top_n}位，约谈其主要负责人。"
                     if talk else "。")
            paras.append(text)
    if not paras:
        paras.append("本月无满足排名条件的单位，不作表扬和批评。")
    columns = [Column("kind", "类别"), Column("level", "层级"), Column("name", "单位"),
               Column("rank", "排名", "int"), Column("score", "综合得分", "score"),
               Column("interview", "约谈")]
    if stats is not None:
        columns.append(Column("stats", "统计检验"))
    rows = []
    for kind, units in (("表扬", praise), ("批评", crit)):
        for u in units:
            row: tuple = (kind, UNIT_LEVEL_ZH[u.level], u.name, u.rank, u.score,
                          "是" if u.interview else "")
            if stats is not None:
                row += (stats.verdict(u.level, u.code).text if kind == "批评" else "",)
            rows.append(row)
    note = (f"表扬：排名前{rules.top_n}位；批评：排名后{rules.top_n}位（并列均列入）；"
            f"连续两个月排名后{rules.top_n}位的约谈。上月名单来源：{prev_source}。")
    tables = []
    if stats is not None:
        s = stats.settings
        alarm = f"{100 * s.alarm_level:g}%"
        note += (f"统计检验：超期办结件数按事项、渠道和月份调整（事项结构调整）后的漏斗图"
                 f"（{alarm}报警线、{100 * s.alert_level:g}%预警线，单位间差异显著超出随机波动时"
                 f"按{OD_ZH.get(s.od_method, s.od_method)}放宽控制限），及近{s.trend_months}个月"
                 f"按时办结率趋势（错误发现率{s.fdr_q:g}）；"
                 "综合得分中的网上办理、好差评和红黄牌不在检验之内。")
        paras += _stats_paragraphs(crit, stats, stats_scope or (set(), set()), rules.top_n)
    tables.append(Table("praise_criticism", "表11 通报表扬和批评名单", tuple(columns),
                        tuple(rows), note=note))
    if stats is not None:
        tables.append(_other_lagging_table(crit, stats, stats_scope or (set(), set())))
    return Section("praise", "通报表扬和批评", tuple(paras), tuple(tables))


def _stats_paragraphs(crit: list[UnitNote], stats: StatsCheck,
                      scope_codes: tuple[set[str], set[str]], top_n: int) -> list[str]:
    paras = []
    confirmed = [u for u in crit if stats.verdict(u.level, u.code).kind == "lagging"]
    others = [u for u in crit if stats.verdict(u.level, u.code).kind != "lagging"]
    if crit:
        text = "统计检验："
        if confirmed:
            text += f"{tx.names([u.name for u in confirmed])}的落后经统计检验确认（" + "；".join(
                f"{u.name}：{stats.verdict(u.level, u.code).reason.rstrip('。')}"
                for u in confirmed) + "）"
        groups: dict[str, list[str]] = {}
        for u in others:
            groups.setdefault(stats.verdict(u.level, u.code).text, []).append(u.name)
        if groups:
            text += ("；" if confirmed else "") + "；".join(
                f"{tx.names(names)}：{verdict}" for verdict, names in groups.items())
        paras.append(text + "。")
    extra = _other_lagging(crit, stats, scope_codes)
    if extra:
        paras.append(f"另有{tx.names([n for _, _, n, _ in extra])}未列入排名后{top_n}位，但统计监测显示"
                     "其落后（原因见表12），请相关单位关注。")
    else:
        paras.append("统计监测未发现批评名单以外的落后单位。")
    return paras


def _other_lagging(crit: list[UnitNote], stats: StatsCheck,
                   scope_codes: tuple[set[str], set[str]]) -> list[tuple[str, str, str, str]]:
    """(level, code, name, reason) of lagging units in scope that are not criticised."""
    named = {(u.level, u.code) for u in crit}
    out = []
    for level, codes in zip(("region", "agency"), scope_codes, strict=True):
        lag = stats.lagging.get(level)
        if lag is None:
            continue
        for r in lag.iter_rows(named=True):
            if r["unit"] in codes and (level, r["unit"]) not in named:
                out.append((level, r["unit"], r["name"], r["reason_zh"]))
    return out


def _other_lagging_table(crit: list[UnitNote], stats: StatsCheck,
                         scope_codes: tuple[set[str], set[str]]) -> Table:
    rows = tuple((UNIT_LEVEL_ZH[level], name, reason, code)
                 for level, code, name, reason in _other_lagging(crit, stats, scope_codes))
    return Table("stats_lagging", "表12 统计监测发现的其他落后单位",
                 (Column("level", "层级"), Column("name", "单位"), Column("reason", "落后原因"),
                  Column("code", "代码")), rows,
                 note="列入条件：超期办结件数经事项结构调整后超出漏斗图报警线，或按时办结率显著"
                      "下降（经多重检验校正）；部门含县（市、区）所属部门。")


def bottom_units(engine: Engine, scope: Scope, month: dt.date,
                 rules: BulletinRules) -> set[tuple[str, str]]:
    """(level, code) of the units criticised for `month` under `rules`, from the facts."""
    return _bottom_of({level: _ranked_units(engine, scope, month, level, rules)[0]
                       for level in ("region", "agency")}, rules)


def _bottom_of(ranked: dict[str, pl.DataFrame], rules: BulletinRules) -> set[tuple[str, str]]:
    out: set[tuple[str, str]] = set()
    for level, df in ranked.items():
        if not df.is_empty():
            _, bottom = praise_and_criticism(df, rules, "code")
            out |= {(level, r["code"]) for r in bottom}
    return out


# ---------------------------------------------------------------------------------------------


def build_bulletin(
    engine: Engine,
    month: dt.date,
    scope: Scope,
    settings: Settings | None = None,
    rules: BulletinRules | None = None,
    previous_bottom: set[tuple[str, str]] | None = None,
    previous_source: str | None = None,
) -> Bulletin:
    """The bulletin for `month` and `scope`, hashed and frozen.

    `previous_bottom`: the (level, code) units criticised last month, as published; when None
    they are recomputed from last month's facts under the same rules (for the 约谈 flag).
    """
    settings = settings or Settings()
    rules = rules or BulletinRules.from_settings(settings)
    month = month_start(month)
    run = facts_store.last_run(engine)
    if run is None:
        raise XiaonengError("no metric facts yet: run `xiaoneng compute` first")
    as_of: dt.datetime = run["as_of"]
    f = scope_filters(scope, month)
    tree = extracts.load_regions(engine)
    region_codes = _subtree(tree, scope.region_code)
    recompute_prev = previous_bottom is None

    # The reads are independent: run them side by side (each on its own pooled connection).
    # The database does the work, so they overlap on PostgreSQL and, with SQLite releasing the
    # GIL while it steps, on a file too; longest first.
    with ThreadPoolExecutor(max_workers=QUERY_THREADS, thread_name_prefix="bulletin") as pool:
        def go(fn, *args) -> Future:
            return pool.submit(fn, *args)

        stats_f = (go(stats_check.check, engine, month, _region_units(tree, scope),
                      settings.stats)
                   if rules.stats_check else None)
        ranked_f = {level: go(_ranked_units, engine, scope, month, level, rules, recompute_prev)
                    for level in ("agency", "region")}
        city_f = go(metric_values, engine,
                    list(dict.fromkeys((*OVERALL_IDS, *RANK_IDS, *REVIEW_IDS,
                                        "unknown_channel_share"))), f, "city")
        # the count is the `overdue` metric (a test checks they agree): list rows only
        overdue_f = go(bx.overdue_cases, engine, month, f, region_codes, rules.list_rows, False)
        unrect_f = go(bx.unrectified_bad_reviews, engine, month, f, region_codes, as_of)
        channel_f = go(metric_values, engine, ["reviews", "good_review_rate", "bad_review_rate",
                                               "review_score"], f, "channel")
        cards_f = go(bx.card_counts, engine, month, f, region_codes)
        levels_f = go(bx.review_levels, engine, month, f, region_codes)
        tags_f = go(bx.bad_review_tags, engine, month, f, region_codes)
        be_f = (None if scope.kind == "sector" else
                go(bx.be_table, engine, month, [scope.region_code, *_be_children(tree, scope)]))
        calendar_f = go(calendar_version, engine)

        rows = _by_metric(city_f.result())
        if _v(rows, "accepted") is None and _v(rows, "completed") is None:
            pool.shutdown(wait=True, cancel_futures=True)
            raise XiaonengError(
                f"no metric facts for {month:%Y-%m} in scope {scope.name}: run `xiaoneng "
                "compute` for that month first"
            )
        (regions, prev_regions), (agencies, prev_agencies) = (ranked_f["region"].result(),
                                                              ranked_f["agency"].result())
        if recompute_prev:
            previous_bottom = _bottom_of({"region": prev_regions, "agency": prev_agencies},
                                         rules)  # type: ignore[dict-item]
            previous_source = previous_source or "按上月数据以同一规则重新计算"
        praise: list[UnitNote] = []
        crit: list[UnitNote] = []
        for level, df in (("region", regions), ("agency", agencies)):
            p, c = _notes(df, level, rules, previous_bottom or set())
            praise += p
            crit += c
        overdue, _ = overdue_f.result()
        overdue_total = int(_v(rows, "overdue") or 0)
        sections = [
            _overall(rows, scope, month),
            _rankings(regions, agencies, scope, rules),
            _cards(cards_f.result(), overdue, overdue_total, rows, rules),
            _reviews(levels_f.result(), tags_f.result(), unrect_f.result(), channel_f.result(),
                     rows, as_of, rules),
            _business_env(scope, tree, be_f.result() if be_f is not None else None),
        ]
        stats = stats_f.result() if stats_f is not None else None
        sections.append(_praise_section(praise, crit, rules, previous_source or "上月已发布通报",
                                        stats, _scope_codes(engine, scope, region_codes)))
        calendar = calendar_f.result()
    provenance = {
        "format_version": FORMAT_VERSION,
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
        "stats": ({"source": "case_facts", "settings_digest": stats.settings.digest(),
                   "od_method": stats.method} if stats is not None else None),
        "filters": {"region_code": scope.region_code, "sectors": [scope.sector] if scope.sector
                    else []},
    }
    sections.append(_provenance_section(provenance))
    title = f"{scope.name}政务服务效能月度通报"
    b = Bulletin(f"{month:%Y-%m}", scope, title, tuple(sections), tuple(praise), tuple(crit),
                 provenance)
    return b.with_hash()


def _provenance_section(p: dict[str, Any]) -> Section:
    fallback = p["calendar_fallback_years"] or "无"
    rules = p["rules"]
    rows = (
        ("数据截止时间", p.get("data_cutoff") or "未记录"),
        ("指标计算时点", p["as_of"]),
        ("计算月份", p["job_months"]),
        ("工作日历版本", p["calendar_version"]),
        ("按周一至周五兜底的年份", fallback),
        ("设置摘要（计算/通报）", f"{p['job_settings_digest']} / {p['settings_digest']}"),
        ("排名规则", f"前后{rules['top_n']}位；有时限办结不少于{rules['min_n']}件方参与排名"),
        ("综合得分权重", "，".join(f"{k} {v:g}" for k, v in rules["weights"].items())),
        ("口径版本", p["definitions_version"]),
        *((("统计检验", f"按指标事实计算，统计设置摘要{p['stats']['settings_digest']}"),)
          if p.get("stats") is not None else ()),
    )
    n = 13 if p.get("stats") is not None else 12
    table = Table("provenance", f"表{n} 数据来源与口径",
                  (Column("item", "项目"), Column("value", "内容")), rows)
    cutoff = p.get("data_cutoff") or p["as_of"]
    para = (f"本通报数据截至{cutoff[:16]}（指标计算时点{p['as_of'][:16]}），由效能监测平台根据办件、评价数据按统一口径自动生成；"
            f"工作日历版本{p['calendar_version']}，按周一至周五兜底的年份：{fallback}。")
    return Section("provenance", "数据说明", (para,), (table,))


def _region_units(tree: pl.DataFrame, scope: Scope) -> dict[str, list[str]]:
    """County code → its subtree, for the counties ranked (none for a sector bulletin: a
    county's total there mixes in other sectors' agencies, which the statistics do not)."""
    if scope.kind == "sector":
        return {}
    return {c: _subtree(tree, c) for c in _be_children(tree, scope)}


def _scope_codes(engine: Engine, scope: Scope, region_codes: list[str]
                 ) -> tuple[set[str], set[str]]:
    """(county codes, agency codes) a bulletin for `scope` may name in its statistics."""
    agencies = extracts.load_agencies(engine).filter(pl.col("region_code").is_in(region_codes))
    if scope.sector:
        agencies = agencies.filter(pl.col("sector") == scope.sector)
    tree = extracts.load_regions(engine)
    counties = set() if scope.kind == "sector" else set(_be_children(tree, scope))
    return counties, set(agencies["agency_code"].to_list())


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
