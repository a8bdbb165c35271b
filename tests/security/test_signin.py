"""Sign-in: uniform failures (message and time), back-off per account name and per client that
a third party cannot renew, admin unlock from the CLI and the app (audited).

Times are set with `authenticate(now=…)`, so the back-off arithmetic is checked exactly; the
timing test measures the real path (argon2id with its production parameters).
"""

from __future__ import annotations

import datetime as dt
import json
import random
import statistics
import time

import pytest

from queries import accounts_store, audit
from queries.accounts_store import BACKOFF, FAILED, LoginError

PW = "correct horse battery"
T0 = dt.datetime(2025, 6, 2, 9, 0, 0)


@pytest.fixture(autouse=True)
def cheap_hashing(request, monkeypatch) -> None:
    """argon2id with minimal cost for the tests of the back-off logic (hundreds of sign-ins);
    the timing test (marked `production_hash`) measures the production parameters."""
    if request.node.get_closest_marker("production_hash"):
        return
    from argon2 import PasswordHasher

    cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    monkeypatch.setattr(accounts_store, "_hasher", cheap)
    monkeypatch.setattr(accounts_store, "_DUMMY", cheap.hash("xiaoneng-dummy-password"))


def _fail(engine, name: str, password: str = "wrong password!", *, at: dt.datetime,
          client: str | None = None) -> str:
    with pytest.raises(LoginError) as err:
        accounts_store.authenticate(engine, name, password, now=at, client=client)
    return str(err.value)


def _forget(engine, keys: list[str]) -> None:
    import sqlalchemy as sa

    t = accounts_store.login_throttle
    with engine.begin() as conn:
        conn.execute(sa.delete(t).where(t.c.key.in_(keys)))


def _state(engine, key: str) -> tuple[int, dt.datetime | None]:
    import sqlalchemy as sa

    t = accounts_store.login_throttle
    with engine.connect() as conn:
        r = conn.execute(sa.select(t.c.failures, t.c.blocked_until).where(t.c.key == key)).first()
    return (r.failures, r.blocked_until) if r else (0, None)


# --- one message for every refusal --------------------------------------------------------


def test_unknown_wrong_disabled_demo_and_blocked_get_the_same_message(sqlite_engine) -> None:
    for name, extra in (("wrong", {}), ("off", {}), ("locked", {})):
        accounts_store.create_account(sqlite_engine, name, "analyst", PW, **extra)
    accounts_store.set_disabled(sqlite_engine, "off")
    for _ in range(BACKOFF["account"].free):
        _fail(sqlite_engine, "locked", at=T0)
    messages = {
        "unknown": _fail(sqlite_engine, "nobody-here", PW, at=T0),
        "wrong": _fail(sqlite_engine, "wrong", at=T0),
        "disabled": _fail(sqlite_engine, "off", PW, at=T0),
        "locked, right password": _fail(sqlite_engine, "locked", PW, at=T0),
    }
    assert set(messages.values()) == {FAILED}, messages
    reasons = [json.loads(d)["reason"] for d in
               audit.entries(sqlite_engine, action="login_failed")["detail"].head(4)]
    assert reasons == ["blocked", "disabled", "password", "unknown"]  # newest first


def test_the_login_page_shows_one_text_for_every_kind_of_failure(demo_copy_url) -> None:
    from queries.engine import make_engine
    from tests.security.conftest import app_as

    eng = make_engine(demo_copy_url)
    accounts_store.create_account(eng, "pg-wrong", "leader", PW)
    accounts_store.create_account(eng, "pg-off", "leader", PW)
    accounts_store.set_disabled(eng, "pg-off")
    accounts_store.create_account(eng, "pg-locked", "leader", PW)
    for _ in range(BACKOFF["account"].free):
        _fail(eng, "pg-locked", at=dt.datetime.now())
    eng.dispose()
    shown = {}
    for kind, name, pw in (("unknown", "pg-nobody", PW), ("wrong", "pg-wrong", "not it at all"),
                           ("disabled", "pg-off", PW), ("locked", "pg-locked", PW)):
        at = app_as(None).run()
        at.text_input(key="login_username").input(name)
        at.text_input(key="login_password").input(pw)
        at.button[0].click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert "_xn_user" not in at.session_state
        shown[kind] = [e.value for e in at.error]
    assert len({tuple(v) for v in shown.values()}) == 1, shown
    assert "用户名或密码错误" in shown["locked"][0] and "锁定至" not in shown["locked"][0]


