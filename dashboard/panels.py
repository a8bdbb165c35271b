"""Page-level building blocks: the compositions of data + charts + components that pages use.

Pages stay thin (read filters, call one of these, render); what a page shows — which metrics,
in which order, ranked how — is declared here once, with metric names and formats always taken
from the registry.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import plotly.graph_objects as go
import polars as pl
import streamlit as st

from dashboard import charts, data
from dashboard.components import (
    day_unit_text,
    metric_name,
    no_rows,
    table,
    target_of,
    view_day_unit,
)
from dashboard.formatting import fmt_value, py_map
from dashboard.i18n import translate
from dashboard.state import current_lang
from metrics.registry import METRIC_BY_ID, UNKNOWN_SHARE_NOTED
from queries.extracts import Filters

OVERVIEW_KPIS: list[str] = [
    "accepted", "completed", "on_time_rate", "overdue",
    "online_rate", "full_online_rate", "max_one_visit_rate", "promise_compression_rate",
    "avg_used_days", "good_review_rate", "e_result_rate", "bad_review_rectified_rate",
    "yellow_cards", "red_cards",
]
OVERVIEW_EXTRA: list[str] = ["warnings", "revoked_cards"]  # shown beside the card summary
OVERVIEW_TRENDS: list[str] = ["accepted", "on_time_rate", "online_rate", "good_review_rate"]
RANK_METRICS: list[str] = [
    "on_time_rate", "online_rate", "full_online_rate", "max_one_visit_rate", "good_review_rate",
    "promise_compression_rate", "overdue", "accepted",
]


def _t(key: str, **fmt: object) -> str:
    return translate(key, current_lang(), **fmt)


def metric_label(metric_id: str) -> str:
    return metric_name(metric_id)


def top_n() -> int:
    return data.settings().top_n


def trend_figure(history: pl.DataFrame, metric_id: str, band: bool = False,
                 title: str | None = None) -> go.Figure:
    """A metric's monthly line with its target line (registry or settings override)."""
    m = METRIC_BY_ID[metric_id]
    df = history.filter(pl.col("metric_id") == metric_id)
    tgt = target_of(metric_id)
    return charts.trend_chart(
        df, m.fmt, title=title or metric_name(metric_id), target=tgt[1] if tgt else None,
        target_label=_t("target_line"), band=band,
    )


def top_bottom(metric_id: str, filters: Filters) -> tuple[pl.DataFrame, pl.DataFrame, str]:
    """The best and worst N ranked units (region grain under the current region)."""
    r = data.ranking(metric_id, data.unit_base(filters), "region")
    n = top_n()
    ranked = r.filter(pl.col("ranked"))
    top = ranked.head(n)
    bottom = ranked.tail(n).reverse() if ranked.height > n else ranked.head(0)
    note = _t("unranked_note", n=data.settings().min_n_rank)
    return top, bottom, note


def ranking_table(frame: pl.DataFrame, metric_id: str) -> None:
    if frame.is_empty():
        st.caption("—")
        return
    m = METRIC_BY_ID[metric_id]
    table(frame, {"rank": _t("rank"), "region_name": _t("unit"), "value": metric_name(metric_id)},
          formats={"value": m.fmt})


def card_counts(frame: pl.DataFrame) -> dict[str, int | None]:
    out: dict[str, int | None] = {}
    for mid in ("yellow_cards", "red_cards", "warnings", "revoked_cards"):
        rows = frame.filter(pl.col("metric_id") == mid)
        v = rows["value"][0] if rows.height else None
        out[mid] = int(v) if v is not None else None
    return out


def be_index_by_region(filters: Filters) -> pl.DataFrame:
    """The index per region unit for the last month, best first (empty if not applicable)."""
    base = data.unit_base(Filters(filters.month_to, filters.month_to, filters.region_code))
    df = data.values(["be_index"], base, "region")
    return df.filter(pl.col("value").is_not_null()).sort("value", descending=True)


def unit_metrics_table(frame: pl.DataFrame, metric_ids: Sequence[str], grain: str,
                       key: str | None = None, selectable: bool = False):
    """One row per unit, one column per metric (values formatted per the registry)."""
    name_col = {"region": "region_name", "agency": "agency_name", "item": "item_name",
                "channel": "channel", "sector": "sector", "city": "region_name"}[grain]
    key_col = {"region": "region_code", "agency": "agency_code", "item": "item_code",
               "channel": "channel", "sector": "sector", "city": "region_code"}[grain]
    wide = pivot_units(frame, metric_ids, key_col, name_col)
    cols = {name_col: _t("unit"), **{mid: metric_header(mid) for mid in metric_ids}}
    fmts = {mid: METRIC_BY_ID[mid].fmt for mid in metric_ids}
    if selectable:
        return wide, table(wide, cols, fmts, key=key, on_select="rerun",
                           selection_mode="single-row")
    return wide, table(wide, cols, fmts, key=key)


def metric_header(metric_id: str) -> str:
    """A column header: the metric's name, with the day unit of the cases in view for a metric
    counted on each case's clock (平均办结用时（自然日）)."""
    m = METRIC_BY_ID[metric_id]
    if not m.unit_follows_cases:
        return metric_name(metric_id)
    unit = day_unit_text(view_day_unit(), inner=True)
    return f"{metric_name(metric_id)}（{unit}）" if current_lang() == "zh" else \
        f"{metric_name(metric_id)} ({unit})"


