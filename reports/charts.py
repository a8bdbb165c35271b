"""Chart images (PNG) for the bulletin, drawn with Matplotlib and a CJK font.

Bars of numbers already in the bulletin's tables, with the target line of metrics.md §9 where
there is one. The CJK font is found by file name (Noto CJK from Debian's fonts-noto-cjk, which
`scripts/ensure-report-tools.sh` installs), so labels never render as boxes. PNG metadata
carries no timestamp, so the same chart gives the same bytes.
"""

from __future__ import annotations

import io
from functools import lru_cache
from pathlib import Path

from metrics.bulletin.model import Chart

FONT_DIRS = (Path("/usr/share/fonts/opentype/noto"), Path("/usr/share/fonts/truetype/noto"),
             Path("/usr/share/fonts"))
FONT_FILES = ("NotoSansCJK-Regular.ttc", "NotoSansCJKsc-Regular.otf", "NotoSerifCJK-Regular.ttc")


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


@lru_cache(maxsize=32)
def chart_png(chart: Chart, width_in: float = 6.2, height_in: float = 2.8) -> bytes:
    """PNG bytes of `chart` (cached: the Word and PDF renderers draw the same charts).

    Drawn on a bare `Figure` with the Agg canvas rather than through pyplot, whose import and
    figure manager cost more than the drawing.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    prop = _font_prop()
    scale = 100.0 if chart.fmt == "pct" else 1.0
    values = [(v or 0.0) * scale for v in chart.values]
    rotate = len(values) > 6
    fig = Figure(figsize=(width_in, height_in), dpi=150)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    bars = ax.bar(range(len(values)), values, color="#2f5597")
    ax.set_xticks(range(len(values)))
    ax.set_xticklabels(chart.labels, fontproperties=prop, fontsize=8,
                       rotation=30 if rotate else 0, ha="right" if rotate else "center")
    ax.set_title(chart.title, fontproperties=prop, fontsize=11)
    if chart.fmt == "pct":
        lo = min([v for v in values if v > 0] or [0])
        ax.set_ylim(max(0.0, lo - 5), 100.5)
        ax.set_ylabel("%", fontsize=8)
    if chart.target is not None:
        t = chart.target * scale
        ax.axhline(t, color="#c00000", linestyle="--", linewidth=1)
        ax.text(len(values) - 0.5, t, "目标", color="#c00000", fontproperties=prop, fontsize=8,
                va="bottom", ha="right")
    for b, v in zip(bars, values, strict=True):
        label = f"{v:.1f}" if chart.fmt == "pct" else f"{v:,.0f}"
        ax.text(b.get_x() + b.get_width() / 2, b.get_height(), label, ha="center",
                va="bottom", fontsize=7)
    ax.spines[["top", "right"]].set_visible(False)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", metadata={"Software": None})
    return buf.getvalue()
