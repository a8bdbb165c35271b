"""考核排名 and 通报表扬和批评: the peer groups' tables, the sentences about them, and the rule
statement (依据) the bulletin opens with. The rules themselves are `metrics.bulletin.rules`.

Every sentence here is generated from the group's ranked frame and the statistics' verdicts,
and names only units of the group it speaks of; tests/reports/sentences.py parses them back.
"""

from __future__ import annotations

from typing import Any

import polars as pl

from metrics.bulletin import text as tx
from metrics.bulletin.groups import PeerGroup
from metrics.bulletin.model import Chart, Column, Table, UnitNote
from metrics.bulletin.rules import BulletinRules, Lists, composite_scores, rank_units
from metrics.bulletin.stats_check import StatsCheck, Verdict
from metrics.registry import MEASURE_BY_ID, METRIC_BY_ID
from metrics.settings import ScoreComponent, component_label

# what every indicator table shows besides the share components of the score
BASE_IDS = ("accepted", "completed", "on_time_rate", "overdue", "yellow_cards", "red_cards",
            "revoked_cards", "bad_review_rate")
COUNTS = ("accepted", "completed", "overdue", "yellow_cards", "red_cards", "revoked_cards")
MIN_N_LABEL = MEASURE_BY_ID["completed_with_deadline"].zh  # 有时限办结件数


def rank_metric_ids(rules: BulletinRules) -> list[str]:
    shares = [c.id for c in rules.scoring.components if c.method == "share"]
    return list(dict.fromkeys((*BASE_IDS, *shares)))


def wide(df: pl.DataFrame, key: str, name: str, ids: list[str]) -> pl.DataFrame:
    """metric_values rows (one per unit × metric) → one row per unit with a column per metric,
    plus the 差评 count and the 有时限办结件数 (numerators / denominators of two shares)."""
    if df.is_empty():
        return pl.DataFrame(schema={key: pl.String(), name: pl.String()})
    vals = df.pivot(on="metric_id", index=[key, name], values="value")
    extra = df.filter(pl.col("metric_id").is_in(["bad_review_rate", "on_time_rate"])).pivot(
        on="metric_id", index=[key], values=["numerator", "denominator"])
    out = vals.join(extra, on=key, how="left") if not extra.is_empty() else vals
    for col in (*ids, "numerator_bad_review_rate", "denominator_on_time_rate"):
        if col not in out.columns:
            out = out.with_columns(pl.lit(None, dtype=pl.Float64).alias(col))
    return out


def rank_frame(df: pl.DataFrame, key: str, name: str, rules: BulletinRules) -> pl.DataFrame:
    """metric_values rows of one period → ranked units (deductions, score, rank, notes)."""
    w = wide(df, key, name, rank_metric_ids(rules))
    if w.is_empty():
        return w
    w = w.with_columns(pl.col(c).fill_null(0).cast(pl.Int64) for c in COUNTS).with_columns(
        (pl.col("yellow_cards") + pl.col("red_cards") - pl.col("revoked_cards")).alias("net_cards"),
        pl.col("numerator_bad_review_rate").fill_null(0).cast(pl.Int64).alias("bad_reviews"),
        pl.col("denominator_on_time_rate").fill_null(0).cast(pl.Int64).alias("min_n_base"),
        pl.col(key).alias("code"), pl.col(name).alias("name"),
    )
    return rank_units(composite_scores(w, rules.scoring), rules.min_n, "code")


# --- tables ------------------------------------------------------------------------------------


def _metric_col(mid: str) -> Column:
    m = METRIC_BY_ID[mid]
    return Column(mid, m.zh, "pct" if m.fmt == "pct" else m.fmt)


