"""数据管理 — upload with preview and mapping, quarantine, calendar, job runs, run a job."""

import datetime as dt

import streamlit as st

from dashboard import admin, data, panels
from dashboard.auth import current_user
from dashboard.components import data_status_panel, load_runs_table, table
from dashboard.scoring_editor import scoring_editor
from dashboard.shell import page_setup
from dashboard.state import status
from queries.contract import TABLES
from xiaoneng.authz import can

ctx = page_setup("page_data", needs_facts=False)
if not status().schema_ready:
    data_status_panel()
    st.stop()
user = current_user()
if not can(user, "view_data_admin"):  # not registered for such roles; defence in depth
    st.stop()
data_status_panel()

LBL = {"settings": ("阈值设置", "Thresholds"), "audit": ("审计日志", "Audit log"),
       "accounts": ("账号", "Accounts"), "no_perm": ("当前角色无此权限。", "Your role may not do this.")}


def lbl(key: str) -> str:
    return LBL[key][0 if ctx.lang == "zh" else 1]


tab_up, tab_q, tab_cal, tab_jobs, tab_set, tab_audit, tab_acc = st.tabs(
    [ctx.t("upload"), ctx.t("quarantine"), ctx.t("calendar"), ctx.t("job_runs"),
     lbl("settings"), lbl("audit"), lbl("accounts")])

with tab_up:
    if not can(user, "import_data"):
        st.caption(lbl("no_perm"))
        load_runs_table()
        upload = None
    else:
        st.caption(ctx.t("upload_help"))
        upload = st.file_uploader(ctx.t("upload"), type=["csv", "tsv", "txt", "xlsx", "xls",
                                                         "parquet"], key="upload_file")
    if upload is not None:
        payload = upload.getvalue()
        try:
            headers, preview = admin.read_preview(upload.name, payload)
        except Exception as exc:  # an unreadable file is a user error, shown as such
            st.error(ctx.t("import_failed", reason=str(exc)))
            headers, preview = [], None
        if preview is not None:
            st.markdown(f"**{ctx.t('preview')}**")
            st.dataframe(preview, hide_index=True, width="stretch")
            tables = list(TABLES)
            guessed = admin.guess_table(upload.name)
            table_name = st.selectbox(ctx.t("target_table"), tables, key="upload_table",
                                      index=tables.index(guessed) if guessed else 0,
                                      format_func=lambda n: f"{n} · {TABLES[n].zh}")
            st.markdown(f"**{ctx.t('column_mapping')}**")
            guess = admin.default_mapping(table_name, headers)
            choices = [None, *headers]
            mapping = {}
            cols = st.columns(3)
            for i, col in enumerate(TABLES[table_name].columns):
                with cols[i % 3]:
                    mapping[col.name] = st.selectbox(
                        f"{col.name} · {col.zh}", choices, index=choices.index(guess[col.name]),
                        key=f"map_{table_name}_{col.name}",
                        format_func=lambda h: ctx.t("unmapped") if h is None else h)
            if st.button(ctx.t("do_import"), type="primary", icon=":material/upload:"):
                try:
                    report = admin.import_upload(upload.name, payload, table_name, mapping,
                                                 user)
                except Exception as exc:
                    st.error(ctx.t("import_failed", reason=str(exc)))
                else:
                    show = st.success if report.ok else st.warning
                    show(ctx.t("import_ok", read=f"{report.read:,}", loaded=f"{report.loaded:,}",
                               quarantined=f"{report.quarantined:,}"))
                    st.markdown(f"**{ctx.t('load_report')}**")
                    st.dataframe(admin.report_frame(report), hide_index=True, width="stretch")
    if can(user, "import_data"):
        load_runs_table()

with tab_q:
    rules = data.quarantine_rules() if can(user, "view_quarantine") else None
    if rules is None:
        st.caption(lbl("no_perm"))
    elif rules.is_empty():
        st.success(ctx.t("quarantine_empty"))
    else:
        c1, c2 = st.columns(2)
        rule = c1.selectbox(ctx.t("rule"), [None, *rules["rule"].to_list()], key="q_rule",
                            format_func=lambda r: ctx.t("all") if r is None else
                            f"{r} ({dict(rules.iter_rows())[r]:,})")
        qtable = c2.selectbox(ctx.t("target_table"), [None, *TABLES], key="q_table",
                              format_func=lambda n: ctx.t("all") if n is None else n)
        rows, total = data.quarantine_rows(rule, qtable)
        st.caption(ctx.t("showing_rows", total=f"{total:,}", shown=rows.height))
        st.dataframe(rows, hide_index=True, width="stretch")
        if can(user, "export"):
            st.download_button(ctx.t("download_csv"), panels.quarantine_export(rows),
                               file_name="quarantine.csv", mime="text/csv", on_click="ignore",
                               icon=":material/download:")

