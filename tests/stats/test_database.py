"""The statistics read from the database read only what they need, and give the answers of the
case-log path: the risk model's rows (training sample + open cases) on SQLite and PostgreSQL,
the moment it scores at, and the predicted 预警 list."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import polars as pl
import pytest
import sqlalchemy as sa

from metrics.settings import Settings
from metrics.stats import data, risk
from metrics.stats.settings import StatsSettings
from xiaoneng.demo import generate

MONTH = dt.date(2025, 6, 1)
SMALL = StatsSettings(risk_max_train_cases=2_000)  # forces sampling on 20,000 cases


@pytest.fixture(scope="module")
def frames() -> dict[str, pl.DataFrame]:
    return generate(cases=20_000, seed=7, start=dt.date(2024, 7, 1), end=MONTH)


def _load(engine: sa.Engine, frames: dict[str, pl.DataFrame]) -> sa.Engine:
    from queries.calendar import seed_official
    from queries.importer import import_frames
    from queries.migrate import upgrade

    upgrade(engine)
    seed_official(engine, 2024, 2026)
    import_frames(engine, frames, source="test", progress=False)
    return engine


@pytest.fixture(scope="module")
def sqlite_db(frames, tmp_path_factory) -> Iterator[sa.Engine]:
    from queries.engine import make_engine

    eng = _load(make_engine(f"sqlite:///{tmp_path_factory.mktemp('risk') / 'x.db'}"), frames)
    yield eng
    eng.dispose()


def test_case_mix_cells_summed_over_agencies_before_the_month_give_the_same_expected_counts(
        sqlite_db):
    """`facts.read_cells` reads the assessed month per agency and the earlier months of the
    window summed over agencies: the model (no agency term) and every agency's expected count
    are those of agency cells for all months."""
    from metrics.jobs import run_compute
    from metrics.stats import facts
    from metrics.stats.casemix import expected_overdue
    from queries import extracts
    from queries.extracts import Filters, add_months

    run_compute(sqlite_db, None, as_of=dt.datetime(2025, 6, 30, 18))
    s = StatsSettings()
    lean = facts.read_cells(sqlite_db, MONTH, s)
    first = add_months(MONTH, 1 - s.casemix_months)
    full = extracts.fact_sums(sqlite_db, "case_facts", ["completed_with_deadline",
                                                        "completed_overdue"], first, MONTH,
                              Filters(first, MONTH), None, ("agency_code", "item_code",
                                                            "channel")).filter(
        pl.col("completed_with_deadline") > 0).select(
        "agency_code", "item_code", "channel", "month",
        pl.col("completed_with_deadline").alias("n"), pl.col("completed_overdue").alias("overdue"))
    assert lean.height < full.height
    assert lean.filter(pl.col("month") < MONTH)["agency_code"].is_null().all()
    items = extracts.load_items(sqlite_db)
    a = expected_overdue(lean, (MONTH, MONTH), s, items)
    b = expected_overdue(full, (MONTH, MONTH), s, items)
    assert a.units["unit"].to_list() == b.units["unit"].to_list()
    assert a.units["observed"].to_list() == b.units["observed"].to_list()
    assert a.units["expected"].to_list() == pytest.approx(b.units["expected"].to_list(),
                                                          rel=1e-9)


def _flags(rows: data.RiskRows) -> pl.DataFrame:
    return rows.rows.sort("case_id")


def _as_of(eng: sa.Engine) -> dt.datetime:
    return data.risk_as_of(eng, MONTH)


def test_scoring_moment_is_the_last_recorded_moment_of_a_running_month(sqlite_db, frames):
    cases = frames["cases"]
    end = data.month_end_moment(MONTH)
    last = max(cases[c].max() for c in ("accepted_at", "completed_at"))
    assert last < end  # the demo log stops inside its last month
    assert _as_of(sqlite_db) == last
    assert data.risk_as_of(sqlite_db, dt.date(2025, 3, 1)) == data.month_end_moment(
        dt.date(2025, 3, 1))  # a finished month: its last second


def test_sqlite_risk_rows_equal_the_case_log_path(sqlite_db):
    moments = risk.risk_moments(_as_of(sqlite_db), SMALL)
    got = data.read_risk_rows(sqlite_db, moments, SMALL)
    want = risk.risk_rows(data.read_database(sqlite_db).cases, moments, SMALL)
    assert got.counts == want.counts and got.fractions == want.fractions
    assert got.fractions[0] < 1  # the sample is a sample
    assert _flags(got).equals(_flags(want).select(_flags(got).columns))


def test_database_warnings_equal_the_fit_on_the_case_log(sqlite_db):
    rules = Settings()
    got = risk.database_warnings(sqlite_db, MONTH, rules)
    as_of = _as_of(sqlite_db)
    model, rc = risk.fit_current_model(data.read_database(sqlite_db), as_of, rules=rules)
    want = risk.predictive_warnings(model, rc.open, rules=rules)
    assert got is not None and got.height > 0
    got, want = got.sort("case_id"), want.sort("case_id")  # ties (p = 1) in any order
    assert got["case_id"].to_list() == want["case_id"].to_list()
    assert got["p_overdue"].to_list() == pytest.approx(want["p_overdue"].to_list())


def test_postgres_reads_a_seeded_hash_sample_and_every_open_case(frames, pg_engine):
    """On PostgreSQL the sample is drawn in the query (hashtextextended): the window counts
    and the open cases are exactly the case log's, the sample has the expected size, is
    seeded and lies inside the window; the model runs on what was read."""
    eng = _load(pg_engine, frames)
    as_of = _as_of(eng)
    moments = risk.risk_moments(as_of, SMALL)
    got = data.read_risk_rows(eng, moments, SMALL)
    log = risk.risk_rows(frames["cases"], moments, SMALL)
    assert got.counts == log.counts and got.fractions == log.fractions
    assert got.rows.schema["accepted_at"] == pl.Datetime("us")
    rows = got.rows
    starts = data.risk_train_starts(moments, SMALL)
    for k in range(len(moments)):
        opened = rows.filter(pl.col(f"__o{k}"))["case_id"].sort()
        assert opened.equals(log.rows.filter(pl.col(f"__o{k}"))["case_id"].sort())
        sample = rows.filter(pl.col(f"__s{k}"))
        n, f = got.counts[k], got.fractions[k]
        assert abs(sample.height - n * f) < 4 * (n * f * (1 - f)) ** 0.5
        assert sample["accepted_at"].is_between(starts[k], moments[k]).all()
        deadline = pl.coalesce("promised_days", "statutory_days")
        assert (sample.select(deadline)[:, 0] > 0).all()
    again = data.read_risk_rows(eng, moments, SMALL)
    assert _flags(again).equals(_flags(got))
    other = data.read_risk_rows(eng, moments, StatsSettings(risk_max_train_cases=2_000,
                                                            risk_seed=1))
    assert not other.rows.filter(pl.col("__s1"))["case_id"].sort().equals(
        rows.filter(pl.col("__s1"))["case_id"].sort())
    warnings = risk.database_warnings(eng, MONTH, Settings())
    assert warnings is not None
    assert set(warnings["case_id"]) <= set(rows.filter(pl.col("__o1"))["case_id"])
