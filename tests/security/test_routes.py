"""Every route, every method: no token 401, a user-role token 403, an admin token let through.

The routes come from Django's URL resolver, so a new route is covered the
moment it exists; one that is neither guarded nor listed in PUBLIC_ROUTES
fails here.
"""

import time

import pytest
from rest_framework.test import APIClient

from adbot_admin.login_sessions import login_session_start
from adbot_admin.models import AuthMethod
from adbot_admin.signin import cms_admin_user

from . import forge
from .routes import (
    CMS_SCOPE_ROUTES,
    COOKIE_ROUTES,
    OPERATOR_ROUTES,
    PUBLIC_ROUTES,
    STEP_UP_ROUTES,
    api_routes,
    guarded_cases,
    in_cms_scope,
    is_public,
    is_sensitive,
    is_step_up,
)

ROUTES = api_routes()
CASES = guarded_cases()
CASE_IDS = [f"{method.upper()} {route.id}" for route, method in CASES]


def call(client, route, method, **headers):
    body = {} if method in ("post", "put", "patch") else None
    kwargs = {"format": "json"} if body is not None else {}
    return getattr(client, method)(route.path, body, **kwargs, **headers)


def bearer(token):
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def test_the_walk_finds_the_known_routes():
    paths = {route.path for route in ROUTES}
    assert {"/api/admin/audit", "/api/auth/me", "/api/auth/logout", "/api/health"} <= paths
    assert len(CASES) >= 10


@pytest.mark.parametrize("route", ROUTES, ids=[route.id for route in ROUTES])
def test_every_route_gets_a_concrete_path(route):
    # A route whose path parameters cannot be filled would escape the matrix below.
    assert route.path is not None, f"add a sample for {route.regex} to routes.PARAMETER_SAMPLES"


@pytest.mark.parametrize("entry", PUBLIC_ROUTES)
def test_every_public_entry_names_an_existing_route(entry):
    """The public list cannot rot: each entry matches at least one real route."""
    assert any(route.path and is_public(route.path) and _covers(entry, route.path) for route in ROUTES), entry


def _covers(entry, path):
    return path.startswith(entry[:-1]) if entry.endswith("/*") else path.rstrip("/") == entry


@pytest.mark.django_db
@pytest.mark.parametrize("route", [r for r in ROUTES if r.public], ids=lambda r: r.id)
def test_public_routes_are_really_open(route):
    method = next(m for m in route.methods if m not in ("options", "head"))
    response = call(APIClient(), route, method)
    if route.path in COOKIE_ROUTES:
        # Their credential is the refresh cookie: without one there is nothing to refresh.
        assert response.status_code in (204, 401), response.content[:200]
        assert response.status_code == 204 or response.json()["code"] == "not_authenticated"
        return
    assert response.status_code not in (401, 403), response.content[:200]


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), CASES, ids=CASE_IDS)
def test_no_token_is_401(route, method):
    response = call(APIClient(), route, method)
    assert response.status_code == 401, response.content[:200]
    assert response["WWW-Authenticate"].startswith("Bearer")
    if method != "head":
        assert response.json()["code"] == "not_authenticated"


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["backend", "frontend"])
@pytest.mark.parametrize(("route", "method"), CASES, ids=CASE_IDS)
def test_user_role_token_is_403(plain_user, route, method, kind):
    if kind == "backend":
        token = forge.backend_token(forge.backend_claims(plain_user))
    else:
        token = forge.frontend_token(forge.frontend_claims(role="user"))
    response = call(APIClient(), route, method, **bearer(token))
    assert response.status_code == 403, response.content[:200]
    if method != "head":
        assert response.json()["code"] == "permission_denied"


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["backend", "frontend"])
@pytest.mark.parametrize(("route", "method"), CASES, ids=CASE_IDS)
def test_admin_token_is_let_through(admin_user, route, method, kind):
    # A fresh token per case: POST /api/auth/logout revokes the one it is sent with.
    if kind == "backend":
        token = forge.backend_token(forge.backend_claims(admin_user, auth_time=int(time.time())))
    else:
        token = forge.frontend_token(forge.frontend_claims(role="admin"))
    response = call(APIClient(), route, method, **bearer(token))
    if kind == "frontend" and is_sensitive(route, method):
        # This server never saw a frontend login: it has no proof of when it happened (step-up).
        assert response.status_code == 403, response.content[:200]
        if method != "head":
            assert response.json()["code"] == "reauthentication_required"
        return
    # 404 (no such id or file), 400 or 415 (an empty body) are fine: the guard let it through.
    assert response.status_code not in (401, 403), response.content[:200]
    assert response.status_code < 500, response.content[:200]


