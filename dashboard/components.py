"""Reusable page components: KPI tile, card badge, definition panel, freshness banner,
empty state, and the data-status panels of the 数据管理 page.

Metric names, units and definitions always come from the registry (both languages), and
numbers from `dashboard.formatting`, so a tile on one page reads like a tile on any other.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import polars as pl
import streamlit as st

from dashboard import data
from dashboard.formatting import (
    fmt_count,
    fmt_delta,
    fmt_target,
    fmt_value,
    meets_target,
    py_map,
)
from dashboard.i18n import translate
from dashboard.state import current_lang, engine, status
from metrics.registry import MEASURE_BY_ID, METRIC_BY_ID, Metric
from queries.extracts import Filters
from queries.status import recent_loads


def _t(key: str, **fmt: object) -> str:
    return translate(key, current_lang(), **fmt)


def metric_name(metric_id: str, lang: str | None = None) -> str:
    m = METRIC_BY_ID[metric_id]
    return m.zh if (lang or current_lang()) == "zh" else m.en


def metric_unit(m: Metric, lang: str | None = None, day_unit: str | None = None,
                inner: bool = False, short: bool = False) -> str:
    """The unit a value of `m` is shown in. A metric counted on each case's clock
    (`unit_follows_cases`) reads in the day unit of the cases in view (`day_unit`: working /
    natural / mixed, `view_day_unit`), or, with no cases in view, "working or calendar days"."""
    lang = lang or current_lang()
    if m.unit_follows_cases:
        return day_unit_text(day_unit, lang, inner, short)
    return m.unit if lang == "zh" else (m.unit_en or m.unit)


def day_unit_text(day_unit: str | None, lang: str | None = None, inner: bool = False,
                  short: bool = False) -> str:
    """工作日 / 自然日 / 天（按各事项时限单位） for a day unit (None: no cases, say both).

    `inner`: for use inside parentheses (用时（天，按各事项时限单位）), without nested ones.
    `short`: where space is tight (a tile's label, a chart title): mixed units read 天 / days,
    and the place says "按各事项时限单位" elsewhere (the tile's caption, the chart's axis).
    """
    lang = lang or current_lang()
    if short and day_unit == "mixed":
        return translate("unit_days", lang)
    key = {"working": "unit_working", "natural": "unit_natural",
           "mixed": "unit_mixed"}.get(day_unit or "", "unit_per_case")
    text = translate(key, lang)
    if inner:
        text = text.replace("（", "，").replace("）", "").replace(" (", ", ").replace(")", "")
    return text


def view_filters(latest: bool = True) -> Filters | None:
    """The query filters of the view on screen (sidebar choice and the user's scope); with
    `latest`, only its last month (what the KPI tiles show). None before the sidebar ran."""
    from dashboard.sidebar import VIEW

    vf = st.session_state.get(VIEW)
    if vf is None:
        return None
    f = vf.to_filters(data.scope())
    return f.with_months(f.month_to, f.month_to) if latest else f


def view_day_unit(filters: Filters | None = None) -> str | None:
    """working / natural / mixed: the day unit of the cases completed under `filters`
    (default: the last month of the view on screen); None when nothing was completed."""
    f = filters if filters is not None else view_filters()
    return data.day_unit(f) if f is not None else None


def target_of(metric_id: str) -> tuple[str, float] | None:
    """(op, value) of the metric's target, with the deployment's override applied."""
    m = METRIC_BY_ID[metric_id]
    override = data.settings().targets.get(metric_id)
    if m.target is None and override is None:
        return None
    op = m.target.op if m.target else (">=" if m.direction != "lower" else "<=")
    return op, float(override if override is not None else m.target.value)  # type: ignore[union-attr]


def _row(frame: pl.DataFrame, metric_id: str) -> dict[str, Any] | None:
    rows = frame.filter(pl.col("metric_id") == metric_id)
    return rows.row(-1, named=True) if rows.height else None


def kpi_tile(frame: pl.DataFrame, metric_id: str, period_label: str,
             note: str | None = None, replaced: str | None = None) -> None:
    """One KPI in the public-dashboard convention.

    Value, the period it is for, change on last month and on the same month last year, the
    target with on-track / at-risk, and N (the denominator, or the count itself). A missing
    value says "暂无数据" rather than 0.
    """
    lang = current_lang()
    m = METRIC_BY_ID[metric_id]
    row = _row(frame, metric_id) or {}
    value = row.get("value")
    shown = fmt_value(value, m.fmt, lang)
    label = metric_name(metric_id, lang)
    day_unit = view_day_unit() if m.unit_follows_cases else None
    if m.unit_follows_cases:
        # the day unit of the cases in view goes in the label: "办结用时P90（自然日）" (the
        # value beside a long unit would be cut off in a narrow tile)
        unit = metric_unit(m, lang, day_unit, short=True)
        label = f"{label}（{unit}）" if lang == "zh" else f"{label} ({unit})"
    elif value is not None and m.fmt in ("days", "score", "num") and metric_unit(m, lang):
        shown = f"{shown} {metric_unit(m, lang)}"
    if replaced is not None:  # the value would not be a measurement (e.g. no channel recorded)
        row, value, shown = {}, None, replaced
    delta_colour = {"higher": "normal", "lower": "inverse"}.get(m.direction, "off")
    with st.container(border=True):
        st.metric(
            label, shown,
            delta=fmt_delta(row.get("mom"), m.fmt, lang), delta_color=delta_colour,  # type: ignore[arg-type]
            delta_description=_t("mom"),
            help=m.definition_zh if lang == "zh" else m.definition_en,
        )
        parts = [period_label]
        yoy = fmt_delta(row.get("yoy"), m.fmt, lang)
        parts.append(f"{_t('yoy')} {yoy if yoy else '—'}")
        n = row.get("denominator") if shows_n(m) else None
        if n is not None:
            parts.append(_t("n_cases", n=fmt_count(n)))
        if day_unit == "mixed":
            parts.append(_t("mixed_days_note"))
        st.caption(" · ".join(parts))
        if note:
            st.caption(f":material/help: {note}")
        tgt = target_of(metric_id)
        if tgt is not None:
            ok = meets_target(value, *tgt)
            text = f"{_t('target')} {fmt_target(tgt[0], tgt[1], m.fmt, lang)}"
            if ok is None:
                st.badge(f"{text} · {_t('no_data')}", color="gray")
            elif ok:
                st.badge(f"{text} · {_t('on_track')}", icon=":material/check_circle:",
                         color="green")
            else:
                st.badge(f"{text} · {_t('at_risk')}", icon=":material/warning:", color="orange")


def shows_n(m: Metric) -> bool:
    """Whether the denominator is a number of cases/reviews/items worth showing as N.

    Counts are their own N; ratios whose denominator is a sum of days (Σ statutory days) have
    no sample size to report.
    """
    if m.kind in ("share", "quantile", "coverage"):
        return True
    if m.kind == "ratio":
        return all(not MEASURE_BY_ID[d].en.startswith("Σ") for d in m.denominator
                   if d in MEASURE_BY_ID)
    return False


def kpi_row(frame: pl.DataFrame, metric_ids: Sequence[str], period_label: str,
            per_row: int = 4, notes: Mapping[str, str] | None = None,
            replaced: Mapping[str, str] | None = None) -> None:
    """KPI tiles; `notes` adds a line under a tile, `replaced` shows a text instead of its
    value (e.g. 渠道未知 14.2% / 渠道未记录 from `panels.channel_notes`)."""
    for start in range(0, len(metric_ids), per_row):
        cols = st.columns(per_row)
        for col, mid in zip(cols, metric_ids[start:start + per_row], strict=False):
            with col:
                kpi_tile(frame, mid, period_label, (notes or {}).get(mid),
                         (replaced or {}).get(mid))


def card_badge(kind: str, count: int | None = None) -> None:
    """A yellow or red card badge (with a count), the supervision office's visual language."""
    label = _t("yellow") if kind == "yellow" else _t("red")
    text = f"{label} {fmt_count(count)}" if count is not None else label
    st.badge(text, icon=":material/style:", color="orange" if kind == "yellow" else "red")


def definition_panel(metric_ids: Sequence[str]) -> None:
    """A collapsed panel with the definition of each metric shown on the page."""
    lang = current_lang()
    with st.expander(_t("definition_panel"), icon=":material/menu_book:"):
        for mid in metric_ids:
            m = METRIC_BY_ID[mid]
            st.markdown(f"**{metric_name(mid, lang)}** (`{mid}`) — "
                        + (m.definition_zh if lang == "zh" else m.definition_en))


def formula_text(m: Metric, lang: str) -> str:
    """numerator / denominator spelled with the measures' names (from the registry)."""
    def names(ids: Sequence[str]) -> str:
        out = []
        for i in ids:
            if i in MEASURE_BY_ID:
                meas = MEASURE_BY_ID[i]
                out.append(meas.zh if lang == "zh" else meas.en)
            else:
                out.append(i)
        return " + ".join(out)
    if m.kind in ("share", "ratio", "coverage") and m.denominator:
        return f"({names(m.numerator)}) / ({names(m.denominator)})"
    return names(m.numerator)


def freshness_banner() -> None:
    """Every page says how fresh its numbers are and warns about calendar fallbacks."""
    fresh = data.freshness()
    job = fresh.get("job")
    if not job:
        if fresh.get("load"):
            st.warning(_t("freshness_no_job"), icon=":material/schedule:")
        return
    cutoff, as_of = job.get("data_cutoff"), job.get("as_of")
    st.caption(":material/schedule: " + _t(
        "freshness_job", finished=str(job.get("finished_at") or "-")[:16],
        cutoff=str(cutoff)[:16] if cutoff else _t("cutoff_unknown"),
        as_of=str(as_of or "-")[:16], months=job.get("months") or "-",
        calendar=job.get("calendar_version") or "-",
    ))
    if cutoff and as_of and as_of > cutoff:
        st.warning(_t("as_of_after_cutoff"), icon=":material/event_busy:")
    if job.get("fallback_years"):
        st.warning(_t("fallback_warning", years=job["fallback_years"]),
                   icon=":material/event_busy:")


def empty_state(message_key: str, data_page: bool = True) -> None:
    """An explanation of what to do, with a link to the place to do it (never a stack trace)."""
    st.info(_t(message_key), icon=":material/info:")
    if data_page:
        from dashboard.shell import page_by_stem

        page = page_by_stem("data_admin")
        if page is not None:
            st.page_link(page, label=_t("go_data_page"), icon=":material/database:")


def no_rows() -> None:
    st.info(_t("no_rows_filter"), icon=":material/filter_alt_off:")


def table(frame: pl.DataFrame, columns: Mapping[str, str] | None = None,
          formats: Mapping[str, str] | None = None, height: int | str = "auto",
          **kwargs: Any) -> Any:
    """st.dataframe with translated headers and registry number formats.

    `columns` maps frame column → header (only those are shown, in that order); `formats`
    maps column → registry fmt, rendered through `fmt_value` so a null reads "暂无数据".
    """
    lang = current_lang()
    df = frame
    if formats:
        df = df.with_columns(
            py_map(df[c], lambda v, f=f: fmt_value(v, f, lang))
            for c, f in formats.items() if c in df.columns
        )
    if columns:
        df = df.select([c for c in columns if c in df.columns]).rename(
            {c: h for c, h in columns.items() if c in df.columns})
    return st.dataframe(df, hide_index=True, width="stretch", height=height, **kwargs)


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
        # big PostgreSQL tables: the planner's estimate (queries.status), marked as such
        cols[i % 4].metric(name, f"≈{n:,}" if name in s.approximate else f"{n:,}")
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