def pivot_units(frame: pl.DataFrame, metric_ids: Sequence[str], key_col: str, name_col: str
                ) -> pl.DataFrame:
    """Long metric_values rows → one row per unit with a column per metric (no arithmetic)."""
    keys = [key_col] if key_col == name_col else [key_col, name_col]
    if frame.is_empty():
        return pl.DataFrame(schema={**{k: pl.String() for k in keys},
                                    **{m: pl.Float64() for m in metric_ids}})
    wide = frame.select(*keys, "metric_id", "value").pivot(
        on="metric_id", index=keys, values="value", aggregate_function="first")
    for mid in metric_ids:
        if mid not in wide.columns:
            wide = wide.with_columns(pl.lit(None, dtype=pl.Float64).alias(mid))
    lead = metric_ids[0]
    return wide.select(*keys, *metric_ids).sort(lead, descending=METRIC_BY_ID[lead].direction
                                                != "lower", nulls_last=True)


def fmt(metric_id: str, value: float | None) -> str:
    return fmt_value(value, METRIC_BY_ID[metric_id].fmt, current_lang())


# ---------------------------------------------------------------------------------------------
# 办理时效

TIMELINESS_KPIS: list[str] = [
    "promise_compression_rate", "statutory_speedup_rate", "promise_speedup_rate",
    "on_time_rate", "avg_used_days", "median_used_days", "p90_used_days", "overdue",
]
TIMELINESS_UNIT: list[str] = [
    "on_time_rate", "promise_compression_rate", "statutory_speedup_rate",
    "promise_speedup_rate", "avg_used_days", "median_used_days", "p90_used_days", "overdue",
    "completed",
]
GRAINS: list[str] = ["region", "agency", "item"]


def grain_label(grain: str) -> str:
    return _t(f"grain_{grain}")


def unit_filters(filters: Filters, grain: str) -> Filters:
    """Last month of the filter; the region grain lists the units under the current region."""
    f = filters.with_months(filters.month_to, filters.month_to)
    return data.unit_base(f) if grain == "region" else f


def used_days_figure(filters: Filters) -> go.Figure:
    """The used-days histogram over the range, with its median and P90 marked.

    Labelled in the day unit of the cases in view (工作日 / 自然日 / mixed). The bins adapt to
    the distribution (charts.histogram: up to its P99, then one overflow bar) so a log with a
    median of 55 days is not one "≥30" bar. The markers use the query layer's exact histogram
    quantile, so they equal the tiles' median / P90 for a single month and stay exact over a
    range.
    """
    from metrics.query import weighted_quantile

    hist = data.used_days_histogram(filters)
    day_unit = view_day_unit(filters)
    unit = day_unit_text(day_unit, inner=True)
    marks: list[tuple[float | None, str]] = []
    if hist.height:
        for q, label in (("0.5", _t("median")), ("0.9", "P90")):
            v = hist.select(weighted_quantile(pl.col("used_wd"), pl.col("n"), q)).item()
            marks.append((v, f"{label} {fmt_value(v, 'days', current_lang())}"))
    return charts.histogram(hist, _t("used_days_dist", unit=day_unit_text(day_unit, short=True)),
                            _t("used_days", unit=unit),
                            _t("cases"), markers=marks,
                            hover=lambda rng, n: _t("hist_hover", range=rng,
                                                    unit=day_unit_text(day_unit), n=f"{n:,}"))


CASE_COLUMNS = ["case_id", "agency_name", "item_name", "channel", "accepted_at",
                "completed_at", "status", "promised_days", "statutory_days", "due_at"]
CARD_COLUMNS = ["kind", "case_id", "agency_name", "item_name", "issued_on", "days_over",
                "rule", "still_open", "revoked"]


def case_headers() -> dict[str, str]:
    """Contract column names → their Chinese headers (the contract's own), or snake_case."""
    from queries.contract import TABLES

    lang = current_lang()
    heads = {c.name: (c.zh if lang == "zh" else c.name) for c in TABLES["cases"].columns}
    heads.update({"agency_name": TABLES["agencies"].columns[1].zh if lang == "zh" else "agency",
                  "item_name": TABLES["items"].columns[1].zh if lang == "zh" else "item"})
    return heads


def case_table(frame: pl.DataFrame, key: str | None = None, selectable: bool = False):
    from dashboard.i18n import enum_label

    lang = current_lang()
    frame = frame.with_columns(
        py_map(frame[c], lambda v, c=c: enum_label(c, v, lang))
        for c in ("channel", "status") if c in frame.columns
    )
    heads = case_headers()
    cols = {c: heads.get(c, c) for c in CASE_COLUMNS if c in frame.columns}
    if selectable:
        return table(frame, cols, key=key, on_select="rerun", selection_mode="single-row")
    return table(frame, cols, key=key)


# ---------------------------------------------------------------------------------------------
# 网上办理

ONLINE_KPIS: list[str] = [
    "online_rate", "full_online_rate", "mobile_rate", "no_visit_rate", "max_one_visit_rate",
    "instant_rate", "e_result_rate", "cross_region",
]
ONLINE_UNIT: list[str] = ["online_rate", "full_online_rate", "no_visit_rate",
                          "max_one_visit_rate", "accepted", "unknown_channel_share"]
# Rates whose numerator is a channel: not measured where the export recorded no channel.
CHANNEL_RATES: tuple[str, ...] = ("online_rate", "mobile_rate")
UNKNOWN_CHANNEL = "unknown_channel_share"