def indicator_table(df: pl.DataFrame, group: PeerGroup, rules: BulletinRules) -> Table:
    shares = [c.id for c in rules.scoring.components if c.method == "share"
              and c.id != "on_time_rate"]
    cols = (Column("name", "单位"), Column("code", "代码", doc=False),
            _metric_col("accepted"), Column("min_n_base", MIN_N_LABEL, "int"),
            _metric_col("on_time_rate"), _metric_col("overdue"),
            Column("yellow_cards", METRIC_BY_ID["yellow_cards"].zh, "int", doc=False),
            Column("red_cards", METRIC_BY_ID["red_cards"].zh, "int", doc=False),
            Column("revoked_cards", METRIC_BY_ID["revoked_cards"].zh, "int", doc=False),
            Column("net_cards", component_label("net_cards"), "int"),
            Column("bad_reviews", component_label("bad_reviews"), "int", doc=False),
            *(_metric_col(s) for s in shares))
    return Table(f"rank_{group.id}", f"{group.label}效能指标", cols, _rows(df, cols),
                 note=f"{component_label('net_cards')} = 黄牌 + 红牌 − 撤销牌；"
                      f"{MIN_N_LABEL}是排名的门槛（不少于{rules.min_n}件）。",
                 card={"red_cards": "red", "yellow_cards": "yellow"})


def score_table(df: pl.DataFrame, group: PeerGroup, rules: BulletinRules) -> Table:
    cols = (Column("name", "单位"), Column("code", "代码", doc=False),
            *(Column(f"ded_{c.id}", f"{c.label}扣分", "score") for c in rules.scoring.components),
            Column("score", "综合得分", "score"), Column("rank", "排名", "int"),
            Column("rank_note", "说明"))
    return Table(f"score_{group.id}", f"{group.label}考核扣分和综合得分", cols, _rows(df, cols),
                 note="扣分为各项满分减实得分；“—”为本期无数据，该项不计分，综合得分按其余各项折算为"
                      "百分制。并列单位排名相同。")


def _rows(df: pl.DataFrame, cols: tuple[Column, ...]) -> tuple[tuple, ...]:
    if df.is_empty():
        return ()
    return tuple(tuple(r.get(c.key) for c in cols) for r in df.iter_rows(named=True))


def group_chart(df: pl.DataFrame, group: PeerGroup, city_rate: float | None) -> Chart | None:
    """按时办结率 of a region group, with the whole scope's rate as the reference line."""
    if df.is_empty() or group.level != "region":
        return None
    named = df.sort("code")
    return Chart(f"on_time_{group.id}", f"{group.label}按时办结率",
                 tuple(named["name"].to_list()), tuple(named["on_time_rate"].to_list()), "pct",
                 METRIC_BY_ID["on_time_rate"].target.value if METRIC_BY_ID["on_time_rate"]
                 .target else None, city_rate)


# --- sentences ---------------------------------------------------------------------------------


def _deductions(row: dict[str, Any], comps: tuple[ScoreComponent, ...], top: int = 3) -> str:
    """"按时办结率扣1.50分、红黄牌净数扣12.00分" — the largest deductions of a unit."""
    parts = sorted(((row.get(f"ded_{c.id}") or 0.0, c.label) for c in comps), reverse=True)
    shown = [f"{label}扣{tx.points(d)}" for d, label in parts[:top] if tx.shown(d, 2) > 0]
    return "、".join(shown) if shown else "各项均未扣分"


def ranking_paragraphs(groups: list[tuple[PeerGroup, pl.DataFrame, Lists]],
                       rules: BulletinRules) -> list[str]:
    out: list[str] = []
    for k, (g, df, lists) in enumerate(groups, start=1):
        out.append(f"（{tx.section_number(k)}）{g.label}")
        ranked = df.filter(pl.col("ranked")) if not df.is_empty() else df
        unranked = df.height - ranked.height
        tail = (f"另有{unranked}个单位{MIN_N_LABEL}不足{rules.min_n}件或无数据，未参与排名。"
                if unranked else "")
        if ranked.is_empty():
            out.append(f"本期没有{MIN_N_LABEL}达到{rules.min_n}件的单位，未排名。")
            continue
        first, last = ranked.row(0, named=True), ranked.row(-1, named=True)
        if ranked.height == 1:
            text = f"参与排名的仅{first['name']}1个单位，综合得分{tx.score(first['score'])}。"
        elif first["score"] == last["score"]:
            text = f"参与排名的{ranked.height}个单位综合得分相同，均为{tx.score(first['score'])}。"
        else:
            text = (f"参与排名{ranked.height}个单位，综合得分最高的是{first['name']}"
                    f"（{tx.score(first['score'])}），最低的是{last['name']}"
                    f"（{tx.score(last['score'])}）。")
        if lists.bottom:
            text += "排名后列单位的主要扣分项：" + "；".join(
                f"{r['name']}（{_deductions(r, rules.scoring.components)}）"
                for r in lists.bottom) + "。"
        out.append(text + tail)
    return out


