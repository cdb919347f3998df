"""Cookie mode: `"session": "cookie"` logins, POST /api/auth/cookie/refresh and /api/auth/cookie/logout."""

import pytest
from rest_framework.test import APIClient

from adbot_admin.models import AuditEvent, LoginSession
from adbot_admin.tests.factories import TEST_PASSWORD
from adbot_admin.tests.mfa import TOKEN_2FA, code_at, enrol
from adbot_admin.tests.tokens import backend_token, bearer, claims_of
from conftest import bearer_client

pytestmark = pytest.mark.django_db

CMS_LOGIN = "/api/cms/login"
TOKEN = "/api/auth/token"
REFRESH = "/api/auth/cookie/refresh"
LOGOUT = "/api/auth/cookie/logout"
ME = "/api/auth/me"
COOKIE = "__Host-adbot_refresh"
USER_PASSWORD = "correct horse battery staple"


@pytest.fixture
def browser_client():
    # Django's test clients skip CSRF checks unless asked: a browser never does.
    return APIClient(enforce_csrf_checks=True)


@pytest.fixture
def password_user(admin_user):
    admin_user.set_password(USER_PASSWORD)
    admin_user.save()
    return admin_user


def cms_cookie_login(client, password):
    response = client.post(CMS_LOGIN, {"password": password, "session": "cookie"}, format="json")
    assert response.status_code == 200, response.content
    return response


def csrf(client):
    return {"HTTP_X_CSRFTOKEN": client.cookies["csrftoken"].value}


def refresh(client, **headers):
    return client.post(REFRESH, **{**csrf(client), **headers})


def assert_cleared(response):
    morsel = response.cookies[COOKIE]
    assert morsel.value == ""
    assert morsel["max-age"] == 0
    assert morsel["path"] == "/"


def assert_refresh_cookie(response, *, secure=True):
    # `__Host-`: Secure, Path=/ and no Domain, or the browser refuses it; without Secure (DEBUG) no prefix.
    morsel = response.cookies[COOKIE if secure else "adbot_refresh"]
    assert morsel["httponly"] is True
    assert morsel["secure"] is (True if secure else "")
    assert morsel["samesite"] == "Strict"
    assert morsel["path"] == "/"
    assert morsel["domain"] == ""
    assert morsel["max-age"] == 24 * 60 * 60  # REFRESH_TOKEN_EXPIRE_MINUTES
    assert claims_of(morsel.value)["token_type"] == "refresh"
    csrf_cookie = response.cookies["csrftoken"]
    assert csrf_cookie.value and csrf_cookie["httponly"] == ""  # the page must read it
    return morsel.value


def test_cms_cookie_login_sets_the_refresh_cookie_and_returns_no_refresh_token(browser_client, cms_password):
    response = cms_cookie_login(browser_client, cms_password)

    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    cookie = assert_refresh_cookie(response)
    assert cookie not in response.content.decode()
    # The refresh token belongs to the login session of the access token.
    assert claims_of(cookie)["sid"] == claims_of(body["access_token"])["sid"]
    assert LoginSession.objects.get(pk=claims_of(cookie)["sid"]).ended_at is None
    assert browser_client.get(ME, **bearer(body["access_token"])).status_code == 200


