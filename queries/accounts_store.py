"""Local accounts: password hashes (argon2id), roles, scopes, demo accounts, sign-in back-off.

Passwords are hashed with argon2id (`argon2-cffi`, its default parameters); the plain text is
never stored or logged.

Sign-in failures are uniform (`authenticate`): an unknown name, a wrong password, a disabled
account, a demo account outside demo mode and a backed-off account or client all get the same
message (`FAILED`) through the same path — one argon2 verification (against the account's hash
or a dummy one), the same reads and writes of `login_throttle`, one audit row — so neither the
answer nor its timing tells whether an account exists or why it was refused. The reason is in
the audit log only.

Back-off (`login_throttle`, in the database so a restart or a second server does not reset
it) is kept per account name — known or not, so probing names learns nothing — and per client
(an address the caller supplies, see `dashboard.auth.client_key`). After `FREE_FAILURES` of a
key in a row, each further failure blocks that key for `base · 2^(n − free)`, capped; attempts
while blocked are refused without being counted, so a third party cannot renew or extend a
block by hammering it: the only way to a longer block is one more failure after the current
one ended, and the attacker's own client backs off much longer (`BACKOFF["client"]`). A
success clears the account's and the client's counters; `unlock` (admin, audited) clears an
account's. A quiet day (`RESET_AFTER`) forgets old failures.

Demo accounts (`demo` flag: the published demo password) exist only in a database created by
the demo command (`mark_demo_database`, `xiaoneng init-db --demo`) and are refused unless the
server runs with XIAONENG_DEMO=1 (`demo_mode`).

Single sign-on users (Streamlit's OIDC `st.login`) are mapped to an account by `email`
(`user_for_identity`): an identity without an e-mail claim, with `email_verified` false, or with
no enabled account carrying that e-mail is refused (fail closed) — the identity provider proves
who someone is, the accounts table alone says what they may see.

The tables join `queries.schema.metadata` when this module is imported; migrations
`0005_accounts_audit` and `0010_signin_backoff_demo_flag` create them.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Connection, Engine

from queries import audit
from queries.errors import XiaonengError
from queries.schema import metadata
from xiaoneng.authz import ROLES, User

accounts = sa.Table(
    "accounts", metadata,
    sa.Column("username", sa.String(64), primary_key=True),
    sa.Column("display_name", sa.String(200)),
    sa.Column("role", sa.String(16), nullable=False,
              comment="leader / supervisor / analyst / unit / admin"),
    sa.Column("scope_regions", sa.JSON(), comment="unit users: region codes (whole subtrees)"),
    sa.Column("scope_agencies", sa.JSON(), comment="unit users: agency codes"),
    sa.Column("password_hash", sa.Text(), comment="argon2id; null for single-sign-on only"),
    sa.Column("email", sa.String(200), unique=True, comment="identity for single sign-on"),
    sa.Column("disabled", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("last_login_at", sa.DateTime()),
    sa.Column("demo", sa.Boolean(), nullable=False, server_default=sa.false(),
              comment="demo account (published password): refused unless XIAONENG_DEMO=1"),
    comment="dashboard accounts with roles and unit scopes",
)

login_throttle = sa.Table(
    "login_throttle", metadata,
    sa.Column("key", sa.String(300), primary_key=True, comment="account:NAME or client:ADDRESS"),
    sa.Column("failures", sa.Integer(), nullable=False, server_default="0",
              comment="failed sign-ins in a row"),
    sa.Column("blocked_until", sa.DateTime()),
    sa.Column("last_failure_at", sa.DateTime()),
    comment="sign-in back-off per account name and per client",
)

database_flags = sa.Table(
    "database_flags", metadata,
    sa.Column("name", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text()),
    sa.Column("set_at", sa.DateTime(), nullable=False),
    comment="facts about this database (demo: created by the demo command)",
)

MIN_PASSWORD = 10
MAX_FIELD = 200
DEMO_PASSWORD = "xiaoneng-demo"  # published: shown on the login page of a demo server


@dataclass(frozen=True)
class Backoff:
    """Free failures in a row, then a block of `base · 2^(n − free)` seconds up to `cap`."""

    free: int
    base_s: float
    cap_s: float

    def block(self, failures: int) -> dt.timedelta | None:
        if failures < self.free:
            return None
        return dt.timedelta(seconds=min(self.base_s * 2 ** min(failures - self.free, 30),
                                        self.cap_s))


# An account name: 5 free, then 30 s, 1 min, 2 min … at most 15 min per further failure.
# A client: 10 free (an office behind one address), then 1 min doubling up to a day, so one
# client cannot keep an account blocked: its own waits outgrow the account's.
BACKOFF: dict[str, Backoff] = {
    "account": Backoff(free=5, base_s=30, cap_s=15 * 60),
    "client": Backoff(free=10, base_s=60, cap_s=24 * 3600),
}
MAX_FAILURES = BACKOFF["account"].free  # failures in a row before an account name backs off
RESET_AFTER = dt.timedelta(hours=24)  # failures older than this (and no block) are forgotten

FAILED = "用户名或密码错误，或账号暂不可用 / sign-in failed: wrong username or password, or the " \
         "account cannot sign in now"

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("xiaoneng-dummy-password")


class LoginError(XiaonengError):
    """A refused sign-in: always the same message (`FAILED`), whatever the reason."""


def demo_mode() -> bool:
    """The server runs as a demo (`XIAONENG_DEMO=1`): only then may demo accounts sign in."""
    return os.environ.get("XIAONENG_DEMO", "").strip() == "1"


@dataclass(frozen=True)
class AccountRow:
    username: str
    display_name: str | None
    role: str
    regions: tuple[str, ...]
    agencies: tuple[str, ...]
    email: str | None
    disabled: bool
    failed_logins: int  # failures in a row of this account name (login_throttle)
    locked_until: dt.datetime | None  # end of the current back-off block, if any
    created_at: dt.datetime
    last_login_at: dt.datetime | None
    demo: bool = False

    def user(self, method: str = "password") -> User:
        return User(self.username, self.role, self.display_name or self.username,
                    self.regions, self.agencies, method)

    @property
    def usable(self) -> bool:
        """May sign in at all (enabled; a demo account only on a demo server)."""
        return not self.disabled and (not self.demo or demo_mode())


def _row(r, throttle: Any = None) -> AccountRow:
    return AccountRow(r.username, r.display_name, r.role, tuple(r.scope_regions or ()),
                      tuple(r.scope_agencies or ()), r.email, bool(r.disabled),
                      int(throttle.failures or 0) if throttle is not None else 0,
                      throttle.blocked_until if throttle is not None else None,
                      r.created_at, r.last_login_at, bool(r.demo))


def account_key(username: str) -> str:
    return f"account:{username}"[:300]


def client_key(client: str) -> str:
    return f"client:{client}"[:300]


def _accounts_query() -> sa.Select:
    """Accounts with their name's back-off state (an outer join on login_throttle)."""
    t = login_throttle
    return (sa.select(accounts, t.c.failures, t.c.blocked_until)
            .select_from(accounts.outerjoin(
                t, t.c.key == sa.literal("account:") + accounts.c.username)))


