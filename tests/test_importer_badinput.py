"""The bad-input corpus (tests/data/corpus, written by tests/data/make_corpus.py): every kind on
SQLite and on PostgreSQL.

For each kind the expected outcome was stated by hand in the generator: loaded, quarantined
with a rule (message naming file, line and column), or refused with a one-line message and
nothing written. `read` is checked three ways: against the number stated by hand, against the
rows counted here in the files themselves (csv module, openpyxl, pyarrow — not the importer's
readers), and as loaded + quarantined (+ merged) in the report, the quarantine table and
load_runs. One database per engine serves every kind; it is emptied between kinds.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import openpyxl
import pyarrow.parquet as pq
import pytest
import sqlalchemy as sa

from queries import schema
from queries.contract import TABLES
from queries.errors import ImportRejected
from queries.importer import Counts, LoadReport, import_paths
from tests.conftest import fresh_pg_database
from tests.test_importer_helpers import BASE, assert_reconciles, quarantined

CORPUS = Path(__file__).parent / "data" / "corpus"
MANIFEST = json.loads((CORPUS / "manifest.json").read_text(encoding="utf-8"))
EMPTIED = ("quarantine", "load_files", "load_runs", "suspensions", "reviews", "cases", "items",
           "agencies", "regions")


def test_the_corpus_has_at_least_60_kinds_and_matches_its_generator():
    assert len(MANIFEST) >= 60
    outcomes = {k["expect"]["outcome"] for k in MANIFEST}
    assert outcomes == {"loaded", "quarantined", "refused"}
    done = subprocess.run([sys.executable, str(CORPUS.parent / "make_corpus.py"), "--check"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


@pytest.fixture(scope="module", params=["sqlite", "postgres"])
def corpus_engine(request, tmp_path_factory, pg_server_url) -> Iterator[sa.Engine]:
    from queries.engine import make_engine
    from queries.migrate import upgrade

    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('corpus') / 'corpus.db'}")
        upgrade(engine)
        yield engine
        engine.dispose()
        return
    with fresh_pg_database(pg_server_url) as url:
        engine = make_engine(url)
        upgrade(engine)
        yield engine
        engine.dispose()


def _empty(engine: sa.Engine) -> None:
    with engine.begin() as conn:
        for name in EMPTIED:
            conn.execute(schema.metadata.tables[name].delete())


def _counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {n: conn.execute(sa.select(sa.func.count()).select_from(
            schema.metadata.tables[n])).scalar_one() for n in EMPTIED if n != "load_runs"}


def _table_of(path: Path) -> str:
    return path.stem if path.stem in TABLES else "cases"


def _rows_in(path: Path) -> int:
    """Data rows of one file, counted without the importer."""
    if path.suffix == ".parquet":
        return pq.read_metadata(path).num_rows
    if path.suffix == ".xlsx":
        wb = openpyxl.load_workbook(path, read_only=True)
        n = sum(ws.max_row - 1 for ws in wb.worksheets
                if next(ws.iter_rows(max_row=1, values_only=True))[0] == "case_id")
        wb.close()
        return n
    raw = path.read_bytes()
    text = raw.decode("utf-8-sig") if raw[:3] == b"\xef\xbb\xbf" else _decode(raw)
    delimiter = "\t" if path.suffix == ".tsv" else ","
    return len(list(csv.reader(text.splitlines(keepends=True), delimiter=delimiter))) - 1


def _decode(raw: bytes) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("gbk")


def _stored(engine: sa.Engine, table: str, key: str) -> dict[str, Any] | None:
    t = schema.CONTRACT_TABLES[table]
    k = t.c[TABLES[table].key[0]]
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(k == key)).mappings().first()
    return dict(row) if row else None


def _shown(value: Any) -> Any:
    return f"{value:%Y-%m-%d %H:%M:%S}" if isinstance(value, dt.datetime) else value


@pytest.mark.parametrize("kind", MANIFEST, ids=[k["name"] for k in MANIFEST])
def test_corpus_kind(corpus_engine, kind):
    engine = corpus_engine
    _empty(engine)
    folder = CORPUS / kind["name"]
    expect = kind["expect"]
    mapping = folder / kind["mapping"] if kind["mapping"] else None
    steps = kind["steps"] or [[f for f in kind["files"] if f != kind["mapping"]]]
    report: LoadReport | None = None
    for i, step in enumerate(steps):
        paths = [BASE, *(folder / f for f in step)]
        if i == len(steps) - 1 and expect["outcome"] == "refused":
            _assert_refused(engine, paths, mapping, expect)
            return
        report = import_paths(engine, paths, mapping=mapping, progress=False)
    assert report is not None
    assert_reconciles(engine, report)
    last_files = [folder / f for f in steps[-1]]
    for table, (read, loaded, n_quarantined) in expect["counts"].items():
        c = Counts()  # the kind's own files (the base dimension rows are loaded with them)
        for s in report.sources:
            if s.table == table and s.source.startswith(str(folder)):
                c.add(s.counts)
        counted = sum(_rows_in(p) for p in last_files if _table_of(p) == table)
        assert (c.read, c.loaded, c.quarantined) == (read, loaded, n_quarantined), report.format()
        assert c.read == counted == c.loaded + c.quarantined + c.merged_duplicates
    if expect["outcome"] == "loaded":
        assert report.quarantined == 0, report.format()
    else:
        bad = quarantined(engine, report.load_id)
        hits = [q for q in bad if expect["rule"] in q["rules"].split(";")]
        assert hits, [q["reasons"] for q in bad]
        reasons = hits[0]["reasons"]
        assert f"[{expect['rule']}]" in reasons and "\n" not in reasons
        if expect["line"] is not None:
            assert hits[0]["source_line"] == expect["line"]
        for text in expect["message"]:
            assert text in reasons, reasons
    if expect["outcome"] == "loaded":
        for text in expect["message"]:  # e.g. the sheets the report names as skipped
            assert text in "\n".join(report.warnings), report.warnings
    for table, rows in expect["stored"].items():
        for key, values in rows.items():
            stored = _stored(engine, table, key)
            assert stored is not None, f"{table} {key} not stored"
            assert {c: _shown(stored[c]) for c in values} == values
    if expect["quarantine_rows"] is not None:
        assert _counts(engine)["quarantine"] == expect["quarantine_rows"]


def _assert_refused(engine: sa.Engine, paths: list[Path], mapping: Path | None,
                    expect: dict) -> None:
    before = _counts(engine)
    with pytest.raises(ImportRejected) as err:
        import_paths(engine, paths, mapping=mapping, progress=False)
    message = str(err.value)
    assert "\n" not in message and f"[{expect['rule']}]" in message, message
    for text in expect["message"]:
        assert text in message, message
    assert _counts(engine) == before  # nothing written, not even the valid files of the call
    lr = schema.load_runs
    with engine.connect() as conn:
        status, error = conn.execute(sa.select(lr.c.status, lr.c.error)
                                     .order_by(lr.c.started_at.desc()).limit(1)).one()
    assert status == "failed" and f"[{expect['rule']}]" in error
