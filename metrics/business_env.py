"""营商环境指数 (metrics.md §8): sub-indicators, distance-to-frontier scores and the index.

Output: one row per month × scoring region × indicator, with the columns of the `be_scores`
table. Scoring regions are every county-level region (`level == 'county'`) and every city
(`level == 'city'`). A case belongs to the region of its agency; an agency below county level
(town, village) rolls up to its county ancestor. A city's row is the whole city (全市): every
case of every agency in the city's subtree, including its counties' and the city-level
departments'. Only counties are ranked against each other; the city row is the benchmark.

Sub-indicators (ids of `metrics.settings.SUB_INDICATORS`):
- startup_days / construction_days: for each 一件事 bundle (`bundle_id`) of business_startup
  items, or each project chain (`project_code`) of construction_permit items, the working days
  ord(last completion date) − ord(first acceptance date); median over the bundles whose cases
  are all completed by the as-of moment and whose last completion falls in the month. This is
  the elapsed time an applicant experiences, so suspensions are not subtracted. A bundle
  belongs to the region of its first-accepted case. Cases outside the clock (not_accepted,
  withdrawn) are not part of a bundle; cases with no bundle_id / project_code are left out.
- property_days: mean `used_wd` (metrics.md §1, suspensions subtracted) of property_registration
  cases completed in the month.
- online_rate, full_online_rate, on_time_rate, promise_compression_rate, no_visit_rate from
  `case_facts`, good_review_rate from `review_facts`: ratios of sums over the region's agencies
  (metrics.md §3). A zero denominator gives a null value.

Score = 100 × (worst − x) / (worst − frontier), clipped to [0, 100], with frontier and worst
fixed in `settings.be_bounds`. The one formula serves both directions: for lower-is-better
indicators frontier < worst, for higher-is-better frontier > worst, and in both cases x at the
frontier scores 100 and x at the worst scores 0.

Index (`indicator = 'be_index'`, `pillar = 'index'`): the weighted mean of the sub-indicator
scores that exist for the region and month, Σ wᵢ·sᵢ / Σ wᵢ over scored indicators only. A
missing sub-indicator (no bundle completed, zero denominator) is left out and the remaining
weights are re-normalised, rather than being scored 0: a county with no construction project
finishing this month has not done badly at construction permits. With no scored sub-indicator
(or all weights 0) the index is null. Each sub-indicator's `contribution` is wᵢ·sᵢ / Σ wᵢ over
the same set, so the contributions of a region-month sum to its index (within the rounding
below). The index row's `score` equals its value (the index is itself on the 0–100 scale); its
n, weight and contribution are null.

Precision and reruns: value, score, contribution and change are stored rounded to 6 decimals
(BE_DIGITS). The sums over indicators are taken in fixed point (scores in millionths of a
point, weights in billionths), which are exact in any order, so two runs on the same data and
settings store bit-identical rows (a float sum's last bits would otherwise follow the order a
parallel group-by meets its terms in, and feed the bulletin's content hash).

rank: among county regions per month and indicator, by score (1 = best; ties share the lowest
rank, "min" ranking); null for cities and for rows without a score.

change: score minus the same region's and indicator's score in the previous month. The previous
month is computed here from the same inputs, so `months` need not include it; but the facts-based
indicators (and the index) can only be computed for it if `case_facts` / `review_facts` cover it.
The caller should pass facts covering the month before the first of `months` (e.g. read from the
stored fact tables); if `case_facts` has no row at all for that month, `change` of the
facts-based indicators and of the index is null there rather than a comparison with a partial
previous month.
"""

from __future__ import annotations

import datetime as dt

import polars as pl

from metrics.calendar import WorkCalendar
from metrics.case_measures import completed_clock
from metrics.clock import as_calendar
from metrics.settings import Settings

INDEX = "be_index"
INDEX_PILLAR = "index"
COUNTY, CITY = "county", "city"
SCORING_LEVELS = (COUNTY, CITY)
# province > city > county > town > village: five parent steps reach any ancestor.
MAX_REGION_DEPTH = 5
OUT_OF_CLOCK = ("not_accepted", "withdrawn")

