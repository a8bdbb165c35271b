"""queries.bulk: upsert counts that tell inserted / updated / unchanged apart, key look-ups."""

from __future__ import annotations

import datetime as dt

import polars as pl
import sqlalchemy as sa

from queries import bulk, schema

REGIONS = pl.DataFrame(
    {"region_code": ["1", "2", "3"], "name": ["a", "b", "c"], "parent_code": [None, "1", "1"],
     "level": ["city", "county", "county"]},
    schema_overrides={"parent_code": pl.String},
)


def _regions(engine: sa.Engine) -> list[tuple]:
    r = schema.regions
    with engine.connect() as conn:
        return [tuple(x) for x in conn.execute(sa.select(*schema.contract_columns("regions")).order_by(r.c.region_code))]


def test_upsert_counts_inserted_updated_and_unchanged_null_safely(any_engine):
    with any_engine.begin() as conn:
        first = bulk.upsert_frame(conn, schema.regions, REGIONS)
    assert first == bulk.UpsertCounts(inserted=3, updated=0, unchanged=0)

    changed = pl.DataFrame(
        {"region_code": ["1", "2", "3", "4"], "name": ["a", "B", "c", "d"],
         # "3": parent set to NULL — a change only a NULL-safe comparison sees
         "parent_code": [None, "1", None, "1"], "level": ["city", "county", "county", "town"]},
        schema_overrides={"parent_code": pl.String},
    )
    with any_engine.begin() as conn:
        second = bulk.upsert_frame(conn, schema.regions, changed)
    assert second == bulk.UpsertCounts(inserted=1, updated=2, unchanged=1)
    assert _regions(any_engine) == [
        ("1", "a", None, "city"), ("2", "B", "1", "county"), ("3", "c", None, "county"),
        ("4", "d", "1", "town"),
    ]
    with any_engine.begin() as conn:
        third = bulk.upsert_frame(conn, schema.regions, changed)
    assert third == bulk.UpsertCounts(inserted=0, updated=0, unchanged=4)


def test_upsert_is_part_of_the_callers_transaction(any_engine):
    try:
        with any_engine.begin() as conn:
            bulk.upsert_frame(conn, schema.regions, REGIONS)
            raise RuntimeError("abort")
    except RuntimeError:
        pass
    assert _regions(any_engine) == []


def test_existing_keys_small_large_and_composite(any_engine):
    many = pl.DataFrame({"region_code": [str(i) for i in range(1_200)], "name": ["x"] * 1_200,
                         "level": ["town"] * 1_200})
    started = dt.datetime(2024, 3, 4, 9, 30, 15, 123000)
    susp = pl.DataFrame({"case_id": ["C1", "C2"], "started_at": [started, started],
                         "reason": ["correction", "hearing"],
                         "suspension_key": ["2024-03-04 09:30:15/correction",
                                            "2024-03-04 09:30:15/hearing"]})
    with any_engine.begin() as conn:
        bulk.upsert_frame(conn, schema.regions, many)
        bulk.upsert_frame(conn, schema.suspensions, susp)
    probe_small = pl.DataFrame({"region_code": ["5", "nope", None]})
    probe_large = pl.DataFrame({"region_code": [str(i) for i in range(1_000, 1_800)]})
    probe_pairs = pl.DataFrame({"case_id": ["C1", "C1", "C3"],
                                "started_at": [started, started + dt.timedelta(microseconds=1),
                                               started]})
    with any_engine.connect() as conn:
        small = bulk.existing_keys(conn, schema.regions, probe_small).to_list()
        large = bulk.existing_keys(conn, schema.regions, probe_large)
        pairs = bulk.existing_keys(conn, schema.suspensions, probe_pairs).to_list()
    assert small == [True, False, False]
    assert large.sum() == 200 and large[:200].all()  # 1000–1199 exist, 1200–1799 do not
    assert pairs == [True, False, False]


def test_insert_frame_appends_rows_with_json(any_engine):
    rows = pl.DataFrame({
        "load_id": ["L"], "table_name": ["cases"], "source_file": ["f.csv"], "source_line": [3],
        "row_key": ["C1"], "rules": ["bad_enum"], "reasons": ["…"],
        "raw": ['{"渠道":"传真","n":"1"}'], "quarantined_at": [dt.datetime(2024, 1, 1)],
    })
    with any_engine.begin() as conn:
        assert bulk.insert_frame(conn, schema.quarantine, rows) == 1
    with any_engine.connect() as conn:
        raw = conn.execute(sa.select(schema.quarantine.c.raw)).scalar_one()
    assert raw == {"渠道": "传真", "n": "1"}
