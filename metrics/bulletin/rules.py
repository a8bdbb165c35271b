"""The bulletin's 考核 rules: composite score with per-component deductions, ranking within a
peer group, and who is praised, criticised, reminded and summoned (docs/bulletin.md).

Composite score (综合得分, 百分制). Each component of `[scoring]` (metrics.settings) earns up to
its points: a share earns `points × clip((v − zero_at) / (full_at − zero_at), 0, 1)`, a count
loses `min(cap, per × x)` points (x per 100 completed cases by default). The deduction of a
component (扣分) is its points minus what it earned, rounded to two decimals as printed; the
score is 100 × (Σ points − Σ deductions) / Σ points over the components with data, so a unit
without reviews is scored on the rest rather than punished with a zero. With every component
present and points summing to 100, score = 100 − Σ deductions: the 扣分 table adds up.

Ranking follows `metrics.query.ranking`: higher score first, ties share the smallest rank
(1, 2, 2, 4), and a unit whose 有时限办结件数 is below `min_n` is listed after the ranked units
without a rank — three cases at 100% do not top the table. Peer groups (县（市、区）, 市直部门,
乡镇（街道）…, `metrics.bulletin.groups`) are ranked separately.

Lists, per peer group of n ranked units (`select_lists`):
- at most k = min(top_n, ⌊n × max_share⌋) places each way — never more than a third of the
  group by default, so with six departments two are praised and at most two criticised, and a
  group of fewer than three ranked units has no lists;
- ties at a boundary are all in or all out: a tied block that would push a list past
  ⌊n × max_share⌋ units is left out whole (naming one of two equal units is arbitrary);
- 通报表扬: the top block. 通报批评: units of the bottom block (not praised) whose gap the
  statistics confirm (`criticism = "confirmed"`, the default), or the whole bottom block when
  the office's rule says rank alone suffices (`criticism = "rank"`); the rest of the bottom
  block is reminded (提醒), not criticised;
- 约谈: criticised in this and the `interview_after − 1` periods before.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any

import polars as pl

from metrics.settings import ScoringSettings, Settings


@dataclass(frozen=True)
class BulletinRules:
    top_n: int = 3
    min_n: int = 30
    scoring: ScoringSettings = field(default_factory=ScoringSettings)
    list_rows: int = 20  # rows of the case/card lists shown in the document
    tag_rows: int = 10
    # 统计检验 of the criticism (metrics.bulletin.stats_check). Off: no statistics, and under
    # the "confirmed" rule nobody can be criticised (the bulletin says why).
    stats_check: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> BulletinRules:
        values: dict[str, Any] = {"top_n": settings.top_n, "min_n": settings.min_n_rank,
                                  "scoring": settings.scoring}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["scoring"] = self.scoring.as_mapping()
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BulletinRules:
        known = {f.name for f in dataclasses.fields(cls)}
        values = {k: v for k, v in d.items() if k in known}
        if "scoring" in values:
            values["scoring"] = ScoringSettings.from_mapping(values["scoring"])
        return cls(**values)


SCORE_DIGITS = 2  # scores and deductions are rounded as printed (text.DIGITS["score"])


def composite_scores(df: pl.DataFrame, scoring: ScoringSettings) -> pl.DataFrame:
    """Add `ded_<component>` (deduction, null without data) and `score` to one row per unit.

    Needs a column per share component (0–1 or null), per count component, and `completed`.
    """
    ded_cols, avail = [], []
    for c in scoring.components:
        if c.method == "share":
            zero, full = c.bounds()
            frac = ((pl.col(c.id) - zero) / (full - zero)).clip(0.0, 1.0)
            ded = c.points * (1 - frac)
        else:
            x = pl.col(c.id).fill_null(0).cast(pl.Float64)
            if c.per_100:
                x = pl.when(pl.col("completed") > 0).then(x * 100 / pl.col("completed"))
            ded = pl.when(x.is_not_null()).then(  # min_horizontal would skip a null
                pl.min_horizontal(x * c.per, pl.lit(c.max_deduction)))
        ded_cols.append(ded.round(SCORE_DIGITS).cast(pl.Float64).alias(f"ded_{c.id}"))
        avail.append(c)
    df = df.with_columns(ded_cols)
    points = pl.sum_horizontal(
        pl.when(pl.col(f"ded_{c.id}").is_not_null()).then(pl.lit(float(c.points))).otherwise(0.0)
        for c in avail)
    lost = pl.sum_horizontal(pl.col(f"ded_{c.id}").fill_null(0.0) for c in avail)
    return df.with_columns(
        pl.when(points > 0).then((100 * (points - lost) / points).round(SCORE_DIGITS))
        .otherwise(None).alias("score"))


def rank_units(df: pl.DataFrame, min_n: int, key: str) -> pl.DataFrame:
    """Add `ranked`, `rank` (ties share the smallest), `rank_from_bottom` and `rank_note`;
    sort ranked first. Eligibility: a score, and `min_n_base` (有时限办结件数) ≥ min_n."""
    df = df.with_columns(
        pl.when(pl.col("score").is_null()).then(pl.lit("无数据"))
        .when(pl.col("min_n_base").fill_null(0) < min_n)
        .then(pl.lit(f"有时限办结不足{min_n}件"))
        .otherwise(None).alias("rank_note")
    ).with_columns(pl.col("rank_note").is_null().alias("ranked"))
    eligible = pl.when(pl.col("ranked")).then(pl.col("score"))
    df = df.with_columns(
        eligible.rank("min", descending=True).cast(pl.Int64).alias("rank"),
        eligible.rank("min", descending=False).cast(pl.Int64).alias("rank_from_bottom"),
    )
    return df.sort(["rank", "score", key], descending=[False, True, False], nulls_last=True)


@dataclass(frozen=True)
class Lists:
    """The outcome of one peer group's ranking (rows as dicts of the ranked frame)."""

    ranked: int  # n, units ranked
    places: int  # k, places each way
    limit: int  # ⌊n × max_share⌋, the most units a list may hold
    praise: list[dict[str, Any]]
    bottom: list[dict[str, Any]]  # the bottom block (not praised)
    criticism: list[dict[str, Any]]  # of the bottom block: criticised under the rule
    reminded: list[dict[str, Any]]  # of the bottom block: not criticised (gap not confirmed)


