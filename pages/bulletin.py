"""月度通报 — monthly bulletin: preview, download, publish, version history (issue 5 fills it)."""

import streamlit as st

from dashboard.shell import t

st.title(t("page_bulletin"))
st.info(t("bulletin_pending"))