def _joined(r) -> AccountRow:
    return _row(r, r if r.failures is not None else None)


def has_tables(engine: Engine) -> bool:
    """The account, audit and back-off tables exist (else the app asks for `init-db`)."""
    insp = sa.inspect(engine)
    return all(insp.has_table(t) for t in ("accounts", "audit_log", "login_throttle"))


def hash_password(password: str) -> str:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD:
        raise XiaonengError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > 1024:
        raise XiaonengError("a password may have at most 1024 characters")
    return _hasher.hash(password)


def _check_fields(username: str, role: str, regions: Sequence[str], agencies: Sequence[str]
                  ) -> None:
    if not username or len(username) > 64 or not all(c.isalnum() or c in "._-@" for c in username):
        raise XiaonengError("a username is 1–64 letters, digits or . _ - @")
    if role not in ROLES:
        raise XiaonengError(f"role must be one of {', '.join(ROLES)}, got {role!r}")
    if role == "unit" and not regions and not agencies:
        raise XiaonengError("a unit user needs a scope: --regions and/or --agencies")
    if role == "supervisor" and agencies:
        raise XiaonengError("a county supervisor's scope is region codes (--regions), "
                            "not agencies")
    if role not in ("unit", "supervisor") and (regions or agencies):
        raise XiaonengError(f"a {role} account takes no scope (unit users and county "
                            "supervisors do)")
    for v in (*regions, *agencies):
        if not v or len(v) > MAX_FIELD:
            raise XiaonengError(f"invalid scope code {v!r}")


