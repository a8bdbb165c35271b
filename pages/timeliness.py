"""办理时效 — compression and speed-up, on-time rate, used-time distribution, overdue cases."""

import streamlit as st

from dashboard import data, panels
from dashboard.components import definition_panel, kpi_row, no_rows
from dashboard.shell import page_setup

ctx = page_setup("page_timeliness")
f = ctx.filters
# every read below, started side by side (the longest first)
tl_grain = st.session_state.get("tl_grain") or "region"
data.prefetch(
    data.view_read("overdue_cases", f, f.month_to, 200),
    data.values_read(panels.TIMELINESS_UNIT, panels.unit_filters(f, tl_grain), tl_grain),
    data.latest_read(panels.TIMELINESS_KPIS, f),
    data.view_read("used_days_histogram", f),
    data.trend_read(["on_time_rate"], f),
    data.latest_read(["overdue"], f),
)

kpi_row(data.latest(panels.TIMELINESS_KPIS, f), panels.TIMELINESS_KPIS, ctx.period_label)

left, right = st.columns(2)
with left:
    st.plotly_chart(panels.used_days_figure(f), key="used_days_hist")
    st.caption(ctx.range_label)
with right:
    history = data.trend(["on_time_rate"], f)
    st.plotly_chart(panels.trend_figure(history, "on_time_rate", band=True), key="on_time_trend")

st.subheader(ctx.t("by_unit") + ctx.t("month_of", month=ctx.period_label))
grain = st.segmented_control(ctx.t("grain"), panels.GRAINS, default="region", required=True,
                             format_func=panels.grain_label, key="tl_grain")
units = data.values(panels.TIMELINESS_UNIT, panels.unit_filters(f, grain), grain)
if units.is_empty():
    no_rows()
else:
    panels.unit_metrics_table(units, panels.TIMELINESS_UNIT, grain)

st.subheader(ctx.t("overdue_cases") + ctx.t("month_of", month=ctx.period_label))
cases, total = data.overdue_cases(f, limit=200)
st.caption(ctx.t("showing_rows", total=f"{total:,}", shown=min(total, 200)))
if total:
    panels.case_table(cases)

definition_panel(panels.TIMELINESS_KPIS)
