"""数据管理 — what is loaded, load runs, quarantine."""

import streamlit as st

from dashboard.components import data_status_panel, load_runs_table
from dashboard.shell import t

st.title(t("page_data"))
data_status_panel()
load_runs_table()
