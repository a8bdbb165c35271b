"""What changed between two versions of a bulletin (late data, corrected settings).

A published bulletin never changes; publishing again after late data arrives makes a new
version, and this diff is stored with it and shown to the office that has to explain the
difference. Rows are matched by their leading text columns (unit, metric, case…), then every
cell that differs is listed with its old and new raw value and format; rows present on one
side only are "added" / "removed". Praise, criticism and the 约谈 flags are compared by unit.
"""

from __future__ import annotations

from typing import Any

from metrics.bulletin.model import Bulletin, Table


def _row_key(table: Table, row: tuple) -> tuple:
    key = []
    if table.row_fmts:  # long tables ("metric | value…"): the first column is the key
        return (row[0],)
    for j in range(len(table.columns)):
        if table.columns[j].fmt != "text":
            break
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
    as_of = (old.provenance.get("as_of"), new.provenance.get("as_of"))
    summary = (f"数据截至 {as_of[0]} → {as_of[1]}；{len(changes)} 处数字变化，"
               f"{len(paragraphs)} 段文字变化，{len(lists)} 处表扬/批评名单变化")
    return {"changes": changes, "paragraphs": paragraphs, "lists": lists, "summary": summary,
            "old_hash": old.content_hash, "new_hash": new.content_hash}