def _block(rows: list[dict[str, Any]], rank_col: str, places: int, limit: int
           ) -> list[dict[str, Any]]:
    """Units with `rank_col` ≤ places; a tied block crossing `limit` is dropped whole."""
    block = [r for r in rows if r[rank_col] is not None and r[rank_col] <= places]
    while len(block) > limit:
        worst = max(r[rank_col] for r in block)
        block = [r for r in block if r[rank_col] < worst]
    return block


def select_lists(ranked: pl.DataFrame, rules: BulletinRules, key: str,
                 confirmed: set[str] | None) -> Lists:
    """Praise, bottom block, criticism and reminders of one ranked peer group.

    `confirmed`: the keys whose gap the statistics confirm (None: no statistics were run)."""
    rows = ranked.filter(pl.col("ranked")).to_dicts() if not ranked.is_empty() else []
    n = len(rows)
    limit = math.floor(n * rules.scoring.max_share + 1e-9)
    places = max(0, min(rules.top_n, limit))
    if places == 0:
        return Lists(n, 0, limit, [], [], [], [])
    praise = _block(rows, "rank", places, limit)
    praised = {r[key] for r in praise}
    bottom = sorted(_block([r for r in rows if r[key] not in praised], "rank_from_bottom",
                           places, limit), key=lambda r: (r["rank_from_bottom"], r[key]))
    if rules.scoring.criticism == "rank":
        crit = bottom
    else:
        crit = [r for r in bottom if confirmed is not None and r[key] in confirmed]
    named = {r[key] for r in crit}
    return Lists(n, places, limit, praise, bottom, crit, [r for r in bottom if r[key] not in named])
