"""The query API: metric values at any grain and period, rankings, and the cases behind a number.

Pages, bulletins and exports call these functions and never form a ratio themselves, so every
number on screen follows metrics.md §3: a rate is Σ numerator / Σ denominator over the fact
rows in scope (never a mean of rates) and a zero denominator is "no data" (null), never 0.

Definitions chosen here (also on the definitions page):

- Grains. `city`: everything in scope as one row, labelled with the filter's region, or
  without one with the city: the tree's root, walked down past single-child levels that hold
  no agency of their own (the demo's province 330000 above its one city 331200). `region`: the
  direct children of that base region (so the counties), each child's whole subtree rolled up
  (a town-level agency counts for its county); agencies attached to the base region itself
  (city departments) form one more row keyed by the base region, named "…本级". With a
  `level`, the region grain lists every region of that level instead (no 本级 row). `agency`, `item`, `channel`: the fact key.
  `sector`: the agency's sector (the item's sector for catalogue metrics).
- Periods. `month`; `quarter` and `year` are whole calendar periods (every month of a period
  that intersects the range is summed, so periods stay comparable); `r12` is the 12 months
  ending at each month of the range. Flow measures are summed over the period's months;
  month-end snapshot measures (在办, 月末超期, 预警) and catalogue snapshots take the value of
  the period's latest month that has data, as a quarter's "in progress" is the one at its end.
- `mom` / `yoy`: value − value of the previous period (previous month / quarter / year /
  rolling window ending a month earlier) and of the same period a year before; `mom_rel` /
  `yoy_rel` the relative change. Null when either side has no data.
- Quantiles (`used_days_hist:q`, metrics.md §1): the median (q = 0.5) is the middle value, and
  for an even count the mean of the two middle values (Excel's MEDIAN); any other q is the
  nearest-rank value, the smallest used_wd whose cumulative count reaches q × total, compared
  exactly in rationals (P90 of 10 cases is the 9th value). Both are exact at any roll-up
  because the histogram is additive. denominator = the number of completed cases behind it.
- Coverage (`review_coverage_rate`): agencies with cases (accepted or completed > 0) that have
  ≥ 1 valid review, over agencies with cases, within the grain cell and period; numerator is
  restricted to agencies with cases so the share never exceeds 1.
- Index metrics (`be:<indicator>`): `be_scores.value` (the index for be_index, falling back to
  its score) at the city and region grains only; the latest month of the period; denominator
  = n. Other grains, or a sector/item/channel/agency filter, give no rows.
- As-of time and data cut-off: the facts are measured as of the job run's as-of time, by
  default min(now, the data cut-off — where the imported extract stops), so deadlines after
  the cut-off (差评 rectification and call-back, open cases' cards) count only what was due by
  then; pages, exports and bulletins state both (docs/numbers.md).
- Precision: ratios are formed here from integer sums (exact inputs, one division); the only
  stored floats, the 营商环境 rows, are summed in fixed point and rounded to 6 decimals, so
  reruns on the same data are bit-identical; bulletin hashes take floats at 12 significant
  digits.
- Day units: used days follow each case's limit unit (working or natural days); labels say
  工作日, 自然日 or 天（按各事项时限单位） after the cases in view (case_facts.completed_natural).
- Catalogue metrics: grains city / item / sector only, and no rows when the filter narrows
  agencies or channels (the catalogue is not per agency). A snapshot is stamped with the month
  of the data cut-off of the job run that took it and stands for every later month until the
  next snapshot; months before the first snapshot take the first one (the earliest catalogue
  known), so every month offered has them.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from typing import Literal

import polars as pl
from sqlalchemy.engine import Engine

from metrics.registry import MEASURE_BY_ID, METRIC_BY_ID, METRICS, Metric
from queries import extracts
from queries.contract import REGION_LEVELS
from queries.errors import XiaonengError
from queries.extracts import Filters, Part, add_months, month_start

try:  # review_facts.score_sum is stored in hundredths of a point
    from metrics.reviews import SCORE_SUM_FACTOR
except ImportError:  # pragma: no cover - metrics.reviews is written alongside this module
    SCORE_SUM_FACTOR = 100

__all__ = [
    "GRAINS", "PERIODS", "Filters", "case_list", "grain_columns", "metric_values", "ranking",
    "validate_metric_ids",
]

Grain = Literal["city", "region", "agency", "item", "channel", "sector"]
Period = Literal["month", "quarter", "year", "r12"]
GRAINS: tuple[str, ...] = ("city", "region", "agency", "item", "channel", "sector")
PERIODS: tuple[str, ...] = ("month", "quarter", "year", "r12")
Z95 = 1.959964  # two-sided 95% normal quantile, for the Wilson interval

# Measures that are month-end stocks, not monthly flows (metrics.md §2).
STOCK_BASES = {"month_end", "catalogue_snapshot"}
# Fact tables whose rows are per agency (so agency-based grains and filters apply).
AGENCY_TABLES = {"case_facts", "review_facts", "card_facts", "used_days_hist"}

_PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12, "r12": 12}
_PREV_OFFSET = {"month": 1, "quarter": 3, "year": 12, "r12": 1}

VALUE_COLUMNS = [
    "metric_id", "numerator", "denominator", "value", "ci_low", "ci_high",
    "mom", "yoy", "mom_rel", "yoy_rel",
]


def grain_columns(grain: str) -> list[str]:
    """The key and name columns a grain's rows carry (before metric_id)."""
    return {
        "city": ["region_code", "region_name"],
        "region": ["region_code", "region_name"],
        "agency": ["agency_code", "agency_name", "region_code", "region_name"],
        "item": ["item_code", "item_name"],
        "channel": ["channel"],
        "sector": ["sector"],
    }[grain]


