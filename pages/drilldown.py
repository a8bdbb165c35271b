"""单位分析 — drill from region to agency to item to case by clicking rows or bars."""

import streamlit as st

from dashboard import data, panels
from dashboard.auth import current_user
from dashboard.components import no_rows
from dashboard.shell import page_setup
from xiaoneng.authz import can


def _export_buttons(c1, c2, case_metric: str, df_f, part: str) -> None:
    c1.download_button(ctx.t("export_csv"), panels.case_export(case_metric, df_f, part, "csv"),
                       file_name=f"cases_{case_metric}.csv", mime="text/csv",
                       icon=":material/download:", on_click="ignore")
    c2.download_button(ctx.t("export_xlsx"), panels.case_export(case_metric, df_f, part, "xlsx"),
                       file_name=f"cases_{case_metric}.xlsx", on_click="ignore",
                       mime="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                       icon=":material/table_view:")


ctx = page_setup("page_drilldown")
f = ctx.filters
st.caption(ctx.t("drill_hint") + " " + ctx.t("month_of", month=ctx.period_label))

metric_id = st.selectbox(ctx.t("drill_metric"), panels.DRILL_METRICS, key="drill_metric",
                         format_func=panels.metric_label)
panels.breadcrumb(f)
level = panels.drill_level()

if level != "case":
    wide, grain, key_col, name_col = panels.drill_units(metric_id, f)
    st.subheader(ctx.t(f"level_{level}s" if level != "agency" else "level_agencies"))
    if wide.is_empty():
        no_rows()
    else:
        left, right = st.columns([3, 2])
        with left:
            event = panels.drill_table(wide, metric_id, name_col, panels.drill_key(level))
        with right:
            click = panels.drill_chart(wide, metric_id, name_col, key_col,
                                       panels.drill_key(level) + "_chart")
        picked = (panels.selected_value(event, wide, key_col) or panels.clicked_key(click))
        if picked:
            panels.drill_to(level, picked)
            st.rerun()
else:
    case_metric = panels.case_metric_for(metric_id)
    df_f = panels.drill_filters(f)
    st.subheader(ctx.t("level_cases") + " · " + panels.metric_label(case_metric))
    part = "numerator"
    if panels.METRIC_BY_ID[case_metric].kind == "share":
        part = st.segmented_control(
            ctx.t("part"), ["numerator", "denominator", "complement"], default="numerator",
            required=True, format_func=lambda p: ctx.t(f"part_{p}"), key="drill_part")
    page_size = 50
    first, total = data.case_list(case_metric, df_f, page=1, page_size=page_size, part=part)
    n_pages = max(1, -(-total // page_size))
    page = st.pagination(n_pages, key=f"drill_page_{case_metric}_{part}") if n_pages > 1 else 1
    cases, _ = (first, total) if page == 1 else data.case_list(
        case_metric, df_f, page=page, page_size=page_size, part=part)
    st.caption(ctx.t("total_rows", n=f"{total:,}"))
    if total:
        event = panels.case_table(cases, key=panels.drill_key("case"), selectable=True)
        c1, c2, _ = st.columns([1, 1, 4])
        if can(current_user(), "export"):
            _export_buttons(c1, c2, case_metric, df_f, part)
        picked = panels.selected_value(event, cases, "case_id")
        if picked:
            panels.case_timeline(picked)
    else:
        no_rows()

st.divider()
panels.stats_section(f)