@pytest.mark.production_hash
def test_failure_timings_are_uniform_over_50_tries_per_kind(sqlite_engine) -> None:
    """Medians of 50 interleaved tries per kind agree within 35 %, and every kind takes at least
    half an argon2 verification (measured alongside), i.e. none skips the hash.

    Why this holds on a busy 2-core machine: the kinds are interleaved in a shuffled order, so
    load spikes fall on all of them alike, and a median ignores the spikes; the path is one
    ~100 ms argon2 verification plus ~1 ms of SQLite, so a uniform path sits within a few per
    cent. Why it can fail: the old disabled/locked paths skipped the hash (~1 ms against
    ~100 ms), a ratio of ~50.
    """
    from queries.accounts_store import _DUMMY, _verify

    for name in ("t-wrong", "t-off", "t-locked"):
        accounts_store.create_account(sqlite_engine, name, "leader", PW)
    accounts_store.set_disabled(sqlite_engine, "t-off")
    for _ in range(BACKOFF["account"].free):
        _fail(sqlite_engine, "t-locked", at=T0)
    rng = random.Random(11)
    at = T0 + dt.timedelta(seconds=1)  # "t-locked" is blocked until T0 + 30 s
    kinds = {
        "unknown": lambda i: (f"t-unknown-{i}", PW),
        "wrong": lambda i: ("t-wrong", "not the password"),
        "disabled": lambda i: ("t-off", PW),
        "locked": lambda i: ("t-locked", PW),
    }
    times: dict[str, list[float]] = {k: [] for k in [*kinds, "argon2"]}
    for i in range(50):
        order = [*kinds, "argon2"] if i < 15 else list(kinds)
        rng.shuffle(order)
        for kind in order:
            if kind == "argon2":
                start = time.perf_counter()
                _verify(_DUMMY, "a password")
                times[kind].append(time.perf_counter() - start)
                continue
            name, pw = kinds[kind](i)
            if kind != "locked":  # untimed: each try of these kinds starts from a clean count
                _forget(sqlite_engine, [f"account:{name}", f"client:timing-{kind}"])
            start = time.perf_counter()
            with pytest.raises(LoginError):
                accounts_store.authenticate(sqlite_engine, name, pw, now=at,
                                            client=f"timing-{kind}")
            times[kind].append(time.perf_counter() - start)
    medians = {k: statistics.median(v) for k, v in times.items()}
    paths = [medians[k] for k in kinds]
    assert max(paths) / min(paths) < 1.35, medians
    assert min(paths) > 0.5 * medians["argon2"], medians
    assert _state(sqlite_engine, "account:t-locked") == (
        BACKOFF["account"].free, T0 + dt.timedelta(seconds=BACKOFF["account"].base_s))


# --- back-off ------------------------------------------------------------------------------


def test_a_blocked_account_cannot_be_renewed_by_hammering_it(any_engine) -> None:
    """Five failures block the name for 30 s; 100 more tries (wrong or right, from the
    attacker's and other clients) neither extend the block nor count; then the owner signs in.
    On SQLite and PostgreSQL (row locks, the savepoint of a first failure)."""
    accounts_store.create_account(any_engine, "root", "admin", PW)
    acct = BACKOFF["account"]
    for i in range(acct.free):
        _fail(any_engine, "root", at=T0 + dt.timedelta(seconds=i), client="ip:6.6.6.6")
    t_block = T0 + dt.timedelta(seconds=acct.free - 1)
    until = t_block + dt.timedelta(seconds=acct.base_s)
    assert _state(any_engine, "account:root") == (acct.free, until)
    for i in range(100):
        at = t_block + dt.timedelta(seconds=0.25 * i)  # all before `until`
        _fail(any_engine, "root", PW if i % 2 else "guess", at=at,
              client=f"ip:10.0.0.{i % 7}")
    assert _state(any_engine, "account:root") == (acct.free, until)
    user = accounts_store.authenticate(any_engine, "root", PW, now=until,
                                       client="ip:192.0.2.10")
    assert user.role == "admin"
    assert _state(any_engine, "account:root") == (0, None)  # a success forgets


