"""The bulletin's ranking rules: composite score, rank with ties and minimum N, praise/criticism.

The composite score (综合得分, 0–100) is a weighted mean of component scores, each on 0–100:
a share counts as its percentage (按时办结率 97.3% → 97.3), and red/yellow cards as
`100 − card_penalty × (net cards per 100 completed cases)`, clipped to [0, 100]. A component
with no data is left out and the remaining weights are rescaled, so a unit without reviews is
scored on the rest rather than punished with a zero. The weights and the penalty are settings
of the bulletin (`BulletinRules`, recorded in the provenance), defaults below.

Ranking follows `metrics.query.ranking`: higher score first, ties share the smallest rank
(1, 2, 2, 4), and a unit whose 有时限办结件数 is below `min_n` (Settings.min_n_rank) is
listed after the ranked units without a rank — three cases at 100% do not top the table.

通报表扬 = ranked units with rank ≤ top_n; 通报批评 = ranked units whose rank counted from the
bottom (ties sharing) is ≤ top_n, excluding any already praised. Ties at the boundary are all
included, so a list can be longer than N. A unit criticised this month that was also
criticised the month before is flagged for 约谈.

With `stats_check` (default on) the criticism is checked against the lagging-unit statistics
(`metrics.bulletin.stats_check`): the list itself still follows the score, the check says
whether the statistics confirm the gap and names the lagging units outside the bottom N.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import polars as pl

from metrics.settings import Settings


def _default_weights() -> dict[str, float]:
    return {
        "on_time_rate": 0.3,
        "online_rate": 0.2,
        "good_review_rate": 0.2,
        "bad_review_rectified_rate": 0.1,
        "cards": 0.2,
    }


@dataclass(frozen=True)
class BulletinRules:
    top_n: int = 3
    min_n: int = 30
    weights: dict[str, float] = field(default_factory=_default_weights)
    card_penalty: float = 10.0  # points per net card per 100 completed cases
    list_rows: int = 20  # rows of the case/card lists shown in the document
    tag_rows: int = 10
    # 统计检验 in 通报批评: funnel / trend verdicts of metrics.stats for the criticised units and
    # the other lagging units (metrics.bulletin.stats_check); off leaves the section as before.
    stats_check: bool = True

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> BulletinRules:
        values: dict[str, Any] = {"top_n": settings.top_n, "min_n": settings.min_n_rank}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


SHARE_COMPONENTS = ("on_time_rate", "online_rate", "good_review_rate",
                    "bad_review_rectified_rate")


def composite_scores(df: pl.DataFrame, rules: BulletinRules) -> pl.DataFrame:
    """Add `card_score` and `score` (composite) to a frame with one row per unit.

    Needs the share columns of SHARE_COMPONENTS (0–1 or null), `net_cards` and `completed`.
    """
    card_score = (
        pl.when(pl.col("completed") > 0)
        .then((100 - rules.card_penalty * pl.col("net_cards") * 100 / pl.col("completed"))
              .clip(0.0, 100.0))
        .otherwise(None)
    )
    df = df.with_columns(card_score.cast(pl.Float64).alias("card_score"))
    parts = {k: pl.col(k) * 100 for k in SHARE_COMPONENTS}
    parts["cards"] = pl.col("card_score")
    weighted = [pl.when(e.is_not_null()).then(e * rules.weights.get(k, 0.0)).otherwise(0.0)
                for k, e in parts.items()]
    weight_sum = [pl.when(e.is_not_null()).then(pl.lit(rules.weights.get(k, 0.0)))
                  .otherwise(0.0) for k, e in parts.items()]
    total_w = pl.sum_horizontal(weight_sum)
    return df.with_columns(
        pl.when(total_w > 0).then(pl.sum_horizontal(weighted) / total_w).otherwise(None)
        .alias("score")
    )


def rank_units(df: pl.DataFrame, rules: BulletinRules, key: str) -> pl.DataFrame:
    """Add `ranked`, `rank` (ties share the smallest) and `rank_note`; sort ranked first.

    Eligibility: a score, and `min_n_base` (有时限办结件数) ≥ rules.min_n.
    """
    df = df.with_columns(
        pl.when(pl.col("score").is_null()).then(pl.lit("无数据"))
        .when(pl.col("min_n_base").fill_null(0) < rules.min_n)
        .then(pl.lit(f"办结不足{rules.min_n}件，不参与排名"))
        .otherwise(None).alias("rank_note")
    ).with_columns(pl.col("rank_note").is_null().alias("ranked"))
    eligible = pl.when(pl.col("ranked")).then(pl.col("score"))
    df = df.with_columns(
        eligible.rank("min", descending=True).cast(pl.Int64).alias("rank"),
        eligible.rank("min", descending=False).cast(pl.Int64).alias("rank_from_bottom"),
    )
    return df.sort(["rank", "score", key], descending=[False, True, False], nulls_last=True)


def praise_and_criticism(
    ranked: pl.DataFrame, rules: BulletinRules, key: str
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Rows (as dicts) praised and criticised under the rules above."""
    if rules.top_n <= 0:
        return [], []
    top = ranked.filter(pl.col("ranked") & (pl.col("rank") <= rules.top_n))
    top_keys = set(top[key].to_list())
    bottom = ranked.filter(
        pl.col("ranked") & (pl.col("rank_from_bottom") <= rules.top_n)
        & ~pl.col(key).is_in(sorted(top_keys))
    ).sort(["rank_from_bottom", key])
    return top.to_dicts(), bottom.to_dicts()
