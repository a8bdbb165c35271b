"""Fact writes by COPY, in CSV (the default) and binary form: the binary bytes follow
PostgreSQL's format, and in both forms what a real server stores equals what was sent (every
column type of the fact tables, NULLs, empty strings, CJK text)."""

from __future__ import annotations

import datetime as dt
import struct

import polars as pl
import pytest
import sqlalchemy as sa
from polars.testing import assert_frame_equal

from queries import facts_store, pg_binary, schema


def test_one_row_is_encoded_as_the_format_describes():
    table = sa.Table("t", sa.MetaData(), sa.Column("n", sa.Integer), sa.Column("s", sa.Text),
                     sa.Column("d", sa.Date), sa.Column("b", sa.Boolean))
    df = pl.DataFrame({"n": [-2], "s": ["办"], "d": [dt.date(2000, 1, 3)], "b": [None]},
                      schema={"n": pl.Int64, "s": pl.String, "d": pl.Date, "b": pl.Boolean})
    expected = (
        b"PGCOPY\n\xff\r\n\x00" + struct.pack(">ii", 0, 0)
        + struct.pack(">h", 4)
        + struct.pack(">ii", 4, -2)                   # int4, even from an Int64 column
        + struct.pack(">i", 3) + "办".encode()        # text: its UTF-8 bytes
        + struct.pack(">ii", 4, 2)                    # date: days since 2000-01-01
        + struct.pack(">i", -1)                       # NULL: length −1, no bytes
        + struct.pack(">h", -1)
    )
    assert pg_binary.encode(df, table) == expected


def _cards() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "card_id": ["yellow:case:1", "red:case:2", "yellow:review:9"],
            "kind": ["yellow", "red", "yellow"],
            "subject": ["case", "case", "review"],
            "case_id": ["1", "2", None],
            "review_id": [None, None, "9"],
            "agency_code": ["A1", "A2", "A1"],
            "item_code": ["I1", "I2", ""],
            "channel": ["window", "online", "review"],
            "issued_on": [dt.date(2024, 2, 29), dt.date(1999, 12, 31), dt.date(2024, 3, 4)],
            "month": [dt.date(2024, 2, 1), dt.date(1999, 12, 1), dt.date(2024, 3, 1)],
            "rule": ["用时超过承诺时限", "差评未在15个工作日内整改", ""],
            "days_over": [3, -1, 0],
            "still_open": [True, False, True],
            "revoked": [False, True, False],
        },
        schema_overrides={"days_over": pl.Int32},
    )


def _warnings() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "case_id": ["c1", "c2"],
            "agency_code": ["A1", "A2"],
            "item_code": ["I1", "I2"],
            "channel": ["window", "mobile"],
            "accepted_on": [dt.date(2024, 3, 1), dt.date(2024, 3, 2)],
            "due_date": [dt.date(2024, 3, 8), dt.date(2024, 3, 5)],
            "used_wd": [4, 2],
            "deadline_days": [5, 3],
            "remaining_wd": [1, 1],
            "rule": ["剩余≤1个工作日", "x"],
            "as_of": [dt.datetime(2024, 3, 7, 18, 0, 0, 123456), dt.datetime(1999, 1, 1)],
        },
        schema_overrides={"used_wd": pl.Int32, "deadline_days": pl.Int32,
                          "remaining_wd": pl.Int32},
    )


def _read(engine: sa.Engine, table: sa.Table, like: pl.DataFrame) -> pl.DataFrame:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(*(table.c[c] for c in like.columns))).all()
    return pl.DataFrame([tuple(r) for r in rows], schema=like.schema, orient="row")


@pytest.mark.parametrize("copy_format", ["csv", "binary"])
def test_copy_stores_exactly_the_frame_on_postgresql(pg_engine, monkeypatch, copy_format):
    monkeypatch.setattr(facts_store, "COPY_FORMAT", copy_format)
    be = pl.DataFrame({
        "month": [dt.date(2024, 1, 1)], "region_code": ["330100"], "indicator": ["be_index"],
        "pillar": ["index"], "value": [71.25], "n": [None], "score": [-0.0001],
        "weight": [None], "contribution": [1e-300], "rank": [1], "change": [None],
    }, schema_overrides={"n": pl.Int64, "weight": pl.Float64, "rank": pl.Int32,
                         "change": pl.Float64})
    with pg_engine.begin() as conn:
        for table, df in ((schema.cards, _cards()), (schema.warnings, _warnings()),
                          (schema.metadata.tables["be_scores"], be)):
            assert facts_store._insert(conn, table, df) == df.height
    for table, df in ((schema.cards, _cards()), (schema.warnings, _warnings()),
                      (schema.metadata.tables["be_scores"], be)):
        got = _read(pg_engine, table, df)
        key = df.columns[0]
        assert_frame_equal(got.sort(key), df.sort(key), check_exact=True)
