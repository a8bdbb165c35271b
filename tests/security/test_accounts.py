"""Accounts: argon2 hashes, disabled accounts, single sign-on mapping, the accounts CLI.

Sign-in failures, the back-off and demo accounts have their own files (test_signin.py,
test_demo_accounts.py).
"""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from queries import accounts_store, audit
from queries.accounts_store import FAILED, LoginError

PW = "correct horse battery"


def test_password_is_stored_as_an_argon2id_hash(sqlite_engine) -> None:
    accounts_store.create_account(sqlite_engine, "alice", "leader", PW)
    with sqlite_engine.connect() as conn:
        stored = conn.execute(sa.select(accounts_store.accounts.c.password_hash)).scalar_one()
    assert stored.startswith("$argon2id$") and PW not in stored
    user = accounts_store.authenticate(sqlite_engine, "alice", PW)
    assert (user.username, user.role) == ("alice", "leader")


def test_short_passwords_and_scopeless_unit_users_are_refused(sqlite_engine) -> None:
    from queries.errors import XiaonengError

    with pytest.raises(XiaonengError, match="at least"):
        accounts_store.create_account(sqlite_engine, "bob", "leader", "short")
    with pytest.raises(XiaonengError, match="scope"):
        accounts_store.create_account(sqlite_engine, "bob", "unit", PW)
    with pytest.raises(XiaonengError, match="role"):
        accounts_store.create_account(sqlite_engine, "bob", "root", PW)
    with pytest.raises(XiaonengError, match="username"):
        accounts_store.create_account(sqlite_engine, "x' OR '1'='1", "leader", PW)
    with pytest.raises(XiaonengError, match="no scope"):  # only unit users and supervisors
        accounts_store.create_account(sqlite_engine, "bob", "leader", PW, regions=["331202"])


def test_unknown_and_disabled_accounts_are_refused_alike_and_audited(sqlite_engine) -> None:
    accounts_store.create_account(sqlite_engine, "dave", "leader", PW)
    accounts_store.set_disabled(sqlite_engine, "dave")
    with pytest.raises(LoginError) as disabled:
        accounts_store.authenticate(sqlite_engine, "dave", PW)
    with pytest.raises(LoginError) as unknown:
        accounts_store.authenticate(sqlite_engine, "nobody' OR 1=1 --", PW)
    assert str(disabled.value) == str(unknown.value) == FAILED
    log = audit.entries(sqlite_engine, action="login_failed")
    assert set(log["username"]) == {"dave", "nobody' OR 1=1 --"}
    assert {'"reason": "disabled"' in d for d in log["detail"]} == {True, False}
    # a signed-in session of a disabled account is ended on its next check
    from xiaoneng.authz import User

    assert accounts_store.current_user(sqlite_engine, User("dave", "leader")) is None


def test_sso_identity_maps_to_an_enabled_account_only(sqlite_engine) -> None:
    accounts_store.create_account(sqlite_engine, "erin", "unit", None, regions=["331202"],
                                  email="Erin@Example.gov.cn")
    user = accounts_store.user_for_email(sqlite_engine, "erin@example.gov.cn")
    assert user is not None and user.role == "unit" and user.regions == ("331202",)
    assert accounts_store.user_for_email(sqlite_engine, "mallory@example.gov.cn") is None
    with pytest.raises(LoginError):  # no password: single sign-on only
        accounts_store.authenticate(sqlite_engine, "erin", "")


def test_cli_creates_the_first_admin_once_and_records_the_os_user(sqlite_url, sqlite_engine,
                                                                  monkeypatch, capsys) -> None:
    import getpass

    from xiaoneng.cli import main

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setenv("ADMIN_PW", PW)
    monkeypatch.setattr(getpass, "getuser", lambda: "ops-li")
    assert main(["accounts", "create-admin", "root", "--password-env", "ADMIN_PW"]) == 0
    assert main(["accounts", "create-admin", "root2", "--password-env", "ADMIN_PW"]) == 2
    assert main(["accounts", "create", "jh", "--role", "unit", "--regions", "331202",
                 "--password-env", "ADMIN_PW"]) == 0
    assert main(["accounts", "create", "jh-sup", "--role", "supervisor", "--regions", "331202",
                 "--password-env", "ADMIN_PW"]) == 0
    assert main(["accounts", "disable", "jh"]) == 0
    assert main(["accounts", "list"]) == 0
    out = capsys.readouterr().out
    assert "root\tadmin\tenabled" in out and "jh\tunit\tdisabled\tregion:331202" in out
    assert "jh-sup\tsupervisor\tenabled\tregion:331202" in out
    assert PW not in out
    assert accounts_store.authenticate(sqlite_engine, "root", PW).role == "admin"
    ops = audit.entries(sqlite_engine, action="account")
    assert ops.height == 4
    assert set(ops["username"]) == {"os:ops-li"} and set(ops["role"]) == {"operator"}
