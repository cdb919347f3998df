"""Tokens minted by the Next.js frontend with JWT_SECRET, and every token refused."""

import time

import jwt
import pytest
from rest_framework_simplejwt.tokens import RefreshToken

from adbot_admin.models import AuditEvent
from adbot_admin.tests.tokens import (
    FRONTEND_ADMIN,
    backend_token,
    bearer,
    claims_of,
    frontend_token,
    unsigned_token,
)

pytestmark = pytest.mark.django_db

ME = "/api/auth/me"
AUDIT = "/api/admin/audit"
LOGOUT = "/api/auth/logout"
INVALID = 'error="invalid_token"'


def test_a_frontend_admin_token_is_accepted(api_client):
    token = frontend_token()
    assert api_client.get(AUDIT, **bearer(token)).status_code == 200

    me = api_client.get(ME, **bearer(token)).json()
    assert me["username"] == "carol@example.com"
    assert me["role"] == "admin"
    assert me["auth_method"] == "frontend_token"


def test_a_numeric_sub_is_accepted_and_names_the_admin(api_client):
    token = frontend_token(sub=42, email=None)
    response = api_client.get(ME, **bearer(token))
    assert response.status_code == 200
    assert response.json()["username"] == "42"


@pytest.mark.parametrize(
    ("role", "statuses"),
    [
        ("user", {403}),
        ("Admin", {403}),
        ("ADMIN", {403}),
        (["admin"], {401, 403}),
        (True, {401, 403}),
        (None, {401, 403}),
    ],
    ids=["user", "Admin", "ADMIN", "list", "true", "missing"],
)
def test_role_must_be_exactly_the_string_admin(api_client, role, statuses):
    response = api_client.get(AUDIT, **bearer(frontend_token(role=role)))
    assert response.status_code in statuses


def test_a_token_naming_no_subject_is_refused(api_client):
    response = api_client.get(AUDIT, **bearer(frontend_token(sub=None, email=None)))
    assert response.status_code == 401


def test_without_jwt_secret_no_frontend_token_is_accepted(settings, api_client):
    token = frontend_token()
    settings.JWT_SECRET = ""
    response = api_client.get(AUDIT, **bearer(token))
    assert response.status_code == 401
    assert INVALID in response["WWW-Authenticate"]


def test_a_frontend_shaped_token_signed_with_the_backend_key_is_refused(api_client, settings):
    token = frontend_token(key=settings.JWT_SECRET_KEY)
    assert api_client.get(AUDIT, **bearer(token)).status_code == 401


def test_a_backend_token_signed_with_the_frontend_secret_is_refused(api_client, admin_user, settings):
    genuine = backend_token(admin_user)
    assert api_client.get(AUDIT, **bearer(genuine)).status_code == 200

    forged = backend_token(admin_user, key=settings.JWT_SECRET)
    assert api_client.get(AUDIT, **bearer(forged)).status_code == 401


@pytest.mark.parametrize(
    ("setting", "value", "claim"),
    [("JWT_ISSUER", "https://admin.example.com", "iss"), ("JWT_AUDIENCE", "adbot-admin", "aud")],
)
def test_issuer_and_audience_are_checked_when_set(api_client, settings, setting, value, claim):
    stray = frontend_token(**{claim: "https://elsewhere.example.com"})
    # Unset: the claim is not checked.
    assert api_client.get(AUDIT, **bearer(stray)).status_code == 200

    setattr(settings, setting, value)
    assert api_client.get(AUDIT, **bearer(frontend_token(**{claim: value}))).status_code == 200
    assert api_client.get(AUDIT, **bearer(stray)).status_code == 401
    assert api_client.get(AUDIT, **bearer(frontend_token())).status_code == 401


