"""The data cut-off (issue 17, point 1): each load records where its extract stops, and the
metric job measures as of min(now, that cut-off) by default, so a log that stops is not read
as if its open cases and pending deadlines had been neglected ever since.
"""

from __future__ import annotations

import datetime as dt

import polars as pl
import pytest
import sqlalchemy as sa

from metrics.jobs import run_compute
from metrics.query import Filters, metric_values
from queries import schema
from queries.facts_store import data_cutoff, default_as_of
from queries.importer import import_frames, import_paths
from queries.importer.mapping import MappingError, load_mapping
from tests.metrics.logs import demo_database
from xiaoneng.cli import main

T = dt.datetime
JAN, JUN = dt.date(2025, 1, 1), dt.date(2025, 6, 1)
EVENTS = {"cases": ("submitted_at", "accepted_at", "completed_at", "reported_at"),
          "suspensions": ("started_at", "ended_at"),
          "reviews": ("rated_at", "callback_at", "rectified_at", "reported_at")}


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """8,000 demo cases January–June 2025, imported (nothing computed yet)."""
    engine, tables, report = demo_database(tmp_path_factory.mktemp("cutoff") / "demo.db",
                                           8000, 1, JAN, JUN)
    yield engine, tables, report
    engine.dispose()


def _load_cutoffs(engine) -> list[dt.datetime | None]:
    lr = schema.load_runs
    with engine.connect() as conn:
        return list(conn.execute(sa.select(lr.c.extracted_at).order_by(lr.c.started_at))
                    .scalars())


def test_a_load_without_a_declared_cut_off_records_its_latest_event_time(demo):
    engine, tables, report = demo
    # independently: the latest of every event timestamp in the frames (not due_at, a deadline)
    latest = max(tables[t].select(pl.max_horizontal(pl.col(c).max() for c in cols)).item()
                 for t, cols in EVENTS.items())
    assert latest <= T(2025, 6, 30, 23, 59, 59)  # the generator's data stop at June's end
    assert report.cutoff == latest and report.extracted_at is None
    assert _load_cutoffs(engine) == [latest] and data_cutoff(engine) == latest


def test_compute_measures_as_of_the_cut_off_by_default_and_records_it(demo):
    engine, _, report = demo
    result = run_compute(engine, None)
    assert result.as_of == report.cutoff == result.data_cutoff
    with engine.connect() as conn:
        run = conn.execute(sa.select(schema.job_runs)).mappings().all()[-1]
    assert (run["as_of"], run["data_cutoff"]) == (report.cutoff, report.cutoff)
    assert "data cut-off 2025-06-30" in result.format() and "warning:" not in result.format()


def test_the_latest_month_rectification_rate_is_in_line_with_the_other_months(demo):
    """A log stopping on 06-30 and computed in December: measured as of the cut-off, June's
    差评按期整改率 lies within the range of January–May; measured as of the wall clock (the old
    default) June's 差评 look unrectified and the rate falls below every other month."""
    engine, _, report = demo

    def rates() -> dict[str, float]:
        df = metric_values(engine, ["bad_review_rectified_rate"], Filters(JAN, JUN), "city")
        return dict(df.select("period", "value").iter_rows())

    run_compute(engine, None)  # default: as of the cut-off
    by_cutoff = rates()
    others = [v for p, v in by_cutoff.items() if p != "2025-06"]
    assert len(others) == 5 and min(others) <= by_cutoff["2025-06"] <= max(others)
    result = run_compute(engine, None, as_of=T(2026, 12, 4, 9))  # what "now" used to give
    assert "warning: the as-of time is after it" in result.format()
    assert rates()["2025-06"] < min(others)
    run_compute(engine, None)  # leave the module's database as of the cut-off


def test_default_as_of_is_the_earlier_of_now_and_the_cut_off():
    now = T(2026, 12, 4, 15, 30, 12, 345)
    assert default_as_of(T(2026, 10, 31, 23, 59), now) == T(2026, 10, 31, 23, 59)
    assert default_as_of(T(2099, 1, 1), now) == T(2026, 12, 4, 15, 30, 12)
    assert default_as_of(None, now) == T(2026, 12, 4, 15, 30, 12)