with tab_cal:
    years = list(status().calendar_years) or [dt.date.today().year]
    default_year = ctx.view.month_to.year if ctx.view and ctx.view.month_to.year in years \
        else years[-1]
    year = st.selectbox(ctx.t("year"), years, index=years.index(default_year), key="cal_year")
    days = data.calendar_days(year)
    if days.is_empty():
        st.info(ctx.t("calendar_empty"))
    else:
        st.caption(ctx.t("workdays_in_year", year=year, n=int(days["is_workday"].sum())))
        st.plotly_chart(panels.calendar_figure(days), key=f"cal_fig_{year}")
        month = st.selectbox(ctx.t("month"), list(range(1, 13)), key="cal_month",
                             format_func=lambda m: f"{year}-{m:02d}")
        month_days = panels.calendar_month(days, month)
        st.markdown(f"**{ctx.t('calendar_edit')}**")
        if can(user, "edit_calendar"):
            edited = st.data_editor(month_days, hide_index=True, width="stretch",
                                    disabled=["date", "source"], key=f"cal_edit_{year}_{month}")
            if st.button(ctx.t("save"), icon=":material/save:", key="cal_save"):
                n = admin.save_calendar(edited, month_days, user)
                st.success(ctx.t("saved_days", n=n))
        else:
            st.dataframe(month_days, hide_index=True, width="stretch")
    cal_file = (st.file_uploader(ctx.t("upload"), type=["csv", "xlsx"], key="cal_upload")
                if can(user, "edit_calendar") else None)
    if cal_file is not None and st.button(ctx.t("do_import"), key="cal_import"):
        try:
            n = admin.import_calendar(cal_file.name, cal_file.getvalue(), user)
            st.success(ctx.t("saved_days", n=n))
        except Exception as exc:
            st.error(ctx.t("import_failed", reason=str(exc)))

with tab_set:
    from metrics.settings import Settings
    from queries.settings_store import EDITABLE

    current = data.settings()
    defaults = Settings()
    if can(user, "edit_settings"):
        with st.form("settings_form"):
            values = {}
            cols = st.columns(3)
            for i, key in enumerate(EDITABLE):
                v = getattr(current, key)
                with cols[i % 3]:
                    if isinstance(v, float):
                        values[key] = st.number_input(key, value=float(v), min_value=0.0,
                                                      max_value=1.0, step=0.05, key=f"set_{key}")
                    else:
                        values[key] = st.number_input(key, value=int(v), min_value=0,
                                                      max_value=365, step=1, key=f"set_{key}")
            if st.form_submit_button(ctx.t("save"), icon=":material/save:"):
                try:
                    diff = admin.save_settings(values, user)
                except Exception as exc:
                    st.error(ctx.t("import_failed", reason=str(exc)))
                else:
                    st.success(", ".join(f"{k}: {b} → {a}" for k, (b, a) in diff.items()) or "—")
    else:
        st.json({k: getattr(current, k) for k in EDITABLE})
    st.caption(", ".join(f"{k} = {getattr(defaults, k)}" for k in EDITABLE))
    scoring_editor(current, user, can(user, "edit_settings"), ctx.lang)

with tab_audit:
    if can(user, "view_audit"):
        from queries import audit

        action = st.selectbox("action", [None, "login", "login_failed", "logout", "export",
                                         "preview", "settings", "calendar", "job_run", "import",
                                         "publish", "account"], key="audit_action",
                              format_func=lambda a: ctx.t("all") if a is None else a)
        st.dataframe(audit.entries(admin.engine(), 500, action), hide_index=True,
                     width="stretch")
    else:
        st.caption(lbl("no_perm"))

with tab_acc:
    if can(user, "manage_accounts"):
        admin.accounts_panel(user, ctx.lang)
    else:
        st.caption(lbl("no_perm"))

with tab_jobs:
    runs = data.job_runs()
    if runs.height:
        table(runs)
    else:
        st.caption("—")
    if not can(user, "run_job"):
        st.stop()
    st.markdown(f"**{ctx.t('run_job')}**")
    months = data.options().months
    all_months = st.checkbox(ctx.t("all_months"), value=not months, key="job_all")
    chosen = None
    if months and not all_months:
        c1, c2 = st.columns(2)
        m_from = c1.selectbox(ctx.t("month_from"), months[::-1], key="job_from",
                              format_func=lambda m: f"{m:%Y-%m}")
        m_to = c2.selectbox(ctx.t("month_to"), months[::-1], key="job_to",
                            format_func=lambda m: f"{m:%Y-%m}")
        chosen = [m for m in months if min(m_from, m_to) <= m <= max(m_from, m_to)]
    last = (data.freshness().get("job") or {}).get("as_of") or dt.datetime.now()
    c1, c2 = st.columns(2)
    as_of_date = c1.date_input(ctx.t("as_of"), value=last.date(), key="job_as_of_date")
    as_of_time = c2.time_input(ctx.t("as_of"), value=last.time(), key="job_as_of_time",
                               label_visibility="hidden")
    if st.button(ctx.t("run_job"), type="primary", icon=":material/play_arrow:", key="job_run"):
        with st.spinner(ctx.t("run_job")):
            try:
                result = admin.run_job(chosen, dt.datetime.combine(as_of_date, as_of_time),
                                       user)
            except Exception as exc:
                st.error(ctx.t("job_failed", reason=str(exc)))
            else:
                st.success(ctx.t("job_done", summary=result.format().splitlines()[0]))
