"""A checker of the bulletin's sentences against the tables they summarise.

It reads the text as an office would: it finds the figures in each sentence with regular
expressions, parses them back, and compares them with the bulletin's own tables (as printed)
— it does not call the generator's formatting or selection code. `problems(b)` returns one
line per false or unregistered sentence; an empty list means every checked claim holds.

Claims checked:
- register: no Latin letters, ISO dates, scientific notation, "-0.00", Greek letters, q-values
  or section references in the text; shares with two decimals; dates without leading zeros;
- 总体情况: every metric named with a figure prints the table's value, and every change
  (环比/同比 上升/下降/增长/减少/持平) has the table's sign and size;
- 考核排名: per peer group, the count ranked, the best and the worst (two different units)
  with their scores, every deduction quoted, the count not ranked;
- 表扬/批评: praised units rank at the top and criticised ones at the bottom of their group,
  each list at most a third of the group, nobody both; under the "confirmed" rule every
  criticised unit's sentence confirms the gap and no criticised unit is called "normal
  variation"; 约谈 only for criticised units flagged in the list table; "多于预期" ⇔ O > E;
- 红黄牌和督办: net cards = yellow + red − revoked; the overdue count is the overview's; the
  longest-overdue case is the list's first;
- 好差评: the review count and 差评 count are the level table's;
- 营商环境: the most improved and the most fallen are different units with the table's changes;
- scope: every unit named anywhere in the text belongs to the bulletin's own tables.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable

from metrics.bulletin.model import Bulletin, Table
from reports.formatting import display

NUM = r"[0-9][0-9,]*(?:\.[0-9]+)?"
FORBIDDEN = [
    (re.compile(r"[A-Za-z]"), "Latin letters (ids, English, hashes)"),
    (re.compile(r"\d{4}-\d{2}(-\d{2})?"), "ISO date"),
    (re.compile(r"\d[eE][+-]?\d"), "scientific notation"),
    (re.compile(r"-0\.0+(?!\d*[1-9])"), "negative zero"),
    (re.compile(r"[τφ²§]"), "technical symbol"),
    (re.compile(r"(?<!\d)0\d月|月0\d日"), "date with a leading zero"),
    (re.compile(r"\d\.\d%|\d\.\d{3,}%"), "a percentage not with two decimals"),
]


def _n(text: str) -> float:
    return float(text.replace(",", ""))


def _rows(t: Table) -> list[dict]:
    return t.records()


def _shown(t: Table, row: dict, key: str) -> str:
    j = [c.key for c in t.columns].index(key)
    i = t.rows.index(tuple(row[c.key] for c in t.columns))
    return display(row[key], t.fmt_of(i, j))


def register(texts: Iterable[str]) -> list[str]:
    out = []
    for text in texts:
        for rx, what in FORBIDDEN:
            m = rx.search(text)
            if m:
                out.append(f"{what}: …{text[max(0, m.start() - 15):m.end() + 15]}…")
    return out


# --- 总体情况 -----------------------------------------------------------------------------------

# how the narrative names a row of 表1 where it is not the row's own label (a regex)
ALIAS = {"受理量": "共受理办件", "办结量": "(?<=；)办结", "在办件": "(?<=[月季年]末)在办"}
CHANGE = re.compile(rf"(环比|同比)(?:(上升|下降|增长|减少|增加)({NUM})(个百分点|%|个工作日|件)|"
                    r"(持平)|(无可比数据))")


def _expected_change(shown: str, word: str, amount: str, unit: str) -> bool:
    """Does "下降0.17个百分点" say what the table's change "-0.17个百分点" says?"""
    if shown == "—":
        return False
    value = _n(shown.replace("个百分点", "").replace("%", "").replace("+", ""))
    if word in ("上升", "增长", "增加"):
        return value > 0 and math.isclose(value, _n(amount))
    return value < 0 and math.isclose(-value, _n(amount))