def _permit_files(tmp_path, cutoff_line: str = "") -> tuple:
    """One cases CSV and a mapping (optionally declaring a cut-off) for it."""
    (tmp_path / "permits.csv").write_text(
        "id,start,end\np1,2013-01-07 09:00,2013-01-09 10:00\np2,2013-01-08 09:00,\n",
        encoding="utf-8")
    (tmp_path / "mapping.toml").write_text(cutoff_line + '''
[[sources]]
file = "permits.csv"
[[sources.tables]]
name = "cases"
[sources.tables.columns]
case_id = "id"
submitted_at = "start"
accepted_at = "start"
completed_at = "end"
status = { column = "end", present = "completed", missing = "in_progress" }
[sources.tables.constants]
item_code = "I1"
agency_code = "A1"
channel = "window"
applicant_type = "person"
limit_unit = "natural"
promised_days = 5
''', encoding="utf-8")
    return tmp_path / "permits.csv", tmp_path / "mapping.toml"


@pytest.fixture
def permit_db(sqlite_engine):
    import_frames(sqlite_engine, {
        "regions": pl.DataFrame({"region_code": ["C"], "name": ["市"], "level": ["city"]}),
        "agencies": pl.DataFrame({"agency_code": ["A1"], "name": ["局"], "region_code": ["C"],
                                  "sector": ["住建"]}),
        "items": pl.DataFrame({"item_code": ["I1"], "name": ["许可"],
                               "item_type": ["licensing"], "sector": ["住建"],
                               "limit_unit": ["natural"], "online_depth": [1]}),
    }, source="dims", progress=False)
    return sqlite_engine


def test_a_mapping_declares_the_cut_off_and_a_date_means_its_last_second(permit_db, tmp_path):
    csv, mapping = _permit_files(tmp_path, "extracted_at = 2013-01-31\n")
    report = import_paths(permit_db, [csv], mapping=mapping, progress=False)
    assert report.ok and report.cutoff == T(2013, 1, 31, 23, 59, 59)
    assert "data cut-off: 2013-01-31 23:59:59 (declared)" in report.format()
    # the dimension load before it had no event time: no cut-off of its own
    assert _load_cutoffs(permit_db) == [None, T(2013, 1, 31, 23, 59, 59)]
    assert run_compute(permit_db, None).as_of == T(2013, 1, 31, 23, 59, 59)


def test_without_a_declaration_the_cut_off_is_the_latest_event(permit_db, tmp_path):
    csv, mapping = _permit_files(tmp_path)
    report = import_paths(permit_db, [csv], mapping=mapping, progress=False)
    assert report.cutoff == T(2013, 1, 9, 10, 0)  # p1's completion, the last event
    assert "latest event time in the load" in report.format()


def test_the_command_line_cut_off_overrides_the_mapping(permit_db, tmp_path, monkeypatch,
                                                        capsys):
    csv, mapping = _permit_files(tmp_path, "extracted_at = 2013-01-31\n")
    monkeypatch.setenv("DATABASE_URL", permit_db.url.render_as_string(hide_password=False))
    rc = main(["import", str(csv), "--mapping", str(mapping), "--quiet",
               "--extracted-at", "2013-02-15T18:00"])
    assert rc == 0, capsys.readouterr().err
    assert data_cutoff(permit_db) == T(2013, 2, 15, 18, 0)
    with pytest.raises(SystemExit):  # argparse: one line on stderr, exit status 2
        main(["import", str(csv), "--extracted-at", "yesterday"])
    assert "expected a date or ISO timestamp" in capsys.readouterr().err


def test_an_unreadable_declared_cut_off_is_refused_naming_the_file(tmp_path):
    _, mapping = _permit_files(tmp_path, 'extracted_at = "end of January"\n')
    with pytest.raises(MappingError, match=r"mapping.toml: extracted_at: not a date or time"):
        load_mapping(mapping)


def test_the_catalogue_snapshot_is_the_cut_off_month_and_every_month_offered_has_it(demo):
    """Computed in December 2026 (as of the wall clock, even), the snapshot is stamped June
    2025, the cut-off's month, not 2026-12 which no month picker offers; January–May take it
    too."""
    from queries import extracts, views

    engine, _, _ = demo
    run_compute(engine, None, as_of=T(2026, 12, 4, 9))
    assert extracts.catalogue_months(engine) == [JUN]
    run_compute(engine, None)
    assert extracts.catalogue_months(engine) == [JUN]
    ids = ["online_capable_item_rate", "full_online_item_rate", "zero_visit_item_rate",
           "avg_materials", "avg_steps"]
    df = metric_values(engine, ids, Filters(JAN, JUN), "city")
    offered = views.fact_months(engine)
    assert offered == [dt.date(2025, m, 1) for m in range(1, 7)]
    assert df.height == len(ids) * len(offered) and df["value"].null_count() == 0
