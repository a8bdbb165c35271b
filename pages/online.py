"""网上办理 — channel mix, online / fully-online / zero-visit / one-visit rates, catalogue."""

import streamlit as st

from dashboard import data, panels
from dashboard.components import definition_panel, kpi_row, no_rows
from dashboard.shell import page_setup

ctx = page_setup("page_online")
f = ctx.filters
ol_grain = st.session_state.get("ol_grain") or "region"
data.prefetch(  # every read below, started side by side
    data.values_read(panels.ONLINE_UNIT, panels.unit_filters(f, ol_grain), ol_grain),
    data.latest_read(panels.ONLINE_KPIS + [panels.UNKNOWN_CHANNEL], f),
    data.trend_read(["accepted"], f, "channel"),
    data.latest_read(panels.CATALOGUE_KPIS, f),
)

online_now = data.latest(panels.ONLINE_KPIS + [panels.UNKNOWN_CHANNEL], f)
kpi_row(online_now, panels.ONLINE_KPIS, ctx.period_label, **panels.channel_notes(online_now))
st.plotly_chart(panels.channel_mix_figure(f), key="channel_mix")

st.subheader(ctx.t("by_unit") + ctx.t("month_of", month=ctx.period_label))
grain = st.segmented_control(ctx.t("grain"), panels.GRAINS, default="region", required=True,
                             format_func=panels.grain_label, key="ol_grain")
units = data.values(panels.ONLINE_UNIT, panels.unit_filters(f, grain), grain)
if units.is_empty():
    no_rows()
else:
    panels.unit_metrics_table(units, panels.ONLINE_UNIT, grain)

st.subheader(ctx.t("catalogue"))
if panels.catalogue_narrowed(f):
    st.info(ctx.t("catalogue_note"))
kpi_row(data.latest(panels.CATALOGUE_KPIS, f), panels.CATALOGUE_KPIS, ctx.period_label,
        per_row=5)
st.plotly_chart(panels.online_depth_figure(f), key="online_depth")

definition_panel(panels.ONLINE_KPIS + panels.CATALOGUE_KPIS)
