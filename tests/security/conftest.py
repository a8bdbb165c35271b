"""Fixtures for the access-control tests: the demo database and users of every role."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.conftest import (  # noqa: F401  (the demo database and a private copy)
    ENTRY,
    demo_copy_url,
    demo_url,
)
from xiaoneng.authz import User

COUNTY_A, COUNTY_B = "331202", "331203"  # 鉴湖区, 望江区 in the demo data

USERS = {
    "leader": User("t-leader", "leader", method="test"),
    "supervisor": User("t-supervisor", "supervisor", method="test"),
    "analyst": User("t-analyst", "analyst", method="test"),
    "unit_a": User("t-unit-a", "unit", regions=(COUNTY_A,), method="test"),
    "unit_b": User("t-unit-b", "unit", regions=(COUNTY_B,), method="test"),
    "admin": User("t-admin", "admin", method="test"),
}


@pytest.fixture(autouse=True)
def no_demo_login(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody is signed in unless a test signs someone in."""
    monkeypatch.delenv("XIAONENG_DEMO", raising=False)
    monkeypatch.delenv("XIAONENG_DEMO_ROLE", raising=False)


@pytest.fixture
def demo_env(demo_url: str, monkeypatch: pytest.MonkeyPatch) -> str:  # noqa: F811
    monkeypatch.setenv("DATABASE_URL", demo_url)
    return demo_url


@pytest.fixture
def demo_copy(demo_copy_url: str) -> Iterator:  # noqa: F811
    """An engine on a private copy of the demo database (for tests that write to it)."""
    from queries.engine import make_engine

    engine = make_engine(demo_copy_url)
    yield engine
    engine.dispose()


def app_as(user: User | None, query: dict | None = None) -> AppTest:
    """The app (shell + pages) with `user` signed in through session state (not a URL)."""
    from dashboard.auth import USER_KEY

    at = AppTest.from_file(ENTRY, default_timeout=120)
    if user is not None:
        at.session_state[USER_KEY] = user
    if query:
        at.query_params.update(query)
    return at


@pytest.fixture
def agencies_by_region(demo_env: str) -> Iterator[dict[str, set[str]]]:
    from queries import extracts
    from queries.engine import make_engine

    eng = make_engine(demo_env)
    out: dict[str, set[str]] = {}
    for code, region in extracts.load_agencies(eng).select("agency_code", "region_code"
                                                           ).iter_rows():
        out.setdefault(region, set()).add(code)
    eng.dispose()
    yield out
