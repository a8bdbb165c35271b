"""The sidebar filters shared by every page, kept in the URL query string.

The widgets' state lives in Session State (so it survives a page switch) and is mirrored to
`st.query_params` on every run (so the address bar is always a link to the current view).
When the URL's filter keys differ from what this session last wrote — a pasted link, the
browser's back button, the first request of a session — the URL wins and is loaded into the
widgets; when the URL carries no filter keys at all (a page switch that dropped them), the
session's filters win and are written back.
"""

from __future__ import annotations

import datetime as dt

import streamlit as st

from dashboard.filters import (
    DEFAULT_MONTH_SHARE,
    FILTER_KEYS,
    Q_AGENCY,
    Q_CHANNEL,
    Q_SECTOR,
    Q_TYPE,
    DefaultMonth,
    FilterOptions,
    ViewFilters,
    month_key,
)
from dashboard.i18n import enum_label, translate

W_MODE, W_FROM, W_TO, W_REGION, W_SECTOR, W_AGENCY, W_TYPE, W_CHANNEL = (
    "_f_mode", "_f_from", "_f_to", "_f_region", "_f_sector", "_f_agency", "_f_type",
    "_f_channel",
)
LAST_QS = "_xn_last_qs"
ALL = ""  # the "all regions" option (a None option would render as an empty placeholder)
VIEW = "_xn_view"


def _url_filters() -> dict[str, list[str]]:
    return {k: st.query_params.get_all(k) for k in FILTER_KEYS if k in st.query_params}


def _normalise(q: dict[str, str | list[str]]) -> dict[str, list[str]]:
    return {k: ([v] if isinstance(v, str) else list(v)) for k, v in q.items()}


def _load_widgets(vf: ViewFilters) -> None:
    st.session_state[W_MODE] = "range" if vf.is_range else "month"
    st.session_state[W_FROM] = vf.month_from
    st.session_state[W_TO] = vf.month_to
    st.session_state[W_REGION] = vf.region or ALL
    st.session_state[W_SECTOR] = list(vf.sectors)
    st.session_state[W_AGENCY] = list(vf.agencies)
    st.session_state[W_TYPE] = list(vf.item_types)
    st.session_state[W_CHANNEL] = list(vf.channels)


def _reset(options: FilterOptions) -> None:
    _load_widgets(ViewFilters.default(options))


def region_order(options: FilterOptions) -> list[str]:
    """Region codes depth-first (parent before children), for an indented picker."""
    children: dict[str | None, list[str]] = {}
    codes = {r[0] for r in options.regions}
    for code, _, parent, _ in options.regions:
        children.setdefault(parent if parent in codes else None, []).append(code)
    out: list[str] = []

    def walk(node: str | None, depth: int) -> None:
        for c in sorted(children.get(node, [])):
            out.append(c)
            if depth < 3:  # villages would make the list unusable; towns are the finest
                walk(c, depth + 1)

    walk(None, 0)
    return out


