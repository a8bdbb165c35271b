"""The 指标口径 page's content, built from the metric registry and the settings in force.

Nothing here is written by hand per metric: adding a metric to the registry adds it to the
page, with its formula spelled from the measures' own names.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import polars as pl
import streamlit as st

from dashboard import data
from dashboard.components import formula_text, metric_unit
from dashboard.formatting import fmt_target
from dashboard.i18n import translate
from dashboard.state import current_lang
from metrics.registry import METRICS


def _t(key: str) -> str:
    return translate(key, current_lang())


def settings_in_force() -> dict[str, Any]:
    return data.settings().as_dict()


def metric_tables() -> Iterator[tuple[str, pl.DataFrame]]:
    """(family, one row per metric) in registry order."""
    lang = current_lang()
    settings = settings_in_force()
    families: dict[str, list[dict[str, str]]] = {}
    for m in METRICS:
        target = m.target
        override = settings.get("targets", {}).get(m.id)
        tgt = ""
        if target is not None or override is not None:
            op = target.op if target else (">=" if m.direction != "lower" else "<=")
            value = override if override is not None else target.value  # type: ignore[union-attr]
            tgt = fmt_target(op, value, m.fmt, lang) + (f"（{target.source}）" if target else "")
        families.setdefault(m.family, []).append({
            "name": m.zh if lang == "zh" else m.en,
            "id": m.id,
            "definition": m.definition_zh if lang == "zh" else m.definition_en,
            "formula": formula_text(m, lang),
            "unit": metric_unit(m, lang),
            "direction": _t(f"dir_{m.direction}"),
            "target": tgt,
            "source": m.source,
            "settings": "; ".join(f"{s} = {json.dumps(settings.get(s), ensure_ascii=False)}"
                                  for s in m.settings),
        })
    for family, rows in families.items():
        yield family, pl.DataFrame(rows)


def render_table(frame: pl.DataFrame) -> None:
    heads = {"name": _t("metric_id").replace("编号", "") if current_lang() == "zh" else "Metric",
             "id": _t("metric_id"), "definition": _t("definition"), "formula": _t("formula"),
             "unit": _t("unit_label"), "direction": _t("direction"), "target": _t("target"),
             "source": _t("source"), "settings": _t("settings_in_force")}
    st.dataframe(frame.rename(heads), hide_index=True, width="stretch",
                 column_config={heads["definition"]: st.column_config.TextColumn(width="large"),
                                heads["formula"]: st.column_config.TextColumn(width="large")})


def query_rules() -> str:
    """The roll-up rules as the query API documents them (grains, periods, changes, CIs)."""
    from metrics import query

    doc = query.__doc__ or ""
    return doc.split("Definitions chosen here", 1)[-1].split(":", 1)[-1].strip()
