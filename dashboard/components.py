"""Reusable page components."""

from __future__ import annotations

import polars as pl
import streamlit as st

from dashboard.i18n import translate
from dashboard.state import current_lang, engine, status
from queries.status import recent_loads


def _t(key: str, **fmt: object) -> str:
    return translate(key, current_lang(), **fmt)


def data_status_panel() -> None:
    """Row counts per table and calendar coverage, or an explanation of what to do first."""
    s = status()
    if not s.schema_ready:
        st.info(_t("no_schema"))
        return
    if s.empty:
        st.info(_t("no_cases"))
    if s.last_load:
        st.caption(_t("freshness", when=str(s.last_load.get("finished_at") or "-")[:19],
                      load=str(s.last_load.get("load_id", "-"))[:8]))
    st.subheader(_t("rows_loaded"))
    cols = st.columns(4)
    for i, (name, n) in enumerate(s.table_rows.items()):
        cols[i % 4].metric(name, f"{n:,}")
    st.caption(f"{_t('calendar_years')}: "
               + (f"{s.calendar_years[0]}–{s.calendar_years[-1]}" if s.calendar_years else "—"))


def load_runs_table() -> None:
    s = status()
    if not s.schema_ready:
        return
    runs = recent_loads(engine())
    st.subheader(_t("recent_loads"))
    if not runs:
        st.caption("—")
        return
    frame = pl.DataFrame(
        [{k: (str(v) if k == "report" else v) for k, v in r.items()} for r in runs]
    )
    st.dataframe(frame, hide_index=True, width="stretch")
