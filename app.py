"""Streamlit entry point: `xiaoneng serve` (or `streamlit run app.py`)."""

from dashboard.shell import run

run()