def notes(groups: list[tuple[PeerGroup, pl.DataFrame, Lists]], previous: set[tuple[str, str]]
          ) -> tuple[list[UnitNote], list[UnitNote]]:
    praise, crit = [], []
    for g, _, lists in groups:
        praise += [UnitNote(g.level, r["code"], r["name"], r["rank"], r["score"], group=g.label)
                   for r in lists.praise]
        crit += [UnitNote(g.level, r["code"], r["name"], r["rank"], r["score"],
                          interview=(g.level, r["code"]) in previous, group=g.label)
                 for r in lists.criticism]
    return praise, crit


def _verdict(stats: StatsCheck | None, level: str, code: str) -> Verdict | None:
    return stats.verdict(level, code) if stats is not None else None


def praise_paragraphs(groups: list[tuple[PeerGroup, pl.DataFrame, Lists]],
                      crit: list[UnitNote], rules: BulletinRules, stats: StatsCheck | None,
                      others: list[tuple[PeerGroup, str, str, Verdict]]) -> list[str]:
    """通报表扬, 通报批评 (with the statistics in plain words), 约谈, reminders, and the other
    units the statistics find lagging — per peer group."""
    out: list[str] = []
    interview = {(u.level, u.code) for u in crit if u.interview}
    confirmed_rule = rules.scoring.criticism == "confirmed"
    after = rules.scoring.interview_after
    for g, _, lists in groups:
        if lists.ranked == 0:
            continue
        if lists.places == 0:
            why = ("按规定本期不作表扬和批评" if rules.top_n == 0 else
                   f"参与排名的单位为{lists.ranked}个，按表扬、批评不超过参与排名单位三分之一的"
                   "规定，不作表扬和批评")
            out.append(f"{g.label}{why}。")
            continue
        if lists.praise:
            top = max(r["rank"] for r in lists.praise)
            where = "排名第1位" if top == 1 else f"排名前{top}位"
            out.append(f"对{g.label}中综合得分{where}的"
                       f"{tx.names([r['name'] for r in lists.praise])}予以通报表扬。")
        for r in lists.criticism:
            v = _verdict(stats, g.level, r["code"])
            why = (f"，且经统计检验，{v.text}" if v is not None and v.confirmed else
                   f"（统计检验结果：{v.text}）" if v is not None else "")
            text = (f"{r['name']}在{g.label}中综合得分排名第{r['rank']}位（共{lists.ranked}个）"
                    f"{why}，予以通报批评")
            if (g.level, r["code"]) in interview:
                text += f"；该单位已连续{after}期被通报批评，约谈其主要负责人"
            out.append(text + "。")
        for r in lists.reminded:
            v = _verdict(stats, g.level, r["code"])
            why = ("本期未作统计检验，差距无法确认" if v is None else f"但经统计检验，{v.text}")
            out.append(f"{r['name']}在{g.label}中综合得分排名第{r['rank']}位（共{lists.ranked}个），"
                       f"{why}，本期不予通报批评，请对照扣分项目加以改进。")
        if not lists.bottom and lists.praise:
            out.append(f"{g.label}无排名后列单位需要通报。")
    if others:
        out.append("此外，统计监测显示" + "；".join(f"{name}（{g.label}）{v.text}"
                                            for g, _, name, v in others)
                   + "，虽未排在后列，请相关单位关注。")
    elif stats is not None:
        out.append("在参与排名的单位中，统计监测未发现排名后列以外的明显落后单位。")
    if confirmed_rule and stats is None and any(lists.bottom for _, _, lists in groups):
        out.append("本期无法进行统计检验，按考核规则不作通报批评。")
    return out


def _pts(x: float) -> str:
    return f"{x:g}分"