def _key_columns(grain: str) -> list[str]:
    return {
        "city": ["region_code"], "region": ["region_code"], "agency": ["agency_code"],
        "item": ["item_code"], "channel": ["channel"], "sector": ["sector"],
    }[grain]


def validate_metric_ids(metric_ids: Iterable[str] | None) -> list[str]:
    """Registry ids in the order given (all metrics when None); unknown ids are a user error."""
    if metric_ids is None:
        return [m.id for m in METRICS]
    ids = [m.strip() for m in metric_ids if m and m.strip()]
    unknown = [m for m in ids if m not in METRIC_BY_ID]
    if unknown:
        raise XiaonengError(
            f"unknown metric id(s) {', '.join(unknown)}; valid ids: "
            + ", ".join(m.id for m in METRICS)
        )
    if not ids:
        raise XiaonengError("no metric ids given; valid ids: " + ", ".join(m.id for m in METRICS))
    return list(dict.fromkeys(ids))


def _check(name: str, value: str, allowed: Sequence[str]) -> None:
    if value not in allowed:
        raise XiaonengError(f"{name} must be one of {', '.join(allowed)}, got {value!r}")


# ---------------------------------------------------------------------------------------------
# Region tree


@dataclasses.dataclass(frozen=True)
class _Tree:
    names: dict[str, str]
    children: dict[str | None, list[str]]
    levels: dict[str, str] = dataclasses.field(default_factory=dict)
    staffed: frozenset[str] = frozenset()  # regions with agencies of their own

    @classmethod
    def load(cls, engine: Engine) -> _Tree:
        regions = extracts.load_regions(engine)
        codes = set(regions["region_code"].to_list())
        names: dict[str, str] = {}
        levels: dict[str, str] = {}
        children: dict[str | None, list[str]] = {}
        for code, name, parent, level in regions.select(
                "region_code", "name", "parent_code", "level").iter_rows():
            names[code] = name
            levels[code] = level
            # a parent missing from the table makes the region a root
            children.setdefault(parent if parent in codes else None, []).append(code)
        staffed = frozenset(extracts.load_agencies(engine)["region_code"].drop_nulls())
        return cls(names, children, levels, staffed)

    def subtree(self, code: str) -> list[str]:
        """The region and all its descendants."""
        return extracts.subtree_codes(self.children, [code])

    @property
    def roots(self) -> list[str]:
        return sorted(self.children.get(None, []))

    def top_chain(self) -> list[str]:
        """The single root and the single-child regions below it, down to the first region
        that has several children or agencies of its own: [330000 浙江省, 331200 越川市] in the
        demo. The last is "the city" that an unfiltered view is about; the ones above it hold
        nothing of their own, so filtering on any of them is the whole tree."""
        roots = self.roots
        if len(roots) != 1:
            return []
        chain = [roots[0]]
        while (len(self.children.get(chain[-1], [])) == 1 and chain[-1] not in self.staffed):
            chain.append(self.children[chain[-1]][0])
        return chain

    def of_level(self, level: str, within: list[str] | None) -> list[str]:
        """Regions of `level` (inside `within`, a subtree, when given), sorted."""
        inside = set(within) if within is not None else None
        return sorted(c for c, lv in self.levels.items()
                      if lv == level and (inside is None or c in inside))


@dataclasses.dataclass(frozen=True)
class _Resolved:
    """Filters resolved against the region tree."""

    filters: Filters
    region_codes: list[str] | None  # the subtree of the filter's region (None: no filter)
    base: str | None  # the region labelling the city row / parent of the region units
    units: dict[str, list[str]]  # region unit → its region codes (region grain)
    unit_names: dict[str, str]
    names: dict[str, str]
    whole_tree: bool  # True when the region filter covers the whole tree
    own_unit: str | None = None  # the unit of the base's own agencies ("…本级"), if listed


