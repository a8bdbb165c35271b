"""Small logs the metric tests build databases from: the demo city at a chosen size, a city
with one agency and one item, and the stored fact tables read back in key order."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import polars as pl
import sqlalchemy as sa

from queries import facts_store, schema
from queries.calendar import seed_official
from queries.importer import import_frames
from queries.importer.report import LoadReport
from tests.metrics.test_oracle import frame


def demo_database(engine: sa.Engine | Path, cases: int, seed: int, start: dt.date,
                  end: dt.date) -> tuple[sa.Engine, dict[str, pl.DataFrame], LoadReport]:
    """The seeded demo city (`xiaoneng.demo.generate`) imported into `engine` (or a new SQLite
    file at that path, migrated), with the official calendar; nothing computed."""
    from xiaoneng.demo import generate

    if isinstance(engine, Path):
        from queries.engine import make_engine
        from queries.migrate import upgrade

        engine = make_engine(f"sqlite:///{engine}")
        upgrade(engine)
    seed_official(engine, 2024, 2026)
    tables = generate(cases=cases, seed=seed, start=start, end=end)
    report = import_frames(engine, tables, source="demo", progress=False)
    assert report.ok, report.format()
    return engine, tables, report


def one_agency_city(sector: str, statutory: int, promised: int) -> dict[str, pl.DataFrame]:
    """City C with agency A1 and item I1 (working-day limits), for hand-made cases."""
    return dict(
        regions=frame("regions", [dict(region_code="C", name="示例市", parent_code=None,
                                       level="city")]),
        agencies=frame("agencies", [dict(agency_code="A1", name="市局", region_code="C",
                                         sector=sector)]),
        items=frame("items", [dict(item_code="I1", name="事项一", item_type="licensing",
                                   sector=sector, statutory_days=statutory,
                                   promised_days=promised, limit_unit="working",
                                   online_depth=3)]),
    )


def stored_facts(engine: sa.Engine) -> dict[str, pl.DataFrame]:
    """Every table a job run writes (but the run's own as-of stamp), rows in key order."""
    out = {}
    for name in (*facts_store.MONTHLY_TABLES, "catalogue_facts", "warnings"):
        t = schema.metadata.tables[name]
        cols = [c for c in t.columns if c.name != "as_of"]
        with engine.connect() as conn:
            rows = conn.execute(sa.select(*cols).order_by(*t.primary_key.columns)).all()
        out[name] = pl.DataFrame([tuple(r) for r in rows], schema=[c.name for c in cols],
                                 orient="row", infer_schema_length=None)
    return out