# Sub-indicators computed as ratios of sums of fact columns: id → (source, numerator, denominator).
FACT_RATES: dict[str, tuple[str, str, str]] = {
    "online_rate": ("case", "online_accepted", "accepted"),
    "full_online_rate": ("case", "full_online_accepted", "accepted"),
    "on_time_rate": ("case", "completed_on_time", "completed_with_deadline"),
    "promise_compression_rate": ("case", "cmp_gap", "cmp_statutory"),
    "no_visit_rate": ("case", "no_visit", "visits_known"),
    "good_review_rate": ("review", "good", "reviews_valid"),
}
# Log-derived chain sub-indicators: id → (items.be_indicator, chain key column).
CHAINS: dict[str, tuple[str, str]] = {
    "startup_days": ("business_startup", "bundle_id"),
    "construction_days": ("construction_permit", "project_code"),
}
PROPERTY = ("property_days", "property_registration")

BE_SCHEMA: dict[str, pl.DataType] = {
    "month": pl.Date(),
    "region_code": pl.String(),
    "indicator": pl.String(),
    "pillar": pl.String(),
    "value": pl.Float64(),
    "n": pl.Int64(),
    "score": pl.Float64(),
    "weight": pl.Float64(),
    "contribution": pl.Float64(),
    "rank": pl.Int32(),
    "change": pl.Float64(),
}
_VALUES_SCHEMA: dict[str, pl.DataType] = {
    "month": pl.Date(),
    "region_code": pl.String(),
    "indicator": pl.String(),
    "value": pl.Float64(),
    "n": pl.Int64(),
}
_SUSPENSIONS_SCHEMA: dict[str, pl.DataType] = {
    "case_id": pl.String(),
    "started_at": pl.Datetime("us"),
    "ended_at": pl.Datetime("us"),
    "reason": pl.String(),
    "approved_days": pl.Int32(),
}


# Stored precision (metrics.md §3: fixed order, documented rounding): value, score,
# contribution and change are rounded to BE_DIGITS decimals before they are stored and hashed.
# Scores enter the index in fixed point (SCORE_UNIT per point) and weights, as shares of their
# total, in WEIGHT_UNIT, so the index's sums are exact integers whatever order they come in
# (each product < 1e17, their sum < 1e18: inside Int64).
BE_DIGITS = 6
SCORE_UNIT = 10**BE_DIGITS
WEIGHT_UNIT = 10**9


def fixed(x: pl.Expr, unit: int) -> pl.Expr:
    """`x` as an integer number of 1/unit (null stays null)."""
    return (x * unit).round(0).cast(pl.Int64)


def _month(col: str) -> pl.Expr:
    return pl.col(col).dt.truncate("1mo").dt.date()


def _previous_month(m: dt.date) -> dt.date:
    return (m.replace(day=1) - dt.timedelta(days=1)).replace(day=1)


def distance_to_frontier(x: pl.Expr, frontier: pl.Expr | float, worst: pl.Expr | float) -> pl.Expr:
    """100 × (worst − x) / (worst − frontier), clipped to [0, 100]; null x gives null."""
    frontier = frontier if isinstance(frontier, pl.Expr) else pl.lit(frontier)
    worst = worst if isinstance(worst, pl.Expr) else pl.lit(worst)
    return (100.0 * (worst - x) / (worst - frontier)).clip(0.0, 100.0)


def region_targets(regions: pl.LazyFrame) -> pl.LazyFrame:
    """region_code → (target_code, target_level): the scoring regions it is or lies in.

    Ancestors are found with a fixed number of self-joins on parent_code (the tree is at most
    five levels deep), not by walking each row. A county maps to itself and its city; a town
    to its county and city; a city-level region to its city only.
    """
    lookup = regions.select(
        pl.col("region_code").alias("__anc"),
        pl.col("parent_code").alias("__next"),
        pl.col("level").alias("target_level"),
    )
    current = regions.select("region_code", pl.col("region_code").alias("__anc"))
    found: list[pl.LazyFrame] = []
    for _ in range(MAX_REGION_DEPTH):
        current = current.join(lookup, on="__anc", how="inner")
        found.append(current.select("region_code", pl.col("__anc").alias("target_code"),
                                    "target_level"))
        current = current.select("region_code", pl.col("__next").alias("__anc")).filter(
            pl.col("__anc").is_not_null()
        )
    return (
        pl.concat(found)
        .filter(pl.col("target_level").is_in(SCORING_LEVELS))
        .unique(subset=["region_code", "target_code"])
    )