def channel_notes(frame: pl.DataFrame) -> dict[str, dict[str, str]]:
    """kpi_row's `notes` and `replaced` for the channel rates in `frame` (which must hold
    unknown_channel_share): "渠道未知 14.2%" under them when the share is ≥ 1 %, and
    "渠道未记录" instead of them when no case in view has a recorded channel."""
    rows = frame.filter(pl.col("metric_id") == UNKNOWN_CHANNEL)
    share = rows["value"][-1] if rows.height else None
    if share is None or share < UNKNOWN_SHARE_NOTED:
        return {"notes": {}, "replaced": {}}
    if share >= 1.0:
        return {"notes": {}, "replaced": {m: _t("channel_unrecorded") for m in CHANNEL_RATES}}
    text = _t("channel_unknown", share=fmt_value(share, "pct", current_lang()))
    return {"notes": {m: text for m in CHANNEL_RATES}, "replaced": {}}
CATALOGUE_KPIS: list[str] = ["online_capable_item_rate", "full_online_item_rate",
                             "zero_visit_item_rate", "avg_materials", "avg_steps"]


def channel_mix_figure(filters: Filters) -> go.Figure:
    from dashboard.i18n import enum_label

    df = data.trend(["accepted"], filters, grain="channel")
    labels = {c: enum_label("channel", c, current_lang())
              for c in df["channel"].drop_nulls().unique().to_list()}
    return charts.stacked_area(df, "period", "value", "channel", labels, _t("channel_mix"))


def online_depth_figure(filters: Filters) -> go.Figure:
    df = data.online_depth(filters)
    df = df.with_columns(py_map(df["online_depth"], lambda n: _t("depth_level", n=n), "label"))
    return charts.bar_chart(df, "label", "n", "int", _t("online_depth"), horizontal=False)


def catalogue_narrowed(filters: Filters) -> bool:
    return bool(filters.agency_codes or filters.channels or filters.region_code)


# ---------------------------------------------------------------------------------------------
# 红黄牌预警

# gross cards, net of revocations (申诉成立), the revoked ones; then the live warnings and overdue
CARD_KPIS: list[str] = ["yellow_cards", "net_yellow_cards", "red_cards", "net_red_cards",
                        "revoked_cards", "warnings", "overdue"]


def warnings_table(frame: pl.DataFrame, key: str):
    from dashboard.i18n import enum_label

    lang = current_lang()
    heads = case_headers()
    unit = day_unit_text(view_day_unit(), inner=True)
    df = frame.with_columns(py_map(frame["channel"], lambda c: enum_label("channel", c, lang)))
    cols = {"case_id": heads["case_id"], "agency_name": heads["agency_name"],
            "item_name": heads["item_name"], "channel": heads["channel"],
            "accepted_on": heads["accepted_at"], "due_date": _t("ev_due"),
            "used_wd": _t("used_days", unit=unit), "deadline_days": heads["promised_days"],
            "remaining_wd": _t("days_left", unit=unit),
            "rule": _t("rule")}
    return table(df, cols, key=key, on_select="rerun", selection_mode="single-row")


def cards_by_unit_figure(filters: Filters, grain: str = "region") -> go.Figure | None:
    f = unit_filters(filters, grain)
    df = data.values(["yellow_cards", "red_cards"], f, grain)
    if df.is_empty():
        return None
    key, name = ("region_code", "region_name") if grain == "region" else ("agency_code",
                                                                           "agency_name")
    wide = pivot_units(df, ["yellow_cards", "red_cards"], key, name).fill_null(0)
    wide = wide.filter((pl.col("yellow_cards") > 0) | (pl.col("red_cards") > 0)).head(20)
    return charts.stacked_bars(
        wide, name, [("yellow_cards", _t("yellow"), charts.YELLOW),
                     ("red_cards", _t("red"), charts.RED)],
        _t("cards_by_unit") + _t("month_of", month=f"{filters.month_to:%Y-%m}"), horizontal=True,
    )


def cards_by_month_figure(filters: Filters) -> go.Figure:
    df = data.trend(["yellow_cards", "red_cards", "revoked_cards"], filters)
    names = {m: metric_name(m) for m in ("yellow_cards", "red_cards", "revoked_cards")}
    return charts.trend_chart(df, "int", _t("cards_by_month"), series="metric_id",
                              series_labels=names,
                              series_colours={"yellow_cards": charts.YELLOW,
                                              "red_cards": charts.RED,
                                              "revoked_cards": charts.GREY})


def card_day_unit(cards: pl.DataFrame) -> str | None:
    """The day unit of a card list's days over: a 差评 card counts working days (reviews have
    no limit unit); a case card those of the cases in view."""
    subjects = set(cards["subject"].to_list()) if "subject" in cards.columns else {"case"}
    if "case" not in subjects:
        return "working"
    unit = view_day_unit()
    if "review" in subjects and unit not in (None, "working"):
        return "mixed"
    return unit


def card_list_table(frame: pl.DataFrame, key: str):
    lang = current_lang()
    heads = case_headers()
    df = frame.with_columns(
        pl.col("kind").replace_strict({"yellow": _t("yellow"), "red": _t("red")},
                                      default=pl.col("kind")),
        pl.col("still_open").replace_strict({True: "是" if lang == "zh" else "yes",
                                             False: "否" if lang == "zh" else "no"},
                                            default=None, return_dtype=pl.String),
        pl.col("revoked").replace_strict({True: _t("revoked"), False: ""}, default=None,
                                         return_dtype=pl.String),
    )
    cols = {"kind": _t("kind"), "case_id": heads["case_id"], "agency_name": heads["agency_name"],
            "item_name": heads["item_name"], "issued_on": "发牌日期" if lang == "zh" else "issued",
            "days_over": _t("days_over", unit=day_unit_text(card_day_unit(frame), inner=True)),
            "rule": _t("rule"), "still_open": _t("open"), "revoked": _t("revoked")}
    return table(df, cols, key=key, on_select="rerun", selection_mode="single-row")


