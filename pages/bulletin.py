"""月度通报 — monthly bulletin: preview, download, publish, version history.

Thin: the bulletin is built by `reports.publish` (which calls `metrics.bulletin`), files are
rendered by `reports`, versions live in `queries.bulletin_store`. Nothing is computed here.
"""

from __future__ import annotations

import datetime as dt

import pandas as pd
import streamlit as st

from dashboard.auth import current_user
from dashboard.downloads import audited_bytes
from dashboard.shell import t
from dashboard.state import current_lang, engine
from queries import audit
from xiaoneng import authz

L = {
    "month": ("月份", "Month"), "scope": ("范围", "Scope"), "city": ("全市", "Whole city"),
    "county": ("县（市、区）", "County"), "sector": ("条线", "Sector"),
    "preview": ("生成预览", "Build preview"), "publish": ("发布", "Publish"),
    "history": ("版本记录", "Version history"), "download": ("下载", "Download"),
    "no_facts": ("尚无计算结果：请先运行 `xiaoneng compute`。", "No computed facts yet: run "
                 "`xiaoneng compute` first."),
    "published": ("已发布第{v}版。", "Published version {v}."),
    "unchanged": ("内容与第{v}版相同，未生成新版本。", "Same content as version {v}; no new version."),
    "changes": ("与上一版相比的变化", "Changes from the previous version"),
    "no_versions": ("尚未发布。", "Not published yet."),
    "preview_note": ("预览未发布；发布后冻结为带编号的版本，之后的计算不会改变它。",
                     "The preview is not published; publishing freezes a numbered version that "
                     "later job runs never change."),
    "user": ("发布人", "Published by"),
    "files": ("生成文件（Word / Excel / PDF）", "Render files (Word / Excel / PDF)"),
    "no_scope": ("您的账号范围没有可查看的通报。", "No bulletins fall within your account's scope."),
}


def s(key: str, **fmt: object) -> str:
    text = L[key][0 if current_lang() == "zh" else 1]
    return text.format(**fmt) if fmt else text


def _months(run: dict | None) -> list[dt.date]:
    if not run:
        return []
    first, last = (dt.date.fromisoformat(m + "-01") for m in run["months"].split(".."))
    out, m = [], last
    while m >= first and len(out) < 36:
        out.append(m)
        m = (m - dt.timedelta(days=1)).replace(day=1)
    return out


st.title(t("page_bulletin"))
eng = engine()

from metrics.bulletin import parse_scope  # noqa: E402  (after the page title renders)
from queries import bulletin_store, extracts, facts_store  # noqa: E402
from reports import FORMATS, file_name, render  # noqa: E402
from reports.formatting import doc_columns, doc_rows  # noqa: E402
from reports.publish import build, publish_bulletin  # noqa: E402

run = facts_store.last_run(eng)
months = _months(run)
if not months:
    st.info(s("no_facts"))
    st.stop()

# who may read which bulletins: all for read-all roles, own counties for a unit user, else none
user = current_user()
allowed = authz.bulletin_scopes_allowed(user)
if allowed is not None and not allowed:
    st.info(s("no_scope"))
    st.stop()

c1, c2, c3 = st.columns([1, 1, 2])
month = c1.selectbox(s("month"), months, index=min(1, len(months) - 1),
                     format_func=lambda d: f"{d:%Y-%m}")
kinds = ["city", "county", "sector"] if allowed is None else ["county"]
kind = c2.selectbox(s("scope"), kinds, format_func=s)
arg = ""
if kind == "county":
    regions = extracts.load_regions(eng)
    counties = regions.filter(regions["level"] == "county")
    names = dict(zip(counties["region_code"], counties["name"], strict=True))
    if allowed is not None:
        names = {c: n for c, n in names.items() if f"county:{c}" in allowed}
    if not names:
        st.info(s("no_scope"))
        st.stop()
    arg = c3.selectbox(s("county"), list(names), format_func=names.get)
elif kind == "sector":
    arg = c3.selectbox(s("sector"), sorted(set(extracts.load_agencies(eng)["sector"])))