# OPTIONS describes the route and reveals nothing: only the admin role guards it.
STEP_UP_CASES = [(route, method) for route, method in CASES if is_step_up(route.path) and method != "options"]


def test_every_step_up_entry_names_a_route():
    for pattern in STEP_UP_ROUTES:
        assert any(route.path and is_step_up(route.path) for route in ROUTES), pattern
    assert STEP_UP_CASES


@pytest.mark.django_db
@pytest.mark.parametrize("auth_time", ["missing", "stale"])
@pytest.mark.parametrize(("route", "method"), STEP_UP_CASES, ids=[f"{m.upper()} {r.id}" for r, m in STEP_UP_CASES])
def test_a_step_up_route_refuses_an_admin_token_without_a_recent_login(settings, admin_user, route, method, auth_time):
    stamp = None if auth_time == "missing" else int(time.time()) - settings.REAUTH_MAX_AGE - 5
    token = forge.backend_token(forge.backend_claims(admin_user, auth_time=stamp))
    response = call(APIClient(), route, method, **bearer(token))
    assert response.status_code == 403, response.content[:200]
    if method != "head":
        assert response.json()["code"] == "reauthentication_required"


def cms_token():
    """Return an access token of a CMS-password login, as POST /api/cms/login issues it (without its budget)."""
    issued = login_session_start(user=cms_admin_user(), auth_method=AuthMethod.CMS_PASSWORD, with_refresh=False)
    return str(issued.access)


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), CASES, ids=CASE_IDS)
def test_a_cms_token_reaches_only_the_gallery_and_its_own_login(route, method):
    response = call(APIClient(), route, method, **bearer(cms_token()))
    if in_cms_scope(route.path):
        assert response.status_code not in (401, 403), response.content[:200]
        assert response.status_code < 500, response.content[:200]
    else:
        assert response.status_code == 403, response.content[:200]
        if method != "head":
            assert response.json()["code"] == "insufficient_scope"


@pytest.mark.parametrize("entry", CMS_SCOPE_ROUTES)
def test_every_cms_scope_entry_names_a_guarded_route(entry):
    assert any(not route.public and _covers(entry, route.path) for route in ROUTES if route.path), entry


@pytest.mark.django_db
def test_a_view_that_names_no_scope_refuses_a_cms_token(settings):
    """Default deny: a guarded view added without `allowed_scopes` is closed to a CMS token."""
    settings.ROOT_URLCONF = "tests.security.urls_canary"
    admin_only = bearer(cms_token())
    response = APIClient().get("/api/admin/scope-probe/1", **admin_only)
    assert response.status_code == 403
    assert response.json()["code"] == "insufficient_scope"


@pytest.mark.django_db
def test_an_unguarded_route_would_fail_the_matrix(settings):
    """The matrix can fail: a route added without the guard shows up in it and answers 200."""
    settings.ROOT_URLCONF = "tests.security.urls_canary"
    cases = [(route, method) for route, method in guarded_cases() if "canary" in route.regex]
    assert [(route.path, method) for route, method in cases] == [
        ("/api/admin/canary/1", "get"),
        ("/api/admin/canary/1", "head"),
        ("/api/admin/canary/1", "options"),
    ]
    assert call(APIClient(), cases[0][0], "get").status_code == 200