def create_account(
    engine: Engine, username: str, role: str, password: str | None = None, *,
    display_name: str | None = None, regions: Sequence[str] = (),
    agencies: Sequence[str] = (), email: str | None = None, by: str = "cli",
    by_role: str | None = None, demo: bool = False,
) -> AccountRow:
    """Create an account (audited as `by`).

    A unit user must have a region or agency scope; a supervisor may have regions (a county
    supervision office: it publishes only those counties' bulletins). A demo account (the
    published password) is refused unless the database was created by the demo command.
    """
    regions, agencies = tuple(regions), tuple(agencies)
    _check_fields(username, role, regions, agencies)
    if password is None and email is None:
        raise XiaonengError("an account needs a password or an email for single sign-on")
    if demo and not is_demo_database(engine):
        raise XiaonengError("demo accounts exist only in a database created by the demo "
                            "command (scripts/demo.sh: xiaoneng init-db --demo)")
    pw_hash = hash_password(password) if password is not None else None
    now = dt.datetime.now()
    with engine.begin() as conn:
        if conn.execute(sa.select(accounts.c.username)
                        .where(accounts.c.username == username)).first():
            raise XiaonengError(f"account {username!r} already exists")
        conn.execute(sa.insert(accounts).values(
            username=username, display_name=display_name, role=role,
            scope_regions=list(regions) if role in ("unit", "supervisor") and regions else None,
            scope_agencies=list(agencies) if role == "unit" and agencies else None,
            password_hash=pw_hash, email=email, disabled=False, demo=demo, created_at=now))
        audit.record(conn, by, "account", role=by_role, detail={
            "op": "create", "username": username, "role": role, "regions": list(regions),
            "agencies": list(agencies), "email": email, "demo": demo})
    return get_account(engine, username)  # type: ignore[return-value]


def get_account(engine: Engine, username: str) -> AccountRow | None:
    with engine.connect() as conn:
        r = conn.execute(_accounts_query().where(accounts.c.username == username)).first()
    return _joined(r) if r else None


def list_accounts(engine: Engine) -> list[AccountRow]:
    with engine.connect() as conn:
        rows = conn.execute(_accounts_query().order_by(accounts.c.username)).all()
    return [_joined(r) for r in rows]


def count_admins(engine: Engine) -> int:
    """Enabled administrators that are not demo accounts (a demo admin administers nothing
    on a real server: it cannot sign in there)."""
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(accounts).where(
            accounts.c.role == "admin", accounts.c.disabled.is_(False),
            accounts.c.demo.is_(False))).scalar_one())


def set_disabled(engine: Engine, username: str, disabled: bool = True, by: str = "cli",
                 by_role: str | None = None) -> None:
    with engine.begin() as conn:
        n = conn.execute(sa.update(accounts).where(accounts.c.username == username)
                         .values(disabled=disabled)).rowcount
        if not n:
            raise XiaonengError(f"no account {username!r}")
        audit.record(conn, by, "account", role=by_role, detail={
            "op": "disable" if disabled else "enable", "username": username})


def disable_demo_accounts(engine: Engine, by: str = "cli", by_role: str | None = None
                          ) -> list[str]:
    """Disable every enabled demo account (one audit row each); their names."""
    names = [a.username for a in list_accounts(engine) if a.demo and not a.disabled]
    for name in names:
        set_disabled(engine, name, True, by=by, by_role=by_role)
    return names


def set_password(engine: Engine, username: str, password: str, by: str = "cli",
                 by_role: str | None = None) -> None:
    """A new password (which also ends a demo account's demo status, and any back-off)."""
    pw_hash = hash_password(password)
    with engine.begin() as conn:
        n = conn.execute(sa.update(accounts).where(accounts.c.username == username)
                         .values(password_hash=pw_hash, demo=False)).rowcount
        if not n:
            raise XiaonengError(f"no account {username!r}")
        conn.execute(sa.delete(login_throttle)
                     .where(login_throttle.c.key == account_key(username)))
        audit.record(conn, by, "account", role=by_role,
                     detail={"op": "set_password", "username": username})