def _resolve(engine: Engine, filters: Filters, tree: _Tree | None = None,
             level: str | None = None) -> _Resolved:
    """Resolve the region filter; `level` (region grain): every region of that level instead
    of the base's children (the base's own agencies then belong to no unit)."""
    tree = tree or _Tree.load(engine)
    chain = tree.top_chain()
    if filters.region_code is not None:
        base: str | None = filters.region_code
        region_codes: list[str] | None = tree.subtree(filters.region_code)
    else:
        base = chain[-1] if chain else None
        region_codes = None
    units: dict[str, list[str]] = {}
    unit_names: dict[str, str] = {}
    own_unit: str | None = None
    if level is not None:
        _check("level", level, REGION_LEVELS)
        for code in tree.of_level(level, region_codes):
            units[code] = tree.subtree(code)
            unit_names[code] = tree.names.get(code, code)
    elif base is not None:
        for child in sorted(tree.children.get(base, [])):
            units[child] = tree.subtree(child)
            unit_names[child] = tree.names.get(child, child)
        units[base] = [base]  # the base region's own agencies (e.g. city departments)
        unit_names[base] = f"{tree.names.get(base, base)}本级"
        own_unit = base
    else:  # several roots and no region filter: each root's subtree is a unit
        for root in tree.roots:
            units[root] = tree.subtree(root)
            unit_names[root] = tree.names.get(root, root)
    whole_tree = filters.region_code is None or filters.region_code in chain
    return _Resolved(filters, region_codes, base, units, unit_names, tree.names, whole_tree,
                     own_unit)


# ---------------------------------------------------------------------------------------------
# Periods


