"""Fixtures for the AppTest suite: a small computed demo database, and an empty one.

The demo database is built once per session (generate → import → compute, ~30 s) through the
product's own paths, so the pages are tested against facts exactly as a deployment has them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

ENTRY = str(Path(__file__).resolve().parent / "entry.py")
APP = str(Path(__file__).resolve().parents[2] / "app.py")
PAGES = ("overview", "timeliness", "online", "cards", "reviews", "business_env", "drilldown",
         "bulletin", "data_admin", "definitions")


@pytest.fixture(autouse=True)
def demo_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """Pages are tested signed in as the demo user (XIAONENG_DEMO=1), an analyst (reads all,
    exports). Role and scope tests (tests/security) sign in explicitly instead, through
    AppTest's session state, which no browser or URL can reach.
    """
    monkeypatch.setenv("XIAONENG_DEMO", "1")
    monkeypatch.setenv("XIAONENG_DEMO_ROLE", "analyst")


@pytest.fixture(scope="session")
def demo_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    from metrics.jobs import run_compute
    from queries.calendar import seed_official
    from queries.engine import make_engine
    from queries.importer import import_frames
    from queries.migrate import upgrade
    from xiaoneng.demo import generate

    url = f"sqlite:///{tmp_path_factory.mktemp('demo') / 'demo.db'}"
    engine = make_engine(url)
    upgrade(engine)
    seed_official(engine, 2024, 2026)
    tables = generate(cases=20_000, seed=1, start=dt.date(2025, 1, 1), end=dt.date(2025, 6, 1))
    import_frames(engine, tables, source="test", progress=False)
    run_compute(engine, None, as_of=dt.datetime(2025, 6, 30, 18))
    engine.dispose()
    return url


@pytest.fixture
def demo_copy_url(demo_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """A private copy of the demo database as DATABASE_URL, for tests that write to it; the
    app's caches are dropped before and after so no result of another database leaks in."""
    import shutil

    from dashboard import data

    dst = tmp_path / "demo_copy.db"
    shutil.copy(demo_url.removeprefix("sqlite:///"), dst)
    url = f"sqlite:///{dst}"
    monkeypatch.setenv("DATABASE_URL", url)
    data.invalidate()
    yield url
    data.invalidate()


@pytest.fixture
def demo_app(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[AppTest]:
    monkeypatch.setenv("DATABASE_URL", demo_url)
    yield AppTest.from_file(ENTRY, default_timeout=120)


@pytest.fixture
def empty_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    from queries.engine import make_engine
    from queries.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'empty.db'}"
    upgrade(make_engine(url))
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def page_path(stem: str) -> str:
    """A page file relative to the AppTest entry (tests/app/entry.py)."""
    return f"../../pages/{stem}.py"