def overall(b: Bulletin) -> list[str]:
    out = []
    t = b.table("overall")
    text = "".join(next(s for s in b.sections if s.id == "overall").paragraphs)
    for i, row in enumerate(t.rows):
        label = ALIAS.get(row[0], rf"(?<![\u4e00-\u9fff]){re.escape(row[0])}")
        value = display(row[1], t.fmt_of(i, 1))
        for m in re.finditer(rf"{label}({NUM}(?:万)?)(%|件|个工作日)"
                             rf"[（，]?((?:{CHANGE.pattern})(?:，(?:{CHANGE.pattern}))?)?", text):
            said = m.group(1) + ("%" if m.group(2) == "%" else "")
            if said.endswith("万"):
                ok = abs(_n(said[:-1]) * 10_000 - row[1]) <= 50
            else:
                ok = said.replace(",", "") == value.replace(",", "")
            if not ok:
                out.append(f"总体情况: {row[0]} {said} but the table says {value}")
            for c in CHANGE.finditer(m.group(3) or ""):
                col = 3 if c.group(1) == "环比" or t.columns[3].zh == c.group(1) else 4
                shown = display(row[col], t.fmt_of(i, col))
                if c.group(6):
                    ok = shown == "—"
                elif c.group(5):
                    ok = shown in ("0.00个百分点", "0.00%", "0.0", "0.00", "0")
                elif c.group(4) == "件":  # a count changed by less than 0.005%: the cases
                    ok = row[2] is not None and math.isclose(abs(row[1] - row[2]), _n(c.group(3)))
                else:
                    ok = _expected_change(shown, c.group(2), c.group(3), c.group(4))
                if not ok:
                    out.append(f"总体情况: {row[0]} {c.group(0)} but the table's change is "
                               f"{shown}")
    return out


# --- 考核排名 -----------------------------------------------------------------------------------

def _group_tables(b: Bulletin) -> dict[str, tuple[Table, Table]]:
    """peer-group label → (indicator table, score table)."""
    out = {}
    for t in b.tables:
        if t.id.startswith("score_"):
            label = t.title.split(" ", 1)[1].replace("考核扣分和综合得分", "")
            out[label] = (b.table("rank_" + t.id[len("score_"):]), t)
    return out


HEADING = re.compile(r"^（[一二三四五六七八九十]+）(.+)$")


def rankings(b: Bulletin) -> list[str]:
    out = []
    groups = _group_tables(b)
    paras = next(s for s in b.sections if s.id == "rankings").paragraphs
    for head, body in zip(paras[::2], paras[1::2], strict=True):
        label = HEADING.match(head).group(1)
        if label not in groups:
            out.append(f"考核排名: group {label} has no table")
            continue
        _, scores = groups[label]
        rows = _rows(scores)
        ranked = [r for r in rows if r["rank"] is not None]
        m = re.search(r"参与排名(\d+)个单位", body)
        if m and int(m.group(1)) != len(ranked):
            out.append(f"考核排名 {label}: says {m.group(1)} ranked, table has {len(ranked)}")
        m = re.search(rf"最高的是(.+?)（({NUM})分），最低的是(.+?)（({NUM})分）", body)
        if m:
            best, worst = m.group(1), m.group(3)
            if best == worst:
                out.append(f"考核排名 {label}: best and worst are both {best}")
            by = {r["name"]: r for r in ranked}
            top = min(r["rank"] for r in ranked)
            bottom = max(r["rank"] for r in ranked)
            if best not in by or by[best]["rank"] != top or _shown(scores, by[best], "score") \
                    != m.group(2):
                out.append(f"考核排名 {label}: {best} ({m.group(2)}) is not first")
            if worst not in by or by[worst]["rank"] != bottom or \
                    _shown(scores, by[worst], "score") != m.group(4):
                out.append(f"考核排名 {label}: {worst} ({m.group(4)}) is not last")
        elif len(ranked) >= 2 and "综合得分相同" not in body:
            out.append(f"考核排名 {label}: no best/worst sentence for {len(ranked)} units")
        cols = {c.zh[:-2]: c.key for c in scores.columns if c.key.startswith("ded_")}
        for unit, items in re.findall(r"(?:：|；)([^：；（]+?)（([^）]*扣[^）]*)）", body):
            row = next((r for r in rows if r["name"] == unit), None)
            if row is None:
                out.append(f"考核排名 {label}: deductions of {unit}, not in the group")
                continue
            for comp, pts in re.findall(rf"([^、]+?)扣({NUM})分", items):
                key = cols.get(comp)
                if key is None or _shown(scores, row, key) != pts:
                    out.append(f"考核排名 {label}: {unit} {comp}扣{pts}分 ≠ table")
        m = re.search(r"另有(\d+)个单位", body)
        if m and int(m.group(1)) != len(rows) - len(ranked):
            out.append(f"考核排名 {label}: says {m.group(1)} not ranked, table has "
                       f"{len(rows) - len(ranked)}")
    return out


