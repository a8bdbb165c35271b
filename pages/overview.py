"""总览 — leadership overview. (Metric tiles arrive with the metrics engine.)"""

import streamlit as st

from dashboard.components import data_status_panel
from dashboard.shell import t

st.title(t("page_overview"))
data_status_panel()
