"""Which part of the city a bulletin covers: the whole city, one county, or one sector (条线).

A scope turns into the query API's `Filters`, so the bulletin reads exactly the numbers the
dashboard shows for the same selection. The "city" is the region whose level is `city` (the
region tree may have a province above it, as the demo data does); failing that, the single
root of the tree.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
from sqlalchemy.engine import Engine

from metrics.bulletin.model import Scope
from queries import extracts
from queries.errors import XiaonengError
from queries.extracts import Filters


def city_region(regions: pl.DataFrame) -> tuple[str, str]:
    """(code, name) of the city the product monitors."""
    cities = regions.filter(pl.col("level") == "city")
    if cities.height == 1:
        return cities["region_code"][0], cities["name"][0]
    codes = set(regions["region_code"].to_list())
    roots = regions.filter(~pl.col("parent_code").is_in(sorted(codes)) | pl.col("parent_code")
                           .is_null())
    if roots.height == 1:
        return roots["region_code"][0], roots["name"][0]
    raise XiaonengError("cannot tell which region is the city: give --scope county:CODE")


def parse_scope(engine: Engine, text: str) -> Scope:
    """`city`, `county:<region code>` or `sector:<sector>` (a sector of the whole city)."""
    regions = extracts.load_regions(engine)
    if regions.is_empty():
        raise XiaonengError("no regions in the database: import data first")
    city_code, city_name = city_region(regions)
    kind, _, arg = (text or "city").strip().partition(":")
    if kind == "city" and not arg:
        return Scope("city", city_code, city_name)
    if kind == "county" and arg:
        row = regions.filter(pl.col("region_code") == arg)
        if row.is_empty():
            raise XiaonengError(f"unknown region code {arg!r} in --scope")
        return Scope("county", arg, row["name"][0])
    if kind == "sector" and arg:
        sectors = set(extracts.load_agencies(engine)["sector"].to_list())
        if arg not in sectors:
            raise XiaonengError(
                f"unknown sector {arg!r} in --scope; sectors: {', '.join(sorted(sectors))}"
            )
        return Scope("sector", city_code, f"{city_name}{arg}条线", sector=arg)
    raise XiaonengError(
        f"--scope must be city, county:<region code> or sector:<sector>, got {text!r}"
    )


def scope_filters(scope: Scope, month: dt.date, last: dt.date | None = None) -> Filters:
    """The query API's filters of `scope` for `month` (to `last`)."""
    return Filters(month, last or month, region_code=scope.region_code,
                   sectors=(scope.sector,) if scope.sector else ())


PERIOD_MONTHS = {"month": 1, "quarter": 3, "year": 12}


def period_bounds(month: dt.date, period: str) -> tuple[dt.date, dt.date]:
    """(first month, last month) of the calendar month / quarter / year containing `month`."""
    if period not in PERIOD_MONTHS:
        raise XiaonengError(f"--period must be month, quarter or year, got {period!r}")
    n = PERIOD_MONTHS[period]
    first = dt.date(month.year, (month.month - 1) // n * n + 1, 1)
    return first, dt.date(first.year, first.month + n - 1, 1)
