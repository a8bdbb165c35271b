"""The app shell: page config, language switch, navigation menu, filters, database guard.

This is the only place pages are registered. Each page script in `pages/` stays thin: it
calls `page_setup`, then reads the filters from the returned context, asks `dashboard.data`
for frames and renders components.

Navigation. Every page's `url_path` equals its file stem. Streamlit treats an app with a
`pages/` directory as a legacy (v1) multipage app until some session calls `st.navigation`:
on a cold server the very first request runs the requested page file *bare* (without this
shell) and would list the files in the sidebar. Two measures make that invisible:
`client.showSidebarNavigation = false` (.streamlit/config.toml) hides the legacy listing — it
also hides st.navigation's own menu, so the shell draws its menu with `st.page_link` — and
`ensure_shell()` notices a bare run, registers the real pages and reruns, which then goes
through this shell to the same page (page hashes are url paths, equal to the file stems).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
import streamlit as st

from dashboard import sidebar
from dashboard.filters import ViewFilters
from dashboard.i18n import translate
from dashboard.state import current_lang, database_guard, status, unreachable_page
from queries.extracts import Filters
from xiaoneng import authz

PAGES_DIR = Path(__file__).resolve().parents[1] / "pages"
SHELL_ACTIVE = "_xn_shell_active"

# section key → (file stem = url path, title key, icon, default?)
# pages that need more than the right to read (registered only for roles that may use them;
# a page that is not registered does not exist for that session, whatever the URL says)
PAGE_ACTIONS: dict[str, str] = {"data_admin": "view_data_admin", "definitions": ""}

PAGE_SPECS: tuple[tuple[str, tuple[tuple[str, str, str, bool], ...]], ...] = (
    ("section_monitor", (
        ("overview", "page_overview", ":material/dashboard:", True),
        ("timeliness", "page_timeliness", ":material/timer:", False),
        ("online", "page_online", ":material/language:", False),
        ("cards", "page_cards", ":material/warning:", False),
        ("reviews", "page_reviews", ":material/reviews:", False),
        ("business_env", "page_business_env", ":material/storefront:", False),
    )),
    ("section_analysis", (
        ("drilldown", "page_drilldown", ":material/account_tree:", False),
    )),
    ("section_supervise", (
        ("bulletin", "page_bulletin", ":material/description:", False),
    )),
    ("section_admin", (
        ("data_admin", "page_data", ":material/database:", False),
        ("definitions", "page_definitions", ":material/menu_book:", False),
    )),
)


def t(key: str, **fmt: object) -> str:
    """Translate for the current language (also the bare-run guard for pages that use only it)."""
    ensure_shell()
    return translate(key, current_lang(), **fmt)


def _allowed(stem: str, user: authz.User | None) -> bool:
    action = PAGE_ACTIONS.get(stem, "read")
    return not action or authz.can(user, action)


def build_pages(user: authz.User | None = None, everything: bool = False
                ) -> dict[str, list[st.Page]]:
    """Sections of pages for st.navigation.

    The default page is served at "/" (Streamlit publishes a default page's path as ""), so a
    deep link to its file stem would say "Page not found"; a hidden alias with url_path equal
    to the stem makes `/overview` work too (cold or warm). The menu shows the default entry.
    """
    lang = current_lang()
    out: dict[str, list[st.Page]] = {}
    for section, specs in PAGE_SPECS:
        pages = []
        for stem, title, icon, default in specs:
            if not everything and not _allowed(stem, user):
                continue
            if default:
                pages.append(st.Page(PAGES_DIR / f"{stem}.py", title=translate(title, lang),
                                     icon=icon, url_path=f"{stem}_home", default=True))
                pages.append(st.Page(PAGES_DIR / f"{stem}.py", title=translate(title, lang),
                                     icon=icon, url_path=stem, visibility="hidden"))
            else:
                pages.append(st.Page(PAGES_DIR / f"{stem}.py", title=translate(title, lang),
                                     icon=icon, url_path=stem))
        if pages:
            out[translate(section, lang)] = pages
    return out


def page_by_stem(stem: str) -> st.Page | None:
    for pages in st.session_state.get("_xn_pages", {}).values():
        for p in pages:
            if p.url_path == stem:
                return p
    return None


def ensure_shell() -> None:
    """Rerun through the shell when a page file was executed without it (cold legacy run)."""
    if not st.session_state.get(SHELL_ACTIVE):
        # Register every page for routing only, so the requested URL survives the rerun: the
        # visitor is not signed in yet at this point (the shell's gate does that), and an
        # anonymous page set would send a deep link to the default page. Nothing renders here;
        # the shell's run() then registers only the pages the signed-in user may open.
        st.navigation(build_pages(None, everything=True), position="hidden")
        st.rerun()


def _language_switch() -> None:
    lang = st.segmented_control(
        translate("language", current_lang()), options=["zh", "en"],
        format_func={"zh": "中文", "en": "English"}.get, default=current_lang(), key="lang_switch",
    )
    if lang and lang != st.session_state.get("lang"):
        st.session_state["lang"] = lang
        if lang == "zh":
            st.query_params.pop("lang", None)
        else:
            st.query_params["lang"] = lang
        st.rerun()


def _menu(pages: dict[str, list[st.Page]], vf: ViewFilters | None) -> None:
    params = sidebar.link_params(vf, current_lang())
    for section, items in pages.items():
        st.caption(section)
        for p in items:
            if p.visibility == "hidden":
                continue
            st.page_link(p, label=p.title, icon=p.icon, query_params=params, width="stretch")


def run() -> None:
    st.set_page_config(page_title=translate("app_title", current_lang()),
                       page_icon=":material/account_balance:", layout="wide",
                       initial_sidebar_state="expanded")
    st.session_state[SHELL_ACTIVE] = True
    try:
        from dashboard import auth

        # Fail closed: no page runs until the database answers and (once the schema exists)
        # someone is signed in. Without a schema there is nothing to show but "run init-db".
        if not database_guard():
            return
        user = None
        ready = status().schema_ready
        if ready:
            user = auth.gate()
            if user is None:
                return
        pages = build_pages(user, everything=not ready)
        st.session_state["_xn_pages"] = pages
        page = st.navigation(pages, position="sidebar")
        vf: ViewFilters | None = None
        with st.sidebar:
            st.markdown(f"### {translate('app_title', current_lang())}")
            _language_switch()
            if user is not None:
                auth.user_box(user)
            menu = st.container()
            st.divider()
            if ready and authz.can(user, "read"):
                from dashboard import data

                opts = data.options()
                if opts.months:
                    vf = sidebar.render(opts, current_lang())
            with menu:
                _menu(pages, vf)
        st.session_state[sidebar.VIEW] = vf
        page.run()
    except sa.exc.DBAPIError as exc:  # the server went away mid-page: same page as the guard
        unreachable_page(exc)
    finally:
        st.session_state[SHELL_ACTIVE] = False


@dataclass(frozen=True)
class PageContext:
    """What a page needs: the language, the chosen view, and the query-layer filters."""

    lang: str
    view: ViewFilters | None
    filters: Filters | None

    def t(self, key: str, **fmt: object) -> str:
        return translate(key, self.lang, **fmt)

    @property
    def period_label(self) -> str:
        if self.view is None:
            return ""
        return f"{self.view.month_to:%Y-%m}"

    @property
    def range_label(self) -> str:
        if self.view is None:
            return ""
        if self.view.is_range:
            return f"{self.view.month_from:%Y-%m} – {self.view.month_to:%Y-%m}"
        return f"{self.view.month_to:%Y-%m}"


def user_scope() -> tuple[str, ...] | None:
    """The agencies the signed-in user may see (None: everything; () nothing).

    Computed on the server from the signed-in account (never from the URL); `dashboard.data`
    applies it again to every read, so a page that forgets it still cannot widen it.
    """
    from dashboard import data

    return data.scope()


def page_setup(title_key: str, needs_facts: bool = True) -> PageContext:
    """Guard, title and freshness banner; stops the page with an explanation if it cannot run.

    Pages that show metrics need computed facts; without them (uninitialised database, no
    cases, no job run yet) the page explains what to do instead of failing.
    """
    ensure_shell()
    from dashboard import components, data
    from dashboard.auth import current_user

    lang = current_lang()
    st.title(translate(title_key, lang))
    s = status()
    if not s.schema_ready:
        if needs_facts:
            components.empty_state("no_schema", data_page=False)
            st.stop()
        return PageContext(lang, None, None)
    if needs_facts and not authz.can(current_user(), "read"):
        st.stop()
    components.freshness_banner()
    vf: ViewFilters | None = st.session_state.get(sidebar.VIEW)
    if needs_facts:
        if s.empty:
            components.empty_state("no_cases")
            st.stop()
        if vf is None or not data.has_facts():
            components.empty_state("no_facts")
            st.stop()
    filters = vf.to_filters(user_scope()) if vf else None
    return PageContext(lang, vf, filters)