def selected_value(event, frame: pl.DataFrame, column: str) -> str | None:
    """The `column` value of the row picked in a selectable st.dataframe (None: no pick)."""
    try:
        rows = event.selection.rows
    except AttributeError:
        return None
    if not rows or rows[0] >= frame.height:
        return None
    return frame[column][rows[0]]


def case_timeline(case_id: str) -> None:
    """A case on the working-day calendar: events, suspensions, non-working days, cards."""
    import datetime as dt

    from dashboard.i18n import enum_label

    detail = data.case_detail(case_id)
    if detail is None:
        st.info(_t("no_rows_filter"))
        return
    c = detail["case"]
    lang = current_lang()
    events: list[tuple[str, dt.datetime | dt.date | None]] = [
        (_t("ev_submitted"), c.get("submitted_at")), (_t("ev_accepted"), c.get("accepted_at")),
        (_t("ev_due"), c.get("due_at")), (_t("ev_completed"), c.get("completed_at")),
    ]
    for card in detail["cards"].iter_rows(named=True):
        label = _t("yellow") if card["kind"] == "yellow" else _t("red")
        events.append((label, card["issued_on"]))
    spans = [(_t("ev_suspended"), s["started_at"], s["ended_at"])
             for s in detail["suspensions"].iter_rows(named=True)]
    times = [t for _, t in events if t is not None]
    times = [t if isinstance(t, dt.datetime) else dt.datetime.combine(t, dt.time()) for t in times]
    as_of = data.freshness().get("job", {}) or {}
    end = max(times + ([as_of["as_of"]] if as_of.get("as_of") else []))
    start = min(times)
    non_working = []
    for year in range(start.year, end.year + 1):
        days = data.calendar_days(year)
        non_working += days.filter(
            ~pl.col("is_workday"), pl.col("date") >= start.date(), pl.col("date") <= end.date()
        )["date"].to_list()
    fig = charts.case_timeline(events, spans, non_working, f"{_t('case_timeline')} {case_id}",
                               _t("non_working"), end=end)
    st.plotly_chart(fig, key=f"timeline_{case_id}")
    heads = case_headers()
    facts = {
        heads["agency_name"]: c.get("agency_name"), heads["item_name"]: c.get("item_name"),
        heads["channel"]: enum_label("channel", c.get("channel"), lang),
        heads["status"]: enum_label("status", c.get("status"), lang),
        heads["statutory_days"]: c.get("statutory_days"),
        heads["promised_days"]: c.get("promised_days"),
        heads["limit_unit"]: c.get("limit_unit"),
    }
    st.caption(" · ".join(f"{k}: {'—' if v is None else v}" for k, v in facts.items()))
    if detail["suspensions"].height:
        st.markdown(f"**{_t('suspensions')}**")
        susp = detail["suspensions"]
        susp = susp.with_columns(py_map(susp["reason"], lambda r: enum_label("reason", r, lang)))
        st.dataframe(susp, hide_index=True, width="stretch")


# ---------------------------------------------------------------------------------------------
# 好差评

REVIEW_KPIS: list[str] = [
    "reviews", "good_review_rate", "bad_review_rate", "review_score",
    "review_participation_rate", "actual_review_rate", "review_coverage_rate",
    "bad_review_callback_rate", "bad_review_rectified_rate",
]


def reviews_by_channel_figure(filters: Filters) -> go.Figure:
    from dashboard.i18n import enum_label

    f = filters.with_months(filters.month_to, filters.month_to)
    df = data.values(["reviews"], f, "channel")
    df = df.with_columns(py_map(df["channel"], lambda c: enum_label("review_channel", c,
                                                                     current_lang()), "label")
                         ).sort("value", descending=True)
    return charts.bar_chart(df, "label", "value", "int", _t("reviews_by_channel")
                            + _t("month_of", month=f"{filters.month_to:%Y-%m}"))


def levels_figure(filters: Filters) -> go.Figure:
    df = data.review_levels(filters)
    labels = [f"{lv} {_t(f'level_{lv}')}" for lv in df["level"].to_list()]
    colours = {1: charts.RED, 2: "#ef6c00", 3: charts.GREY, 4: "#7cb342", 5: "#2e7d32"}
    fig = go.Figure(go.Bar(x=labels, y=df["n"].to_list(),
                           marker_color=[colours.get(lv, charts.BLUE)
                                         for lv in df["level"].to_list()],
                           hovertemplate="%{x}: %{y:,d}<extra></extra>"))
    fig.update_yaxes(tickformat=",d")
    return charts.base_layout(fig, _t("five_levels"), 320)


def tags_figure(filters: Filters) -> go.Figure:
    df = data.bad_review_tags(filters)
    return charts.bar_chart(df, "tag", "n", "int", _t("bad_tags"), color=charts.RED)


def rectification_figure(filters: Filters) -> go.Figure | None:
    df = data.rectification_status(filters)
    if df.is_empty():
        return None
    order = ["rectified_on_time", "rectified_late", "open_in_time", "open_overdue"]
    counts = dict(df.select("status", "n").iter_rows())
    colours = ["#2e7d32", "#f9a825", charts.GREY, charts.RED]
    present = [(s, c) for s, c in zip(order, colours, strict=True) if counts.get(s)]
    return charts.donut([_t(s) for s, _ in present], [counts[s] for s, _ in present],
                        _t("rectification"), [c for _, c in present])


# ---------------------------------------------------------------------------------------------
# 营商环境

