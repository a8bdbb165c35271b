"""Chart images (PNG) for the bulletin's 附件, drawn with Matplotlib and a CJK font.

Honest charts: horizontal bars from zero (a share's axis runs 0–100%, so a 97% bar is not drawn
three times as long as a 91% one), the value printed inside the end of its bar (two decimals,
as the tables print it), the target line of metrics.md §9 and the whole scope's value as
vertical lines named in a legend under the plot — never as text on the plot, where they
collided with the value labels. A chart adds what its table does not show (the reference
lines); the five-level review distribution, a copy of its own table, is not drawn.
`chart_figure` returns the figure, so a test can measure that no two texts overlap.

The CJK font is found by file name (Noto Sans CJK from Debian's fonts-noto-cjk, which
`scripts/ensure-report-tools.sh` installs), so labels never render as boxes. PNG metadata
carries no timestamp, so the same chart gives the same bytes.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from metrics.bulletin.model import Chart
from metrics.bulletin.text import display

FONT_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/truetype/noto"),
             Path("/usr/share/fonts"))
FONT_FILES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSerifCJK-Regular.ttc")
BAR, TARGET, REFERENCE = "#2f5597", "#c00000", "#7f7f7f"


@lru_cache(maxsize=1)
def cjk_font_path() -> Path | None:
    for d in FONT_DIRS:
        for name in FONT_FILES:
            hits = [d / name] if (d / name).exists() else sorted(d.rglob(name)) if d.exists() else []
            if hits:
                return hits[0]
    return None


@lru_cache(maxsize=1)
def _font_prop():
    """The CJK FontProperties, registered once per process (the font manager is slow)."""
    from matplotlib import font_manager

    path = cjk_font_path()
    if path is None:
        return None
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path))


def chart_figure(chart: Chart, width_in: float = 6.2):
    """The Matplotlib figure of `chart` (drawn, so text extents can be measured)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    prop = _font_prop()
    pct = chart.fmt == "pct"
    scale = 100.0 if pct else 1.0
    values = [None if v is None else v * scale for v in chart.values]
    n = len(values)
    fig = Figure(figsize=(width_in, 0.9 + 0.32 * n + 0.45), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ys = list(range(n))[::-1]  # first label on top
    drawn = [v or 0.0 for v in values]
    ax.barh(ys, drawn, color=BAR, height=0.62)
    ax.set_yticks(ys)
    ax.set_yticklabels(chart.labels, fontproperties=prop, fontsize=8)
    top = 100.0 if pct else max(drawn + [1.0]) * 1.1
    ax.set_xlim(0, top)  # from zero: no exaggerated gaps
    ax.set_xlabel("%" if pct else "", fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    for y, v in zip(ys, values, strict=True):
        text = "无数据" if v is None else display(v / scale, chart.fmt)
        inside = v is not None and v > top * 0.25
        ax.text((v or 0) - top * 0.01 if inside else (v or 0) + top * 0.01, y, text,
                va="center", ha="right" if inside else "left", fontsize=7,
                color="white" if inside else "black", fontproperties=prop)
    handles = []
    if chart.target is not None:
        ax.axvline(chart.target * scale, color=TARGET, linestyle="--", linewidth=1)
        handles.append(Line2D([], [], color=TARGET, linestyle="--",
                              label=f"目标 {display(chart.target, chart.fmt)}"))
    if chart.reference is not None:
        ax.axvline(chart.reference * scale, color=REFERENCE, linestyle=":", linewidth=1.2)
        handles.append(Line2D([], [], color=REFERENCE, linestyle=":",
                              label=f"全部单位合计 {display(chart.reference, chart.fmt)}"))
    if handles:
        ax.legend(handles=handles, prop=prop, fontsize=8, loc="upper center",
                  bbox_to_anchor=(0.5, -0.12 if not pct else -0.16), ncol=len(handles),
                  frameon=False)
    ax.set_title(chart.title, fontproperties=prop, fontsize=10)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    fig.canvas.draw()
    return fig


@lru_cache(maxsize=32)
def chart_png(chart: Chart, width_in: float = 6.2) -> bytes:
    """PNG bytes of `chart` (cached: the Word and PDF renderers draw the same charts)."""
    fig = chart_figure(chart, width_in)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
