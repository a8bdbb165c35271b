"""红黄牌预警 — the live 预警 list, cards by unit and month, each card open down to the case."""

import streamlit as st

from dashboard import data, panels
from dashboard.components import definition_panel, kpi_row
from dashboard.shell import page_setup

ctx = page_setup("page_cards")
f = ctx.filters
data.prefetch(  # every read below, started side by side
    data.view_read("cards_list", f, ("yellow", "red"), None, None, 500),
    data.view_read("warnings_list", f),
    data.latest_read(panels.CARD_KPIS, f),
    data.values_read(["yellow_cards", "red_cards"], panels.unit_filters(f, "region"), "region"),
    data.trend_read(["yellow_cards", "red_cards", "revoked_cards"], f),
)

now = data.latest(panels.CARD_KPIS, f)
kpi_row(now, panels.CARD_KPIS, ctx.period_label, per_row=5)

st.subheader(ctx.t("warnings_live"))
warn, n_warn = data.warnings(f)
if warn.height:
    st.caption(ctx.t("warnings_as_of", as_of=str(warn["as_of"][0])[:16]) + " · "
               + ctx.t("total_rows", n=f"{n_warn:,}"))
    picked_warning = panels.selected_value(panels.warnings_table(warn, "warn_tbl"), warn,
                                           "case_id")
else:
    st.caption(ctx.t("total_rows", n=0))
    picked_warning = None

left, right = st.columns(2)
with left:
    fig = panels.cards_by_unit_figure(f)
    if fig is not None:
        st.plotly_chart(fig, key="cards_by_unit")
with right:
    st.plotly_chart(panels.cards_by_month_figure(f), key="cards_by_month")

st.subheader(ctx.t("card_list"))
cards, n_cards = data.cards(f)
st.caption(ctx.range_label + " · " + ctx.t("showing_rows", total=f"{n_cards:,}",
                                           shown=cards.height))
picked_card = panels.selected_value(panels.card_list_table(cards, "card_tbl"), cards, "case_id")

st.subheader(ctx.t("case_timeline"))
picked = picked_card or picked_warning
if picked:
    panels.case_timeline(picked)
else:
    st.caption(ctx.t("pick_case"))

definition_panel(panels.CARD_KPIS)