def be_units(filters: Filters) -> list[tuple[str, str]]:
    """(code, name) of the region units the index is stored for, under the current region."""
    base = data.unit_base(Filters(filters.month_to, filters.month_to, filters.region_code))
    df = data.values(["be_index"], base, "region")
    return list(df.filter(pl.col("value").is_not_null())
                .select("region_code", "region_name").unique(maintain_order=True).iter_rows())


def be_heatmap_figure(filters: Filters) -> go.Figure | None:
    from queries.extracts import add_months

    start = min(filters.month_from, add_months(filters.month_to, -11))
    base = data.unit_base(Filters(start, filters.month_to, filters.region_code))
    df = data.values(["be_index"], base, "region").filter(pl.col("value").is_not_null())
    if df.is_empty():
        return None
    return charts.heatmap(df, "period", "region_name", "value", _t("be_by_region"))


def be_sub_frame(filters: Filters, region_code: str) -> pl.DataFrame:
    """Sub-indicator rows of one region in the last month, with registry names."""
    f = filters.with_months(filters.month_to, filters.month_to)
    df = data.be_scores(f, (region_code,))
    df = df.filter(pl.col("indicator") != "be_index")
    return df.with_columns(
        py_map(df["indicator"], lambda i: metric_name(i) if i in METRIC_BY_ID else i, "name"))


def be_contribution_figure(sub: pl.DataFrame) -> go.Figure:
    return charts.stacked_bars(
        sub.sort("contribution", descending=True, nulls_last=True), "name",
        [("contribution", _t("contribution"), charts.BLUE)], _t("be_subs"), horizontal=True)


def be_sub_table(sub: pl.DataFrame) -> None:
    lang = current_lang()
    fmts = {}
    df = sub.with_columns(pl.Series("value", [
        fmt_value(v, METRIC_BY_ID[i].fmt if i in METRIC_BY_ID else "num", lang)
        for i, v in zip(sub["indicator"].to_list(), sub["value"].to_list(), strict=True)],
        dtype=pl.String))
    fmts = {"score": "score", "contribution": "score", "change": "score", "weight": "num"}
    table(df, {"name": _t("indicator"), "value": _t("value"), "n": "N", "score": _t("score"),
               "weight": _t("weight"), "contribution": _t("contribution"), "rank": _t("rank"),
               "change": _t("mom")}, fmts)


def be_bounds_table() -> None:
    s = data.settings()
    rows = []
    for ind, b in s.be_bounds.items():
        m = METRIC_BY_ID.get(ind)
        f = m.fmt if m else "num"
        rows.append({"name": metric_name(ind) if m else ind,
                     "frontier": fmt_value(b["frontier"], f, current_lang()),
                     "worst": fmt_value(b["worst"], f, current_lang()),
                     "weight": f"{s.weight(ind):.3f}",
                     "pillar": _t(f"pillar_{s.pillar_of(ind)}")})
    table(pl.DataFrame(rows), {"name": _t("indicator"), "pillar": _t("pillar"),
                               "frontier": _t("frontier"), "worst": _t("worst"),
                               "weight": _t("weight")})


# ---------------------------------------------------------------------------------------------
# 单位分析 (drill-down)

DRILL = "_xn_drill"
DRILL_NONCE = "_xn_drill_nonce"
DRILL_LEVELS = ("region", "agency", "item", "case")
DRILL_METRICS: list[str] = [
    "on_time_rate", "overdue", "online_rate", "full_online_rate", "no_visit_rate",
    "max_one_visit_rate", "instant_rate", "e_result_rate", "accepted", "completed",
    "in_progress", "review_participation_rate", "yellow_cards", "red_cards",
]


def drill_state() -> dict[str, str | None]:
    return st.session_state.setdefault(DRILL, {"region": None, "agency": None, "item": None})


def drill_level() -> str:
    s = drill_state()
    for level, key in (("region", "region"), ("agency", "agency"), ("item", "item")):
        if s.get(key) is None:
            return level
    return "case"


def drill_key(level: str) -> str:
    """A fresh widget key per drill step, so a table never re-fires an old selection."""
    return f"drill_{level}_{st.session_state.get(DRILL_NONCE, 0)}"


def drill_to(level: str, code: str | None) -> None:
    s = drill_state()
    s[level] = code
    st.session_state[DRILL_NONCE] = st.session_state.get(DRILL_NONCE, 0) + 1


def drill_back() -> None:
    s = drill_state()
    for key in ("item", "agency", "region"):
        if s.get(key) is not None:
            s[key] = None
            break
    st.session_state[DRILL_NONCE] = st.session_state.get(DRILL_NONCE, 0) + 1


def drill_reset(to: str | None = None) -> None:
    """Go back to a level of the breadcrumb (None: the top)."""
    s = drill_state()
    keep = {"region": 1, "agency": 2, "item": 3}.get(to or "", 0)
    for i, key in enumerate(("region", "agency", "item")):
        if i >= keep:
            s[key] = None
    st.session_state[DRILL_NONCE] = st.session_state.get(DRILL_NONCE, 0) + 1


def drill_filters(filters: Filters) -> Filters:
    """The page filters narrowed by the drill path (region → agency → item)."""
    import dataclasses

    s = drill_state()
    f = filters.with_months(filters.month_to, filters.month_to)
    base = data.unit_base(f)
    if s.get("region"):
        if s["region"] == base.region_code:  # the "…本级" unit: the region's own agencies
            own = tuple(a[0] for a in data.options().agencies if a[2] == s["region"])
            f = dataclasses.replace(f, region_code=s["region"], agency_codes=own or ("-",))
        else:
            f = dataclasses.replace(f, region_code=s["region"])
    else:
        f = base
    if s.get("agency"):
        f = dataclasses.replace(f, agency_codes=(s["agency"],))
    if s.get("item"):
        f = dataclasses.replace(f, item_codes=(s["item"],))
    return f