def unlock(engine: Engine, username: str, by: str = "cli", by_role: str | None = None) -> bool:
    """End an account name's back-off and forget its failures (audited); False: none to end."""
    with engine.begin() as conn:
        if conn.execute(sa.select(accounts.c.username)
                        .where(accounts.c.username == username)).first() is None:
            raise XiaonengError(f"no account {username!r}")
        n = conn.execute(sa.delete(login_throttle)
                         .where(login_throttle.c.key == account_key(username))).rowcount
        audit.record(conn, by, "account", role=by_role,
                     detail={"op": "unlock", "username": username, "had_failures": bool(n)})
    return bool(n)


# --- the demo database ---------------------------------------------------------------------


def is_demo_database(engine: Engine) -> bool:
    """True for a database created by the demo command (the only kind with demo accounts)."""
    with engine.connect() as conn:
        return conn.execute(sa.select(database_flags.c.value)
                            .where(database_flags.c.name == "demo")).scalar() == "1"


def mark_demo_database(engine: Engine) -> None:
    with engine.begin() as conn:
        conn.execute(sa.delete(database_flags).where(database_flags.c.name == "demo"))
        conn.execute(sa.insert(database_flags).values(name="demo", value="1",
                                                      set_at=dt.datetime.now()))


# --- sign-in -------------------------------------------------------------------------------


@dataclass
class _Key:
    """One back-off key as read at the start of a sign-in (and its new state)."""

    key: str
    kind: str
    failures: int = 0
    blocked_until: dt.datetime | None = None
    last_failure_at: dt.datetime | None = None

    def blocked(self, now: dt.datetime) -> bool:
        return self.blocked_until is not None and self.blocked_until > now

    def forget_if_stale(self, now: dt.datetime) -> None:
        if not self.blocked(now) and self.last_failure_at is not None \
                and now - self.last_failure_at > RESET_AFTER:
            self.failures, self.blocked_until = 0, None

    def fail(self, now: dt.datetime) -> None:
        """Count a failure; a block starts when the back-off says so (never while blocked)."""
        self.failures += 1
        self.last_failure_at = now
        block = BACKOFF[self.kind].block(self.failures)
        self.blocked_until = now + block if block is not None else None


def _read_keys(conn: Connection, keys: Sequence[tuple[str, str]], now: dt.datetime
               ) -> list[_Key]:
    """Each key's state, its row locked until the transaction ends.

    The row is created first if it is missing (a savepoint absorbs a concurrent creator), so
    the SELECT … FOR UPDATE always has a row to lock: concurrent sign-ins on one name or client
    queue on it instead of both counting from zero (a lost failure).
    """
    t = login_throttle
    for key, _ in keys:
        try:
            with conn.begin_nested():
                conn.execute(sa.insert(t).values(key=key, failures=0))
        except sa.exc.IntegrityError:
            pass  # it exists (or another sign-in just made it): lock it below
    found = {r.key: r for r in conn.execute(
        sa.select(t).where(t.c.key.in_([k for k, _ in keys])).with_for_update())}
    out = []
    for key, kind in keys:
        r = found[key]
        k = _Key(key, kind, int(r.failures), r.blocked_until, r.last_failure_at)
        k.forget_if_stale(now)
        out.append(k)
    return out


def _write_keys(conn: Connection, keys: Sequence[_Key], now: dt.datetime) -> None:
    """Store each key's state (the same statements on every failure path, for uniform time)."""
    t = login_throttle
    for k in keys:
        conn.execute(sa.update(t).where(t.c.key == k.key).values(
            failures=k.failures, blocked_until=k.blocked_until,
            last_failure_at=k.last_failure_at))
    conn.execute(sa.delete(t).where(  # forget stale keys (bounded table, same cost each time)
        t.c.last_failure_at < now - RESET_AFTER,
        sa.or_(t.c.blocked_until.is_(None), t.c.blocked_until < now)))


