"""The app shell: page config, language switch, navigation, database guard.

This is the only place pages are registered. Each page script in `pages/` stays thin.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.i18n import translate
from dashboard.state import current_lang, database_guard

PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"


def t(key: str, **fmt: object) -> str:
    return translate(key, current_lang(), **fmt)


def run() -> None:
    st.set_page_config(page_title=translate("app_title", current_lang()), page_icon=":material/account_balance:",
                       layout="wide")
    with st.sidebar:
        st.markdown(f"### {t('app_title')}")
        lang = st.segmented_control(
            t("language"), options=["zh", "en"], format_func={"zh": "中文", "en": "English"}.get,
            default=current_lang(), key="lang_switch",
        )
        if lang and lang != st.session_state.get("lang"):
            st.session_state["lang"] = lang
            st.query_params["lang"] = lang
            st.rerun()
    pages = {
        t("section_monitor"): [
            st.Page(PAGES_DIR / "overview.py", title=t("page_overview"), icon=":material/dashboard:",
                    url_path="overview", default=True),
        ],
        t("section_supervise"): [
            st.Page(PAGES_DIR / "bulletin.py", title=t("page_bulletin"),
                    icon=":material/description:", url_path="bulletin"),
        ],
        t("section_admin"): [
            st.Page(PAGES_DIR / "data_admin.py", title=t("page_data"), icon=":material/database:",
                    url_path="data_admin"),
        ],
    }
    page = st.navigation(pages)
    if database_guard():
        page.run()