# --- 通报表扬和批评 --------------------------------------------------------------------------------

NOT_CONFIRMED = ("正常波动", "尚不能确认", "与所办事项的难度有关", "未作统计检验")


def praise(b: Bulletin) -> list[str]:
    out = []
    groups = _group_tables(b)
    names = b.table("praise_criticism")
    listed = {(r["group"], r["name"]): r for r in _rows(names)}
    rule = b.provenance["rules"]["scoring"]["criticism"]
    text = next(s for s in b.sections if s.id == "praise").paragraphs
    praised, criticised = set(), set()
    for p in text:
        m = re.match(r"对(.+?)中综合得分排名(?:前(\d+)位|第1位)的(.+)予以通报表扬", p)
        if m:
            label, top, units = m.group(1), int(m.group(2) or 1), m.group(3).split("、")
            rows = {r["name"]: r for r in _rows(groups[label][1]) if r["rank"] is not None}
            if len(units) > len(rows) // 3:
                out.append(f"表扬 {label}: {len(units)} of {len(rows)} ranked praised")
            for u in units:
                if u not in rows or rows[u]["rank"] > top:
                    out.append(f"表扬 {label}: {u} is not in the top {top}")
                praised.add((label, u))
            continue
        m = re.match(r"(.+?)在(.+?)中综合得分排名第(\d+)位（共(\d+)个）(.*)", p)
        if m:
            unit, label, rank, n, rest = m.group(1), m.group(2), int(m.group(3)), \
                int(m.group(4)), m.group(5)
            rows = {r["name"]: r for r in _rows(groups[label][1]) if r["rank"] is not None}
            if unit not in rows or rows[unit]["rank"] != rank or len(rows) != n:
                out.append(f"{label}: {unit} is not ranked {rank} of {n}")
            if rank <= n - n // 3 and n // 3:
                out.append(f"{label}: {unit} ranked {rank} of {n} is not at the bottom")
            if "予以通报批评" in rest and "不予通报批评" not in rest:
                criticised.add((label, unit))
                row = listed.get((label, unit))
                if row is None or row["kind"] != "批评":
                    out.append(f"批评 {unit}: not in the list table")
                if rule == "confirmed" and any(w in rest for w in NOT_CONFIRMED):
                    out.append(f"批评 {unit}: criticised although {rest}")
                if rule == "confirmed" and "经统计检验" not in rest:
                    out.append(f"批评 {unit}: criticised without the statistics")
                if ("约谈" in rest) != (row is not None and row["interview"] == "是"):
                    out.append(f"批评 {unit}: 约谈 in the text and the table disagree")
            elif "不予通报批评" in rest:
                row = listed.get((label, unit))
                if row is None or row["kind"] != "提醒":
                    out.append(f"提醒 {unit}: not in the list table as 提醒")
            for o, e in re.findall(rf"（({NUM})件，预期({NUM})件）", rest):
                if ("明显多于" in rest or "多于预期" in rest) and not _n(o) > _n(e):
                    out.append(f"{unit}: says more than expected with {o} against {e}")
                if "不多于" in rest and _n(o) > _n(e):
                    out.append(f"{unit}: says not more than expected with {o} against {e}")
    for label, (_, scores) in groups.items():
        n = sum(1 for r in _rows(scores) if r["rank"] is not None)
        crit = [u for g, u in criticised if g == label]
        if len(crit) > n // 3:
            out.append(f"批评 {label}: {len(crit)} of {n} criticised")
    both = praised & criticised
    if both:
        out.append(f"both praised and criticised: {both}")
    return out


# --- 红黄牌, 好差评, 营商环境 ---------------------------------------------------------------------