def test_account_back_off_doubles_per_failure_after_each_block_up_to_the_cap(
        sqlite_engine) -> None:
    accounts_store.create_account(sqlite_engine, "lee", "leader", PW)
    acct = BACKOFF["account"]
    at = T0
    for _ in range(acct.free - 1):
        _fail(sqlite_engine, "lee", at=at)
    expected = []
    blocks = []
    for n in range(acct.free, acct.free + 8):
        _fail(sqlite_engine, "lee", at=at)
        failures, until = _state(sqlite_engine, "account:lee")
        assert failures == n
        blocks.append((until - at).total_seconds())
        expected.append(min(acct.base_s * 2 ** (n - acct.free), acct.cap_s))
        at = until  # the next try is the first moment the block allows
    assert blocks == expected == [30, 60, 120, 240, 480, 900, 900, 900]


def test_a_client_backs_off_across_accounts_and_its_block_does_not_grow_while_blocked(
        sqlite_engine) -> None:
    client = BACKOFF["client"]
    accounts_store.create_account(sqlite_engine, "victim", "leader", PW)
    for i in range(client.free):  # one failure per account: no account backs off
        _fail(sqlite_engine, f"u{i}", at=T0, client="ip:6.6.6.6")
    until = T0 + dt.timedelta(seconds=client.base_s)
    assert _state(sqlite_engine, "client:ip:6.6.6.6") == (client.free, until)
    for i in range(20):  # even the right password of another account is refused from there
        _fail(sqlite_engine, "victim", PW, at=T0 + dt.timedelta(seconds=i), client="ip:6.6.6.6")
    assert _state(sqlite_engine, "client:ip:6.6.6.6") == (client.free, until)
    assert _state(sqlite_engine, "account:victim") == (0, None)  # blocked tries do not count
    # the victim, from its own address, signs in at once
    assert accounts_store.authenticate(sqlite_engine, "victim", PW, now=T0,
                                       client="ip:192.0.2.20").username == "victim"


def test_unknown_names_back_off_exactly_like_existing_ones(sqlite_engine) -> None:
    accounts_store.create_account(sqlite_engine, "real", "leader", PW)
    for i in range(BACKOFF["account"].free + 1):
        at = T0 + dt.timedelta(seconds=40 * i)
        _fail(sqlite_engine, "real", at=at)
        _fail(sqlite_engine, "ghost", at=at)
    assert _state(sqlite_engine, "account:real") == _state(sqlite_engine, "account:ghost")


# --- unlock --------------------------------------------------------------------------------


def test_cli_unlock_ends_the_block_and_is_audited_as_the_os_user(sqlite_url, sqlite_engine,
                                                                 monkeypatch, capsys) -> None:
    import getpass

    from xiaoneng.cli import main

    monkeypatch.setenv("DATABASE_URL", sqlite_url)
    monkeypatch.setattr(getpass, "getuser", lambda: "ops-wang")
    accounts_store.create_account(sqlite_engine, "zhao", "analyst", PW)
    now = dt.datetime.now()
    for _ in range(BACKOFF["account"].free):
        _fail(sqlite_engine, "zhao", at=now)
    assert main(["accounts", "list"]) == 0
    (line,) = [x for x in capsys.readouterr().out.splitlines() if x.startswith("zhao\t")]
    assert line.startswith("zhao\tanalyst\tenabled") and "\tblocked until " in line
    before = audit.entries(sqlite_engine, action="account").height
    assert main(["accounts", "unlock", "zhao"]) == 0
    assert accounts_store.authenticate(sqlite_engine, "zhao", PW).username == "zhao"
    rows = audit.entries(sqlite_engine, action="account")
    assert rows.height == before + 1
    row = rows.row(0, named=True)
    assert (row["username"], row["role"]) == ("os:ops-wang", "operator")
    assert json.loads(row["detail"]) == {"op": "unlock", "username": "zhao",
                                         "had_failures": True}
    assert main(["accounts", "unlock", "nobody"]) == 2


