"""Sign-in for the dashboard: the login page, session expiry, single sign-on, the demo user.

The signed-in user lives in Session State (`USER_KEY`, a frozen `xiaoneng.authz.User`). It is
set only by this module — after `accounts_store.authenticate` accepted a password, after an
OIDC identity (`st.login`) mapped to an enabled account, or for the demo user when the server
was started with `XIAONENG_DEMO=1` — never from the URL (no widget has that key). Tests put a
user there through AppTest's session state, which a browser cannot reach.

Session expiry: a session idle for longer than `XIAONENG_SESSION_IDLE_MIN` minutes (default 30)
or older than `XIAONENG_SESSION_MAX_HOURS` hours (default 12) is signed out. The account is
re-read every minute, so disabling an account or changing a role takes effect in open sessions.

Sign-in failures all read the same (`accounts_store.FAILED`) and take the same time; the
back-off is kept per account name and per client (`client_key`: the address of the connection,
or behind a reverse proxy the address it forwards when `XIAONENG_PROXY_HOPS` says how many
proxies to trust; else this browser session).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import secrets

import streamlit as st

from dashboard.state import current_lang, engine
from queries import accounts_store, audit
from queries.errors import XiaonengError
from xiaoneng.authz import ROLE_LABELS, ROLES, User

USER_KEY = "_xn_user"
SEEN_KEY = "_xn_seen"
LOGIN_AT_KEY = "_xn_login_at"
CHECKED_KEY = "_xn_user_checked"
LOGGED_OUT_KEY = "_xn_logged_out"
NOTICE_KEY = "_xn_auth_notice"
SSO_REFUSED_KEY = "_xn_sso_refused"  # (email, reason) of the refusal already audited
CLIENT_KEY = "_xn_client"  # this session's random id, the client key of last resort
RECHECK_S = 60


def demo_user() -> User:
    """The user a demo server signs every session in as (`XIAONENG_DEMO=1`).

    The role is `XIAONENG_DEMO_ROLE` (default leader; a unit role is not offered, it needs a
    scope). Never set XIAONENG_DEMO on a server with real data: every visitor is signed in.
    """
    role = os.environ.get("XIAONENG_DEMO_ROLE", "leader").strip()
    if role not in ROLES or role == "unit":
        role = "leader"
    return User("demo", role, f"演示用户（{ROLE_LABELS[role][0]}）", method="demo")

L = {
    "login": ("登录", "Sign in"), "username": ("用户名", "Username"),
    "password": ("密码", "Password"), "submit": ("登录", "Sign in"),
    "sso": ("单点登录", "Single sign-on"), "logout": ("退出登录", "Sign out"),
    "expired": ("会话已过期，请重新登录。", "Your session expired; please sign in again."),
    "no_account": ("该统一身份（{email}）未获授权：没有对应的启用账号或邮箱未经验证，请联系管理员。",
                   "The identity {email} is not authorised: no enabled account carries this "
                   "verified e-mail; ask an administrator."),
    "no_tables": ("数据库缺少账号表：请运行 `xiaoneng init-db` 升级数据库。",
                  "The database has no account tables: run `xiaoneng init-db` to upgrade it."),
    "no_admin": ("尚无账号：请在服务器上运行 `xiaoneng accounts create-admin 用户名` 创建第一个管理员。",
                 "No accounts yet: run `xiaoneng accounts create-admin NAME` on the server."),
    "demo": ("演示账号（密码均为 `{pw}`）：{names}", "Demo accounts (password `{pw}`): {names}"),
    "signed_in": ("当前用户：{name}（{role}）", "Signed in: {name} ({role})"),
    "disabled": ("账号已停用或已删除，请重新登录。", "Your account was disabled; sign in again."),
    "failed": ("登录失败：用户名或密码错误，或账号暂不可用。请稍后再试或联系管理员。",
               "Sign-in failed: wrong username or password, or the account cannot sign in "
               "now. Try again later or ask an administrator."),
}


def s(key: str, **fmt: object) -> str:
    text = L[key][0 if current_lang() == "zh" else 1]
    return text.format(**fmt) if fmt else text


def _minutes(name: str, default: float) -> float:
    try:
        return float(os.environ.get(name, default))
    except ValueError:
        return default


def idle_limit() -> dt.timedelta:
    return dt.timedelta(minutes=_minutes("XIAONENG_SESSION_IDLE_MIN", 30))


def max_age() -> dt.timedelta:
    return dt.timedelta(hours=_minutes("XIAONENG_SESSION_MAX_HOURS", 12))


def demo_mode() -> bool:
    return accounts_store.demo_mode()


def proxy_hops() -> int:
    """How many reverse proxies in front of the app append to X-Forwarded-For (default 0)."""
    try:
        return max(0, int(os.environ.get("XIAONENG_PROXY_HOPS", "0") or 0))
    except ValueError:
        return 0


def client_key() -> str:
    """Where this sign-in comes from, for the per-client back-off.

    With `XIAONENG_PROXY_HOPS=N` the N-th address from the right of X-Forwarded-For (the one
    the outermost trusted proxy saw; what a client writes further left is ignored); else the
    connection's address; on a loopback connection (local use, or an unconfigured proxy on the
    same host) this browser session's random id — never one key shared by every visitor.
    """
    hops = proxy_hops()
    if hops:
        try:
            values = st.context.headers.get_all("X-Forwarded-For")
        except Exception:  # no request context (tests)
            values = []
        chain = [h.strip() for v in values for h in v.split(",") if h.strip()]
        if len(chain) >= hops:
            return f"ip:{chain[-hops]}"[:200]
    try:
        ip = st.context.ip_address
    except Exception:
        ip = None
    if ip:
        return f"ip:{ip}"[:200]
    if CLIENT_KEY not in st.session_state:
        st.session_state[CLIENT_KEY] = secrets.token_hex(8)
    return f"session:{st.session_state[CLIENT_KEY]}"


def current_user() -> User | None:
    """The signed-in user of this session (None: nobody; every read then shows nothing)."""
    user = st.session_state.get(USER_KEY)
    return user if isinstance(user, User) else None


def sign_in(user: User) -> None:
    now = dt.datetime.now()
    st.session_state[USER_KEY] = user
    st.session_state[SEEN_KEY] = now
    st.session_state[LOGIN_AT_KEY] = now
    st.session_state[CHECKED_KEY] = now
    st.session_state.pop(LOGGED_OUT_KEY, None)


def sign_out(reason: str | None = None) -> None:
    user = current_user()
    if user is not None and reason is None:
        with contextlib.suppress(Exception):  # signing out works even without the database
            audit.record(engine(), user.username, "logout", role=user.role,
                         scope=user.scope_label)
    for key in (USER_KEY, SEEN_KEY, LOGIN_AT_KEY, CHECKED_KEY):
        st.session_state.pop(key, None)
    st.session_state[LOGGED_OUT_KEY] = True
    if reason:
        st.session_state[NOTICE_KEY] = reason


def _still_valid(user: User, now: dt.datetime) -> bool:
    seen = st.session_state.get(SEEN_KEY) or now
    started = st.session_state.get(LOGIN_AT_KEY) or now
    if now - seen > idle_limit() or now - started > max_age():
        sign_out("expired")
        return False
    checked = st.session_state.get(CHECKED_KEY)
    if checked is None or (now - checked).total_seconds() > RECHECK_S:
        fresh = accounts_store.current_user(engine(), user)
        if fresh is None:
            sign_out("disabled")
            return False
        st.session_state[USER_KEY] = fresh
        st.session_state[CHECKED_KEY] = now
    st.session_state[SEEN_KEY] = now
    return True


def _sso_configured() -> bool:
    try:
        return "auth" in st.secrets
    except Exception:  # no secrets file at all
        return False


def _claims() -> dict:
    """The OIDC identity of this browser (`st.user`), or {} when nobody signed in by SSO."""
    try:
        if not bool(getattr(st.user, "is_logged_in", False)):
            return {}
        return dict(st.user.to_dict())
    except Exception:  # no identity cookie / no auth configured
        return {}


def _sso_user() -> User | None:
    """The account of a single-sign-on identity (st.login), or None.

    The identity is mapped by `accounts_store.user_for_identity` (verified e-mail → enabled
    account); anything else is refused and the page stops (fail closed). A refusal is audited
    once per session and identity, not on every rerun.
    """
    if not _sso_configured():
        return None
    claims = _claims()
    if not claims:
        return None
    email = str(claims.get("email") or "")
    ident = {"email": email or None, "sub": str(claims.get("sub") or "")[:200] or None,
             "iss": str(claims.get("iss") or "")[:200] or None}
    user, reason = accounts_store.user_for_identity(engine(), claims)
    if user is None:
        if st.session_state.get(SSO_REFUSED_KEY) != (email, reason):
            audit.record(engine(), email or "-", "login_failed",
                         detail={"method": "sso", "reason": f"sso_{reason}", **ident})
            st.session_state[SSO_REFUSED_KEY] = (email, reason)
        st.error(s("no_account", email=email or "?"))
        if st.button(s("logout"), key="sso_logout"):
            st.session_state.pop(SSO_REFUSED_KEY, None)
            st.logout()
        st.stop()
    audit.record(engine(), user.username, "login", role=user.role, scope=user.scope_label,
                 detail={"method": "sso", **ident})
    st.session_state.pop(SSO_REFUSED_KEY, None)
    return user


def gate() -> User | None:
    """The signed-in user; otherwise draw the login page and return None (the shell stops)."""
    if not accounts_store.has_tables(engine()):
        st.error(s("no_tables"))
        return None
    now = dt.datetime.now()
    user = current_user()
    if user is not None and _still_valid(user, now):
        return user
    if demo_mode() and not st.session_state.get(LOGGED_OUT_KEY):
        demo = demo_user()
        sign_in(demo)
        audit.record(engine(), demo.username, "login", role=demo.role,
                     scope=demo.scope_label, detail={"method": "demo"})
        return demo
    if not st.session_state.get(LOGGED_OUT_KEY):
        sso = _sso_user()
        if sso is not None:
            sign_in(sso)
            return sso
    login_page()
    return None


def login_page() -> None:
    st.title(s("login"))
    notice = st.session_state.pop(NOTICE_KEY, None)
    if notice in ("expired", "disabled"):
        st.warning(s(notice))
    if not accounts_store.list_accounts(engine()):
        st.info(s("no_admin"))
    with st.form("login_form", clear_on_submit=False):
        username = st.text_input(s("username"), max_chars=64, key="login_username")
        password = st.text_input(s("password"), type="password", max_chars=1024,
                                 key="login_password")
        submitted = st.form_submit_button(s("submit"), type="primary")
    if submitted:
        try:
            user = accounts_store.authenticate(engine(), username, password,
                                               client=client_key())
        except accounts_store.LoginError:
            st.error(s("failed"))
        except XiaonengError as exc:
            st.error(str(exc))
        else:
            sign_in(user)
            st.rerun()
    if _sso_configured() and st.button(s("sso"), icon=":material/login:", key="sso_login"):
        st.session_state.pop(LOGGED_OUT_KEY, None)
        st.login()
    if demo_mode():
        names = ", ".join(f"`{a.username}` ({role_label(a.role)})"
                          for a in accounts_store.list_accounts(engine())
                          if a.demo and not a.disabled)
        if names:
            st.caption(s("demo", pw=accounts_store.DEMO_PASSWORD, names=names))


def role_label(role: str) -> str:
    zh, en = ROLE_LABELS.get(role, (role, role))
    return zh if current_lang() == "zh" else en


def user_box(user: User) -> None:
    """Sidebar: who is signed in, and a sign-out button."""
    st.caption(s("signed_in", name=user.display_name or user.username, role=role_label(user.role)))
    if st.button(s("logout"), icon=":material/logout:", key="logout_btn", width="stretch"):
        was_sso = user.method == "sso"
        sign_out()
        if was_sso:
            st.logout()
        st.rerun()