def _period_start(month: dt.date, period: str) -> dt.date:
    if period == "quarter":
        return dt.date(month.year, (month.month - 1) // 3 * 3 + 1, 1)
    if period == "year":
        return dt.date(month.year, 1, 1)
    return month


def _fetch_range(filters: Filters, period: str) -> tuple[dt.date, dt.date]:
    """Months to read: the periods in range, their previous period and the year-ago period."""
    if period == "r12":
        return add_months(filters.month_from, -23), filters.month_to
    start = add_months(_period_start(filters.month_from, period), -12)
    end = add_months(_period_start(filters.month_to, period), _PERIOD_MONTHS[period] - 1)
    return start, end


def _output_period_ends(filters: Filters, period: str) -> list[dt.date]:
    """period_end (first day of the period's last month) of every period shown."""
    n = _PERIOD_MONTHS[period]
    if period in ("month", "r12"):
        first = filters.month_from
    else:
        first = add_months(_period_start(filters.month_from, period), n - 1)
    out = []
    m = first
    step = 1 if period in ("month", "r12") else n
    while m <= add_months(_period_start(filters.month_to, period), n - 1 if step > 1 else 0):
        out.append(m)
        m = add_months(m, step)
    return out


def _label(period_end: dt.date, period: str) -> str:
    if period == "quarter":
        return f"{period_end.year}-Q{(period_end.month - 1) // 3 + 1}"
    if period == "year":
        return f"{period_end.year}"
    return f"{period_end:%Y-%m}"


def _assign_periods(df: pl.DataFrame, period: str) -> pl.DataFrame:
    """Add period_end to monthly rows (an r12 month belongs to the 12 windows ending after it)."""
    if period == "month":
        return df.with_columns(pl.col("month").alias("period_end"))
    if period == "r12":
        return df.with_columns(pl.lit(list(range(12))).alias("__k")).explode("__k").with_columns(
            pl.col("month").dt.offset_by(pl.format("{}mo", pl.col("__k"))).alias("period_end")
        ).drop("__k")
    n = _PERIOD_MONTHS[period]
    return df.with_columns(
        pl.col("month").dt.truncate(f"{n}mo").dt.offset_by(f"{n - 1}mo").alias("period_end")
    )


def _roll_to_periods(
    df: pl.DataFrame, keys: list[str], measures: list[str], period: str
) -> pl.DataFrame:
    """Sum monthly measure rows to periods; stock measures keep only the period's latest month.

    The latest month is taken over the whole frame (all keys), so a unit without a row in that
    month has a stock of 0 there rather than an older month's value.
    """
    df = _assign_periods(df, period)
    stocks = [m for m in measures if m in MEASURE_BY_ID
              and MEASURE_BY_ID[m].month_basis in STOCK_BASES]
    if stocks and period != "month":
        df = df.with_columns(pl.col("month").max().over("period_end").alias("__snap"))
        df = df.with_columns(
            pl.when(pl.col("month") == pl.col("__snap")).then(pl.col(s)).otherwise(0).alias(s)
            for s in stocks
        ).drop("__snap")
    return df.group_by("period_end", *keys).agg(pl.col(m).sum() for m in measures)


# ---------------------------------------------------------------------------------------------
# Reading facts at a grain


def _fact_keys(grain: str, agency_level: bool) -> list[str]:
    base = {
        "city": [], "region": ["region_unit"], "agency": ["agency_code"], "item": ["item_code"],
        "channel": ["channel"], "sector": ["sector"],
    }[grain]
    if agency_level and "agency_code" not in base:
        base = ["agency_code", *base]
    return base


def _to_grain_key(df: pl.DataFrame, grain: str, res: _Resolved) -> pl.DataFrame:
    """Rename the fact key to the grain's key column; label the city row."""
    if grain == "city":
        return df.with_columns(pl.lit(res.base, dtype=pl.String).alias("region_code"))
    if grain == "region":
        return df.filter(pl.col("region_unit").is_not_null()).rename(
            {"region_unit": "region_code"}
        )
    return df


def _fetch(
    engine: Engine, table: str, measures: list[str], grain: str, res: _Resolved,
    rng: tuple[dt.date, dt.date], agency_level: bool = False, with_used_wd: bool = False,
) -> pl.DataFrame:
    keys = _fact_keys(grain, agency_level)
    df = extracts.fact_sums(
        engine, table, measures, rng[0], rng[1], res.filters, res.region_codes, keys,  # type: ignore[arg-type]
        region_units=res.units if grain == "region" else None, with_used_wd=with_used_wd,
    )
    return _to_grain_key(df, grain, res)


def _applicable(met: Metric, grain: str, filters: Filters, res: _Resolved) -> bool:
    if met.kind == "index":
        return grain in ("city", "region") and not (
            filters.sectors or filters.agency_codes or filters.item_types or filters.item_codes
            or filters.channels or filters.allowed_agencies is not None
        )
    tables = {MEASURE_BY_ID[m].table for m in (*met.numerator, *met.denominator)
              if m in MEASURE_BY_ID}
    if "catalogue_facts" in tables:
        narrows = bool(
            (filters.region_code is not None and not res.whole_tree)
            or filters.agency_codes or filters.channels or filters.allowed_agencies is not None
        )
        return grain in ("city", "item", "sector") and not narrows
    return True


# Concurrent reads of one metric_values call: a handful of independent statements, each on its
# own pooled connection (the database does the work; psycopg2 and sqlite3 release the GIL).
QUERY_THREADS = 4


def _read_all(reads: dict[str, Callable[[], pl.DataFrame]]) -> dict[str, pl.DataFrame]:
    """Run the independent reads side by side and return their frames by name.

    Why: a page's metric call reads several fact tables (case_facts, used_days_hist,
    review_facts …) of 0.1–0.8 s each at 20 million cases; one after another they add up,
    side by side they cost the longest. One read runs inline (no thread for nothing). The
    workers run only the query layer (SQLAlchemy and Polars, no Python UDFs), never Streamlit.
    """
    if len(reads) <= 1:
        return {name: fn() for name, fn in reads.items()}
    with ThreadPoolExecutor(max_workers=min(QUERY_THREADS, len(reads)),
                            thread_name_prefix="metric-read") as pool:
        futures = {name: pool.submit(fn) for name, fn in reads.items()}
        return {name: f.result() for name, f in futures.items()}


# ---------------------------------------------------------------------------------------------
# metric_values


def metric_values(
    engine: Engine,
    metric_ids: Sequence[str] | None,
    filters: Filters,
    grain: Grain = "city",
    period: Period = "month",
    level: str | None = None,
) -> pl.DataFrame:
    """Values of the given metrics (all when None) per period and grain key.

    Columns: period (label: 2024-03, 2024-Q1, 2024; r12 rows are labelled by their last
    month), period_start, period_end (first day of the first / last month), the grain's key and
    name columns (`grain_columns`), metric_id, numerator, denominator, value, ci_low, ci_high
    (Wilson 95% for shares, else null), mom, yoy, mom_rel, yoy_rel. Only grain keys with fact
    rows in a period appear. Sorted by metric (registry order), period, key.

    `level` (region grain only): one row per region of that level (county, town …) under the
    filter's region, each its whole subtree, instead of the base region's children.
    """
    _check("grain", grain, GRAINS)
    _check("period", period, PERIODS)
    if level is not None and grain != "region":
        raise XiaonengError(f"a region level applies to the region grain, not {grain!r}")
    ids = validate_metric_ids(metric_ids)
    res = _resolve(engine, filters, level=level)
    rng = _fetch_range(filters, period)
    keys = _key_columns(grain)
    mets = [METRIC_BY_ID[i] for i in ids if _applicable(METRIC_BY_ID[i], grain, filters, res)]

    # One query per fact table for all the additive measures the metrics need.
    per_table: dict[str, list[str]] = {}
    for met in mets:
        if met.kind in ("count", "share", "ratio"):
            for mid in (*met.numerator, *met.denominator):
                lst = per_table.setdefault(MEASURE_BY_ID[mid].table, [])
                if mid not in lst:
                    lst.append(mid)
    # Every read this call needs, run side by side (`_read_all`): the quantiles share one
    # histogram read, coverage its two agency-level reads.
    reads: dict[str, Callable[[], pl.DataFrame]] = {}
    for table, measures in per_table.items():
        if table == "catalogue_facts":
            ckeys = {"city": [], "item": ["item_code"], "sector": ["sector"]}[grain]
            reads[table] = functools.partial(_catalogue, engine, measures, rng, filters, ckeys)
        else:
            reads[table] = functools.partial(_fetch, engine, table, measures, grain, res, rng)
    kinds = {met.kind for met in mets}
    if "quantile" in kinds:
        reads["hist"] = functools.partial(_fetch, engine, "used_days_hist", ["n"], grain, res,
                                          rng, with_used_wd=True)
    if "coverage" in kinds:
        reads["cov_cases"] = functools.partial(_fetch, engine, "case_facts",
                                               ["accepted", "completed"], grain, res, rng,
                                               agency_level=True)
        reads["cov_reviews"] = functools.partial(_fetch, engine, "review_facts",
                                                 ["reviews_valid"], grain, res, rng,
                                                 agency_level=True)
    for met in mets:
        if met.kind == "index":
            reads[f"index:{met.id}"] = functools.partial(_index, engine, met, grain, res, rng,
                                                         period)
    got = _read_all(reads)

    rolled: dict[str, pl.DataFrame] = {}
    for table, measures in per_table.items():
        df = got[table]
        if table == "catalogue_facts" and grain == "city":
            df = df.with_columns(pl.lit(res.base, dtype=pl.String).alias("region_code"))
        rolled[table] = _roll_to_periods(df, keys, measures, period)

    frames: list[pl.DataFrame] = []
    for met in mets:
        if met.kind in ("count", "share", "ratio"):
            frames.append(_additive(met, rolled, keys))
        elif met.kind == "quantile":
            frames.append(_quantile(got["hist"], met, keys, period))
        elif met.kind == "coverage":
            frames.append(_coverage(got["cov_cases"], got["cov_reviews"], met, keys, period))
        elif met.kind == "index":
            frames.append(got[f"index:{met.id}"])
    base_schema = {"period_end": pl.Date(), **{k: pl.String() for k in keys},
                   "metric_id": pl.String(), "numerator": pl.Float64(),
                   "denominator": pl.Float64(), "value": pl.Float64()}
    out = pl.concat(
        [pl.DataFrame(schema=base_schema), *(f.select(base_schema.keys()).cast(base_schema)
                                             for f in frames)],
        how="vertical",
    )
    out = _with_changes(out, keys, period)
    shown = _output_period_ends(filters, period)
    out = out.filter(pl.col("period_end").is_in(shown))
    out = _with_wilson(out, {m.id for m in mets if m.is_share})
    out = _with_names(engine, out, grain, res)
    order = {m: i for i, m in enumerate(ids)}
    n = _PERIOD_MONTHS[period]
    out = out.with_columns(
        # labels from a dict, not a Python UDF: a UDF inside the query needs the GIL on Polars'
        # pool, which deadlocks when several threads (dashboard sessions) query at once
        pl.col("period_end").replace_strict(
            {d: _label(d, period) for d in out["period_end"].unique().drop_nulls().to_list()},
            default=None, return_dtype=pl.String).alias("period"),
        pl.col("period_end").dt.offset_by(f"-{n - 1}mo").alias("period_start"),
        pl.col("metric_id").replace_strict(order, return_dtype=pl.Int64).alias("__o"),
    ).sort("__o", "period_end", *keys, nulls_last=True).drop("__o")
    return out.select(
        "period", "period_start", "period_end", *grain_columns(grain), *VALUE_COLUMNS
    )


def _additive(met: Metric, rolled: dict[str, pl.DataFrame], keys: list[str]) -> pl.DataFrame:
    parts = []
    for table, df in rolled.items():
        num = [m for m in met.numerator if MEASURE_BY_ID[m].table == table]
        den = [m for m in met.denominator if MEASURE_BY_ID[m].table == table]
        if not num and not den:
            continue
        parts.append(df.select(
            "period_end", *keys,
            (pl.sum_horizontal(num) if num else pl.lit(0)).cast(pl.Float64).alias("numerator"),
            (pl.sum_horizontal(den) if den else pl.lit(0)).cast(pl.Float64).alias("denominator"),
        ))
    df = pl.concat(parts).group_by("period_end", *keys).agg(
        pl.col("numerator").sum(), pl.col("denominator").sum()
    )
    if met.id == "review_score":
        df = df.with_columns(pl.col("numerator") / SCORE_SUM_FACTOR)
    if met.kind == "count":
        return df.with_columns(
            pl.lit(met.id).alias("metric_id"), pl.lit(None, dtype=pl.Float64).alias("denominator"),
            pl.col("numerator").alias("value"),
        )
    return df.with_columns(
        pl.lit(met.id).alias("metric_id"),
        pl.when(pl.col("denominator") != 0).then(pl.col("numerator") / pl.col("denominator"))
        .otherwise(None).alias("value"),
    )


def weighted_quantile(values: pl.Expr, counts: pl.Expr, q: str) -> pl.Expr:
    """The q-quantile of a histogram as metrics.md §1 defines it (values sorted ascending).

    q = 0.5: the median, the mean of the two middle values for an even count (Excel's MEDIAN):
    the lower middle value is the first whose cumulative count reaches half the total
    (2·cum ≥ N), the upper the first that passes it (2·cum > N); for an odd N they coincide.
    Any other q: nearest rank, the smallest value whose cumulative count reaches q × total.
    Compared in integers (q as an exact fraction) so that, e.g., the 0.9 quantile of 10 cases
    is the 9th value, never the 10th through a rounding error. Use inside a group_by (or a
    select) over rows sorted by value; the result is a float.
    """
    fr = Fraction(q)
    cum = counts.cum_sum()
    total = counts.sum()
    if fr == Fraction(1, 2):
        lower = values.filter(cum * 2 >= total).first()
        upper = values.filter(cum * 2 > total).first()
        return (lower.cast(pl.Float64) + upper.cast(pl.Float64)) / 2
    reached = cum * fr.denominator >= total * fr.numerator
    return values.filter(reached).first().cast(pl.Float64)


def _quantile(hist: pl.DataFrame, met: Metric, keys: list[str], period: str) -> pl.DataFrame:
    """A `used_days_hist:q` metric from the histogram rows (month, keys, used_wd, n)."""
    q = met.numerator[0].split(":", 1)[1]
    df = _assign_periods(hist, period).group_by("period_end", *keys, "used_wd").agg(
        pl.col("n").sum())
    df = df.filter(pl.col("n") > 0).sort("used_wd")
    return df.group_by("period_end", *keys).agg(
        weighted_quantile(pl.col("used_wd"), pl.col("n"), q).cast(pl.Float64).alias("value"),
        pl.col("n").sum().cast(pl.Float64).alias("denominator"),
    ).with_columns(
        pl.lit(met.id).alias("metric_id"), pl.lit(None, dtype=pl.Float64).alias("numerator")
    )


def _coverage(cases: pl.DataFrame, revs: pl.DataFrame, met: Metric, keys: list[str],
              period: str) -> pl.DataFrame:
    """`review_coverage_rate` from agency-level case and review fact sums."""
    cell = ["period_end", *keys]
    akeys = list(dict.fromkeys([*keys, "agency_code"]))
    c = _assign_periods(cases, period).group_by("period_end", *akeys).agg(
        (pl.col("accepted").sum() + pl.col("completed").sum()).alias("cases")
    ).filter(pl.col("cases") > 0)
    r = _assign_periods(revs, period).group_by("period_end", *akeys).agg(
        pl.col("reviews_valid").sum().alias("reviews")
    )
    joined = c.join(r, on=["period_end", *akeys], how="left", nulls_equal=True)
    return joined.group_by(cell).agg(
        (pl.col("reviews").fill_null(0) > 0).sum().cast(pl.Float64).alias("numerator"),
        pl.len().cast(pl.Float64).alias("denominator"),
    ).with_columns(
        pl.lit(met.id).alias("metric_id"),
        (pl.col("numerator") / pl.col("denominator")).alias("value"),
    )


def snapshot_for(months: Sequence[dt.date], snapshots: Sequence[dt.date]) -> dict[dt.date, dt.date]:
    """month → the catalogue snapshot that stands for it: the latest taken at or before the
    month, else (months before the first snapshot) the first one, the earliest catalogue known.
    """
    snaps = sorted(snapshots)
    out: dict[dt.date, dt.date] = {}
    for m in months:
        before = [s for s in snaps if s <= m]
        out[m] = before[-1] if before else snaps[0]
    return out


def _catalogue(engine: Engine, measures: list[str], rng: tuple[dt.date, dt.date],
               filters: Filters, keys: list[str]) -> pl.DataFrame:
    """Catalogue sums for every month of `rng`, each from the snapshot that stands for it.

    A snapshot is taken at the data cut-off of a job run and holds until the next one
    (`snapshot_for`), so every month the pages offer has the catalogue metrics.
    """
    snaps = extracts.catalogue_months(engine)
    if not snaps:
        return extracts.catalogue_sums(engine, measures, rng[0], rng[1], filters, keys)
    months, m = [], rng[0]
    while m <= rng[1]:
        months.append(m)
        m = add_months(m, 1)
    use = snapshot_for(months, snaps)
    needed = sorted(set(use.values()))
    df = extracts.catalogue_sums(engine, measures, needed[0], needed[-1], filters, keys)
    months_of = pl.DataFrame({"month": list(use), "__snap": list(use.values())},
                             schema={"month": pl.Date, "__snap": pl.Date})
    return months_of.join(df.rename({"month": "__snap"}), on="__snap", how="inner").drop(
        "__snap").select(df.columns)


def _index(engine, met, grain, res, rng, period) -> pl.DataFrame:
    indicator = met.numerator[0].split(":", 1)[1]
    if grain == "city":
        if res.base is None:  # several roots and no region filter: no single city value
            return pl.DataFrame(schema={"period_end": pl.Date(), "region_code": pl.String(),
                                        "metric_id": pl.String(), "numerator": pl.Float64(),
                                        "denominator": pl.Float64(), "value": pl.Float64()})
        regions = {res.base: res.base}
    else:
        regions = {u: u for u in res.units if u != res.own_unit}
    df = extracts.be_rows(engine, [indicator], rng[0], rng[1], list(regions))
    df = _assign_periods(df, period).with_columns(
        pl.col("month").max().over("period_end", "region_code").alias("__last")
    ).filter(pl.col("month") == pl.col("__last"))
    return df.select(
        "period_end", "region_code", pl.lit(met.id).alias("metric_id"),
        pl.lit(None, dtype=pl.Float64).alias("numerator"),
        pl.col("n").cast(pl.Float64).alias("denominator"),
        pl.coalesce("value", "score").alias("value"),
    )


def _with_changes(df: pl.DataFrame, keys: list[str], period: str) -> pl.DataFrame:
    on = ["metric_id", *keys]
    base = df.select(*on, "period_end", "value")
    out = df
    for name, months in (("mom", _PREV_OFFSET[period]), ("yoy", 12)):
        prev = base.with_columns(
            pl.col("period_end").dt.offset_by(f"{months}mo"),
            pl.col("value").alias("__prev"),
        ).drop("value")
        out = out.join(prev, on=[*on, "period_end"], how="left", nulls_equal=True).with_columns(
            (pl.col("value") - pl.col("__prev")).alias(name),
            pl.when(pl.col("__prev") != 0).then(pl.col("value") / pl.col("__prev") - 1)
            .otherwise(None).alias(f"{name}_rel"),
        ).drop("__prev")
    return out


def wilson_interval(num: pl.Expr, den: pl.Expr, z: float = Z95) -> tuple[pl.Expr, pl.Expr]:
    """Wilson score interval for num successes of den trials (null when den is 0 or null)."""
    p = num / den
    z2 = z * z
    denom = 1 + z2 / den
    centre = (p + z2 / (2 * den)) / denom
    half = z * ((p * (1 - p) / den + z2 / (4 * den * den)).clip(lower_bound=0)).sqrt() / denom
    ok = den.is_not_null() & (den > 0)
    lo = pl.when(ok).then((centre - half).clip(0.0, 1.0)).otherwise(None)
    hi = pl.when(ok).then((centre + half).clip(0.0, 1.0)).otherwise(None)
    return lo, hi


def _with_wilson(df: pl.DataFrame, share_ids: set[str]) -> pl.DataFrame:
    lo, hi = wilson_interval(pl.col("numerator"), pl.col("denominator"))
    is_share = pl.col("metric_id").is_in(sorted(share_ids))
    return df.with_columns(
        pl.when(is_share).then(lo).otherwise(None).alias("ci_low"),
        pl.when(is_share).then(hi).otherwise(None).alias("ci_high"),
    )


def _with_names(engine: Engine, df: pl.DataFrame, grain: str, res: _Resolved) -> pl.DataFrame:
    if grain in ("city", "region"):
        names = dict(res.names)
        if grain == "region":
            names.update(res.unit_names)
        return df.with_columns(
            pl.col("region_code").replace_strict(names, default=None, return_dtype=pl.String)
            .alias("region_name")
        )
    if grain == "agency":
        ag = extracts.load_agencies(engine).select(
            "agency_code", pl.col("name").alias("agency_name"), "region_code"
        )
        df = df.join(ag, on="agency_code", how="left")
        return df.with_columns(
            pl.col("region_code").replace_strict(res.names, default=None, return_dtype=pl.String)
            .alias("region_name")
        )
    if grain == "item":
        it = extracts.load_items(engine).select("item_code", pl.col("name").alias("item_name"))
        return df.join(it, on="item_code", how="left")
    return df


# ---------------------------------------------------------------------------------------------
# Ranking


def ranking(
    engine: Engine,
    metric_id: str,
    filters: Filters,
    grain: Grain,
    month: dt.date,
    min_n: int | None = None,
    period: Period = "month",
) -> pl.DataFrame:
    """Units of `grain` ranked by `metric_id` for the period ending in `month`.

    Better first in the metric's direction (higher- or lower-is-better; neutral metrics, i.e.
    volumes, largest first). Ties share the smallest rank (1, 2, 2, 4). Units whose denominator
    is below `min_n` (default settings.min_n_rank) or whose value is null are listed after the
    ranked ones with rank null and `rank_note` "below_min_n" / "no_data": a county with 3 cases
    and 100% on time is shown but does not top the table. Counts have no denominator and are
    always ranked. Columns: those of metric_values, then rank, ranked, rank_note.
    """
    validate_metric_ids([metric_id])
    met = METRIC_BY_ID[metric_id]
    if min_n is None:
        from metrics.settings import Settings

        min_n = Settings.min_n_rank
    m = month_start(month)
    df = metric_values(engine, [metric_id], filters.with_months(m, m), grain, period)
    if period in ("quarter", "year"):
        df = df.filter(pl.col("period_end") == add_months(
            _period_start(m, period), _PERIOD_MONTHS[period] - 1))
    else:
        df = df.filter(pl.col("period_end") == m)
    small = pl.col("denominator").is_not_null() & (pl.col("denominator") < min_n)
    df = df.with_columns(
        pl.when(pl.col("value").is_null()).then(pl.lit("no_data"))
        .when(small).then(pl.lit("below_min_n")).otherwise(None).alias("rank_note")
    ).with_columns(pl.col("rank_note").is_null().alias("ranked"))
    descending = met.direction != "lower"
    rank = pl.when(pl.col("ranked")).then(pl.col("value")).otherwise(None).rank(
        "min", descending=descending
    )
    keys = _key_columns(grain)
    return df.with_columns(rank.cast(pl.Int64).alias("rank")).sort(
        ["rank", "value", *keys], descending=[False, descending, *[False] * len(keys)],
        nulls_last=True,
    )


# ---------------------------------------------------------------------------------------------
# Case lists

CASE_LIST_METRICS: tuple[str, ...] = tuple(extracts.CASE_RULES)


def case_list(
    engine: Engine,
    metric_id: str,
    filters: Filters,
    month: dt.date,
    page: int = 1,
    page_size: int = 50,
    part: Part = "numerator",
    online_channels: Sequence[str] | None = None,
) -> tuple[pl.DataFrame, int]:
    """The records behind a number: one page (1-based) of cases, and how many there are in all.

    For shares `part` picks the numerator (e.g. on-time cases), the denominator (all completed
    cases with a deadline) or the complement (the late ones); counts have only a numerator. The
    card metrics list card records. Timeliness (on_time_rate, overdue) is read from the cards
    table — a case is late iff it has a case yellow card — so that the list agrees with the
    working-day clock without recomputing it in SQL. Ordered by the event time, then id.
    Only the month and the dimension filters of `filters` are used (not its month range).
    """
    validate_metric_ids([metric_id])
    if metric_id not in extracts.CASE_RULES:
        raise XiaonengError(
            f"no case list for metric {metric_id!r}; available: {', '.join(CASE_LIST_METRICS)}"
        )
    _check("part", part, ("numerator", "denominator", "complement"))
    rule = extracts.CASE_RULES[metric_id]
    if rule.hit is None and part != "numerator":
        raise XiaonengError(f"{metric_id} is a count: only its numerator has a case list")
    if not isinstance(page, int) or page < 1:
        raise XiaonengError(f"page must be a whole number ≥ 1, got {page!r}")
    if not isinstance(page_size, int) or not 1 <= page_size <= 1000:
        raise XiaonengError(f"page_size must be between 1 and 1000, got {page_size!r}")
    if online_channels is None:
        from metrics.settings import Settings

        online_channels = Settings().online_channels
    res = _resolve(engine, filters)
    return extracts.case_rows(
        engine, metric_id, filters, res.region_codes, month, part, online_channels,
        limit=page_size, offset=(page - 1) * page_size,
    )
