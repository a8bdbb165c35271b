"""Single sign-on (Streamlit OIDC, st.login): an identity maps to a local account by verified
e-mail and gets that account's role and scope; anything else is refused and audited."""

from __future__ import annotations

import pytest

from queries import accounts_store, audit
from tests.security.conftest import COUNTY_A, app_as

AUTH = {"redirect_uri": "http://localhost:8501/oauth2callback",
        "cookie_secret": "test-only-cookie-secret", "client_id": "xiaoneng",
        "client_secret": "test-only", "server_metadata_url":
            "https://sso.example.gov.cn/.well-known/openid-configuration"}


def _erin(engine) -> None:
    accounts_store.create_account(engine, "erin", "unit", None, regions=[COUNTY_A],
                                  email="Erin@Example.gov.cn")


def test_a_verified_identity_gets_its_accounts_role_and_scope(sqlite_engine) -> None:
    _erin(sqlite_engine)
    user, reason = accounts_store.user_for_identity(
        sqlite_engine, {"email": "erin@example.gov.cn", "email_verified": True, "sub": "x1"})
    assert reason == "" and user is not None
    assert (user.username, user.role, user.regions, user.method) == (
        "erin", "unit", (COUNTY_A,), "sso")
    # a provider that does not send email_verified is trusted for its own addresses
    assert accounts_store.user_for_identity(sqlite_engine, {"email": "ERIN@example.gov.cn"}
                                            )[0] == user


@pytest.mark.parametrize("claims, reason", [
    ({"email": "mallory@example.gov.cn", "email_verified": True}, "unmapped"),
    ({"email": "erin@example.gov.cn", "email_verified": False}, "email_unverified"),
    ({"email": "erin@example.gov.cn", "email_verified": "false"}, "email_unverified"),
    ({"sub": "only-a-subject"}, "no_email"),
    ({"email": "  "}, "no_email"),
    ({"email": "erin@example.gov.cn' OR '1'='1"}, "unmapped"),
])
def test_other_identities_are_refused(sqlite_engine, claims, reason) -> None:
    _erin(sqlite_engine)
    assert accounts_store.user_for_identity(sqlite_engine, claims) == (None, reason)


def test_a_disabled_account_refuses_its_identity(sqlite_engine) -> None:
    _erin(sqlite_engine)
    accounts_store.set_disabled(sqlite_engine, "erin")
    assert accounts_store.user_for_identity(
        sqlite_engine, {"email": "erin@example.gov.cn"}) == (None, "unmapped")


def _app(user_claims: dict | None):
    at = app_as(None)
    at.secrets["auth"] = AUTH
    if user_claims is not None:
        at.user = user_claims
    return at


def _engine(url):
    from queries.engine import make_engine

    return make_engine(url)


@pytest.fixture
def sso_db(demo_copy_url):
    """A private copy of the demo database with an SSO-only unit account."""
    from dashboard import data

    engine = _engine(demo_copy_url)
    _erin(engine)
    data.invalidate()
    yield engine
    engine.dispose()


def test_login_page_offers_sso_when_auth_is_configured(sso_db) -> None:
    at = _app({"is_logged_in": False})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert any(b.key == "sso_login" for b in at.button)
    plain = app_as(None)  # no [auth] section: no SSO button
    plain.run()
    assert not any(b.key == "sso_login" for b in plain.button)


def test_sso_identity_signs_in_with_the_accounts_role_and_scope(sso_db) -> None:
    from dashboard.auth import USER_KEY

    at = _app({"is_logged_in": True, "email": "erin@example.gov.cn", "email_verified": True,
               "sub": "idp-123", "iss": "https://sso.example.gov.cn"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    user = at.session_state[USER_KEY]
    assert (user.username, user.role, user.regions, user.method) == (
        "erin", "unit", (COUNTY_A,), "sso")
    assert at.title and at.title[0].value == "总览"
    row = audit.entries(sso_db, 1, action="login").row(0, named=True)
    assert row["username"] == "erin" and row["scope"] == f"region:{COUNTY_A}"
    assert '"sub": "idp-123"' in row["detail"] and '"method": "sso"' in row["detail"]


def test_unknown_sso_identity_is_refused_and_audited_once(sso_db) -> None:
    from dashboard.auth import USER_KEY

    at = _app({"is_logged_in": True, "email": "mallory@example.gov.cn", "sub": "idp-666"})
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    assert "not authorised" in at.error[0].value or "未获授权" in at.error[0].value
    assert USER_KEY not in at.session_state
    assert not at.title or at.title[0].value != "总览"  # no page was drawn
    at.run()  # a rerun does not add a second audit row
    log = audit.entries(sso_db, action="login_failed")
    assert log.height == 1 and log["username"][0] == "mallory@example.gov.cn"
    assert "sso_unmapped" in log["detail"][0] and "idp-666" in log["detail"][0]
    assert audit.entries(sso_db, action="login").height == 0
