"""Local accounts: password hashes (argon2id), roles, unit scopes, login throttling.

Passwords are hashed with argon2id (`argon2-cffi`, its default parameters); the plain text is
never stored or logged. A failed login increments `failed_logins`; after `MAX_FAILURES` in a
row the account is locked for `LOCK_MINUTES` (recorded in the database, so a restart or a
second server does not reset it). A successful login resets the counter. An unknown username
is verified against a dummy hash so it takes as long as a wrong password.

Single sign-on users (Streamlit's OIDC `st.login`) are mapped to an account by `email`
(`user_for_identity`): an identity without an e-mail claim, with `email_verified` false, or with
no enabled account carrying that e-mail is refused (fail closed) — the identity provider proves
who someone is, the accounts table alone says what they may see.

The table joins `queries.schema.metadata` when this module is imported; migration
`0005_accounts_audit` creates it with explicit `op.create_table` calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.engine import Engine

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
    sa.Column("failed_logins", sa.Integer(), nullable=False, server_default="0"),
    sa.Column("locked_until", sa.DateTime()),
    sa.Column("created_at", sa.DateTime(), nullable=False),
    sa.Column("last_login_at", sa.DateTime()),
    comment="dashboard accounts with roles and unit scopes",
)

MAX_FAILURES = 5
LOCK_MINUTES = 15
MIN_PASSWORD = 10
MAX_FIELD = 200

_hasher = PasswordHasher()
_DUMMY = _hasher.hash("xiaoneng-dummy-password")


class LoginError(XiaonengError):
    """Wrong credentials, a locked or disabled account (the message is safe to show)."""


@dataclass(frozen=True)
class AccountRow:
    username: str
    display_name: str | None
    role: str
    regions: tuple[str, ...]
    agencies: tuple[str, ...]
    email: str | None
    disabled: bool
    failed_logins: int
    locked_until: dt.datetime | None
    created_at: dt.datetime
    last_login_at: dt.datetime | None

    def user(self, method: str = "password") -> User:
        return User(self.username, self.role, self.display_name or self.username,
                    self.regions, self.agencies, method)


def _row(r) -> AccountRow:
    return AccountRow(r.username, r.display_name, r.role, tuple(r.scope_regions or ()),
                      tuple(r.scope_agencies or ()), r.email, bool(r.disabled),
                      int(r.failed_logins or 0), r.locked_until, r.created_at, r.last_login_at)


def has_tables(engine: Engine) -> bool:
    insp = sa.inspect(engine)
    return insp.has_table("accounts") and insp.has_table("audit_log")


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
    for v in (*regions, *agencies):
        if not v or len(v) > MAX_FIELD:
            raise XiaonengError(f"invalid scope code {v!r}")


def create_account(
    engine: Engine, username: str, role: str, password: str | None = None, *,
    display_name: str | None = None, regions: Sequence[str] = (),
    agencies: Sequence[str] = (), email: str | None = None, by: str = "cli",
) -> AccountRow:
    """Create an account (audited). A unit user must have a region or agency scope."""
    regions, agencies = tuple(regions), tuple(agencies)
    _check_fields(username, role, regions, agencies)
    if password is None and email is None:
        raise XiaonengError("an account needs a password or an email for single sign-on")
    pw_hash = hash_password(password) if password is not None else None
    now = dt.datetime.now()
    with engine.begin() as conn:
        if conn.execute(sa.select(accounts.c.username)
                        .where(accounts.c.username == username)).first():
            raise XiaonengError(f"account {username!r} already exists")
        conn.execute(sa.insert(accounts).values(
            username=username, display_name=display_name, role=role,
            scope_regions=list(regions) if role == "unit" else None,
            scope_agencies=list(agencies) if role == "unit" else None,
            password_hash=pw_hash, email=email, disabled=False, failed_logins=0,
            created_at=now))
        audit.record(conn, by, "account", detail={
            "op": "create", "username": username, "role": role, "regions": list(regions),
            "agencies": list(agencies), "email": email})
    return get_account(engine, username)  # type: ignore[return-value]


def get_account(engine: Engine, username: str) -> AccountRow | None:
    with engine.connect() as conn:
        r = conn.execute(sa.select(accounts).where(accounts.c.username == username)).first()
    return _row(r) if r else None


def list_accounts(engine: Engine) -> list[AccountRow]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(accounts).order_by(accounts.c.username)).all()
    return [_row(r) for r in rows]


def count_admins(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(accounts).where(
            accounts.c.role == "admin", accounts.c.disabled.is_(False))).scalar_one())


def set_disabled(engine: Engine, username: str, disabled: bool = True, by: str = "cli") -> None:
    with engine.begin() as conn:
        n = conn.execute(sa.update(accounts).where(accounts.c.username == username)
                         .values(disabled=disabled)).rowcount
        if not n:
            raise XiaonengError(f"no account {username!r}")
        audit.record(conn, by, "account", detail={
            "op": "disable" if disabled else "enable", "username": username})


def set_password(engine: Engine, username: str, password: str, by: str = "cli") -> None:
    pw_hash = hash_password(password)
    with engine.begin() as conn:
        n = conn.execute(sa.update(accounts).where(accounts.c.username == username)
                         .values(password_hash=pw_hash, failed_logins=0, locked_until=None)
                         ).rowcount
        if not n:
            raise XiaonengError(f"no account {username!r}")
        audit.record(conn, by, "account", detail={"op": "set_password", "username": username})


def authenticate(engine: Engine, username: str, password: str,
                 now: dt.datetime | None = None) -> User:
    """The user for valid credentials; LoginError otherwise (every attempt is audited).

    Throttling: `MAX_FAILURES` failures in a row lock the account for `LOCK_MINUTES`; while
    locked even the right password is refused.
    """
    now = now or dt.datetime.now()
    username = (username or "").strip()[:64]
    password = (password or "")[:1024]
    error: LoginError | None = None
    user: User | None = None
    with engine.begin() as conn:  # the failure count and the audit row commit even on failure
        r = conn.execute(sa.select(accounts).where(accounts.c.username == username)
                         .with_for_update()).first()
        acc = _row(r) if r is not None else None
        if acc is None:
            _verify(_DUMMY, password)  # same time as a wrong password
            audit.record(conn, username or "-", "login_failed", detail={"reason": "unknown"})
            error = LoginError("用户名或密码错误 / wrong username or password")
        elif acc.disabled:
            audit.record(conn, username, "login_failed", role=acc.role,
                         detail={"reason": "disabled"})
            error = LoginError("账号已停用 / account disabled")
        elif acc.locked_until is not None and acc.locked_until > now:
            audit.record(conn, username, "login_failed", role=acc.role,
                         detail={"reason": "locked", "until": acc.locked_until})
            error = LoginError(f"登录失败次数过多，账号锁定至 {acc.locked_until:%H:%M} / "
                               f"too many failures: locked until {acc.locked_until:%H:%M}")
        elif r.password_hash is None or not _verify(r.password_hash, password):
            failures = acc.failed_logins + 1
            values: dict = {"failed_logins": failures}
            if failures >= MAX_FAILURES:
                values = {"failed_logins": 0,
                          "locked_until": now + dt.timedelta(minutes=LOCK_MINUTES)}
            conn.execute(sa.update(accounts).where(accounts.c.username == username)
                         .values(**values))
            audit.record(conn, username, "login_failed", role=acc.role,
                         detail={"reason": "password", "failures": failures,
                                 "locked": failures >= MAX_FAILURES})
            error = LoginError("用户名或密码错误 / wrong username or password")
        else:
            conn.execute(sa.update(accounts).where(accounts.c.username == username).values(
                failed_logins=0, locked_until=None, last_login_at=now))
            user = acc.user("password")
            audit.record(conn, username, "login", role=acc.role, scope=user.scope_label,
                         detail={"method": "password"})
    if error is not None or user is None:
        raise error or LoginError("login failed")
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
    if r is None or r.disabled:
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
    """Re-read a signed-in user's account: None when it was disabled or deleted since.

    Demo and test users have no account row and are returned as they are.
    """
    if user.method in ("demo", "test"):
        return user
    acc = get_account(engine, user.username)
    if acc is None or acc.disabled:
        return None
    return acc.user(user.method)
