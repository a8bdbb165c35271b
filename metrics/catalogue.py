"""事项目录 snapshot measures (metrics.md §4 catalogue compression, §5 catalogue rates).

The catalogue has no event dates: it is a snapshot, stamped with the month it was taken, so that
keeping one snapshot per month shows the 减材料、减环节 trend. Each item is one row of 0/1 flags
and sums; rates (online-capable share, average materials, ...) are formed at query time as
ratios of these sums (metrics.md §3).
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from queries.schema import CATALOGUE_MEASURES

INT = pl.Int64


def catalogue_facts(items: pl.LazyFrame, snapshot_month: dt.date) -> pl.LazyFrame:
    """One row per item: month, item_code, sector, item_type and the CATALOGUE_MEASURES.

    `month` is the first day of `snapshot_month`'s month. Unknown counts (materials, steps)
    are left out of both the sum and its `*_known` denominator, so an average is over items
    whose count is known, not diluted by zeros. A missing sector or item type is stored as ''
    (the fact table's columns are NOT NULL).
    """
    depth, visits = pl.col("online_depth"), pl.col("max_visits")
    stat, prom = pl.col("statutory_days"), pl.col("promised_days")
    compressible = (stat > 0) & prom.is_not_null()
    measures: dict[str, pl.Expr] = {
        "items": pl.lit(1),
        "online_capable_items": depth >= 2,
        "full_online_items": depth == 4,
        # Ⅳ级 全程网办 means zero visits even where the guide's max_visits is missing.
        "zero_visit_items": (visits == 0).fill_null(False) | (depth == 4).fill_null(False),
        "materials_sum": pl.col("materials").fill_null(0),
        "materials_known": pl.col("materials").is_not_null(),
        "steps_sum": pl.col("steps").fill_null(0),
        "steps_known": pl.col("steps").is_not_null(),
        "cat_statutory": pl.when(compressible).then(stat).otherwise(0),
        "cat_gap": pl.when(compressible).then(stat - prom).otherwise(0),
    }
    assert tuple(measures) == CATALOGUE_MEASURES, "catalogue measures drifted from queries.schema"
    return items.select(
        pl.lit(snapshot_month.replace(day=1)).alias("month"),
        pl.col("item_code"),
        pl.col("sector").fill_null(""),
        pl.col("item_type").fill_null(""),
        *(expr.cast(INT).fill_null(0).alias(name) for name, expr in measures.items()),
    )


__all__ = ["catalogue_facts"]
