"""Where the metric job reads its inputs from, one chunk of cases at a time.

Why chunks: every case measure, card and review fact is a sum (or a list) over cases, so the
facts of disjoint sets of cases add up to the facts of their union (the additivity property the
tests pin). The full recompute therefore reads the cases in slices of acceptance months, each
with its own suspensions and reviews, and only the slices' sums stay in memory: peak memory is
one slice's (two with `iter_slices(prefetch=True)`), not the whole log's.

A slice holds the cases whose *chunk key* — `accepted_at`, or `submitted_at` for a case never
accepted — falls in [lo, hi); the first slice has no lower bound and the last no upper bound,
so the slices partition every case. Each slice carries the suspensions of its cases and the
reviews of its cases; reviews tied to no known case go to one slice (the database source: the
first; the frame and Parquet sources: the slice of their rating time), so every review is read
exactly once.

Three things span slices and are read separately: the first case of each bundle (a bundle is
counted once, in the month its first case was accepted), and the cases of the 营商环境 items
(chains of cases are followed across months).

Integer keys inside the job: every slice a source returns carries `case_key`, a small integer
that identifies the case within the job's slice, on its cases, suspensions and reviews (assigned
when the slice is read, until the database stores a surrogate key of its own), and its grain
columns (agency, item, channel) as Categorical, i.e. small integer codes. The job's joins and
group-bys run on those integers; strings are decoded only for the output facts
(metrics.jobs). Reviews also carry their case's `item_code` ('' for none).

Sources: `FrameSource` (frames in memory: tests, the demo), `ParquetSource` (contract tables as
Parquet files, scanned with predicates: the benchmarks), `DatabaseSource` (the product
database; bound parameters only).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import polars as pl
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from queries import inputs, schema
from queries.contract import DATE_FLOOR
from queries.extracts import add_months

REFERENCE_TABLES = ("regions", "agencies", "items")

# The per-slice integer case key, and the grain columns read as small integer codes.
CASE_KEY = "case_key"
CODED_COLUMNS = ("agency_code", "item_code", "channel")
# Enumerations the job only compares with literals: coded too, never decoded.
_CODED_ENUMS = ("status", "limit_unit")


def coded(df: pl.DataFrame) -> pl.DataFrame:
    """`df` with its grain columns as Categorical (UInt32 codes under the strings).

    Why: group-bys and joins on the grain then hash small integers instead of strings; the
    job casts back to String only when it writes its output facts.
    """
    return df.with_columns(
        pl.col(c).cast(pl.Categorical) for c in (*CODED_COLUMNS, *_CODED_ENUMS)
        if c in df.columns
    )


def keyed(tables: dict[str, pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """A slice read with string case ids, given its integer case key and coded grain.

    `case_key` is the case's row number in the slice; suspensions and reviews get theirs by
    one narrow join on case_id (null for a row of no case in the slice), and reviews the
    case's item ('' for none) unless the reader attached it already (a one-month read looks
    up the items of older 差评's cases outside its window: metrics.jobs.load_inputs). Row
    counts do not change.
    """
    cases = tables["cases"].with_row_index(CASE_KEY)
    ids = cases.select("case_id", CASE_KEY, pl.col("item_code").alias("__item"))
    susp = tables["suspensions"].join(ids.drop("__item"), on="case_id", how="left",
                                      maintain_order="left")
    reviews = tables["reviews"]
    if "item_code" in reviews.columns:
        reviews = reviews.join(ids.drop("__item"), on="case_id", how="left",
                               maintain_order="left")
    else:
        reviews = reviews.join(ids, on="case_id", how="left", maintain_order="left") \
            .with_columns(pl.col("__item").fill_null("").alias("item_code")).drop("__item")
    return {"cases": coded(cases), "suspensions": susp, "reviews": coded(reviews)}


@dataclass(frozen=True)
class Slice:
    """[lo, hi) on the chunk key; None means unbounded on that side."""

    lo: dt.datetime | None
    hi: dt.datetime | None


def plan_slices(first: dt.date | None, last: dt.date | None, months_per_slice: int) -> list[Slice]:
    """Consecutive slices of `months_per_slice` months covering first..last (and beyond)."""
    if first is None or last is None or months_per_slice <= 0:
        return [Slice(None, None)]
    bounds = []
    m = add_months(first.replace(day=1), months_per_slice)
    while m <= last:
        bounds.append(dt.datetime.combine(m, dt.time()))
        m = add_months(m, months_per_slice)
    edges: list[dt.datetime | None] = [None, *bounds, None]
    return [Slice(a, b) for a, b in zip(edges[:-1], edges[1:], strict=False)]


def chunk_key() -> pl.Expr:
    """The moment a case is sliced on: its acceptance, or its submission if never accepted."""
    return pl.coalesce("accepted_at", "submitted_at")


def plausible_bounds(lo: dt.date, hi: dt.date) -> tuple[dt.date, dt.date]:
    """First and last month of a slice plan, kept inside [DATE_FLOOR, this month]: a plan is
    never expanded from an implausible date (year 0024 or 9999 would make thousands of
    slices). Nothing is lost: the first slice is open below and the last open above."""
    first = min(max(lo, DATE_FLOOR), dt.date.today())
    last = min(max(hi, first), dt.date.today())
    return first.replace(day=1), last.replace(day=1)


def _key_month_bounds(cases: pl.LazyFrame) -> tuple[dt.date, dt.date] | None:
    """First and last month of the chunk key over `cases` (None when there are none)."""
    row = cases.select(chunk_key().min().alias("lo"), chunk_key().max().alias("hi")).collect()
    lo, hi = row["lo"][0], row["hi"][0]
    return None if lo is None else plausible_bounds(lo.date(), hi.date())


def slice_expr(s: Slice) -> pl.Expr:
    """Polars predicate: the case's chunk key is in the slice.

    Written as "accepted in the slice, or never accepted and submitted in it" rather than on
    the coalesce, so that a Parquet scan can skip the row groups outside the slice by their
    statistics (the log is written in time order): a slice then reads about its own share of
    the file instead of all of it.
    """
    a, sub = pl.col("accepted_at"), pl.col("submitted_at")

    def inside(col: pl.Expr) -> pl.Expr:
        cond = pl.lit(True)
        if s.lo is not None:
            cond = cond & (col >= s.lo)
        if s.hi is not None:
            cond = cond & (col < s.hi)
        return cond

    if s.lo is None and s.hi is None:
        return pl.lit(True)
    return (a.is_not_null() & inside(a)) | (a.is_null() & inside(sub))


def slice_number(plan: Sequence[Slice], key: pl.Expr | None = None) -> pl.Expr:
    """Index in `plan` of the slice holding the case (its chunk key's slice), or of the
    slice holding the moment `key`."""
    key = chunk_key() if key is None else key
    expr = pl.lit(len(plan) - 1, dtype=pl.UInt32)
    for i in range(len(plan) - 2, -1, -1):
        expr = pl.when(key < plan[i].hi).then(pl.lit(i, dtype=pl.UInt32)).otherwise(expr)
    return expr


# The review columns any metric family reads (tags are for the review page only).
REVIEW_JOB_COLUMNS = (
    "review_id", "case_id", "agency_code", "channel", "rated_at", "level", "active",
    "real_name", "callback_at", "rectified_at", "appeal_upheld", "reported_at",
)


def attribute_reviews(
    reviews: pl.LazyFrame, cases: pl.LazyFrame, plan: Sequence[Slice]
) -> pl.DataFrame:
    """For every review, in the reviews' order: `__slice`, `case_key` and `item_code` (coded).

    A review belongs to its case's slice and carries the case's key (the key the slice's
    cases carry: `cases` must have `case_key`) and item ('' for none); a review of no known
    case belongs to the slice of its rating time (any one slice would do: facts are sums), so
    that every slice's reviews lie in a compact range of the time-ordered review log.

    Why: one join of all reviews against all cases costs about what one slice's look-up
    does, so attributing them once replaces a join per slice, and it also carries the case's
    item, which the 好差评 measures need. Only the key column goes through the join and only
    the three small columns are kept, so the reviews themselves are read slice by slice
    (`slice_reviews`) and memory stays that of one slice.
    """
    keys = cases.select(
        "case_id", CASE_KEY, pl.col("item_code").cast(pl.Categorical).alias("__item"),
        slice_number(plan).alias("__slice"),
    )
    return (
        reviews.select("case_id", "rated_at")
        .join(keys, on="case_id", how="left", maintain_order="left")
        .select(
            pl.coalesce("__slice", slice_number(plan, pl.col("rated_at"))).alias("__slice"),
            CASE_KEY,
            pl.col("__item").fill_null("").alias("item_code"),
        )
        .collect()
    )


def slice_reviews(reviews: pl.LazyFrame, attribution: pl.DataFrame, i: int) -> pl.DataFrame:
    """Slice `i`'s reviews with their attribution (`attribute_reviews`), reading only the
    range of review rows from its first to its last."""
    mine = attribution["__slice"] == i
    rows = mine.arg_true()
    lo, n = (int(rows[0]), int(rows[-1]) - int(rows[0]) + 1) if rows.len() else (0, 0)
    part = reviews.slice(lo, n).collect()
    return coded(
        pl.concat([part, attribution.slice(lo, n).drop("__slice")], how="horizontal")
        .filter(mine.slice(lo, n))
    )


def slice_reviews_parquet(path: Path, attribution: pl.DataFrame, i: int) -> pl.DataFrame:
    """`slice_reviews` for a Parquet file: only the row groups holding a review of the slice
    are read (the log is written in time order, so those are about the slice's own months
    and a few stragglers, rather than every group between its first and last review)."""
    import numpy as np
    import pyarrow.parquet as pq

    file = pq.ParquetFile(path)
    sizes = [file.metadata.row_group(g).num_rows for g in range(file.metadata.num_row_groups)]
    ends = np.cumsum(sizes)
    mine = attribution["__slice"] == i
    groups = np.unique(np.searchsorted(ends, mine.arg_true().to_numpy(), side="right"))
    rows = np.concatenate([np.arange(ends[g] - sizes[g], ends[g]) for g in groups]) \
        if len(groups) else np.zeros(0, dtype=np.int64)
    part = pl.from_arrow(file.read_row_groups(groups.tolist(), columns=list(REVIEW_JOB_COLUMNS)))
    taken = pl.Series(rows, dtype=pl.Int64)
    return coded(
        pl.concat([part, attribution[taken].drop("__slice")], how="horizontal")  # type: ignore[list-item]
        .filter(mine.gather(taken))
    )


def slice_suspensions(suspensions: pl.DataFrame, cases: pl.DataFrame) -> pl.DataFrame:
    """The suspensions of a slice's cases, with their `case_key` (one narrow join)."""
    return suspensions.join(cases.select("case_id", CASE_KEY), on="case_id", how="inner",
                            maintain_order="left")


def bundle_heads_of(cases: pl.LazyFrame) -> pl.LazyFrame:
    """case_id of the first accepted case of every bundle (by accepted_at, then case_id)."""
    return (
        cases.filter(pl.col("accepted_at").is_not_null() & pl.col("bundle_id").is_not_null())
        .group_by("bundle_id")
        .agg(pl.col("case_id").sort_by("accepted_at", "case_id").first())
        .select("case_id")
    )


class CaseSource(Protocol):
    """What the chunked job needs from its inputs."""

    def reference(self) -> dict[str, pl.DataFrame]: ...

    def key_month_bounds(self) -> tuple[dt.date, dt.date] | None: ...

    def slice(self, plan: Sequence[Slice], i: int) -> dict[str, pl.DataFrame]: ...

    def bundle_heads(self) -> pl.DataFrame: ...

    def cases_of_items(self, item_codes: Sequence[str]) -> dict[str, pl.DataFrame]: ...


class FrameSource:
    """Contract tables already in memory."""

    def __init__(self, tables: dict[str, pl.DataFrame]) -> None:
        self.tables = tables
        self._plan: list[Slice] | None = None
        self._reviews: pl.DataFrame | None = None

    def reference(self) -> dict[str, pl.DataFrame]:
        return {n: self.tables[n] for n in REFERENCE_TABLES}

    def key_month_bounds(self) -> tuple[dt.date, dt.date] | None:
        return _key_month_bounds(self.tables["cases"].lazy())

    def slice(self, plan: Sequence[Slice], i: int) -> dict[str, pl.DataFrame]:
        if len(plan) == 1:
            return keyed({k: self.tables[k] for k in ("cases", "suspensions", "reviews")})
        if self._reviews is None or self._plan != plan:
            self._plan = list(plan)
            self._reviews = attribute_reviews(
                self.tables["reviews"].lazy(),
                self.tables["cases"].lazy().with_row_index(CASE_KEY), plan)
        cases = self.tables["cases"].with_row_index(CASE_KEY).filter(slice_expr(plan[i]))
        return {
            "cases": coded(cases),
            "suspensions": slice_suspensions(self.tables["suspensions"], cases),
            "reviews": slice_reviews(self.tables["reviews"].lazy(), self._reviews, i),
        }

    def bundle_heads(self) -> pl.DataFrame:
        return bundle_heads_of(self.tables["cases"].lazy()).collect()

    def cases_of_items(self, item_codes: Sequence[str]) -> dict[str, pl.DataFrame]:
        cases = self.tables["cases"].filter(pl.col("item_code").is_in(list(item_codes)))
        ids = cases["case_id"].implode()
        return {"cases": cases,
                "suspensions": self.tables["suspensions"].filter(pl.col("case_id").is_in(ids))}


class ParquetSource:
    """A directory of contract tables as Parquet (`cases.parquet`, …), scanned per slice."""

    def __init__(self, directory: Path, case_columns: Sequence[str] | None = None) -> None:
        self.dir = Path(directory)
        self.case_columns = list(case_columns) if case_columns else None
        self._suspensions = pl.read_parquet(self.dir / "suspensions.parquet")
        self._plan: list[Slice] | None = None
        self._reviews: pl.DataFrame | None = None

    def _scan(self, name: str) -> pl.LazyFrame:
        return pl.scan_parquet(self.dir / f"{name}.parquet")

    def _cases(self) -> pl.LazyFrame:
        """The cases with `case_key` = their row number in the file (the scan's own row
        index, which keeps predicate pushdown into the row groups)."""
        lf = pl.scan_parquet(self.dir / "cases.parquet", row_index_name=CASE_KEY)
        return lf.select(CASE_KEY, *self.case_columns) if self.case_columns else lf

    def reference(self) -> dict[str, pl.DataFrame]:
        return {n: pl.read_parquet(self.dir / f"{n}.parquet") for n in REFERENCE_TABLES}

    def key_month_bounds(self) -> tuple[dt.date, dt.date] | None:
        return _key_month_bounds(self._scan("cases"))

    def slice(self, plan: Sequence[Slice], i: int) -> dict[str, pl.DataFrame]:
        if self._reviews is None or self._plan != plan:
            self._plan = list(plan)
            self._reviews = attribute_reviews(
                self._scan("reviews").select(REVIEW_JOB_COLUMNS),
                pl.scan_parquet(self.dir / "cases.parquet", row_index_name=CASE_KEY), plan)
        cases = self._cases().filter(slice_expr(plan[i])).collect()
        mine = slice_reviews_parquet(self.dir / "reviews.parquet", self._reviews, i)
        if i == len(plan) - 1:  # the last slice: the attribution is no longer needed
            self._reviews = None
        return {
            "cases": coded(cases),
            "suspensions": slice_suspensions(self._suspensions, cases),
            "reviews": mine,
        }

    def bundle_heads(self) -> pl.DataFrame:
        lf = self._scan("cases").select("case_id", "bundle_id", "accepted_at")
        return bundle_heads_of(lf).collect()

    def cases_of_items(self, item_codes: Sequence[str]) -> dict[str, pl.DataFrame]:
        cases = self._cases().filter(pl.col("item_code").is_in(list(item_codes))).collect()
        ids = cases["case_id"].implode()
        return {"cases": cases,
                "suspensions": self._suspensions.filter(pl.col("case_id").is_in(ids))}


class DatabaseSource:
    """The product database: each slice is a handful of SELECTs with bound parameters.

    `case_columns`: only these case columns are read (the job's); reviews are read with the
    columns the job uses (`REVIEW_JOB_COLUMNS`)."""

    def __init__(self, engine: Engine, case_columns: Sequence[str] | None = None) -> None:
        self.engine = engine
        self.case_columns = list(case_columns) if case_columns else None

    def _case_cols(self) -> list[sa.ColumnElement]:
        c = schema.cases.c
        return ([c[n] for n in self.case_columns] if self.case_columns
                else schema.contract_columns("cases"))

    def reference(self) -> dict[str, pl.DataFrame]:
        return {n: inputs.read_table(self.engine, n) for n in REFERENCE_TABLES}

    def key_month_bounds(self) -> tuple[dt.date, dt.date] | None:
        c = schema.cases.c
        key = sa.func.coalesce(c.accepted_at, c.submitted_at)
        with self.engine.connect() as conn:
            lo, hi = conn.execute(sa.select(sa.func.min(key), sa.func.max(key))).one()
        if lo is None:
            return None
        if isinstance(lo, str):
            lo, hi = dt.datetime.fromisoformat(lo), dt.datetime.fromisoformat(hi)
        return plausible_bounds(lo.date(), hi.date())

    @staticmethod
    def _in_slice(c: sa.ColumnCollection, s: Slice) -> sa.ColumnElement[bool]:
        key = sa.func.coalesce(c.accepted_at, c.submitted_at)
        conds: list[sa.ColumnElement[bool]] = []
        if s.lo is not None:
            conds.append(key >= s.lo)
        if s.hi is not None:
            conds.append(key < s.hi)
        return sa.and_(sa.true(), *conds)

    def slice(self, plan: Sequence[Slice], i: int) -> dict[str, pl.DataFrame]:
        c, r, su = schema.cases, schema.reviews, schema.suspensions
        suc = schema.contract_columns("suspensions")
        in_slice = self._in_slice(c.c, plan[i])
        first = i == 0
        cases = inputs.read_select(self.engine, sa.select(*self._case_cols()).where(in_slice),
                                   "cases")
        susp = inputs.read_select(
            self.engine,
            sa.select(*suc).join(c, c.c.case_id == su.c.case_id).where(in_slice),
            "suspensions",
        )
        review_cols = [r.c[n] for n in REVIEW_JOB_COLUMNS]
        mine = sa.select(*review_cols).join(c, c.c.case_id == r.c.case_id).where(in_slice)
        if first:
            orphan = sa.select(*review_cols).where(
                ~sa.exists().where(c.c.case_id == r.c.case_id)
            )
            mine = sa.union_all(mine, orphan)
        reviews = inputs.read_select(self.engine, mine, "reviews")
        return keyed({"cases": cases, "suspensions": susp, "reviews": reviews})

    def bundle_heads(self) -> pl.DataFrame:
        c = schema.cases.c
        stmt = sa.select(c.case_id, c.bundle_id, c.accepted_at).where(
            c.bundle_id.is_not(None), c.accepted_at.is_not(None)
        )
        with self.engine.connect() as conn:
            rows = [tuple(x) for x in conn.execute(stmt).all()]
        df = pl.DataFrame(rows, orient="row", schema={
            "case_id": pl.String, "bundle_id": pl.String, "accepted_at": pl.Datetime("us")})
        return bundle_heads_of(df.lazy()).collect()

    def cases_of_items(self, item_codes: Sequence[str]) -> dict[str, pl.DataFrame]:
        c, su = schema.cases, schema.suspensions
        if not item_codes:
            empty = {"cases": inputs.polars_schema("cases"),
                     "suspensions": inputs.polars_schema("suspensions")}
            return {k: pl.DataFrame(schema=v) for k, v in empty.items()}
        mine = c.c.item_code.in_(list(item_codes))
        cases = inputs.read_select(self.engine, sa.select(*self._case_cols()).where(mine),
                                   "cases")
        susp = inputs.read_select(
            self.engine, sa.select(*schema.contract_columns("suspensions"))
            .join(c, c.c.case_id == su.c.case_id).where(mine),
            "suspensions",
        )
        return {"cases": cases, "suspensions": susp}


def iter_slices(source: CaseSource, months_per_slice: int,
                prefetch: bool = False) -> Iterator[dict[str, pl.DataFrame]]:
    """Every slice of `source`, in order; together they hold every case and review once.
    `months_per_slice` ≤ 0: one slice holding everything.

    `prefetch`: read slice i + 1 on a background thread while the caller computes slice i.
    Worth it where reading is mostly waiting (the database source: the server executes the
    query while the job computes); memory then holds the next slice's inputs beside the
    current slice's work.
    """
    bounds = source.key_month_bounds() if months_per_slice > 0 else None
    plan = plan_slices(*(bounds or (None, None)), months_per_slice)
    if not prefetch or len(plan) == 1:
        for i in range(len(plan)):
            yield source.slice(plan, i)
        return
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="slice-read") as pool:
        pending = pool.submit(source.slice, plan, 0)
        for i in range(len(plan)):
            tables = pending.result()
            if i + 1 < len(plan):
                pending = pool.submit(source.slice, plan, i + 1)
            yield tables
            del tables


__all__ = [
    "CASE_KEY", "CODED_COLUMNS", "REVIEW_JOB_COLUMNS", "CaseSource", "DatabaseSource", "FrameSource", "ParquetSource", "Slice",
    "attribute_reviews", "bundle_heads_of", "coded", "keyed", "slice_reviews",
    "iter_slices", "plan_slices", "slice_expr",
]