@pytest.mark.parametrize(
    ("claims", "actor"),
    [({}, "carol@example.com"), ({"email": None, "sub": 42}, "42")],
    ids=["email", "numeric-sub"],
)
def test_a_frontend_admin_is_named_in_the_audit_log_and_can_log_out(
    api_client, django_capture_on_commit_callbacks, claims, actor
):
    token = frontend_token(**claims)
    with django_capture_on_commit_callbacks(execute=True):
        assert api_client.post(LOGOUT, {}, format="json", **bearer(token)).status_code == 204

    event = AuditEvent.objects.get(action="logout")
    assert (event.actor, event.auth_method, event.outcome) == (actor, "frontend_token", "success")
    assert api_client.get(AUDIT, **bearer(token)).status_code == 401


# Every refusal -----------------------------------------------------------------


def _no_exp(user, settings):
    return jwt.encode(dict(FRONTEND_ADMIN), settings.JWT_SECRET, algorithm="HS256")


REFUSED = {
    "malformed": lambda user, s: "not-a-jwt",
    "three-garbage-parts": lambda user, s: "abc.def.ghi",
    "backend-expired": lambda user, s: backend_token(user, exp_in=-10),
    "frontend-expired": lambda user, s: frontend_token(exp_in=-10),
    "frontend-without-exp": _no_exp,
    "backend-not-yet-valid": lambda user, s: backend_token(user, nbf=int(time.time()) + 600),
    "frontend-not-yet-valid": lambda user, s: frontend_token(nbf=int(time.time()) + 600),
    "backend-wrongly-signed": lambda user, s: backend_token(user, key="k" * 40),
    "frontend-wrongly-signed": lambda user, s: frontend_token(key="k" * 40),
    "backend-alg-none": lambda user, s: unsigned_token(claims_of(backend_token(user))),
    "frontend-alg-none": lambda user, s: unsigned_token(claims_of(frontend_token())),
    "backend-hs512": lambda user, s: backend_token(user, algorithm="HS512"),
    "frontend-hs512": lambda user, s: frontend_token(algorithm="HS512"),
    "refresh-as-access": lambda user, s: str(RefreshToken.for_user(user)),
}


@pytest.mark.parametrize("kind", REFUSED)
@pytest.mark.parametrize(("method", "path"), [("get", ME), ("get", AUDIT), ("post", LOGOUT)])
def test_a_bad_token_is_refused_with_an_invalid_token_challenge(api_client, admin_user, settings, kind, method, path):
    token = REFUSED[kind](admin_user, settings)
    response = getattr(api_client, method)(path, **bearer(token))

    assert response.status_code == 401
    assert INVALID in response["WWW-Authenticate"]
    assert set(response.json()) == {"detail", "code"}


@pytest.mark.parametrize("kind", ["backend", "frontend"])
def test_the_same_claims_correctly_signed_are_accepted(api_client, admin_user, kind):
    # The counterpart of the refusals above: only the flaw makes the difference.
    token = backend_token(admin_user) if kind == "backend" else frontend_token()
    assert api_client.get(AUDIT, **bearer(token)).status_code == 200


@pytest.mark.parametrize(("method", "path"), [("get", ME), ("get", AUDIT), ("post", LOGOUT)])
def test_a_missing_header_is_refused_with_a_bare_challenge(api_client, method, path):
    response = getattr(api_client, method)(path)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'
    assert response.json()["code"] == "not_authenticated"


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Basic YWxpY2U6c2VjcmV0", "Token abc"])
def test_a_malformed_or_foreign_header_is_refused(api_client, header):
    response = api_client.get(AUDIT, HTTP_AUTHORIZATION=header)
    assert response.status_code == 401


@pytest.mark.parametrize("kind", ["backend", "frontend"])
@pytest.mark.parametrize(("method", "path"), [("get", ME), ("get", AUDIT), ("post", LOGOUT)])
def test_a_valid_token_of_a_non_admin_is_forbidden(api_client, plain_user, kind, method, path):
    token = backend_token(plain_user) if kind == "backend" else frontend_token(role="user")
    response = getattr(api_client, method)(path, **bearer(token))
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
