"""Session-level state shared by all pages: language, engine, data status (cached)."""

from __future__ import annotations

import streamlit as st
from sqlalchemy.engine import Engine

from dashboard.i18n import translate
from queries.engine import database_url, make_engine
from queries.errors import XiaonengError
from queries.status import DataStatus, data_status


def current_lang() -> str:
    lang = st.session_state.get("lang") or st.query_params.get("lang", "zh")
    return lang if lang in ("zh", "en") else "zh"


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    return _engine(database_url())


@st.cache_data(ttl=30, show_spinner=False)
def _status(url: str) -> DataStatus:
    return data_status(_engine(url))


def status() -> DataStatus:
    return _status(database_url())


def database_guard() -> bool:
    """Show a clear page (not a stack trace) when the database is unreachable; True if usable."""
    try:
        status()
        return True
    except Exception as exc:  # any driver error: fail closed with a retry button
        unreachable_page(exc)
        return False


def unreachable_page(exc: BaseException) -> None:
    """The "database unreachable" message with a retry button (no stack trace, no password)."""
    text = str(getattr(exc, "orig", None) or exc).strip()
    reason = (text.splitlines() or ["?"])[0][:200]
    if isinstance(exc, XiaonengError):
        reason = str(exc)
    st.error(translate("db_unreachable", current_lang(), reason=reason))
    if st.button(translate("retry", current_lang()), key="db_retry"):
        _status.clear()
        st.cache_data.clear()
        _engine.clear()
        st.rerun()