def drill_names() -> dict[str, str]:
    opts = data.options()
    names = dict(opts.region_names)
    names.update({a[0]: a[1] for a in opts.agencies})
    return names


def breadcrumb(filters: Filters) -> None:
    """Clickable path: top › region › agency › item, and a back step."""
    s = drill_state()
    names = drill_names()
    item_names = st.session_state.get("_xn_item_names", {})
    cols = st.columns([2, 1, 3, 3, 3, 2])
    cols[0].button(_t("back"), icon=":material/arrow_back:", on_click=drill_back,
                   disabled=drill_level() == "region", key="drill_back")
    cols[1].button(_t("all"), on_click=drill_reset, args=(None,), key="crumb_top",
                   type="tertiary")
    for i, key in enumerate(("region", "agency", "item")):
        code = s.get(key)
        if code is None:
            break
        label = (item_names.get(code) if key == "item" else names.get(code)) or code
        if key == "region" and code == data.unit_base(filters).region_code:
            label = f"{label}本级" if current_lang() == "zh" else f"{label} (own)"
        cols[2 + i].button(f"› {label}", on_click=drill_reset, args=(key,),
                           key=f"crumb_{key}", type="tertiary")


def drill_units(metric_id: str, filters: Filters) -> tuple[pl.DataFrame, str, str, str]:
    """The current level's units with the metric (and volume), best first."""
    level = drill_level()
    f = drill_filters(filters)
    grain = {"region": "region", "agency": "agency", "item": "item"}[level]
    ids = list(dict.fromkeys([metric_id, "accepted", "completed"]))
    df = data.values(ids, f, grain)
    key_col = {"region": "region_code", "agency": "agency_code", "item": "item_code"}[grain]
    name_col = {"region": "region_name", "agency": "agency_name", "item": "item_name"}[grain]
    wide = pivot_units(df, ids, key_col, name_col)
    if grain == "item":
        st.session_state["_xn_item_names"] = dict(wide.select(key_col, name_col).iter_rows())
    return wide, grain, key_col, name_col


def drill_table(wide: pl.DataFrame, metric_id: str, name_col: str, key: str):
    ids = [c for c in wide.columns if c in METRIC_BY_ID]
    cols = {name_col: _t("unit"), **{m: metric_name(m) for m in ids}}
    return table(wide, cols, {m: METRIC_BY_ID[m].fmt for m in ids}, key=key,
                 on_select="rerun", selection_mode="single-row")


def drill_chart(wide: pl.DataFrame, metric_id: str, name_col: str, key_col: str, key: str):
    m = METRIC_BY_ID[metric_id]
    tgt = target_of(metric_id)
    fig = charts.bar_chart(wide.head(30), name_col, metric_id, m.fmt, metric_name(metric_id),
                           key_col=key_col, target=tgt[1] if tgt else None,
                           target_label=_t("target_line"))
    return st.plotly_chart(fig, key=key, on_select="rerun", selection_mode="points")


def clicked_key(event) -> str | None:
    """The unit key carried in customdata of the clicked bar (None: no click)."""
    try:
        points = event.selection.points
    except AttributeError:
        return None
    if not points:
        return None
    cd = points[0].get("customdata")
    if isinstance(cd, list | tuple):
        cd = cd[0] if cd else None
    return cd


def case_metric_for(metric_id: str) -> str:
    from metrics.query import CASE_LIST_METRICS

    return metric_id if metric_id in CASE_LIST_METRICS else "accepted"


def case_export(metric_id: str, filters: Filters, part: str, kind: str,
                limit: int = 100_000):
    """A deferred download: every case behind the number (up to `limit`) as CSV or Excel.

    Returned as a callable for st.download_button, so the (possibly large) export is built
    only when the user clicks, not on every rerun, and audited then (`dashboard.downloads`).
    It runs outside the script run, so it calls the query API directly with objects captured
    now rather than the st.cache layer.
    """
    from dashboard.auth import current_user
    from dashboard.downloads import audited_download
    from dashboard.state import engine
    from metrics.query import case_list
    from xiaoneng.authz import require

    user = require(current_user(), "export")
    filters = data.enforce(filters)  # the user's scope, whatever the caller passed
    eng, online = engine(), tuple(data.settings().online_channels)

    def make() -> tuple[bytes, dict]:
        frames, page = [], 1
        while True:
            df, total = case_list(eng, metric_id, filters, filters.month_to, page, 1000,
                                  part, online)  # type: ignore[arg-type]
            frames.append(df)
            if page * 1000 >= min(total, limit) or df.is_empty():
                break
            page += 1
        full = pl.concat(frames, how="vertical_relaxed")
        return (csv_bytes(full) if kind == "csv" else xlsx_bytes(full)), {"rows": full.height}

    return audited_download(user, f"cases:{metric_id}:{part}", kind, make,
                            {"month": filters.month_to, "filters": _filters_detail(filters)})


def _filters_detail(f: Filters) -> dict:
    return {"region": f.region_code, "sectors": list(f.sectors), "agencies": list(f.agency_codes),
            "item_types": list(f.item_types), "items": list(f.item_codes),
            "channels": list(f.channels),
            "scoped_to": None if f.allowed_agencies is None else len(f.allowed_agencies)}


def quarantine_export(rows: pl.DataFrame):
    """A deferred, audited CSV of the quarantine rows on screen (analysts only)."""
    from dashboard.auth import current_user
    from dashboard.downloads import audited_download
    from xiaoneng.authz import require

    user = require(current_user(), "export")
    require(user, "view_quarantine")
    return audited_download(user, "quarantine", "csv",
                            lambda: (csv_bytes(rows), {"rows": rows.height}))