def test_token_cookie_login_sets_the_refresh_cookie_and_returns_no_refresh_token(browser_client, password_user):
    response = browser_client.post(
        TOKEN, {"username": "alice", "password": USER_PASSWORD, "session": "cookie"}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access", "token_type", "expires_in"}
    cookie = assert_refresh_cookie(response)
    assert claims_of(cookie)["sid"] == claims_of(body["access"])["sid"]


def test_without_the_key_both_logins_answer_as_before_and_set_no_cookie(browser_client, cms_password, password_user):
    cms = browser_client.post(CMS_LOGIN, {"password": cms_password}, format="json")
    token = browser_client.post(TOKEN, {"username": "alice", "password": USER_PASSWORD}, format="json")

    assert set(cms.json()) == {"access_token", "token_type", "expires_in"}
    assert set(token.json()) == {"access", "refresh", "token_type", "expires_in"}
    for response in (cms, token):
        assert COOKIE not in response.cookies and "csrftoken" not in response.cookies


@pytest.mark.parametrize("value", ["bearer", "", ["cookie"], {"mode": "cookie"}])
def test_another_session_value_is_a_validation_error_before_any_password_check(
    browser_client, cms_password, value, hash_calls
):
    response = browser_client.post(CMS_LOGIN, {"password": cms_password, "session": value}, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "session" in response.json()["errors"]
    assert hash_calls == [] and COOKIE not in response.cookies


def test_with_debug_on_the_cookie_is_not_secure(browser_client, cms_password, settings):
    settings.DEBUG = True
    assert_refresh_cookie(cms_cookie_login(browser_client, cms_password), secure=False)
    assert refresh(browser_client).status_code == 200


def test_refresh_returns_a_new_access_token_and_rotates_the_cookie(browser_client, cms_password):
    first = cms_cookie_login(browser_client, cms_password).cookies[COOKIE].value

    response = refresh(browser_client)

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access", "expires_in"} and body["expires_in"] == 3600
    rotated = assert_refresh_cookie(response)
    assert rotated != first and claims_of(rotated)["sid"] == claims_of(first)["sid"]
    assert browser_client.get(ME, **bearer(body["access"])).status_code == 200
    # The rotated cookie works in turn.
    assert refresh(browser_client).status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {"HTTP_X_CSRFTOKEN": None},
        {"HTTP_X_CSRFTOKEN": "x" * 32},
        {"HTTP_ORIGIN": "https://evil.example"},
        {"HTTP_ORIGIN": "null"},
    ],
    ids=["no-header", "wrong-header", "foreign-origin", "null-origin"],
)
def test_refresh_and_logout_without_csrf_or_from_a_foreign_origin_are_403(browser_client, cms_password, headers):
    login = cms_cookie_login(browser_client, cms_password)
    access = login.json()["access_token"]
    sent = {**csrf(browser_client), **headers}
    sent = {name: value for name, value in sent.items() if value is not None}

    for path in (REFRESH, LOGOUT):
        response = browser_client.post(path, **sent)
        assert response.status_code == 403
        assert response.json()["code"] == "csrf_failed"
        assert COOKIE not in response.cookies  # a forged request does not log the user out either
    # Nothing changed: the session is open and the cookie still refreshes.
    assert browser_client.get(ME, **bearer(access)).status_code == 200
    assert refresh(browser_client).status_code == 200