def cards(b: Bulletin) -> list[str]:
    out = []
    p1, p2 = next(s for s in b.sections if s.id == "cards").paragraphs
    m = re.search(r"黄牌(\d+)张、红牌(\d+)张，经申诉撤销(\d+)张，净(\d+)张", p1)
    if m and int(m.group(1)) + int(m.group(2)) - int(m.group(3)) != int(m.group(4)):
        out.append(f"红黄牌: {m.group(0)} does not add up")
    t = b.table("cards")
    if m and not t.note:
        y = sum(r["yellow"] for r in _rows(t))
        r_ = sum(r["red"] for r in _rows(t))
        if (y, r_) != (int(m.group(1)), int(m.group(2))):
            out.append(f"红黄牌: {m.group(0)} but the list sums to {y} yellow, {r_} red")
    overall_rows = {r["metric"]: r for r in _rows(b.table("overall"))}
    m = re.search(rf"超期件({NUM})件", p2)
    if m and _n(m.group(1)) != overall_rows["超期件"]["value"]:
        out.append(f"督办: {m.group(0)} ≠ overview {overall_rows['超期件']['value']}")
    m = re.search(r"超期最长的是(.+?)办理的“(.+?)”，超期(\d+)个工作日", p2)
    if m:
        first = _rows(b.table("overdue"))[0]
        if (first["agency_name"], first["item_name"], first["days_over"]) != \
                (m.group(1), m.group(2), int(m.group(3))):
            out.append(f"督办: longest overdue {m.group(0)} ≠ the list's first {first}")
    return out


def reviews(b: Bulletin) -> list[str]:
    out = []
    text = "".join(next(s for s in b.sections if s.id == "reviews").paragraphs)
    levels = {r["level"]: r["count"] for r in _rows(b.table("reviews_levels"))}
    m = re.search(rf"有效评价({NUM})条", text)
    if m and _n(m.group(1)) != sum(levels.values()):
        out.append(f"好差评: {m.group(0)} ≠ {sum(levels.values())}")
    m = re.search(rf"差评({NUM})条", text)
    if m and _n(m.group(1)) != levels["不满意"] + levels["非常不满意"]:
        out.append(f"好差评: {m.group(0)} ≠ the level table")
    return out


def business_env(b: Bulletin) -> list[str]:
    out = []
    sec = next((s for s in b.sections if s.id == "business_env"), None)
    if sec is None:
        return out
    text = "".join(sec.paragraphs)
    rows = {r["region"]: r for r in _rows(b.table("business_env"))}
    up = re.search(rf"提升最多的是(.+?)（提高({NUM})分）", text)
    down = re.search(rf"下降最多的是(.+?)（下降({NUM})分）", text)
    if up and down and up.group(1) == down.group(1):
        out.append(f"营商环境: {up.group(1)} is both the most improved and the most fallen")
    changes = {k: r["change"] for k, r in rows.items() if r["change"] is not None}
    for m, sign in ((up, 1), (down, -1)):
        if not m:
            continue
        best = max(changes.values(), key=lambda v: sign * v)
        said = sign * _n(m.group(2))
        if not math.isclose(round(changes.get(m.group(1), math.nan), 2), said) or \
                not math.isclose(round(best, 2), said):
            out.append(f"营商环境: {m.group(0)} ≠ the table")
    return out


# --- scope ----------------------------------------------------------------------------------------

def scope_names(b: Bulletin, all_names: Iterable[str]) -> list[str]:
    """Units named in the text that are not in the bulletin's own tables."""
    own = {r.get("name") for t in b.tables for r in _rows(t)} | \
        {r.get("agency_name") for t in b.tables for r in _rows(t)} | \
        {r.get("region") for t in b.tables for r in _rows(t)} | {b.scope.name}
    own |= {n for n in all_names if n and n in b.scope.name}
    text = "".join(b.paragraphs)
    out = []
    for name in sorted(set(all_names), key=len, reverse=True):
        if name and name in text:
            if name not in own:
                out.append(f"scope: {name} is named but not in this bulletin's tables")
            text = text.replace(name, "□")
    return out


def problems(b: Bulletin, all_names: Iterable[str] = ()) -> list[str]:
    texts = [*b.paragraphs, b.title, *(t.title for t in b.tables), *(t.note for t in b.tables)]
    return [*register(texts), *overall(b), *rankings(b), *praise(b), *cards(b), *reviews(b),
            *business_env(b), *scope_names(b, all_names)]
