"""Demo accounts: only in a database the demo command created, refused without XIAONENG_DEMO=1,
flagged by `accounts list`, rotated out by `create-admin`; migration 0010 flags old ones."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from queries import accounts_store, audit
from queries.accounts_store import DEMO_PASSWORD, FAILED, LoginError
from xiaoneng.cli import main

PW = "correct horse battery"


@pytest.fixture
def demo_db(tmp_path, monkeypatch) -> str:
    """A database made the way scripts/demo.sh makes it: init-db --demo, then the accounts."""
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    assert main(["init-db", "--demo"]) == 0
    assert main(["accounts", "demo"]) == 0
    return url


@pytest.fixture
def engine_of():
    from queries.engine import make_engine

    made = []

    def make(url: str):
        made.append(make_engine(url))
        return made[-1]

    yield make
    for e in made:
        e.dispose()


def test_demo_accounts_are_refused_unless_the_server_runs_as_a_demo(demo_db, engine_of,
                                                                     monkeypatch) -> None:
    eng = engine_of(demo_db)
    accounts = accounts_store.list_accounts(eng)
    assert {a.username for a in accounts if a.demo} >= {"demo-admin", "demo-leader"}
    monkeypatch.delenv("XIAONENG_DEMO", raising=False)
    with pytest.raises(LoginError) as err:
        accounts_store.authenticate(eng, "demo-admin", DEMO_PASSWORD)
    assert str(err.value) == FAILED
    assert json.loads(audit.entries(eng, 1, action="login_failed")["detail"][0])["reason"] \
        == "demo"
    monkeypatch.setenv("XIAONENG_DEMO", "1")
    user = accounts_store.authenticate(eng, "demo-admin", DEMO_PASSWORD)
    assert user.role == "admin"
    # an open demo session ends once the server no longer runs as a demo
    assert accounts_store.current_user(eng, user) == user
    monkeypatch.delenv("XIAONENG_DEMO")
    assert accounts_store.current_user(eng, user) is None


def test_demo_accounts_are_only_made_in_a_database_the_demo_command_created(
        sqlite_url, sqlite_engine, monkeypatch, capsys) -> None:
    monkeypatch.setenv("DATABASE_URL", sqlite_url)  # an ordinary database (init-db, no --demo)
    assert main(["accounts", "demo"]) == 2
    assert "not created by the demo command" in capsys.readouterr().err
    assert main(["init-db", "--demo"]) == 2  # it will not mark an existing database either
    assert "did not create" in capsys.readouterr().err
    assert accounts_store.list_accounts(sqlite_engine) == []
    from queries.errors import XiaonengError

    with pytest.raises(XiaonengError, match="demo command"):
        accounts_store.create_account(sqlite_engine, "x", "admin", DEMO_PASSWORD, demo=True)


def test_init_db_demo_reopens_its_own_database(demo_db, capsys) -> None:
    assert main(["init-db", "--demo"]) == 0
    assert main(["accounts", "demo"]) == 0
    assert "demo accounts ready" in capsys.readouterr().out


def test_create_admin_works_beside_demo_accounts_and_disables_them(demo_db, engine_of,
                                                                  monkeypatch, capsys) -> None:
    import getpass

    monkeypatch.setattr(getpass, "getuser", lambda: "ops-zhou")
    monkeypatch.setenv("ADMIN_PW", PW)
    eng = engine_of(demo_db)
    assert main(["accounts", "list"]) == 0
    out, err = capsys.readouterr()
    demo_lines = [x for x in out.splitlines() if x.startswith("demo-")]
    assert demo_lines and all(x.split("\t")[6] == "DEMO" for x in demo_lines)
    assert "DEMO:" in err and "disable-demo" in err
    before = audit.entries(eng, action="account").height
    assert main(["accounts", "create-admin", "chief", "--password-env", "ADMIN_PW",
                 "--disable-demo"]) == 0
    out = capsys.readouterr().out
    assert "created admin chief" in out and "disabled demo accounts" in out
    accounts = {a.username: a for a in accounts_store.list_accounts(eng)}
    assert not accounts["chief"].demo and not accounts["chief"].disabled
    demo = [a for a in accounts.values() if a.demo]
    assert demo and all(a.disabled for a in demo)
    rows = audit.entries(eng, action="account").head(audit.entries(eng, action="account").height
                                                     - before)
    assert rows.height == 1 + len(demo)  # the admin, then one row per disabled demo account
    assert set(rows["username"]) == {"os:ops-zhou"}
    assert accounts_store.authenticate(eng, "chief", PW).role == "admin"


def test_create_admin_asks_before_disabling_demo_accounts(demo_db, engine_of, monkeypatch,
                                                         capsys) -> None:
    import sys

    monkeypatch.setenv("ADMIN_PW", PW)
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    answers = iter(["n"])
    monkeypatch.setattr("builtins.input", lambda prompt: next(answers))
    assert main(["accounts", "create-admin", "chief", "--password-env", "ADMIN_PW"]) == 0
    assert "still enabled" in capsys.readouterr().err
    eng = engine_of(demo_db)
    assert not any(a.disabled for a in accounts_store.list_accounts(eng))
    answers = iter([""])  # Enter: the default is yes
    assert main(["accounts", "create-admin", "chief2", "--password-env", "ADMIN_PW",
                 "--force"]) == 0
    assert all(a.disabled for a in accounts_store.list_accounts(eng) if a.demo)


def test_migration_flags_accounts_that_carry_the_published_password(sqlite_url) -> None:
    from argon2 import PasswordHasher

    from queries.engine import make_engine
    from queries.migrate import upgrade

    eng = make_engine(sqlite_url)
    upgrade(eng, "0007")
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    with eng.begin() as conn:
        for name, pw in (("demo-admin", DEMO_PASSWORD), ("renamed", DEMO_PASSWORD),
                         ("real-admin", PW)):
            conn.execute(sa.text(
                "INSERT INTO accounts (username, role, password_hash, disabled, failed_logins, "
                "created_at) VALUES (:u, 'admin', :h, 0, 0, '2025-01-01 00:00:00')"),
                {"u": name, "h": hasher.hash(pw)})
    upgrade(eng)
    flags = {a.username: a.demo for a in accounts_store.list_accounts(eng)}
    assert flags == {"demo-admin": True, "renamed": True, "real-admin": False}
    assert accounts_store.count_admins(eng) == 1
    eng.dispose()


def test_the_demo_script_uses_its_own_database_made_by_init_db_demo() -> None:
    from pathlib import Path

    script = (Path(__file__).resolve().parents[2] / "scripts" / "demo.sh").read_text()
    lines = [x.strip() for x in script.splitlines() if x.strip() and not x.startswith("#")]
    assert 'export DATABASE_URL="${DATABASE_URL:-sqlite:///data/demo.db}"' in lines
    order = [next(i for i, x in enumerate(lines) if x.startswith(cmd))
             for cmd in ("export DATABASE_URL", "xiaoneng init-db --demo",
                         "xiaoneng accounts demo", "export XIAONENG_DEMO=1", "exec xiaoneng serve")]
    assert order == sorted(order)
