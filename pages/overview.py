"""总览 — the leadership overview: KPI tiles, 12-month trends, top/bottom units, cards, index."""

import streamlit as st

from dashboard import charts, data, panels
from dashboard.components import card_badge, definition_panel, kpi_row
from dashboard.shell import page_setup

ctx = page_setup("page_overview")
f = ctx.filters

st.subheader(ctx.t("kpis"))
st.caption(ctx.t("tiles_for", period=ctx.period_label))
now = data.latest(panels.OVERVIEW_KPIS + panels.OVERVIEW_EXTRA + [panels.UNKNOWN_CHANNEL], f)
kpi_row(now, panels.OVERVIEW_KPIS, ctx.period_label, **panels.channel_notes(now))

st.subheader(ctx.t("trends"))
history = data.trend(panels.OVERVIEW_TRENDS, f)
cols = st.columns(2)
for i, mid in enumerate(panels.OVERVIEW_TRENDS):
    with cols[i % 2]:
        st.plotly_chart(panels.trend_figure(history, mid), key=f"trend_{mid}")

left, right = st.columns([3, 2])
with left:
    st.subheader(ctx.t("top_bottom"))
    metric_id = st.selectbox(ctx.t("rank_metric"), panels.RANK_METRICS, key="ov_rank_metric",
                             format_func=panels.metric_label)
    top, bottom, note = panels.top_bottom(metric_id, f)
    c1, c2 = st.columns(2)
    with c1:
        st.markdown(f"**{ctx.t('top', n=panels.top_n())}**")
        panels.ranking_table(top, metric_id)
    with c2:
        st.markdown(f"**{ctx.t('bottom', n=panels.top_n())}**")
        panels.ranking_table(bottom, metric_id)
    st.caption(note)
with right:
    st.subheader(ctx.t("card_summary"))
    counts = panels.card_counts(now)
    b1, b2 = st.columns(2)
    with b1:
        card_badge("yellow", counts["yellow_cards"])
    with b2:
        card_badge("red", counts["red_cards"])
    kpi_row(now, ["warnings", "revoked_cards"], ctx.period_label, per_row=2)
    st.subheader(ctx.t("be_summary"))
    be = data.latest(["be_index"], data.unit_base(f))
    kpi_row(be, ["be_index"], ctx.period_label, per_row=1)
    be_regions = panels.be_index_by_region(f)
    if be_regions.height:
        st.plotly_chart(charts.bar_chart(be_regions, "region_name", "value", "score"),
                        key="be_regions")

definition_panel(panels.OVERVIEW_KPIS)
