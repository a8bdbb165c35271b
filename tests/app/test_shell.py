"""The app shell renders on an empty database and on an uninitialised one, without exceptions."""

from __future__ import annotations

from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parents[2] / "app.py")


@pytest.fixture
def app_env(monkeypatch, tmp_path):
    url = f"sqlite:///{tmp_path / 'app.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def test_shell_explains_what_to_do_on_an_uninitialised_database(app_env):
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert any("init-db" in i.value for i in at.info)


def test_shell_renders_on_a_migrated_empty_database(app_env):
    from queries.engine import make_engine
    from queries.migrate import upgrade

    upgrade(make_engine(app_env))
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert any("generate" in i.value for i in at.info)


def test_shell_shows_a_retry_page_when_the_database_is_unreachable(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgresql+psycopg2://nobody@127.0.0.1:1/none")
    at = AppTest.from_file(APP, default_timeout=30).run()
    assert not at.exception
    assert at.error and ("无法连接数据库" in at.error[0].value)
    assert at.button[0].label == "重试"