def _agency_targets(agencies: pl.LazyFrame, regions: pl.LazyFrame) -> pl.LazyFrame:
    """agency_code → region_code (a scoring region), one row per region the agency counts in."""
    return (
        agencies.select("agency_code", "region_code")
        .join(region_targets(regions), on="region_code", how="inner")
        .select("agency_code", pl.col("target_code").alias("region_code"))
    )


def _chain_days(
    cases: pl.LazyFrame,
    items: pl.LazyFrame,
    agency_regions: pl.LazyFrame,
    cal: WorkCalendar,
    indicator: str,
    be_indicator: str,
    key: str,
    months: list[dt.date],
    as_of: dt.datetime,
) -> pl.LazyFrame:
    """Median working days from first acceptance to last completion over finished chains."""
    chain_items = items.filter(pl.col("be_indicator") == be_indicator).select("item_code")
    done = pl.col("completed_at").is_not_null() & (pl.col("completed_at") <= as_of)
    chains = (
        cases.join(chain_items, on="item_code", how="semi")
        .filter(pl.col(key).is_not_null() & ~pl.col("status").is_in(OUT_OF_CLOCK))
        .group_by(key)
        .agg(
            pl.col("accepted_at").min().dt.date().alias("__first_d"),
            pl.col("completed_at").max().dt.date().alias("__last_d"),
            done.all().alias("__all_done"),
            pl.col("agency_code")
            .sort_by("accepted_at", "case_id", nulls_last=True)
            .first()
            .alias("agency_code"),
        )
        .filter(pl.col("__all_done") & pl.col("__first_d").is_not_null())
        .with_columns(_month("__last_d").alias("month"))
        .filter(pl.col("month").is_in(months))
    )
    chains = chains.with_columns(
        (cal.ord_expr("__last_d") - cal.ord_expr("__first_d")).alias("__days")
    )
    return (
        chains.join(agency_regions, on="agency_code", how="inner")
        .group_by("month", "region_code")
        .agg(
            pl.col("__days").median().alias("value"),
            pl.col("__days").count().alias("n"),
        )
        .with_columns(pl.lit(indicator).alias("indicator"))
    )


def _property_days(
    cases: pl.LazyFrame,
    items: pl.LazyFrame,
    suspensions: pl.LazyFrame,
    agency_regions: pl.LazyFrame,
    calendar: object,
    months: list[dt.date],
    settings: Settings,
    as_of: dt.datetime,
) -> pl.LazyFrame:
    """Mean used_wd of property-registration cases completed in the month."""
    indicator, be_indicator = PROPERTY
    prop_items = items.filter(pl.col("be_indicator") == be_indicator).select("item_code")
    prop_cases = cases.join(prop_items, on="item_code", how="semi")
    clocked = completed_clock(prop_cases, suspensions, calendar, settings, as_of)
    return (
        clocked.with_columns(_month("completed_at").alias("month"))
        .filter(pl.col("month").is_in(months))
        .join(agency_regions, on="agency_code", how="inner")
        .group_by("month", "region_code")
        .agg(
            pl.col("used_wd").mean().alias("value"),
            pl.col("used_wd").count().alias("n"),
        )
        .with_columns(pl.lit(indicator).alias("indicator"))
    )


