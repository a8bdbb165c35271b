"""Plotly chart builders: pure functions from a Polars frame (and labels) to a figure.

No Streamlit and no database here, so every chart can be unit-tested by building it from a
small frame. Labels arrive already translated; number formats follow the metric registry
(shares on a 0–1 axis shown as %, days and scores as plain numbers). Every figure uses the
same CJK-capable font stack as the app theme, so Chinese axis labels do not fall back to tofu.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence

import plotly.graph_objects as go
import polars as pl

FONT = ("Noto Sans CJK SC, Source Han Sans SC, PingFang SC, Microsoft YaHei, "
        "WenQuanYi Micro Hei, sans-serif")
RED, YELLOW, GREY, BLUE = "#c62828", "#f9a825", "#9e9e9e", "#1f5fa8"
PALETTE = ["#1f5fa8", "#c62828", "#2e7d32", "#f9a825", "#6a1b9a", "#00838f", "#8d6e63",
           "#546e7a", "#d81b60", "#7cb342"]


def _axis_format(fmt: str) -> dict:
    if fmt == "pct":
        return {"tickformat": ".1~%"}
    if fmt == "int":
        return {"tickformat": ",d"}
    return {"tickformat": ",.1f"}


def _hover(fmt: str) -> str:
    return {"pct": "%{y:.1%}", "int": "%{y:,.0f}"}.get(fmt, "%{y:,.1f}")


def base_layout(fig: go.Figure, title: str | None = None, height: int = 320) -> go.Figure:
    fig.update_layout(
        title={"text": title, "font": {"size": 15}, "y": 0.98, "yanchor": "top"} if title else None,
        font={"family": FONT, "size": 13},
        height=height,
        margin={"l": 10, "r": 10, "t": 72 if title else 30, "b": 10},
        legend={"orientation": "h", "yanchor": "bottom", "y": 1.02, "x": 0},
        colorway=PALETTE,
        hoverlabel={"font": {"family": FONT}},
    )
    return fig


def _target_line(fig: go.Figure, target: float | None, label: str) -> None:
    if target is None:
        return
    fig.add_hline(y=target, line={"dash": "dash", "color": RED, "width": 1.5},
                  annotation_text=label, annotation_position="top left",
                  annotation_font={"color": RED, "size": 12})


def trend_chart(
    df: pl.DataFrame, fmt: str, title: str | None = None, target: float | None = None,
    target_label: str = "", series: str | None = None, band: bool = False,
    series_labels: Mapping[str, str] | None = None, height: int = 300,
    series_colours: Mapping[str, str] | None = None,
) -> go.Figure:
    """A monthly line from columns period, value (optionally one line per `series`).

    `band` draws the 95% interval (ci_low, ci_high) behind a single line. Null values stay
    gaps: a month without data is not drawn as zero.
    """
    fig = go.Figure()
    groups = [(None, df)] if series is None else [
        (k[0], g) for k, g in df.sort(series).group_by(series, maintain_order=True)]
    for key, g in groups:
        g = g.sort("period")
        name = (series_labels or {}).get(key, key) if key is not None else title
        if band and key is None and {"ci_low", "ci_high"} <= set(g.columns):
            fig.add_trace(go.Scatter(
                x=g["period"].to_list() + g["period"].to_list()[::-1],
                y=g["ci_high"].to_list() + g["ci_low"].to_list()[::-1],
                fill="toself", fillcolor="rgba(31,95,168,0.15)", line={"width": 0},
                mode="lines",
                hoverinfo="skip", showlegend=False, connectgaps=False,
            ))
        fig.add_trace(go.Scatter(
            x=g["period"].to_list(), y=g["value"].to_list(), mode="lines+markers", name=name,
            line={"color": (series_colours or {}).get(key)} if series_colours else None,
            hovertemplate=f"%{{x}}: {_hover(fmt)}<extra>{name or ''}</extra>",
            connectgaps=False,
        ))
    _target_line(fig, target, target_label)
    fig.update_yaxes(**_axis_format(fmt), rangemode="tozero" if fmt == "int" else "normal")
    fig.update_xaxes(type="category")
    fig.update_layout(showlegend=series is not None)
    return base_layout(fig, title, height)


def bar_chart(
    df: pl.DataFrame, label_col: str, value_col: str, fmt: str, title: str | None = None,
    key_col: str | None = None, target: float | None = None, target_label: str = "",
    horizontal: bool = True, color: str = BLUE, height: int | None = None,
) -> go.Figure:
    """Bars per unit; `key_col` travels as customdata so a click can be mapped back to a key."""
    labels = df[label_col].cast(pl.String).fill_null("—").to_list()
    vals = df[value_col].to_list()
    custom = df[key_col].to_list() if key_col else None
    hover = _hover(fmt).replace("%{y", "%{x") if horizontal else _hover(fmt)
    if horizontal:
        bar = go.Bar(y=labels, x=vals, orientation="h", customdata=custom, marker_color=color,
                     hovertemplate=f"%{{y}}: {hover}<extra></extra>")
    else:
        bar = go.Bar(x=labels, y=vals, customdata=custom, marker_color=color,
                     hovertemplate=f"%{{x}}: {hover}<extra></extra>")
    fig = go.Figure(bar)
    if target is not None:
        if horizontal:
            fig.add_vline(x=target, line={"dash": "dash", "color": RED, "width": 1.5},
                          annotation_text=target_label, annotation_font={"color": RED})
        else:
            _target_line(fig, target, target_label)
    axis = _axis_format(fmt)
    if horizontal:
        fig.update_xaxes(**axis)
        fig.update_yaxes(autorange="reversed", automargin=True)
    else:
        fig.update_yaxes(**axis)
    h = height or (max(240, 28 * len(labels) + 80) if horizontal else 320)
    return base_layout(fig, title, h)


def stacked_bars(
    df: pl.DataFrame, x_col: str, series: Sequence[tuple[str, str, str]],
    title: str | None = None, horizontal: bool = False, key_col: str | None = None,
    height: int | None = None,
) -> go.Figure:
    """Stacked counts, one trace per (column, label, colour) in `series`."""
    fig = go.Figure()
    xs = df[x_col].cast(pl.String).fill_null("—").to_list()
    custom = df[key_col].to_list() if key_col else None
    for col, label, colour in series:
        ys = df[col].to_list()
        if horizontal:
            fig.add_trace(go.Bar(y=xs, x=ys, name=label, orientation="h", marker_color=colour,
                                 customdata=custom))
        else:
            fig.add_trace(go.Bar(x=xs, y=ys, name=label, marker_color=colour, customdata=custom))
    fig.update_layout(barmode="stack")
    if horizontal:
        fig.update_yaxes(autorange="reversed", automargin=True)
        fig.update_xaxes(tickformat=",d")
    else:
        fig.update_yaxes(tickformat=",d")
        fig.update_xaxes(type="category")
    h = height or (max(240, 28 * len(xs) + 90) if horizontal else 320)
    return base_layout(fig, title, h)


def stacked_area(
    df: pl.DataFrame, x_col: str, y_col: str, series: str, labels: Mapping[str, str],
    title: str | None = None, share: bool = True,
) -> go.Figure:
    """Composition over time (e.g. the channel mix); `share` normalises each x to 100%."""
    fig = go.Figure()
    for key in sorted(df[series].drop_nulls().unique().to_list()):
        g = df.filter(pl.col(series) == key).sort(x_col)
        fig.add_trace(go.Scatter(
            x=g[x_col].to_list(), y=g[y_col].to_list(), name=labels.get(key, key),
            stackgroup="one", groupnorm="percent" if share else None, mode="lines",
            hovertemplate="%{x}: %{y:.1f}" + ("%" if share else "") + "<extra>"
                          + labels.get(key, key) + "</extra>",
        ))
    if share:
        fig.update_yaxes(ticksuffix="%", range=[0, 100])
    fig.update_xaxes(type="category")
    return base_layout(fig, title, 340)


HIST_MAX_BARS = 40  # bars before the overflow bar


def _nice_width(span: int, max_bars: int) -> int:
    """The smallest of 1, 2, 5, 10, 20, 50, … days per bar that covers `span` values in at
    most `max_bars` bars."""
    width, step = 1, 0
    while -(-span // width) > max_bars:
        step += 1
        width = (1, 2, 5)[step % 3] * 10 ** (step // 3)
    return width


def histogram_bins(df: pl.DataFrame, max_bars: int = HIST_MAX_BARS) -> pl.DataFrame:
    """Bars for a (used_wd, n) histogram whose bins adapt to the distribution.

    The bars cover 0 … P99 (nearest rank) in equal widths of 1, 2, 5, 10, 20 … days, at most
    `max_bars` of them; the cases above the last bar (at most 1 %) make one overflow bar. So a
    log with a median of 55 and a P90 of 186 days gets forty 5-day bars, not one "≥30" bar,
    and the median and P90 (≤ P99) fall on the drawn axis. Columns: lo, hi (null for the
    overflow bar), n, x (the bar's centre), width, label.
    """
    d = df.filter(pl.col("n") > 0).sort("used_wd")
    schema = {"lo": pl.Int64, "hi": pl.Int64, "n": pl.Int64, "x": pl.Float64,
              "width": pl.Float64, "label": pl.String}
    if d.is_empty():
        return pl.DataFrame(schema=schema)
    total = int(d["n"].sum())
    cum = d["n"].cum_sum()
    p99 = int(d.filter(cum * 100 >= total * 99)["used_wd"][0])
    width = _nice_width(p99 + 1, max_bars)
    edge = -(-(p99 + 1) // width) * width  # the first value past the last regular bar
    binned = d.with_columns(
        pl.when(pl.col("used_wd") >= edge).then(edge).otherwise(
            pl.col("used_wd") // width * width).alias("lo")
    ).group_by("lo").agg(pl.col("n").sum()).sort("lo")
    overflow = pl.col("lo") >= edge
    return binned.select(
        pl.col("lo").cast(pl.Int64),
        pl.when(overflow).then(None).otherwise(pl.col("lo") + width - 1).cast(pl.Int64)
        .alias("hi"),
        pl.col("n").cast(pl.Int64),
        (pl.col("lo") + (width - 1) / 2).cast(pl.Float64).alias("x"),
        pl.lit(float(width)).alias("width"),
        pl.when(overflow).then(pl.format("≥{}", pl.col("lo")))
        .when(width == 1).then(pl.col("lo").cast(pl.String))
        .otherwise(pl.format("{}–{}", pl.col("lo"), pl.col("lo") + width - 1)).alias("label"),
    )


def histogram(
    df: pl.DataFrame, title: str | None, x_label: str, y_label: str,
    markers: Sequence[tuple[float | None, str]] = (),
    hover: Callable[[str, int], str] | None = None,
    max_bars: int = HIST_MAX_BARS,
) -> go.Figure:
    """Cases by days used (columns used_wd, n) in adaptive bins (`histogram_bins`), with
    vertical marker lines at their exact values on a linear axis.

    `hover(range label, cases)` words a bar's tooltip (the caller knows the language and the
    day unit); by default "range: n".
    """
    bars = histogram_bins(df, max_bars)
    labels, ns = bars["label"].to_list(), bars["n"].to_list()
    texts = [hover(lb, n) if hover else f"{lb}: {n:,}" for lb, n in zip(labels, ns, strict=True)]
    fig = go.Figure(go.Bar(
        x=bars["x"].to_list(), y=ns, width=[w * 0.9 for w in bars["width"].to_list()],
        marker_color=[GREY if hi is None else BLUE for hi in bars["hi"].to_list()],
        customdata=texts, hovertemplate="%{customdata}<extra></extra>"))
    for i, (x, label) in enumerate(markers):
        if x is None:
            continue
        # alternate sides and heights so close markers (median 0, P90 3) do not overprint
        fig.add_vline(x=x, line={"dash": "dash", "color": RED}, annotation_text=label,
                      annotation_position="top right" if i % 2 else "top left",
                      annotation_y=1.0 if i % 2 == 0 else 0.88, annotation_font={"color": RED})
    if bars.height:
        step = max(1, -(-bars.height // 10))  # at most ~10 tick labels
        ticks = [i for i in range(bars.height) if i % step == 0 or bars["hi"][i] is None]
        width = bars["width"][0]
        fig.update_xaxes(tickmode="array", tickvals=[bars["x"][i] for i in ticks],
                         ticktext=[labels[i] for i in ticks],
                         range=[-width / 2, float(bars["x"][-1]) + width / 2])
    fig.update_xaxes(title_text=x_label)
    fig.update_yaxes(title_text=y_label, tickformat=",d")
    return base_layout(fig, title, 320)


def case_timeline(
    events: Sequence[tuple[str, dt.datetime | dt.date | None]],
    spans: Sequence[tuple[str, dt.datetime, dt.datetime | None]],
    non_working: Sequence[dt.date],
    title: str | None = None,
    non_working_label: str = "",
    end: dt.datetime | None = None,
) -> go.Figure:
    """A case on the calendar: event markers, suspension spans and shaded non-working days.

    `events` are (label, time) points (submitted, accepted, due, completed, cards); `spans`
    are (label, start, end) intervals (suspensions; an open one runs to `end`); `non_working`
    days (weekends, holidays by the official calendar) are shaded so the working-day clock is
    visible.
    """
    fig = go.Figure()
    for day in non_working:
        start = dt.datetime.combine(day, dt.time())
        fig.add_vrect(x0=start, x1=start + dt.timedelta(days=1), fillcolor=GREY, opacity=0.15,
                      line_width=0, layer="below")
    if non_working:  # a legend entry for the shading
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name=non_working_label,
                                 marker={"size": 12, "color": GREY, "symbol": "square",
                                         "opacity": 0.4}))
    for label, s, e in spans:
        e = e or end or s
        fig.add_trace(go.Scatter(x=[s, e], y=[0, 0], mode="lines", name=label,
                                 line={"width": 14, "color": YELLOW},
                                 hovertemplate=f"{label}: %{{x}}<extra></extra>"))
    colours = [BLUE, "#2e7d32", RED, "#6a1b9a", "#00838f", "#8d6e63"]
    shown = [(lbl, t) for lbl, t in events if t is not None]
    for i, (label, t) in enumerate(shown):
        fig.add_trace(go.Scatter(
            x=[t], y=[0], mode="markers+text", name=label, text=[label],
            textposition="top center" if i % 2 == 0 else "bottom center",
            marker={"size": 13, "color": colours[i % len(colours)], "symbol": "diamond"},
            hovertemplate=f"{label}: %{{x|%Y-%m-%d %H:%M}}<extra></extra>",
        ))
    fig.update_yaxes(visible=False, range=[-1, 1])
    fig.update_xaxes(type="date", tickformat="%m-%d")
    fig.update_layout(showlegend=True)
    return base_layout(fig, title, 260)


def heatmap(
    df: pl.DataFrame, x_col: str, y_col: str, z_col: str, title: str | None = None,
    fmt: str = "score",
) -> go.Figure:
    """A region × month grid (e.g. the index); empty cells stay empty."""
    xs = sorted(df[x_col].unique().to_list())
    ys = list(dict.fromkeys(df.sort(y_col)[y_col].to_list()))
    grid = {(r[y_col], r[x_col]): r[z_col] for r in df.iter_rows(named=True)}
    z = [[grid.get((y, x)) for x in xs] for y in ys]
    text = [["" if v is None else (f"{v:.0f}" if fmt != "pct" else f"{v:.0%}") for v in row]
            for row in z]
    fig = go.Figure(go.Heatmap(x=xs, y=ys, z=z, text=text, texttemplate="%{text}",
                               colorscale="RdYlGn", hoverongaps=False))
    fig.update_xaxes(type="category")
    fig.update_yaxes(automargin=True, autorange="reversed")
    return base_layout(fig, title, max(260, 30 * len(ys) + 100))


def donut(labels: Sequence[str], values: Sequence[float], title: str | None = None,
          colours: Sequence[str] | None = None) -> go.Figure:
    fig = go.Figure(go.Pie(labels=list(labels), values=list(values), hole=0.5, sort=False,
                           marker={"colors": list(colours) if colours else None},
                           textinfo="percent", hovertemplate="%{label}: %{value:,d}<extra></extra>"))
    return base_layout(fig, title, 300)


def calendar_grid(days: pl.DataFrame, title: str | None = None,
                  labels: tuple[str, str] = ("工作日", "休息日")) -> go.Figure:
    """A year as a week × weekday grid: working days blue, non-working grey, names on hover."""
    d = days.with_columns(
        pl.col("date").dt.weekday().alias("wd"),  # 1 = Monday
        ((pl.col("date").dt.ordinal_day() + pl.col("date").dt.truncate("1y").dt.weekday() - 2)
         // 7).alias("week"),
    )
    weekdays = ["一", "二", "三", "四", "五", "六", "日"]
    z = [[None] * (int(d["week"].max()) + 1) for _ in range(7)]
    text = [[""] * (int(d["week"].max()) + 1) for _ in range(7)]
    for r in d.iter_rows(named=True):
        z[r["wd"] - 1][r["week"]] = 1 if r["is_workday"] else 0
        text[r["wd"] - 1][r["week"]] = f"{r['date']:%Y-%m-%d} {r['name'] or ''}"
    fig = go.Figure(go.Heatmap(
        z=z, text=text, hovertemplate="%{text}<extra></extra>", xgap=2, ygap=2,
        colorscale=[[0, "#e0e0e0"], [1, BLUE]], zmin=0, zmax=1, showscale=False,
        y=[f"周{w}" for w in weekdays],
    ))
    fig.update_yaxes(autorange="reversed")
    fig.update_xaxes(visible=False)
    fig.add_annotation(text=f"■ {labels[0]}  □ {labels[1]}", showarrow=False, xref="paper",
                       yref="paper", x=1, y=1.12, font={"color": BLUE})
    return base_layout(fig, title, 220)


GREEN, LIGHT_GREEN = "#2e7d32", "#66bb6a"
# funnel points by verdict: bad-side outliers red / yellow, better-side ones green
FLAG_COLOURS = {"alarm": RED, "alert": YELLOW, "in_control": BLUE, "outstanding": GREEN,
                "better": LIGHT_GREEN}


def funnel_figure(
    points: pl.DataFrame, curve: pl.DataFrame, target: float, fmt: str,
    labels: Mapping[str, str], raw_curve: pl.DataFrame | None = None,
    title: str | None = None, height: int = 440,
) -> go.Figure:
    """A funnel plot: units as points (x = denominator, y = value) coloured by flag, against
    the overall target and the alert / alarm limits drawn as functions of the denominator.

    `points`: name, denominator, value, flag (alarm / alert / in_control; no_data is skipped),
    optionally verdict (metrics.stats.funnel: alarm / alert on the worse side, outstanding /
    better on the better side — coloured by it when present, so a unit better than the limits
    is green, not red) and numerator (shown on hover). `curve`: denominator, lower_/upper_alert,
    lower_/upper_alarm — the limits the flags use (overdispersion-adjusted when they are).
    `raw_curve`, when given, adds the exact unadjusted alarm limits dotted, so the reader sees
    how much the adjustment widened the funnel. `labels` carries the translated names: target,
    alert, alarm, raw_alarm, flag_alarm, flag_alert, flag_in_control (flag_outstanding and
    flag_better with verdicts), x and y. The x axis is logarithmic: unit sizes span orders of
    magnitude.
    """
    fig = go.Figure()
    c = curve.sort("denominator")
    x = c["denominator"].to_list()
    fig.add_trace(go.Scatter(x=x, y=[target] * len(x), mode="lines", name=labels["target"],
                             line={"color": "#424242", "width": 1.5}, hoverinfo="skip"))
    for name, colour, dash in (("alert", YELLOW, "dash"), ("alarm", RED, "solid")):
        for side in ("lower", "upper"):
            fig.add_trace(go.Scatter(
                x=x, y=c[f"{side}_{name}"].to_list(), mode="lines", name=labels[name],
                legendgroup=name, showlegend=side == "upper", hoverinfo="skip",
                line={"color": colour, "width": 1.2, "dash": dash}))
    if raw_curve is not None:
        r = raw_curve.sort("denominator")
        for side in ("lower", "upper"):
            fig.add_trace(go.Scatter(
                x=r["denominator"].to_list(), y=r[f"{side}_alarm"].to_list(), mode="lines",
                name=labels["raw_alarm"], legendgroup="raw", showlegend=side == "upper",
                hoverinfo="skip", line={"color": GREY, "width": 1, "dash": "dot"}))
    value_hover = {"pct": "%{y:.1%}", "int": "%{y:,.0f}"}.get(fmt, "%{y:.2f}")
    by = "verdict" if "verdict" in points.columns else "flag"
    for flag, colour in FLAG_COLOURS.items():
        g = points.filter((pl.col(by) == flag) & pl.col("value").is_not_null())
        if g.is_empty():
            continue
        num = g["numerator"].to_list() if "numerator" in g.columns else [None] * g.height
        fig.add_trace(go.Scatter(
            x=g["denominator"].to_list(), y=g["value"].to_list(), mode="markers",
            name=labels.get(f"flag_{flag}", flag),
            text=g["name"].cast(pl.String).fill_null("—").to_list(),
            customdata=num,
            marker={"color": colour, "size": 9 if flag != "in_control" else 7,
                    "line": {"width": 0.5, "color": "white"}},
            hovertemplate=(f"<b>%{{text}}</b><br>{labels['y']}: {value_hover}<br>"
                           f"{labels['x']}: %{{x:,.1f}}<br>%{{customdata:,.0f}} / %{{x:,.0f}}"
                           "<extra></extra>")))
    fig.update_xaxes(type="log", title_text=labels["x"])
    fig.update_yaxes(title_text=labels["y"], **_axis_format(fmt if fmt in ("pct", "int")
                                                            else "num"))
    shown = [v for v in points["value"].to_list() if v is not None] + [target]
    lo, hi = min(shown), max(shown)
    pad = max((hi - lo) * 0.25, abs(target) * 0.02, 1e-3)
    # the limits run off towards tiny denominators; keep the units, not the curve ends, in view
    lo, hi = lo - pad, hi + pad
    if fmt == "pct":  # a share cannot leave [0, 1]: no axis room below 0% or above 100%
        lo, hi = max(lo, -0.02), min(hi, 1.02)
    fig.update_yaxes(range=[lo, hi])
    return base_layout(fig, title, height)