def _component_rule(c: ScoreComponent) -> str:
    if c.method == "share":
        zero, full = c.bounds()
        default = (zero, full) in ((0.0, 1.0), (1.0, 0.0))
        extra = "" if default else (f"，{tx.pct(zero, 0)}时不得分，{tx.pct(full, 0)}时得满分")
        return f"{c.label}（{_pts(c.points)}{extra}）"
    unit = "张" if c.id.endswith("cards") else "件" if c.id == "overdue" else "条"
    base = f"按每百件办结件中的{c.label}计，每{unit}" if c.per_100 else f"每{unit}"
    return f"{c.label}（{_pts(c.points)}，{base}扣{c.per:g}分，最多扣{c.max_deduction:g}分）"


def rule_statement(groups: list[PeerGroup], rules: BulletinRules) -> str:
    """The rule the ranking applies, in one paragraph (the 依据 of the ranking)."""
    comps = [_component_rule(c) for c in rules.scoring.components]
    total = sum(c.points for c in rules.scoring.components)
    scale = "" if abs(total - 100) < 1e-9 else f"（各项满分合计{total:g}分，折算为百分制）"
    labels = "、".join(g.label for g in groups) if groups else "各单位"
    crit = ("排名后列的单位，经统计检验确认其差距（超期件明显多于按所办事项推算的预期，或扣除事项"
            "结构影响后按时办结情况持续变差）的，予以通报批评；差距未经确认的，予以提醒"
            if rules.scoring.criticism == "confirmed" else
            "排名后列的单位予以通报批评（按排名通报，统计检验结果仅供参考）")
    return (f"考核规则：综合得分满分100分{scale}，由{'、'.join(comps)}构成，无数据的指标不计分，"
            f"按其余指标折算；{MIN_N_LABEL}不少于{rules.min_n}件的单位参与排名，{labels}分别排名；"
            f"每组表扬、批评各不超过{rules.top_n}个，且不超过参与排名单位数的三分之一；{crit}；"
            f"连续{rules.scoring.interview_after}期被通报批评的，约谈其主要负责人。")


KIND_ZH = {"lagging": "差距经确认", "alert": "超出预警线", "explained": "事项结构可解释",
           "in_control": "正常波动", "no_data": "无数据"}


def list_tables(groups: list[tuple[PeerGroup, pl.DataFrame, Lists]], stats: StatsCheck | None,
                praise: list[UnitNote], crit: list[UnitNote],
                others: list[tuple[PeerGroup, str, str, Verdict]]) -> tuple[Table, Table]:
    """通报表扬和批评名单 (with the plain verdict) and the technical 统计检验情况."""
    interview = {(u.level, u.code) for u in crit if u.interview}
    crit_codes = {(u.level, u.code) for u in crit}
    rows, detail = [], []
    for g, _, lists in groups:
        for kind, block in (("表扬", lists.praise), ("批评", lists.criticism),
                            ("提醒", lists.reminded)):
            for r in block:
                if kind == "批评" and (g.level, r["code"]) not in crit_codes:
                    continue
                v = _verdict(stats, g.level, r["code"])
                rows.append((kind, g.label, r["name"], r["code"], r["rank"], r["score"],
                             "是" if (g.level, r["code"]) in interview else "",
                             "" if kind == "表扬" or v is None else v.text))
                if kind != "表扬" and v is not None:
                    detail.append((g.label, r["name"], KIND_ZH[v.kind], v.detail))
    for g, _code, name, v in others:
        detail.append((g.label, name, KIND_ZH[v.kind], v.detail))
    names = Table(
        "praise_criticism", "通报表扬和批评名单",
        (Column("kind", "类别"), Column("group", "分组"), Column("name", "单位"),
         Column("code", "代码", doc=False), Column("rank", "排名", "int"),
         Column("score", "综合得分", "score"), Column("interview", "约谈"),
         Column("stats", "统计检验")), tuple(rows),
        note="提醒：排名后列、但统计检验未确认其差距的单位，不予通报批评。")
    tech = Table(
        "stats_detail", "统计检验技术说明",
        (Column("group", "分组"), Column("name", "单位"), Column("verdict", "结论"),
         Column("detail", "说明")), tuple(detail))
    return names, tech