def csv_bytes(frame: pl.DataFrame) -> bytes:
    """UTF-8 with a BOM (Excel opens the Chinese intact), every text cell formula-safe."""
    from queries.spreadsheet_cells import csv_bytes as safe_csv

    return safe_csv(frame)


def xlsx_bytes(frame: pl.DataFrame) -> bytes:
    """One sheet, every text value a string cell (never a formula)."""
    from queries.spreadsheet_cells import xlsx_bytes as safe_xlsx

    return safe_xlsx(frame, "cases", autofit=True)


# ---------------------------------------------------------------------------------------------
# 数据管理: calendar

def calendar_figure(days: pl.DataFrame) -> go.Figure:
    return charts.calendar_grid(days, None, ("工作日", "休息日") if current_lang() == "zh"
                                else ("working day", "day off"))


def calendar_month(days: pl.DataFrame, month: int) -> pl.DataFrame:
    """One month of the calendar for the editor (date, is_workday, name, source)."""
    return days.filter(pl.col("date").dt.month() == month).select(
        "date", "is_workday", "name", "source")


# ---------------------------------------------------------------------------------------------
# Statistics on the 单位分析 page (metrics.stats via data.unit_stats)

FUNNEL_FMT = {"on_time": "pct", "overdue_oe": "num", "bad_review": "pct", "online": "pct"}


def _flag_label(col: str = "verdict") -> pl.Expr:
    """Translated funnel verdict (报警/预警 on the worse side, 表现突出/优于预期 on the better
    side), as a native expression (no Python function inside the query)."""
    from metrics.stats.funnel import VERDICTS

    labels = {k: _t(f"stats_flag_{k}") for k in VERDICTS}
    return pl.col(col).replace_strict(labels, default=pl.col(col), return_dtype=pl.String)


def funnel_curves(f, points: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame | None]:
    """The limits the flags use, and the exact unadjusted ones when the flags are adjusted,
    on a grid spanning the shown units' denominators (not the whole city's, so a scoped user's
    chart is about their own units)."""
    import dataclasses

    import numpy as np

    den = points.filter(pl.col("denominator") > 0)["denominator"].to_numpy()
    lo, hi = float(den.min()) * 0.8, float(den.max()) * 1.25
    grid = np.geomspace(max(lo, 1e-3), max(hi, lo * 1.01, 2e-3), 200)
    curve = f.curve(at=grid)
    raw = dataclasses.replace(f, adjusted=False).curve(at=grid) if f.adjusted else None
    return curve, raw


def funnel_panel(stats: data.UnitStats) -> None:
    """The funnel plot of one indicator with its flags table and the overdispersion note."""
    kinds = [k for k in data.STATS_FUNNELS if k in stats.funnels]
    kind = st.segmented_control(_t("stats_funnel_metric"), kinds, default=kinds[0],
                                required=True, format_func=lambda k: _t(f"stats_funnel_{k}"),
                                key="stats_funnel_kind")
    f = stats.funnels[kind]
    points = f.units.filter(pl.col("flag") != "no_data")
    if points.is_empty():
        st.info(_t("stats_no_funnel"), icon=":material/info:")
        return
    curve, raw = funnel_curves(f, points)
    d = f.dispersion
    st.caption(_t("stats_od_adjusted", phi=d.phi, p=d.pvalue, method=f.method) if f.adjusted
               else _t("stats_od_none"))
    fmt = FUNNEL_FMT[kind]
    labels = {k: _t(f"stats_{k}") for k in ("target", "alert", "alarm", "raw_alarm")}
    labels |= {f"flag_{k}": _t(f"stats_flag_{k}")
               for k in ("alarm", "alert", "in_control", "better", "outstanding")}
    labels |= {"x": _t("stats_x_" + f.kind), "y": _t(f"stats_funnel_{kind}")}
    st.plotly_chart(charts.funnel_figure(points, curve, f.target, fmt, labels, raw),
                    width="stretch", key="stats_funnel_chart")
    counts = points["verdict"].value_counts()
    n = dict(zip(counts["verdict"].to_list(), counts["count"].to_list(), strict=True))
    st.caption(_t("stats_funnel_counts", units=points.height, alarm=n.get("alarm", 0),
                  alert=n.get("alert", 0), outstanding=n.get("outstanding", 0),
                  better=n.get("better", 0)))
    shown = points.with_columns(_flag_label())
    table(shown, {"unit": _t("stats_col_unit"), "name": _t("stats_col_name"),
                  "verdict": _t("stats_col_flag"), "value": _t("stats_col_value"),
                  "numerator": _t("stats_col_numerator"),
                  "denominator": _t("stats_col_denominator")},
          formats={"value": fmt, "numerator": "num" if f.kind == "ratio" else "int",
                   "denominator": "num" if f.kind == "ratio" else "int"},
          key="stats_funnel_table", height=300)


def _interval(lo: str, hi: str, scale: float, digits: int, suffix: str = "") -> pl.Expr:
    return pl.format("{}{} – {}{}", (pl.col(lo) * scale).round(digits), pl.lit(suffix),
                     (pl.col(hi) * scale).round(digits), pl.lit(suffix))