def _fact_rates(
    facts: pl.LazyFrame,
    source: str,
    agency_regions: pl.LazyFrame,
    indicators: list[str],
    months: list[dt.date],
) -> list[pl.LazyFrame]:
    """Ratio-of-sums sub-indicators from one fact frame; zero denominator → null value."""
    wanted = {i: FACT_RATES[i] for i in indicators if FACT_RATES.get(i, ("",))[0] == source}
    if not wanted:
        return []
    columns = sorted({c for _, num, den in wanted.values() for c in (num, den)})
    sums = (
        facts.filter(pl.col("month").is_in(months))
        .join(agency_regions, on="agency_code", how="inner")
        .group_by("month", "region_code")
        .agg(*(pl.col(c).sum() for c in columns))
    )
    return [
        sums.select(
            "month",
            "region_code",
            pl.lit(ind).alias("indicator"),
            pl.when(pl.col(den) > 0).then(pl.col(num) / pl.col(den)).otherwise(None).alias("value"),
            pl.col(den).alias("n"),
        )
        for ind, (_, num, den) in wanted.items()
    ]


def _listed(settings: Settings) -> list[str]:
    """The sub-indicators that take part: those named in a pillar."""
    return [ind for inds in settings.be_pillars.values() for ind in inds]


def _indicator_meta(settings: Settings) -> pl.LazyFrame:
    """indicator, pillar, weight, frontier, worst for every sub-indicator in a pillar."""
    listed = _listed(settings)
    weights = [float(settings.weight(i)) for i in listed]
    total = sum(weights) or 1.0
    return pl.LazyFrame(
        {
            "indicator": listed,
            "pillar": [settings.pillar_of(i) for i in listed],
            "weight": weights,
            # the same weights summing to 1 (the index is scale-free in them): their fixed-point
            # products with scores then stay far inside Int64 whatever weights are configured
            "__w_share": [w / total for w in weights],
            "frontier": [float(settings.be_bounds[i]["frontier"]) for i in listed],
            "worst": [float(settings.be_bounds[i]["worst"]) for i in listed],
        },
        schema={"indicator": pl.String, "pillar": pl.String, "weight": pl.Float64,
                "__w_share": pl.Float64, "frontier": pl.Float64, "worst": pl.Float64},
    )