scope = parse_scope(eng, f"{kind}:{arg}" if arg else kind)
if allowed is not None and f"{scope.kind}:{scope.region_code}" not in allowed:
    st.stop()  # server-side check: whatever the widgets were made to send
key = (month, scope.key, run["run_id"])

if st.button(s("preview"), type="primary") or st.session_state.get("bulletin_key") == key:
    if st.session_state.get("bulletin_key") != key:
        with st.spinner("…"):
            st.session_state["bulletin"] = build(eng, month, scope)
            st.session_state["bulletin_key"] = key
        if user is not None:  # a preview shows the bulletin's data: audited once per build
            audit.record(eng, user.username, "preview", role=user.role, scope=user.scope_label,
                         detail={"via": "dashboard", "month": month, "bulletin_scope": scope.key,
                                 "content_hash": st.session_state["bulletin"].content_hash})
    b = st.session_state["bulletin"]
    st.caption(s("preview_note"))
    st.subheader(b.title)
    for n, sec in enumerate(b.sections, start=1):
        st.markdown(f"**{n}. {sec.title}**")
        for p in sec.paragraphs:
            st.markdown(p)
        for table in sec.tables:
            cols = doc_columns(table)
            st.caption(table.title)
            st.dataframe(pd.DataFrame(doc_rows(table),
                                      columns=[table.columns[j].zh for j in cols]),
                         hide_index=True)
    st.caption(f"hash {b.content_hash}")
    if st.button(s("files")):
        with st.spinner("…"):
            st.session_state["bulletin_files"] = (key, render(b, FORMATS, label="未发布预览"))
    files_key, files = st.session_state.get("bulletin_files", (None, {}))
    if files_key == key:
        dl = st.columns(len(FORMATS))
        for col, fmt in zip(dl, FORMATS, strict=True):
            col.download_button(f"{s('download')} {fmt}", key=f"dl_{fmt}", on_click="ignore",
                                data=audited_bytes(user, "bulletin:preview", fmt, files[fmt],
                                                   {"month": month, "bulletin_scope": scope.key}),
                                file_name=file_name(b, fmt))

    may_publish = authz.publish_denied(user, scope.key, extracts.load_regions(eng).select(
        "region_code", "parent_code").iter_rows()) is None
    if may_publish and st.button(s("publish")):
        authz.require(user, "publish_bulletin")
        write = audit.hook(user.username, "publish", role=user.role, scope=user.scope_label,
                           detail={"month": month, "bulletin_scope": scope.key})
        try:
            res = publish_bulletin(eng, month, scope, created_by=user.username, audit=write)
        except Exception as exc:
            audit.record_failure(write, eng, exc)
            raise
        if res.unchanged:  # nothing was stored, so nothing recorded it: a plain row
            audit.record(eng, user.username, "publish", role=user.role, scope=user.scope_label,
                         detail={"month": month, "bulletin_scope": scope.key,
                                 "version": res.version, "unchanged": True})
        if res.unchanged:
            st.info(s("unchanged", v=res.version))
        else:
            st.success(s("published", v=res.version))
            if res.diff:
                from xiaoneng.cli_report import describe_changes

                st.markdown(f"**{s('changes')}**: {res.diff['summary']}")
                st.markdown("\n".join(f"- {line}" for line in describe_changes(res.diff)))

st.subheader(s("history"))
versions = bulletin_store.list_versions(eng, month, scope.key)
if not versions:
    st.caption(s("no_versions"))
for v in versions:
    summary = (v["diff"] or {}).get("summary", "")
    with st.expander(f"v{v['version']} · {v['created_at']:%Y-%m-%d %H:%M} · "
                     f"{v['created_by'] or ''} · {v['content_hash'][:12]}"):
        if summary:
            st.caption(summary)
        files = bulletin_store.load_files(eng, v["id"])
        cols = st.columns(max(len(files), 1))
        for col, (fmt, f) in zip(cols, sorted(files.items()), strict=False):
            col.download_button(fmt, key=f"v{v['id']}_{fmt}", on_click="ignore",
                                data=audited_bytes(user, "bulletin", fmt, f.data, {
                                    "month": month, "bulletin_scope": scope.key,
                                    "version": v["version"]}),
                                file_name=f.filename)
