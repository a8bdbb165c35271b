"""What changed between two versions of a bulletin (late data, corrected settings).

A published bulletin never changes; publishing again after late data arrives makes a new
version, and this diff is stored with it and shown to the office that has to explain the
difference. Rows are matched by their leading text columns (unit, metric, case…), then every
cell that differs is listed with its old and new raw value and format; rows present on one
side only are "added" / "removed". Praise, criticism and the 约谈 flags are compared by unit.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from metrics.bulletin.model import Bulletin, Table
from metrics.bulletin.text import display


def _row_key(table: Table, row: tuple) -> tuple:
    """The row's leading text columns shown in the document (unit, metric, case …): names a
    reader knows, never the Excel-only codes."""
    key = []
    if table.row_fmts:  # long tables ("metric | value…"): the first column is the key
        return (row[0],)
    for j in range(len(table.columns)):
        if table.columns[j].fmt != "text":
            break
        if table.columns[j].doc:
            key.append(row[j])
    return tuple(key) or (row[0],)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return abs(a - b) <= 1e-12 * max(1.0, abs(a), abs(b))
    return a == b


def diff_tables(old: Table, new: Table) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    old_rows = {_row_key(old, r): (i, r) for i, r in enumerate(old.rows)}
    new_rows = {_row_key(new, r): (i, r) for i, r in enumerate(new.rows)}
    old_keys = [c.key for c in old.columns]
    for key, (i, row) in new_rows.items():
        label = " / ".join(str(k) for k in key)
        if key not in old_rows:
            out.append({"table": new.title, "row": label, "change": "added"})
            continue
        oi, orow = old_rows[key]
        for j, col in enumerate(new.columns):
            if col.key not in old_keys:
                continue
            before = orow[old_keys.index(col.key)]
            if not _same(before, row[j]):
                out.append({"table": new.title, "row": label, "change": "changed",
                            "column": col.zh, "fmt": new.fmt_of(i, j),
                            "old": before, "new": row[j]})
    for key in old_rows:
        if key not in new_rows:
            out.append({"table": old.title, "row": " / ".join(str(k) for k in key),
                        "change": "removed"})
    return out


def diff_bulletins(old: Bulletin, new: Bulletin) -> dict[str, Any]:
    """{"changes": [...], "paragraphs": [...], "lists": [...], "summary": str}."""
    changes: list[dict[str, Any]] = []
    old_tables = {t.id: t for t in old.tables}
    for t in new.tables:
        if t.id in old_tables and t.id != "provenance":
            changes += diff_tables(old_tables[t.id], t)
    old_paras = [p for s in old.sections for p in s.paragraphs]
    new_paras = [p for s in new.sections for p in s.paragraphs]
    paragraphs = [{"old": a, "new": b} for a, b in zip(old_paras, new_paras, strict=False)
                  if a != b]
    lists = []
    for kind, a, b in (("表扬", old.praise, new.praise), ("批评", old.criticism, new.criticism)):
        before = {(u.level, u.code): u for u in a}
        after = {(u.level, u.code): u for u in b}
        for k in after.keys() - before.keys():
            lists.append({"list": kind, "unit": after[k].name, "change": "added"})
        for k in before.keys() - after.keys():
            lists.append({"list": kind, "unit": before[k].name, "change": "removed"})
        for k in after.keys() & before.keys():
            if after[k].interview != before[k].interview:
                lists.append({"list": kind, "unit": after[k].name, "change": "约谈",
                              "old": before[k].interview, "new": after[k].interview})
    lists.sort(key=lambda d: (d["list"], d["unit"], d["change"]))
    texts = [FRAME_ZH[k] for k in FRAME_ZH
             if getattr(old.frame, k, None) != getattr(new.frame, k, None)]
    if old.opening != new.opening:
        texts.append("依据和考核规则")
    if [s.paragraphs for s in old.sections if s.id == "requirements"] != \
            [s.paragraphs for s in new.sections if s.id == "requirements"]:
        texts.append("工作要求")
    as_of = (old.provenance.get("as_of"), new.provenance.get("as_of"))
    summary = (f"数据截至 {as_of[0]} → {as_of[1]}；{len(changes)} 处数字变化，"
               f"{len(paragraphs)} 段文字变化，{len(lists)} 处表扬/批评名单变化")
    return {"changes": changes, "paragraphs": paragraphs, "lists": lists, "summary": summary,
            "old_hash": old.content_hash, "new_hash": new.content_hash,
            "as_of": list(as_of), "texts": texts}


FRAME_ZH = {"issuer": "发文机关", "doc_number": "文号", "recipients": "主送机关", "cc": "抄送",
            "printer": "印发机关", "date_style": "成文日期格式"}


LIST_CHANGE_ZH = {"added": "列入", "removed": "移出"}


def change_lines(diff: dict[str, Any], limit: int = 50) -> list[str]:
    """The changes in Chinese, numbers as printed ("表2 县（市、区）效能指标 · 龙湫县 · 按时办结率：
    99.55% → 99.12%"), list changes after the numbers; cut after `limit` with the rest counted."""
    lines = []
    for c in diff.get("changes", []):
        if c["change"] == "changed":
            lines.append(f"{c['table']} · {c['row']} · {c['column']}："
                         f"{display(c['old'], c['fmt'])} → {display(c['new'], c['fmt'])}")
        else:
            lines.append(f"{c['table']} · {c['row']}：{'新增' if c['change'] == 'added' else '删除'}")
    for c in diff.get("lists", []):
        if c["change"] == "约谈":
            lines.append(f"{c['unit']}：{'列为约谈对象' if c['new'] else '不再列为约谈对象'}")
        else:
            lines.append(f"{c['unit']}：{LIST_CHANGE_ZH[c['change']]}通报{c['list']}名单")
    if len(lines) > limit:
        lines = lines[:limit] + [f"另有{len(lines) - limit}处变化"]
    return lines


def correction_notice(diff: dict[str, Any], previous_version: int, previous_date: str,
                      limit: int = 20) -> tuple[str, ...]:
    """更正说明 of a later version: which version it replaces, why (the data cut-off moved),
    and what changed, in the document's own words and formats."""
    from metrics.bulletin.text import date_zh, datetime_zh

    old, new = diff.get("as_of") or [None, None]
    head = (f"更正说明：本通报替代{date_zh(dt.date.fromisoformat(previous_date))}印发的第"
            f"{previous_version}版。")
    if old and new and old != new:
        head += (f"数据截至时间由{datetime_zh(dt.datetime.fromisoformat(old))}更新为"
                 f"{datetime_zh(dt.datetime.fromisoformat(new))}，")
    lines = change_lines(diff, limit)
    texts = diff.get("texts") or []
    if texts:
        head += f"{'、'.join(texts)}有调整。"
    if not lines:
        return (head + ("数字和名单未变。" if texts else "数字和名单未变，文字按现行规则重新生成。"),)
    return (head + "主要更正内容如下（正文相应文字同步更正）：", *lines)
