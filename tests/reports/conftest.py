"""Fixtures for bulletin tests: a computed demo city on SQLite, built once per session.

20,000 demo cases January–June 2025, the official calendar, facts computed as of 2025-06-30
18:00 (about 30 s). Tests that change data (late cases, publishing) work on a copy of the file.
"""

from __future__ import annotations

import datetime as dt
import shutil
import subprocess
from pathlib import Path

import pytest
import sqlalchemy as sa

MONTH = dt.date(2025, 5, 1)
AS_OF = dt.datetime(2025, 6, 30, 18)
ISSUED = dt.date(2025, 6, 3)  # the 成文日期 of the test bulletins
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def demo_db(tmp_path_factory) -> Path:
    from metrics.jobs import run_compute
    from queries.calendar import seed_official
    from queries.engine import make_engine
    from queries.importer import import_frames
    from queries.migrate import upgrade
    from xiaoneng.demo import generate

    path = tmp_path_factory.mktemp("bulletin") / "demo.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    seed_official(engine, 2024, 2026)
    tables = generate(cases=20_000, seed=1, start=dt.date(2025, 1, 1), end=dt.date(2025, 6, 1))
    import_frames(engine, tables, source="t", progress=False)
    run_compute(engine, None, as_of=AS_OF)
    engine.dispose()
    return path


@pytest.fixture(scope="session")
def demo_engine(demo_db: Path) -> sa.Engine:
    """Read-only use: tests must not write to it (use `demo_copy`)."""
    from queries.engine import make_engine

    return make_engine(f"sqlite:///{demo_db}")


@pytest.fixture
def demo_copy(demo_db: Path, tmp_path: Path) -> sa.Engine:
    from queries.engine import make_engine

    path = tmp_path / "copy.db"
    shutil.copy(demo_db, path)
    engine = make_engine(f"sqlite:///{path}")
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def city_bulletin(demo_engine):
    from metrics.bulletin import build_bulletin, parse_scope

    return build_bulletin(demo_engine, MONTH, parse_scope(demo_engine, "city"),
                          issued_on=ISSUED)


@pytest.fixture(scope="session")
def report_tools() -> None:
    """fonts-noto-cjk, the Fandol faces, Pango and poppler-utils (installed by the project's
    script if missing)."""
    res = subprocess.run(["bash", str(ROOT / "scripts" / "ensure-report-tools.sh")],
                         capture_output=True, text=True)
    assert res.returncode == 0, f"report tools missing: {res.stderr.strip()}"
