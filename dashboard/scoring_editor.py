"""The 考核 scoring editor of the 数据管理 page: the `[scoring]` table of the settings.

The supervision office sets its own 考核 rules here — which components make the composite
score, their points, bounds, deductions and caps, and whether the bottom of a ranking is
criticised only where the statistics confirm the gap. Saving goes through
`dashboard.admin.save_settings` (validated by `metrics.settings`, audited before/after, used by
every later bulletin and recorded in each published version's provenance).
"""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from dashboard import admin
from metrics.settings import ScoringSettings, Settings, component_label, scored_shares
from xiaoneng.authz import User

L = {
    "title": ("考核评分规则", "Scoring rules"),
    "help": ("综合得分由下列各项构成（满分合计折算为100分）。比率类按区间线性计分，计数类按件扣分。",
             "The composite score is made of these components (scaled to 100). Shares score "
             "linearly between their bounds; counts lose points per case."),
    "criticism": ("通报批评规则", "Criticism rule"),
    "confirmed": ("排名后列且经统计检验确认差距", "Bottom of the ranking and gap confirmed"),
    "rank": ("排名后列即通报批评", "Bottom of the ranking alone"),
    "interview": ("连续几期被批评即约谈", "Summon after this many periods criticised"),
    "save": ("保存评分规则", "Save scoring rules"),
}
COLUMNS = ["id", "points", "method", "zero_at", "full_at", "per", "cap", "per_100"]


def _l(key: str, lang: str) -> str:
    return L[key][0 if lang == "zh" else 1]


def _frame(scoring: ScoringSettings) -> pd.DataFrame:
    rows = [{"id": c.id, "points": float(c.points), "method": c.method, "zero_at": c.zero_at,
             "full_at": c.full_at, "per": float(c.per), "cap": c.cap, "per_100": c.per_100}
            for c in scoring.components]
    return pd.DataFrame(rows, columns=COLUMNS)


def _clean(v):
    return None if v is None or (isinstance(v, float) and math.isnan(v)) else v


def mapping_from(frame: pd.DataFrame, criticism: str, interview_after: int) -> dict:
    """The `[scoring]` table from the edited rows (blank bounds and caps: the defaults)."""
    comps = {}
    for r in frame.to_dict("records"):
        if not r.get("id"):
            continue
        spec = {"points": _clean(r["points"]), "method": r.get("method") or "share",
                "zero_at": _clean(r.get("zero_at")), "full_at": _clean(r.get("full_at")),
                "per": _clean(r.get("per")) or 1.0, "cap": _clean(r.get("cap")),
                "per_100": bool(r.get("per_100", True))}
        comps[str(r["id"])] = {k: v for k, v in spec.items() if v is not None}
    return {"components": comps, "criticism": criticism, "interview_after": int(interview_after)}


def scoring_editor(current: Settings, user: User | None, editable: bool, lang: str) -> None:
    st.markdown(f"**{_l('title', lang)}**")
    st.caption(_l("help", lang))
    scoring = current.scoring
    frame = _frame(scoring)
    if not editable:
        st.dataframe(frame.assign(label=[component_label(c) for c in frame["id"]]),
                     hide_index=True)
        return
    choices = [*scored_shares(), "net_cards", "bad_reviews", "overdue", "red_cards",
               "yellow_cards"]
    with st.form("scoring_form"):
        edited = st.data_editor(
            frame, num_rows="dynamic", hide_index=True, key="scoring_table",
            column_config={
                "id": st.column_config.SelectboxColumn(options=choices, required=True),
                "method": st.column_config.SelectboxColumn(options=["share", "deduct"]),
                "per_100": st.column_config.CheckboxColumn(),
            })
        criticism = st.radio(_l("criticism", lang), ["confirmed", "rank"],
                             index=["confirmed", "rank"].index(scoring.criticism),
                             format_func=lambda v: _l(v, lang), horizontal=True,
                             key="scoring_criticism")
        interview = st.number_input(_l("interview", lang), min_value=1, max_value=12,
                                    value=int(scoring.interview_after), step=1,
                                    key="scoring_interview")
        if st.form_submit_button(_l("save", lang), icon=":material/save:"):
            try:
                diff = admin.save_settings(
                    {"scoring": mapping_from(edited, criticism, interview)}, user)
            except Exception as exc:  # an invalid rule is refused with the setting named
                st.error(str(exc))
            else:
                st.success("scoring" if diff else "—")
