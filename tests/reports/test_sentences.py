"""Every generated sentence is true for its scope: the checker (tests/reports/sentences.py)
parses each bulletin's sentences back and compares them with its tables, for every scope of
the demo (the city, its eight counties and fifteen sectors) and of small random cities
(seeded: a few counties and sectors kept, some offices moved to towns, so that county
bulletins rank 乡镇 and groups are too small for lists). The checker itself is shown to catch
false sentences."""

from __future__ import annotations

import dataclasses
import datetime as dt

import numpy as np
import polars as pl
import pytest

from metrics.bulletin import build_bulletin, parse_scope
from queries import extracts
from tests.reports.conftest import ISSUED, MONTH
from tests.reports.sentences import problems


def _scopes(engine) -> list[str]:
    regions = extracts.load_regions(engine)
    counties = regions.filter(pl.col("level") == "county")["region_code"].to_list()
    sectors = sorted(set(extracts.load_agencies(engine)["sector"].to_list()))
    return ["city", *(f"county:{c}" for c in counties), *(f"sector:{s}" for s in sectors)]


def _names(engine) -> list[str]:
    return [*extracts.load_regions(engine)["name"], *extracts.load_agencies(engine)["name"]]


def _check_all(engine, periods=("month",)) -> dict[str, list[str]]:
    names = _names(engine)
    found = {}
    for text in _scopes(engine):
        for period in periods:
            b = build_bulletin(engine, MONTH, parse_scope(engine, text), period=period,
                               issued_on=ISSUED)
            found[f"{text} {period}"] = problems(b, names)
    return {k: v for k, v in found.items() if v}


def test_every_sentence_of_every_demo_scope_agrees_with_its_tables(demo_engine):
    assert _check_all(demo_engine) == {}


def test_quarterly_and_annual_bulletins_are_checked_too(demo_engine):
    names = _names(demo_engine)
    for text in ("city", "county:331221", "sector:公安"):
        for period in ("quarter", "year"):
            b = build_bulletin(demo_engine, MONTH, parse_scope(demo_engine, text),
                               period=period, issued_on=ISSUED)
            assert problems(b, names) == [], (text, period)


# --- random small cities ------------------------------------------------------------------------


def _small_city(seed: int, path) -> object:
    """A seeded random subset of the demo city: 1–4 counties, 2–6 sectors, a few county
    offices moved down to one of the county's towns."""
    from metrics.jobs import run_compute
    from queries.calendar import seed_official
    from queries.engine import make_engine
    from queries.importer import import_frames
    from queries.migrate import upgrade
    from xiaoneng.demo import generate

    rng = np.random.default_rng(seed)
    t = generate(cases=int(rng.integers(3000, 6000)), seed=seed, start=dt.date(2025, 1, 1),
                 end=dt.date(2025, 6, 1))
    regions = t["regions"]
    counties = regions.filter(pl.col("level") == "county")["region_code"].to_list()
    keep = sorted(rng.choice(counties, size=int(rng.integers(1, 5)), replace=False).tolist())
    sectors = sorted(set(t["agencies"]["sector"].to_list()))
    keep_sectors = sorted(rng.choice(sectors, size=int(rng.integers(2, 7)),
                                     replace=False).tolist())
    regions = regions.filter(pl.col("level").is_in(["province", "city"])
                             | pl.col("region_code").is_in(keep)
                             | pl.col("parent_code").is_in(keep))
    agencies = t["agencies"].filter(pl.col("region_code").is_in(regions["region_code"].to_list())
                                    & pl.col("sector").is_in(keep_sectors))
    county_offices = agencies.filter(pl.col("region_code").is_in(keep))
    moved = county_offices.sample(n=min(3, county_offices.height), seed=seed)
    town_of = {c: regions.filter(pl.col("parent_code") == c)["region_code"][0] for c in keep}
    agencies = agencies.with_columns(
        pl.when(pl.col("agency_code").is_in(moved["agency_code"].to_list()))
        .then(pl.col("region_code").replace_strict(town_of, default=None))
        .otherwise(pl.col("region_code")).alias("region_code"))
    cases = t["cases"].filter(pl.col("agency_code").is_in(agencies["agency_code"].to_list()))
    tables = {"regions": regions, "agencies": agencies, "items": t["items"], "cases": cases,
              "suspensions": t["suspensions"].filter(pl.col("case_id").is_in(cases["case_id"].to_list())),
              "reviews": t["reviews"].filter(pl.col("case_id").is_in(cases["case_id"].to_list())
                                             & pl.col("agency_code").is_in(
                                                 agencies["agency_code"].to_list()))}
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    seed_official(engine, 2024, 2026)
    import_frames(engine, tables, source="t", progress=False)
    run_compute(engine, None, as_of=dt.datetime(2025, 6, 30, 18))
    return engine


@pytest.mark.parametrize("seed", [7, 23])
def test_every_sentence_of_a_random_small_city_agrees_with_its_tables(seed, tmp_path):
    engine = _small_city(seed, tmp_path / "small.db")
    try:
        assert _check_all(engine) == {}
        # the moved offices make a town group in some county bulletin
        towns = [text for text in _scopes(engine) if text.startswith("county:")
                 and any(t.id == "rank_regions" for t in build_bulletin(
                     engine, MONTH, parse_scope(engine, text), issued_on=ISSUED).tables)]
        assert towns, "no county bulletin ranks its towns"
    finally:
        engine.dispose()


# --- the checker catches false sentences ---------------------------------------------------------


def _edit(b, section: str, old: str, new: str):
    sections = tuple(dataclasses.replace(s, paragraphs=tuple(p.replace(old, new)
                                                             for p in s.paragraphs))
                     if s.id == section else s for s in b.sections)
    out = dataclasses.replace(b, sections=sections)
    assert out != b, f"{old!r} is not in section {section}"
    return out


def test_the_checker_catches_false_sentences(city_bulletin, demo_engine):
    b = city_bulletin
    names = _names(demo_engine)
    assert problems(b, names) == []
    overall = b.table("overall").records()
    on_time = next(r for r in overall if r["metric"] == "按时办结率")
    shown = f"{on_time['value'] * 100:.2f}%"
    wrong = f"{on_time['value'] * 100 + 0.01:.2f}%"
    assert problems(_edit(b, "overall", f"按时办结率{shown}", f"按时办结率{wrong}"), names)
    text = "".join(next(s for s in b.sections if s.id == "overall").paragraphs)
    change = text.split(f"按时办结率{shown}（")[1].split("）")[0]
    assert problems(_edit(b, "overall", change, "环比持平"), names)
    ranks = next(s for s in b.sections if s.id == "rankings").paragraphs[1]
    best = ranks.split("最高的是")[1].split("（")[0]
    worst = ranks.split("最低的是")[1].split("（")[0]
    assert any("both" in p for p in problems(_edit(b, "rankings", f"最低的是{worst}",
                                                   f"最低的是{best}"), names))
    assert problems(_edit(b, "reviews", "2025年6月30日", "2025-06-30"), names)
    praise = next(s for s in b.sections if s.id == "praise").paragraphs
    reminder = next(p for p in praise if "不予通报批评" in p)
    assert problems(_edit(b, "praise", reminder, reminder.replace("不予通报批评",
                                                                  "予以通报批评")), names)
    in_tables = {str(v) for t in b.tables for row in t.rows for v in row}
    other = next(n for n in names if n.endswith("局") and n not in in_tables)
    assert any("scope" in p for p in problems(_edit(b, "cards", "请相关单位",
                                                    f"{other}等单位"), names))