def authenticate(engine: Engine, username: str, password: str,
                 now: dt.datetime | None = None, client: str | None = None) -> User:
    """The user for valid credentials; LoginError(FAILED) otherwise. Every attempt is audited.

    `client` identifies where the attempt comes from (an address, else a session): its own
    back-off key. One path for every refusal (see the module docstring): exactly one argon2
    verification, the same throttle reads and writes, one audit row, the same message.
    """
    now = now or dt.datetime.now()
    username = (username or "").strip()[:64]
    password = (password or "")[:1024]
    user: User | None = None
    with engine.begin() as conn:  # the back-off state and the audit row commit on failure too
        r = conn.execute(sa.select(accounts).where(accounts.c.username == username)
                         .with_for_update()).first()
        acc = _row(r) if r is not None else None
        spec = [(account_key(username), "account")]
        if client:
            spec.append((client_key(client), "client"))
        keys = _read_keys(conn, spec, now)
        pw_hash = r.password_hash if r is not None and r.password_hash else _DUMMY
        password_ok = _verify(pw_hash, password) and r is not None and r.password_hash is not None
        blocked = [k.kind for k in keys if k.blocked(now)]
        reason = ("blocked" if blocked else "unknown" if acc is None
                  else "disabled" if acc.disabled
                  else "demo" if acc.demo and not demo_mode()
                  else None if password_ok else "password")
        detail: dict[str, Any] = {"method": "password", "client": client}
        if reason is None:  # success: the account's and the client's failures are forgotten
            assert acc is not None
            conn.execute(sa.delete(login_throttle)
                         .where(login_throttle.c.key.in_([k.key for k in keys])))
            conn.execute(sa.update(accounts).where(accounts.c.username == username)
                         .values(last_login_at=now))
            user = acc.user("password")
        else:
            if reason != "blocked":  # a blocked attempt is not counted: nothing renews a block
                for k in keys:
                    k.fail(now)
            _write_keys(conn, keys, now)
        if user is not None:
            audit.record(conn, username, "login", role=user.role, scope=user.scope_label,
                         detail=detail)
        else:
            detail.update(reason=reason, blocked=blocked or None,
                          failures={k.kind: k.failures for k in keys},
                          blocked_until={k.kind: k.blocked_until for k in keys
                                         if k.blocked_until is not None} or None)
            audit.record(conn, username or "-", "login_failed",
                         role=acc.role if acc is not None else None, detail=detail)
    if user is None:
        raise LoginError(FAILED)
    return user


def _verify(pw_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(pw_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def user_for_email(engine: Engine, email: str) -> User | None:
    """The enabled account mapped to a single-sign-on identity (None: refuse)."""
    if not email:
        return None
    with engine.connect() as conn:
        r = conn.execute(sa.select(accounts).where(
            sa.func.lower(accounts.c.email) == email.strip().lower()[:MAX_FIELD])).first()
    if r is None or not _row(r).usable:
        return None
    return _row(r).user("sso")


def user_for_identity(engine: Engine, claims: Mapping[str, Any]) -> tuple[User | None, str]:
    """Map an OIDC identity (the claims of `st.user`) to a local account: (user, "") or
    (None, reason) where reason is one of no_email / email_unverified / unmapped.

    Why e-mail and not `sub`: accounts are created before their owner first signs in, and the
    administrator knows the e-mail, not the provider's opaque subject id. An unverified e-mail
    proves nothing, so `email_verified: false` is refused; a provider that omits the claim
    (some do for their own directory) is trusted for its own addresses.
    """
    email = str(claims.get("email") or "").strip()
    if not email:
        return None, "no_email"
    if claims.get("email_verified") in (False, "false", "False", 0):
        return None, "email_unverified"
    user = user_for_email(engine, email)
    return (user, "") if user is not None else (None, "unmapped")


def current_user(engine: Engine, user: User) -> User | None:
    """Re-read a signed-in user's account: None when it was disabled or deleted since (or is a
    demo account and the server no longer runs as a demo).

    The demo visitor and test users have no account row and are returned as they are.
    """
    if user.method in ("demo", "test"):
        return user
    acc = get_account(engine, user.username)
    if acc is None or not acc.usable:
        return None
    return acc.user(user.method)