def test_this_site_and_cors_allowed_origins_may_refresh(browser_client, cms_password, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://admin.example.com"]
    cms_cookie_login(browser_client, cms_password)

    assert refresh(browser_client, HTTP_ORIGIN="http://testserver").status_code == 200
    assert refresh(browser_client, HTTP_ORIGIN="https://admin.example.com").status_code == 200
    assert refresh(browser_client, HTTP_ORIGIN="https://admin.example.com.evil.example").status_code == 403


def test_a_missing_cookie_is_401_and_clears_it(browser_client, cms_password):
    cms_cookie_login(browser_client, cms_password)
    del browser_client.cookies[COOKIE]

    response = refresh(browser_client)

    assert response.status_code == 401
    assert response.json()["code"] == "not_authenticated"
    assert_cleared(response)


@pytest.mark.parametrize("kind", ["expired", "garbage", "access-token", "forged"])
def test_an_invalid_cookie_is_401_and_clears_it(browser_client, cms_password, admin_user, kind):
    cms_cookie_login(browser_client, cms_password)
    browser_client.cookies[COOKIE] = {
        "expired": backend_token(admin_user, token_type="refresh", exp_in=-10),
        "garbage": "not-a-token",
        "access-token": backend_token(admin_user),
        "forged": backend_token(admin_user, token_type="refresh", key="k" * 40),
    }[kind]

    response = refresh(browser_client)

    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
    assert_cleared(response)


def test_a_reused_cookie_is_401_and_ends_the_whole_login(browser_client, cms_password):
    login = cms_cookie_login(browser_client, cms_password)
    stolen = login.cookies[COOKIE].value
    renewed = refresh(browser_client)
    assert renewed.status_code == 200

    # Someone presents the rotated-out cookie.
    browser_client.cookies[COOKIE] = stolen
    response = refresh(browser_client)

    assert response.status_code == 401
    assert_cleared(response)
    assert AuditEvent.objects.filter(action="token_refresh_reuse").exists()
    # Every token of that login is refused from now on, the rotated cookie included.
    assert browser_client.get(ME, **bearer(renewed.json()["access"])).status_code == 401
    assert browser_client.get(ME, **bearer(login.json()["access_token"])).status_code == 401
    browser_client.cookies[COOKIE] = renewed.cookies[COOKIE].value
    assert refresh(browser_client).status_code == 401


def test_logout_clears_the_cookie_and_ends_the_login(browser_client, cms_password):
    login = cms_cookie_login(browser_client, cms_password)
    cookie = login.cookies[COOKIE].value
    access = login.json()["access_token"]

    response = browser_client.post(LOGOUT, **csrf(browser_client))

    assert response.status_code == 204
    assert_cleared(response)
    session = LoginSession.objects.get(pk=claims_of(cookie)["sid"])
    assert (session.ended_at is not None, session.end_reason) == (True, "logout")
    assert AuditEvent.objects.filter(action="logout", actor="cms-admin").exists()
    assert browser_client.get(ME, **bearer(access)).status_code == 401
    # The cookie itself, sent again after the logout, is refused and cleared.
    browser_client.cookies[COOKIE] = cookie
    after = refresh(browser_client)
    assert after.status_code == 401
    assert_cleared(after)


def test_logout_without_a_live_cookie_still_answers_204(browser_client, cms_password):
    cms_cookie_login(browser_client, cms_password)
    browser_client.cookies[COOKIE] = "not-a-token"
    response = browser_client.post(LOGOUT, **csrf(browser_client))
    assert response.status_code == 204
    assert_cleared(response)
    assert not AuditEvent.objects.filter(action="logout").exists()


def test_the_refresh_cookie_authenticates_nothing_else(browser_client, cms_password):
    login = cms_cookie_login(browser_client, cms_password)
    cookie = login.cookies[COOKIE].value
    assert browser_client.cookies[COOKIE].value == cookie  # the client sends it with every request below

    assert browser_client.get(ME, **csrf(browser_client)).status_code == 401
    assert browser_client.get("/api/admin/audit").status_code == 401
    assert browser_client.get("/api/cms/gallery-images").status_code == 401
    assert browser_client.post("/api/auth/logout", {}, format="json", **csrf(browser_client)).status_code == 401
    # The body-based refresh endpoint wants the token in its body; a cookie does not stand in for it.
    body_refresh = browser_client.post("/api/auth/token/refresh", {}, format="json", **csrf(browser_client))
    assert body_refresh.status_code == 400
    # Nor does the bearer header work on the cookie views: they read the cookie only.
    del browser_client.cookies[COOKIE]
    assert refresh(browser_client, **bearer(cookie)).status_code == 401
    assert browser_client.post(REFRESH, {"refresh": cookie}, format="json", **csrf(browser_client)).status_code == 401


def test_a_two_factor_login_in_cookie_mode_sets_the_cookie_at_its_second_step(browser_client, admin_user, settings):
    settings.RATELIMIT_LOGIN = "100/m"
    secret, _ = enrol(bearer_client(admin_user))
    first = browser_client.post(
        TOKEN, {"username": admin_user.username, "password": TEST_PASSWORD, "session": "cookie"}, format="json"
    )
    assert first.status_code == 200 and first.json()["mfa_required"] is True
    assert COOKIE not in first.cookies

    second = browser_client.post(
        TOKEN_2FA,
        {"mfa_token": first.json()["mfa_token"], "code": code_at(secret, 1), "session": "cookie"},
        format="json",
    )

    assert second.status_code == 200, second.content
    assert set(second.json()) == {"access", "token_type", "expires_in"}
    cookie = assert_refresh_cookie(second)
    assert claims_of(cookie)["sid"] == claims_of(second.json()["access"])["sid"]
    assert refresh(browser_client).status_code == 200


def test_a_cms_cookie_login_stays_in_the_cms_scope_across_refreshes(browser_client, cms_password):
    login = cms_cookie_login(browser_client, cms_password)
    renewed = refresh(browser_client).json()["access"]

    for access in (login.json()["access_token"], renewed):
        assert browser_client.get("/api/cms/gallery-images", **bearer(access)).status_code == 200
        assert browser_client.get("/api/admin/audit", **bearer(access)).status_code == 403