def casemix_panel(stats: data.UnitStats) -> None:
    """Raw vs case-mix-adjusted, side by side: why a unit moves when its items are accounted for."""
    st.caption(_t("stats_casemix_hint", min_n=data.settings().stats.min_n))
    c = stats.comparison
    if c.is_empty():
        no_rows()
        return
    changed = {v: _t(f"stats_changed_{v}") for v in (
        "raw flag explained by case mix", "flagged only after adjustment", "flag level changed")}
    shown = c.with_columns(
        _interval("raw_ci_low", "raw_ci_high", 100, 1, "%").alias("raw_ci"),
        _interval("ratio_ci_low", "ratio_ci_high", 1, 2).alias("oe_ci"),
        pl.col("changed").replace_strict(changed, default=pl.col("changed"),
                                         return_dtype=pl.String),
    )
    table(shown, {"unit": _t("stats_col_unit"), "name": _t("stats_col_name"),
                  "cases": _t("stats_col_cases"), "raw_on_time_rate": _t("stats_col_raw_rate"),
                  "raw_ci": _t("stats_col_raw_ci"), "raw_rank": _t("stats_col_raw_rank"),
                  "observed": _t("stats_col_observed"), "expected": _t("stats_col_expected"),
                  "ratio": _t("stats_col_oe"), "oe_ci": _t("stats_col_oe_ci"),
                  "adjusted_on_time_rate": _t("stats_col_adj_rate"),
                  "adj_rank": _t("stats_col_adj_rank"),
                  "rank_change": _t("stats_col_rank_change"),
                  "changed": _t("stats_col_changed")},
          formats={"raw_on_time_rate": "pct", "adjusted_on_time_rate": "pct", "ratio": "num",
                   "expected": "days"},
          key="stats_casemix_table", height=360)


def lagging_panel(stats: data.UnitStats) -> None:
    """The lagging-unit list with the reasons written out in the page language."""
    st.caption(_t("stats_lagging_hint"))
    lag = stats.lagging
    if lag.is_empty():
        st.success(_t("stats_lagging_none"), icon=":material/check_circle:")
        return
    reason = "reason_zh" if current_lang() == "zh" else "reason_en"
    table(lag, {"unit": _t("stats_col_unit"), "name": _t("stats_col_name"),
                "severity": _t("stats_col_severity"), reason: _t("stats_col_reason")},
          key="stats_lagging_table",
          column_config={_t("stats_col_reason"): st.column_config.TextColumn(width="large")})


# Strings of the on-demand risk list. They belong in dashboard/i18n.py (STRINGS); until they
# are there, these are used — a key present in STRINGS wins, so moving them changes nothing.
RISK_STRINGS: dict[str, dict[str, str]] = {
    "stats_risk_on_demand": {
        "zh": "预测预警需读取在办件和历史办件样本并训练超期风险模型，全市数据量大时需要数秒到数十秒；"
              "计算一次后，本数据版本内所有用户直接查看。",
        "en": "The predicted warning list reads the open cases and a sample of past cases and "
              "fits the overdue-risk model, which takes seconds to tens of seconds on a large "
              "city; once computed it is shown to every user until the data changes.",
    },
    "stats_risk_compute": {"zh": "计算预测预警", "en": "Compute predicted warnings"},
}


def _tr(key: str, **fmt: object) -> str:
    """`_t`, with RISK_STRINGS for keys dashboard/i18n.py does not hold yet."""
    from dashboard.i18n import STRINGS

    if key in STRINGS or key not in RISK_STRINGS:
        return _t(key, **fmt)
    entry = RISK_STRINGS[key]
    text = entry.get(current_lang()) or entry["zh"]
    return text.format(**fmt) if fmt else text


def risk_panel(filters: Filters, month: dt.date) -> None:
    """The predicted 预警 list: open cases likely to pass their due date, those the rule-based
    list does not (yet) hold marked. It needs cases (a training sample and the open cases),
    seconds to tens of seconds at 20 million cases, so it is computed when asked for (a
    button), once per data version and month for all sessions, and shown at once afterwards."""
    if not data.unit_risk_ready(filters):
        st.caption(_tr("stats_risk_on_demand"))
        if not st.button(_tr("stats_risk_compute"), key="stats_risk_compute",
                         icon=":material/play_arrow:"):
            return
    with st.spinner():
        w = data.unit_risk(filters)
    if w is None:
        st.info(_t("stats_risk_unavailable"), icon=":material/info:")
        return
    st.caption(_t("stats_risk_hint", as_of=f"{month:%Y-%m}",
                  threshold=data.settings().stats.risk_threshold))
    if w.is_empty():
        st.success(_t("stats_risk_none"), icon=":material/check_circle:")
        return
    table(w, {"case_id": _t("stats_col_case"), "agency_code": _t("stats_col_unit"),
              "agency_name": _t("stats_col_name"), "item_code": _t("stats_col_item"),
              "due_date": _t("stats_col_due"), "elapsed_share": _t("stats_col_elapsed"),
              "p_overdue": _t("stats_col_p"), "ahead_of_rule": _t("stats_col_ahead")},
          formats={"elapsed_share": "pct", "p_overdue": "pct"}, key="stats_risk_table",
          height=360)


def stats_section(filters: Filters) -> None:
    """The statistics library's views for the filter's last month, in four tabs."""
    st.subheader(_t("stats_title", month=f"{filters.month_to:%Y-%m}"))
    st.caption(_t("stats_hint"))
    with st.spinner():
        stats = data.unit_stats(filters)
    if stats.problem:
        st.info(_t(stats.problem), icon=":material/info:")
        return
    tabs = st.tabs([_t(k) for k in ("stats_tab_funnel", "stats_tab_casemix",
                                    "stats_tab_lagging", "stats_tab_risk")])
    with tabs[0]:
        funnel_panel(stats)
    with tabs[1]:
        casemix_panel(stats)
    with tabs[2]:
        lagging_panel(stats)
    with tabs[3]:
        risk_panel(filters, stats.month)