UNLISTED = ("get", "post", "put", "patch", "delete", "trace")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "route", [r for r in ROUTES if not r.public and getattr(r.callback, "cls", None)], ids=lambda r: r.id
)
def test_methods_a_route_does_not_offer_are_405_even_for_an_admin(admin_user, route):
    token = forge.backend_token(forge.backend_claims(admin_user))
    client = APIClient()
    for method in UNLISTED:
        if method in route.methods:
            continue
        response = client.generic(method.upper(), route.path, **bearer(token))
        assert response.status_code == 405, (method, response.content[:200])
        assert response.json()["code"] == "method_not_allowed"


# Open to an admin without two-factor while REQUIRE_ADMIN_2FA is on: how to turn it on, who am I, log out.
MFA_ENROLMENT_ROUTES = (
    "/api/auth/2fa/*",
    "/api/auth/passkeys",
    "/api/auth/passkeys/register/*",
    "/api/auth/me",
    "/api/auth/logout",
)


def _enrolment_route(route):
    # Exact paths: /api/auth/logout-all is not /api/auth/logout.
    return any(_covers(entry, route.path) for entry in MFA_ENROLMENT_ROUTES)


def test_the_enrolment_routes_exist():
    assert {route.path for route in ROUTES if _enrolment_route(route)} == {
        "/api/auth/2fa/setup",
        "/api/auth/2fa/confirm",
        "/api/auth/2fa/disable",
        "/api/auth/passkeys",
        "/api/auth/passkeys/register/begin",
        "/api/auth/passkeys/register/complete",
        "/api/auth/me",
        "/api/auth/logout",
    }


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), CASES, ids=CASE_IDS)
def test_with_2fa_required_an_admin_without_it_is_refused_but_on_enrolment_routes(settings, admin_user, route, method):
    settings.REQUIRE_ADMIN_2FA = True
    token = forge.backend_token(forge.backend_claims(admin_user, auth_time=int(time.time())))

    response = call(APIClient(), route, method, **bearer(token))

    if _enrolment_route(route):
        assert response.status_code not in (401, 403), response.content[:200]
    else:
        assert response.status_code == 403, response.content[:200]
        if method != "head":
            assert response.json()["code"] == "mfa_enrollment_required"


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), CASES, ids=CASE_IDS)
def test_with_2fa_required_an_admin_with_it_is_let_through(settings, admin_user, route, method):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    settings.REQUIRE_ADMIN_2FA = True
    TOTPDevice.objects.create(user=admin_user, name="authenticator", confirmed=True)
    token = forge.backend_token(forge.backend_claims(admin_user, auth_time=int(time.time())))

    response = call(APIClient(), route, method, **bearer(token))

    assert response.status_code not in (401, 403), response.content[:200]
    assert response.status_code < 500, response.content[:200]


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["none", "backend-user", "backend-admin", "frontend-admin", "cms"])
@pytest.mark.parametrize("path", OPERATOR_ROUTES)
def test_operator_routes_open_to_no_user_token(admin_user, plain_user, path, kind):
    tokens = {
        "backend-user": lambda: forge.backend_token(forge.backend_claims(plain_user)),
        "backend-admin": lambda: forge.backend_token(forge.backend_claims(admin_user)),
        "frontend-admin": lambda: forge.frontend_token(forge.frontend_claims(role="admin")),
        "cms": cms_token,
    }
    headers = bearer(tokens[kind]()) if kind in tokens else {}
    # From an address outside METRICS_ALLOWED_IPS: a token is 401, none is 403.
    response = APIClient().get(path, REMOTE_ADDR="203.0.113.9", **headers)
    assert response.status_code == (401 if headers else 403), response.content[:200]
    # From loopback (listed by default) a user token is still refused.
    assert APIClient().get(path, **headers).status_code == (401 if headers else 200)
