"""指标口径 — every metric of the registry: formula, unit, direction, source, settings in force."""

import streamlit as st

from dashboard import definitions
from dashboard.shell import page_setup

ctx = page_setup("page_definitions", needs_facts=False)

for family, frame in definitions.metric_tables():
    st.subheader(ctx.t(f"family_{family}"))
    definitions.render_table(frame)

st.subheader(ctx.t("all_settings"))
st.json(definitions.settings_in_force(), expanded=False)
with st.expander(ctx.t("query_rules"), icon=":material/rule:"):
    st.markdown(definitions.query_rules())