def test_admin_unlocks_an_account_in_the_app_and_it_is_audited(demo_copy_url) -> None:
    from queries.engine import make_engine
    from tests.app.conftest import page_path
    from tests.security.conftest import USERS, app_as

    eng = make_engine(demo_copy_url)
    accounts_store.create_account(eng, "qian", "leader", PW)
    for _ in range(BACKOFF["account"].free):
        _fail(eng, "qian", at=dt.datetime.now())
    at = app_as(USERS["admin"]).run()
    at.switch_page(page_path("data_admin")).run()
    assert not at.exception, [e.value for e in at.exception]
    at.selectbox(key="acc_pick").set_value("qian").run()
    unlock = at.button(key="acc_unlock")
    assert not unlock.disabled
    before = audit.entries(eng, action="account").height
    unlock.click().run()
    assert not at.exception, [e.value for e in at.exception]
    rows = audit.entries(eng, action="account")
    assert rows.height == before + 1
    row = rows.row(0, named=True)
    assert (row["username"], row["role"]) == ("t-admin", "admin")
    assert json.loads(row["detail"])["op"] == "unlock"
    assert accounts_store.authenticate(eng, "qian", PW).username == "qian"
    eng.dispose()


# --- the client key ------------------------------------------------------------------------


class _Context:
    """What `st.context` offers: the connection's address and the request headers."""

    def __init__(self, ip: str | None, forwarded: list[str]) -> None:
        self.ip_address = ip
        self.headers = self
        self._forwarded = forwarded

    def get_all(self, name: str) -> list[str]:
        assert name == "X-Forwarded-For"
        return self._forwarded


@pytest.mark.parametrize("hops, ip, forwarded, expected", [
    (0, "203.0.113.5", ["1.1.1.1"], "ip:203.0.113.5"),  # no proxy trusted: the header is ignored
    (1, None, ["9.9.9.9, 198.51.100.7"], "ip:198.51.100.7"),  # what our proxy appended
    (2, None, ["9.9.9.9", "198.51.100.7, 10.0.0.2"], "ip:198.51.100.7"),
    (1, None, [], "session:"),  # header missing: fall back, never one shared key
    (0, None, [], "session:"),  # loopback (local, or a proxy on the same host)
])
def test_client_key_trusts_only_the_configured_proxies(monkeypatch, hops, ip, forwarded,
                                                       expected) -> None:
    import dashboard.auth as auth

    ctx = _Context(ip, forwarded)
    state: dict = {}
    monkeypatch.setattr(auth.st, "context", ctx)
    monkeypatch.setattr(auth.st, "session_state", state)
    monkeypatch.setenv("XIAONENG_PROXY_HOPS", str(hops))
    key = auth.client_key()
    assert key.startswith(expected) if expected == "session:" else key == expected
    if expected == "session:":
        assert auth.client_key() == key and len(key) > len("session:") + 8  # stable, random


@pytest.mark.postgres
def test_concurrent_failures_on_postgres_are_refused_cleanly_and_end_blocked(pg_engine) -> None:
    """Eight clients fail at once on one (unknown) name: every try gets the one message — no
    unique-key error from two first failures — and they queue on the name's row, so exactly
    the free failures are counted (none lost) and the rest, blocked, are not."""
    from concurrent.futures import ThreadPoolExecutor

    def attempt(i: int) -> str:
        try:
            accounts_store.authenticate(pg_engine, "ghost", "guess", now=T0,
                                        client=f"ip:10.1.0.{i}")
        except LoginError as exc:
            return str(exc)
        return "signed in?!"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(attempt, range(24)))
    assert set(results) == {FAILED}
    acct = BACKOFF["account"]
    assert _state(pg_engine, "account:ghost") == (
        acct.free, T0 + dt.timedelta(seconds=acct.base_s))
