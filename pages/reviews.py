"""好差评 — volumes by channel, five levels, good/bad rates with intervals, tags, rectification."""

import streamlit as st

from dashboard import data, panels
from dashboard.components import definition_panel, kpi_row
from dashboard.shell import page_setup

ctx = page_setup("page_reviews")
f = ctx.filters
# every read below, started side by side (the raw-review distributions first)
data.prefetch(
    data.view_read("review_levels", f),
    data.view_read("rectification_status", f),
    data.view_read("bad_review_tags", f),
    data.view_read("cards_list", f, ("yellow",), "review", True, 500),
    data.latest_read(panels.REVIEW_KPIS, f),
    data.latest_read(["reviews"], f, "channel"),
    data.trend_read(["good_review_rate", "bad_review_rate"], f),
)

kpi_row(data.latest(panels.REVIEW_KPIS, f), panels.REVIEW_KPIS, ctx.period_label)

left, right = st.columns(2)
with left:
    st.plotly_chart(panels.reviews_by_channel_figure(f), key="reviews_by_channel")
with right:
    st.plotly_chart(panels.levels_figure(f), key="review_levels")
    st.caption(ctx.range_label)

st.subheader(ctx.t("rate_with_ci"))
history = data.trend(["good_review_rate", "bad_review_rate"], f)
c1, c2 = st.columns(2)
with c1:
    st.plotly_chart(panels.trend_figure(history, "good_review_rate", band=True), key="good_trend")
with c2:
    st.plotly_chart(panels.trend_figure(history, "bad_review_rate", band=True), key="bad_trend")

left, right = st.columns(2)
with left:
    st.plotly_chart(panels.tags_figure(f), key="bad_tags")
    st.caption(ctx.range_label)
with right:
    fig = panels.rectification_figure(f)
    if fig is not None:
        st.plotly_chart(fig, key="rectification")
        st.caption(ctx.range_label)

st.subheader(ctx.t("overdue_rectifications"))
overdue, n_overdue = data.cards(f, kinds=("yellow",), subject="review", still_open=True)
st.caption(ctx.range_label + " · " + ctx.t("total_rows", n=f"{n_overdue:,}"))
if overdue.height:
    panels.card_list_table(overdue, "overdue_rect_tbl")

definition_panel(panels.REVIEW_KPIS)