def render(options: FilterOptions, lang: str) -> ViewFilters:
    """Draw the filters, sync them with the URL, and return the current value object."""
    def t(key: str) -> str:
        return translate(key, lang)

    url = _url_filters()
    last = st.session_state.get(LAST_QS)
    if last is None or (url and url != last):
        _load_widgets(ViewFilters.from_query(url, options))

    months = list(options.months)
    if not months:
        return ViewFilters.default(options)
    # values the options no longer hold (after a reload) must not reach the widgets
    for key in (W_FROM, W_TO):
        if st.session_state.get(key) not in months:
            st.session_state[key] = ViewFilters.default(options).month_to
    depth = {r[0]: r[3] for r in options.regions}
    names = dict(options.region_names)
    level_indent = {"province": 0, "city": 1, "county": 2, "town": 3, "village": 4}
    regions = [ALL, *region_order(options)]
    if st.session_state.get(W_REGION) not in regions:
        st.session_state[W_REGION] = ALL
    sub = options.subtree(st.session_state.get(W_REGION) or None)
    sectors_sel = set(st.session_state.get(W_SECTOR) or [])
    agency_opts = [a for a in options.agencies
                   if (sub is None or a[2] in sub) and (not sectors_sel or a[3] in sectors_sel)]
    agency_names = {a[0]: a[1] for a in options.agencies}
    agency_codes = [a[0] for a in agency_opts]
    for key, allowed in ((W_SECTOR, options.sectors), (W_AGENCY, agency_codes),
                         (W_TYPE, options.item_types), (W_CHANNEL, options.channels)):
        st.session_state[key] = [v for v in (st.session_state.get(key) or []) if v in allowed]

    st.markdown(f"**{t('filters')}**")
    mode = st.segmented_control(
        t("period_mode"), ["month", "range"], key=W_MODE, required=True,
        format_func=lambda m: t("mode_month") if m == "month" else t("mode_range"),
    )
    desc = months[::-1]
    if mode == "range":
        c1, c2 = st.columns(2)
        m_from = c1.selectbox(t("month_from"), desc, key=W_FROM, format_func=month_key)
        m_to = c2.selectbox(t("month_to"), desc, key=W_TO, format_func=month_key)
    else:
        m_to = st.selectbox(t("month"), desc, key=W_TO, format_func=month_key)
        m_from = m_to
    default_note(options, m_to, lang)
    st.selectbox(
        t("region"), regions, key=W_REGION,
        format_func=lambda c: t("all_regions") if c == ALL
        else "\u3000" * max(0, level_indent.get(depth.get(c, ""), 1) - 1) + names.get(c, c),
    )
    st.multiselect(t("sector"), list(options.sectors), key=W_SECTOR, placeholder=t("all"))
    st.multiselect(t("agency"), agency_codes, key=W_AGENCY, placeholder=t("all"),
                   format_func=lambda c: agency_names.get(c, c))
    st.multiselect(t("item_type"), list(options.item_types), key=W_TYPE, placeholder=t("all"),
                   format_func=lambda v: enum_label("item_type", v, lang))
    st.multiselect(t("channel"), list(options.channels), key=W_CHANNEL, placeholder=t("all"),
                   format_func=lambda v: enum_label("channel", v, lang))
    st.button(t("reset_filters"), on_click=_reset, args=(options,), icon=":material/restart_alt:",
              width="stretch")

    if m_from > m_to:
        m_from, m_to = m_to, m_from
    vf = ViewFilters(m_from, m_to, st.session_state.get(W_REGION) or None,
                     tuple(st.session_state.get(W_SECTOR) or ()),
                     tuple(st.session_state.get(W_AGENCY) or ()),
                     tuple(st.session_state.get(W_TYPE) or ()),
                     tuple(st.session_state.get(W_CHANNEL) or ()))
    vf = ViewFilters(vf.month_from, vf.month_to, vf.region, tuple(sorted(vf.sectors)),
                     tuple(sorted(vf.agencies)), tuple(sorted(vf.item_types)),
                     tuple(sorted(vf.channels)))
    write_url(vf)
    st.session_state[VIEW] = vf
    return vf


def default_reason(chosen: DefaultMonth, lang: str) -> str:
    """The one line that says why the view opened on this month."""
    later = chosen.skipped
    return translate(
        chosen.reason, lang, month=month_key(chosen.month), usual=f"{chosen.usual:,}",
        n=f"{chosen.volume:,}",
        later="、".join(month_key(m) for m, _ in later) if lang == "zh"
        else ", ".join(month_key(m) for m, _ in later),
        n_later="、".join(f"{v:,}" for _, v in later) if lang == "zh"
        else ", ".join(f"{v:,}" for _, v in later),
        share=f"{DEFAULT_MONTH_SHARE:.0%}")


def default_note(options: FilterOptions, month: dt.date, lang: str) -> None:
    """A caption under the month picker while the default month is shown."""
    chosen = options.default
    if chosen is not None and chosen.month == month:
        st.caption(default_reason(chosen, lang))


def write_url(vf: ViewFilters) -> None:
    """Mirror the filters into the query string (other keys, e.g. lang, are left alone)."""
    q = _normalise(vf.to_query())
    for key in FILTER_KEYS:
        if key in q:
            if st.query_params.get_all(key) != q[key]:
                st.query_params[key] = q[key] if len(q[key]) > 1 or key in (
                    Q_SECTOR, Q_AGENCY, Q_TYPE, Q_CHANNEL) else q[key][0]
        elif key in st.query_params:
            del st.query_params[key]
    st.session_state[LAST_QS] = q


def link_params(vf: ViewFilters | None, lang: str) -> dict[str, str | list[str]]:
    """Query params a navigation link should carry so the view survives the page switch."""
    q: dict[str, str | list[str]] = dict(vf.to_query()) if vf else {}
    if lang != "zh":
        q["lang"] = lang
    return q

