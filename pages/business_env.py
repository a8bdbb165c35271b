"""营商环境指数 — index by region and month, sub-indicator scores and contributions, bounds."""

import streamlit as st

from dashboard import data, panels
from dashboard.components import definition_panel, kpi_row
from dashboard.shell import page_setup

ctx = page_setup("page_business_env")
f = ctx.filters
BE = ["be_index", "startup_days", "construction_days", "property_days"]

if f.sectors or f.agency_codes or f.item_types or f.channels:
    st.info(ctx.t("be_filter_note"))
base = data.unit_base(f.with_months(f.month_to, f.month_to))
kpi_row(data.latest(BE, base), BE, ctx.period_label)

heat = panels.be_heatmap_figure(f)
if heat is not None:
    st.plotly_chart(heat, key="be_heatmap")

units = panels.be_units(f)
if units:
    names = dict(units)
    region = st.selectbox(ctx.t("be_region_pick"), list(names), format_func=names.get,
                          key="be_region")
    sub = panels.be_sub_frame(f, region)
    left, right = st.columns([3, 2])
    with left:
        st.subheader(ctx.t("be_subs") + ctx.t("month_of", month=ctx.period_label))
        panels.be_sub_table(sub)
    with right:
        if sub.height:
            st.plotly_chart(panels.be_contribution_figure(sub), key="be_contrib")

st.subheader(ctx.t("be_bounds"))
panels.be_bounds_table()
definition_panel(BE)
