"""月度通报 — the bulletin: preview, download, publish, version history, the office's texts.

Thin: the bulletin is built by `reports.publish` (which calls `metrics.bulletin`), files are
rendered by `reports`, versions and office texts live in `queries.bulletin_store`. Nothing is
computed here.
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
    "period": ("通报类型", "Bulletin"), "p_month": ("月度通报", "Monthly"),
    "p_quarter": ("季度考核通报", "Quarterly"), "p_year": ("年度考核通报", "Annual"),
    "preview": ("生成预览", "Build preview"), "publish": ("发布", "Publish"),
    "history": ("版本记录", "Version history"), "download": ("下载", "Download"),
    "no_facts": ("尚无计算结果：请先运行 `xiaoneng compute`。", "No computed facts yet: run "
                 "`xiaoneng compute` first."),
    "published": ("已发布第{v}版。", "Published version {v}."),
    "unchanged": ("内容与第{v}版相同，未生成新版本。", "Same content as version {v}; no new version."),
    "changes": ("与上一版相比的变化", "Changes from the previous version"),
    "no_versions": ("尚未发布。", "Not published yet."),
    "preview_note": ("预览未发布；发布后冻结为带编号的版本（Word、Excel、PDF 全部保存），之后的计算"
                     "不会改变它。", "The preview is not published; publishing freezes a numbered "
                     "version (every format stored) that later job runs never change."),
    "files": ("生成文件（Word / Excel / PDF）", "Render files (Word / Excel / PDF)"),
    "no_scope": ("您的账号范围没有可查看的通报。", "No bulletins fall within your account's scope."),
    "attachments": ("附件", "Attachments"),
    "texts": ("本单位通报文字（版头、主送、依据、工作要求、版记）",
              "This office's texts (header, recipients, basis, requirements, imprint)"),
    "save": ("保存", "Save"), "saved": ("已保存：{k}", "Saved: {k}"),
    "requirements_help": ("每行一条；留空则按本期情况自动生成。",
                          "One item per line; empty: generated from this period's findings."),
}
TEXT_FIELDS = {  # office text → label (Chinese only: these are the document's own words)
    "issuer": "发文机关", "doc_number": "文号格式（{year} 年份、{seq} 序号、{month} 月份）",
    "recipients": "主送机关", "basis": "依据", "cc": "抄送", "printer": "印发机关",
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

from metrics.bulletin import parse_scope, period_bounds  # noqa: E402  (after the title renders)
from metrics.bulletin import text as tx  # noqa: E402
from metrics.bulletin.diff import change_lines  # noqa: E402
from queries import bulletin_store, extracts, facts_store  # noqa: E402
from reports import FORMATS, file_name, render  # noqa: E402
from reports.formatting import doc_columns, doc_rows  # noqa: E402
from reports.publish import (  # noqa: E402
    PREVIEW,
    build,
    office_for,
    publish_bulletin,
    save_office,
    version_files,
)

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

c1, c2, c3, c4 = st.columns([1, 1, 2, 1])
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
period = c4.selectbox(s("period"), ["month", "quarter", "year"], format_func=lambda p: s(f"p_{p}"))
scope = parse_scope(eng, f"{kind}:{arg}" if arg else kind)
if allowed is not None and f"{scope.kind}:{scope.region_code}" not in allowed:
    st.stop()  # server-side check: whatever the widgets were made to send
texts_version = tuple(sorted((k, str(v)) for k, v in bulletin_store.office_texts(
    eng, scope.key).items()))
key = (month, period, scope.key, run["run_id"], texts_version)


def _show(b) -> None:
    """The document as a reader sees it: 文号, title, 主送, text, 附件, 落款."""
    f = b.frame
    st.caption(s("preview_note"))
    st.markdown(f"**{f.issuer}**　{f.doc_number}")
    st.subheader(b.title)
    st.markdown(f.recipients)
    for p in (*b.correction, *b.opening):
        st.markdown(p)
    for n, sec in enumerate(b.sections, start=1):
        st.markdown(f"**{tx.section_number(n)}、{sec.title}**")
        for p in sec.paragraphs:
            st.markdown(p)
    st.markdown(f"{f.issuer}　{tx.signing_date(dt.date.fromisoformat(f.issued_on), f.date_style)}")
    st.markdown(f"**{s('attachments')}**")
    for k, a in enumerate(b.attachments, start=1):
        with st.expander(f"{k}．{a.title}"):
            for p in a.paragraphs:
                st.markdown(p)
            for table in a.tables:
                cols = doc_columns(table)
                st.caption(table.title)
                st.dataframe(pd.DataFrame(doc_rows(table),
                                          columns=[table.columns[j].zh for j in cols]),
                             hide_index=True)


if st.button(s("preview"), type="primary") or st.session_state.get("bulletin_key") == key:
    if st.session_state.get("bulletin_key") != key:
        with st.spinner("…"):
            st.session_state["bulletin"] = build(eng, month, scope, period=period)
            st.session_state["bulletin_key"] = key
        if user is not None:  # a preview shows the bulletin's data: audited once per build
            audit.record(eng, user.username, "preview", role=user.role, scope=user.scope_label,
                         detail={"via": "dashboard", "month": month, "bulletin_scope": scope.key,
                                 "content_hash": st.session_state["bulletin"].content_hash})
    b = st.session_state["bulletin"]
    _show(b)
    if st.button(s("files")):
        with st.spinner("…"):
            st.session_state["bulletin_files"] = (key, render(b, FORMATS, label=PREVIEW))
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
        detail = {"month": month, "bulletin_scope": scope.key, "period": period}
        write = audit.hook(user.username, "publish", role=user.role, scope=user.scope_label,
                           detail=detail)
        try:
            res = publish_bulletin(eng, month, scope, created_by=user.username, audit=write,
                                   period=period)
        except Exception as exc:
            audit.record_failure(write, eng, exc)
            raise
        if res.unchanged:  # nothing was stored, so nothing recorded it: a plain row
            audit.record(eng, user.username, "publish", role=user.role, scope=user.scope_label,
                         detail={**detail, "version": res.version, "unchanged": True})
            st.info(s("unchanged", v=res.version))
        else:
            st.success(s("published", v=res.version))
            if res.diff:
                st.markdown(f"**{s('changes')}**: {res.diff['summary']}")
                st.markdown("\n".join(f"- {line}" for line in change_lines(res.diff)))

if authz.can(user, "publish_bulletin"):
    with st.expander(s("texts")), st.form("office_texts"):
        office = office_for(eng, scope)
        values = {k: st.text_input(label, value=getattr(office, k), key=f"ot_{k}")
                  for k, label in TEXT_FIELDS.items()}
        req = st.text_area("工作要求", value="\n".join(office.requirements),
                           help=s("requirements_help"), key="ot_requirements")
        values["requirements"] = [line.strip() for line in req.splitlines() if line.strip()]
        values["date_style"] = st.selectbox(
            "成文日期", ["arabic", "chinese"], index=["arabic", "chinese"].index(office.date_style),
            format_func=lambda v: "2026年12月4日" if v == "arabic" else "二〇二六年十二月四日")
        values["show_provenance"] = st.checkbox("附“数据来源与口径说明”",
                                                value=office.show_provenance)
        if st.form_submit_button(s("save")):
            authz.require(user, "publish_bulletin")
            try:
                diff = save_office(eng, scope, values, user.username, user.role)
            except Exception as exc:
                st.error(str(exc))
            else:
                st.success(s("saved", k="、".join(diff) or "—"))


st.subheader(s("history"))
store_key = bulletin_store.store_key(scope.key, period)
versions = bulletin_store.list_versions(eng, period_bounds(month, period)[1], store_key)
for v in versions:
    summary = (v["diff"] or {}).get("summary", "")
    with st.expander(f"{v['month']:%Y-%m} · v{v['version']} · {v['created_at']:%Y-%m-%d %H:%M} · "
                     f"{v['created_by'] or ''}"):
        if summary:
            st.caption(summary)
        row = bulletin_store.get_version(eng, v["month"], store_key, v["version"])
        stored = version_files(eng, row)
        cols = st.columns(max(len(stored), 1))
        for col, (fmt, f) in zip(cols, sorted(stored.items()), strict=False):
            col.download_button(fmt, key=f"v{v['id']}_{fmt}", on_click="ignore",
                                data=audited_bytes(user, "bulletin", fmt, f.data, {
                                    "month": month, "bulletin_scope": store_key,
                                    "version": v["version"]}),
                                file_name=f.filename)
if not versions:
    st.caption(s("no_versions"))