def be_scores(
    cases: pl.LazyFrame,
    items: pl.LazyFrame,
    agencies: pl.LazyFrame,
    regions: pl.LazyFrame,
    case_facts: pl.LazyFrame,
    review_facts: pl.LazyFrame,
    calendar: object,
    months: list[dt.date],
    settings: Settings,
    as_of: dt.datetime,
    suspensions: pl.LazyFrame | None = None,
) -> pl.LazyFrame:
    """be_scores rows (metrics.md §8) for `months`; see the module docstring for the rules.

    `suspensions` feed property_days' used_wd (metrics.md §1); without them that indicator is
    computed as if no case was ever suspended, so the job should pass them.
    """
    months = sorted({m.replace(day=1) for m in months})
    # Each month's previous month is computed too, for `change`, then dropped.
    span = sorted(set(months) | {_previous_month(m) for m in months})
    cal = as_calendar(calendar)
    if suspensions is None:
        suspensions = pl.LazyFrame(schema=_SUSPENSIONS_SCHEMA)
    meta = _indicator_meta(settings)
    indicators = _listed(settings)
    agency_regions = _agency_targets(agencies, regions)

    parts: list[pl.LazyFrame] = []
    for ind, (be_indicator, key) in CHAINS.items():
        if ind in indicators:
            parts.append(_chain_days(cases, items, agency_regions, cal, ind, be_indicator, key,
                                     span, as_of))
    if PROPERTY[0] in indicators:
        parts.append(_property_days(cases, items, suspensions, agency_regions, calendar, span,
                                    settings, as_of))
    parts += _fact_rates(case_facts, "case", agency_regions, indicators, span)
    parts += _fact_rates(review_facts, "review", agency_regions, indicators, span)
    values = pl.concat(
        [pl.LazyFrame(schema=_VALUES_SCHEMA)]
        + [p.select(*_VALUES_SCHEMA).cast(_VALUES_SCHEMA) for p in parts],
        how="vertical",
    )

    scoring = regions.filter(pl.col("level").is_in(SCORING_LEVELS)).select(
        "region_code", pl.col("level").alias("__level")
    )
    skeleton = (
        pl.LazyFrame({"month": span}, schema={"month": pl.Date})
        .join(scoring, how="cross")
        .join(meta, how="cross")
    )
    # The index sums over indicators. A float sum's last bits depend on the order its terms
    # arrive in, which a parallel group-by does not fix, so the sums are taken in fixed point:
    # scores in millionths of a point and weights in WEIGHT_UNIT, both integers, whose sums are
    # exact in any order; each contribution and the index are then one division of exact
    # integers. Reruns on the same data are bit-identical (metrics.md §3, issue 17).
    subs = (
        skeleton.join(values, on=["month", "region_code", "indicator"], how="left")
        .with_columns(
            fixed(distance_to_frontier(pl.col("value"), pl.col("frontier"), pl.col("worst")),
                  SCORE_UNIT).alias("__s"),
            fixed(pl.col("__w_share"), WEIGHT_UNIT).alias("__w"),
        )
        .with_columns(
            (pl.col("__s") / SCORE_UNIT).alias("score"),
            (pl.col("__w") * pl.col("__s")).alias("__ws"),  # < 1e18: fits Int64
        )
        .with_columns(
            pl.col("__w").filter(pl.col("__s").is_not_null()).sum()
            .over("month", "region_code").alias("__w_scored"),
        )
        .with_columns(
            pl.when(pl.col("__w_scored") > 0)
            .then((pl.col("__ws") / pl.col("__w_scored") / SCORE_UNIT).round(BE_DIGITS))
            .otherwise(None)
            .alias("contribution")
        )
    )
    index = (
        subs.group_by("month", "region_code", "__level")
        .agg(
            pl.col("__ws").sum().alias("__sum"),
            pl.col("__w_scored").first(),
            pl.col("__s").is_not_null().any().alias("__any"),
        )
        .select(
            "month",
            "region_code",
            "__level",
            pl.lit(INDEX).alias("indicator"),
            pl.lit(INDEX_PILLAR).alias("pillar"),
            pl.when(pl.col("__any") & (pl.col("__w_scored") > 0))
            .then((pl.col("__sum") / pl.col("__w_scored") / SCORE_UNIT).round(BE_DIGITS))
            .otherwise(None).alias("value"),
            pl.lit(None, dtype=pl.Int64).alias("n"),
            pl.lit(None, dtype=pl.Float64).alias("weight"),
            pl.lit(None, dtype=pl.Float64).alias("contribution"),
        )
        .with_columns(pl.col("value").alias("score"))
    )
    rows = pl.concat(
        [
            subs.select("month", "region_code", "__level", "indicator", "pillar", "value", "n",
                        "weight", "contribution", "score"),
            index.select("month", "region_code", "__level", "indicator", "pillar", "value", "n",
                         "weight", "contribution", "score"),
        ],
        how="vertical_relaxed",
    )
    rows = rows.with_columns(
        pl.when(pl.col("__level") == COUNTY)
        .then(pl.col("score"))
        .otherwise(None)
        .rank("min", descending=True)
        .over("month", "indicator")
        .alias("rank")
    )

    # change: the previous month's score of the same region and indicator. Facts-based
    # indicators and the index compare only with a month that case_facts actually covers.
    facts_based = [*FACT_RATES, INDEX]
    prev = rows.select(
        pl.col("month").dt.offset_by("1mo").alias("month"),
        "region_code",
        "indicator",
        pl.col("score").alias("__prev_score"),
    )
    covered = (
        case_facts.select(pl.col("month").dt.offset_by("1mo").alias("month"))
        .unique()
        .with_columns(pl.lit(True).alias("__prev_covered"))
    )
    rows = (
        rows.join(prev, on=["month", "region_code", "indicator"], how="left")
        .join(covered, on="month", how="left")
        .with_columns(
            pl.when(pl.col("indicator").is_in(facts_based)
                    & pl.col("__prev_covered").is_null())
            .then(None)
            .otherwise((pl.col("score") - pl.col("__prev_score")).round(BE_DIGITS))
            .alias("change")
        )
    )
    return (
        rows.filter(pl.col("month").is_in(months))
        .with_columns(pl.col("value").round(BE_DIGITS))
        .select(*BE_SCHEMA)
        .cast(BE_SCHEMA)
        .sort("month", "region_code", "indicator")
    )


__all__ = ["BE_SCHEMA", "be_scores", "distance_to_frontier", "region_targets"]
