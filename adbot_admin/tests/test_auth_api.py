"""The token endpoints (/api/auth/*): obtain, refresh, verify, logout, me."""

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import cache
from rest_framework_simplejwt.tokens import AccessToken, RefreshToken

from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory
from adbot_admin.tests.tokens import backend_token, bearer, claims_of
from conftest import bearer_client

pytestmark = pytest.mark.django_db

TOKEN = "/api/auth/token"
REFRESH = "/api/auth/token/refresh"
VERIFY = "/api/auth/token/verify"
LOGOUT = "/api/auth/logout"
ME = "/api/auth/me"
AUDIT = "/api/admin/audit"


def post(client, path, data, **extra):
    return client.post(path, data, format="json", **extra)


# Every path, with and without its trailing slash -------------------------------


@pytest.mark.parametrize(
    ("method", "path", "data", "status"),
    [
        ("post", TOKEN, {}, 400),
        ("post", REFRESH, {}, 400),
        ("post", VERIFY, {}, 400),
        ("post", LOGOUT, {}, 204),
        ("get", ME, None, 200),
        ("post", "/api/cms/login", {}, 503),
        ("get", "/api/health", None, 200),
        ("get", AUDIT, None, 200),
        ("get", "/api/schema", None, 200),
        ("get", "/api/docs", None, 200),
    ],
)
@pytest.mark.parametrize("slash", ["", "/"])
def test_every_path_answers_with_and_without_a_trailing_slash(admin_user, method, path, data, status, slash):
    client = bearer_client(admin_user)
    kwargs = {"format": "json"} if method == "post" else {}
    response = getattr(client, method)(path + slash, data, **kwargs)
    assert response.status_code == status


# Obtain ------------------------------------------------------------------------


@pytest.mark.parametrize(("is_staff", "role"), [(True, "admin"), (False, "user")])
def test_token_returns_a_pair_whose_role_follows_staff_status(api_client, is_staff, role):
    user = UserFactory(is_staff=is_staff)
    response = post(api_client, TOKEN, {"username": user.username, "password": TEST_PASSWORD})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    assert body["token_type"] == "Bearer"
    access = claims_of(body["access"])
    assert body["expires_in"] == 3600 == access["exp"] - access["iat"]
    assert access["role"] == role
    assert claims_of(body["refresh"])["role"] == role
    assert api_client.get(AUDIT, **bearer(body["access"])).status_code == (200 if role == "admin" else 403)


def test_unknown_username_and_wrong_password_answer_alike_and_cost_one_hash_each(api_client, admin_user, hash_calls):
    inactive = UserFactory(is_staff=True, is_active=False)
    attempts = [
        {"username": "nobody-by-this-name", "password": TEST_PASSWORD},
        {"username": admin_user.username, "password": "wrong password"},
        {"username": inactive.username, "password": TEST_PASSWORD},
    ]
    bodies, costs = [], []
    for credentials in attempts:
        before = len(hash_calls)
        response = post(api_client, TOKEN, credentials)
        assert response.status_code == 401
        bodies.append(response.json())
        costs.append(len(hash_calls) - before)

    assert (
        bodies[0] == bodies[1] == bodies[2] == {"detail": "The credentials are wrong.", "code": "invalid_credentials"}
    )
    # An unknown name still runs the hasher once (Django's ModelBackend), like a wrong password.
    assert costs == [1, 1, 1]


def test_django_users_get_bcrypt_password_hashes():
    user = get_user_model().objects.create_user(username="dave", password="a long enough password")
    assert user.password.startswith("bcrypt_sha256$")
    assert user.check_password("a long enough password")


# Refresh -----------------------------------------------------------------------


def test_refresh_rotates_and_the_old_refresh_token_is_refused_from_then_on(api_client, admin_user):
    old = str(RefreshToken.for_user(admin_user))
    response = post(api_client, REFRESH, {"refresh": old})

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    assert body["refresh"] != old
    assert claims_of(body["access"])["role"] == "admin"
    assert api_client.get(ME, **bearer(body["access"])).status_code == 200

    again = post(api_client, REFRESH, {"refresh": old})
    assert again.status_code == 401
    assert again.json()["code"] == "token_not_valid"
    assert post(api_client, REFRESH, {"refresh": body["refresh"]}).status_code == 200


@pytest.mark.parametrize("change", ["delete", "deactivate"])
def test_refresh_of_a_deleted_or_deactivated_user_is_refused(api_client, admin_user, change):
    refresh = str(RefreshToken.for_user(admin_user))
    if change == "delete":
        admin_user.delete()
    else:
        admin_user.is_active = False
        admin_user.save()

    response = post(api_client, REFRESH, {"refresh": refresh})
    assert response.status_code == 401
    assert set(response.json()) == {"detail", "code"}


def test_refresh_of_a_demoted_user_yields_a_user_role_token(api_client, admin_user):
    refresh = str(RefreshToken.for_user(admin_user))
    admin_user.is_staff = False
    admin_user.save()

    access = post(api_client, REFRESH, {"refresh": refresh}).json()["access"]
    assert claims_of(access)["role"] == "user"
    assert api_client.get(AUDIT, **bearer(access)).status_code == 403


@pytest.mark.parametrize("kind", ["access", "garbage", "expired"])
def test_refresh_refuses_anything_but_a_live_refresh_token(api_client, admin_user, kind):
    token = {
        "access": lambda: str(AccessToken.for_user(admin_user)),
        "garbage": lambda: "not.a.token",
        "expired": lambda: backend_token(admin_user, token_type="refresh", exp_in=-10),
    }[kind]()
    response = post(api_client, REFRESH, {"refresh": token})
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


# Verify ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["access", "refresh"])
def test_verify_accepts_a_live_token(api_client, admin_user, kind):
    refresh = RefreshToken.for_user(admin_user)
    token = str(refresh.access_token) if kind == "access" else str(refresh)
    response = post(api_client, VERIFY, {"token": token})
    assert response.status_code == 200


@pytest.mark.parametrize(
    "token",
    [
        lambda user: "not.a.token",
        lambda user: backend_token(user, exp_in=-10),
        lambda user: backend_token(user, key="another-signing-key-0123456789abcdef"),
    ],
    ids=["malformed", "expired", "wrongly-signed"],
)
def test_verify_refuses_a_dead_token(api_client, admin_user, token):
    response = post(api_client, VERIFY, {"token": token(admin_user)})
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"


def test_verify_refuses_a_logged_out_access_token_and_a_blacklisted_refresh_token(
    admin_api_client, api_client, django_capture_on_commit_callbacks
):
    access, refresh = admin_api_client.tokens["access"], admin_api_client.tokens["refresh"]
    with django_capture_on_commit_callbacks(execute=True):
        assert post(admin_api_client, LOGOUT, {"refresh": refresh}).status_code == 204

    assert post(api_client, VERIFY, {"token": access}).status_code == 401
    assert post(api_client, VERIFY, {"token": refresh}).status_code == 401


def test_verify_refuses_a_refresh_token_blacklisted_by_rotation(api_client, admin_user):
    refresh = str(RefreshToken.for_user(admin_user))
    assert post(api_client, REFRESH, {"refresh": refresh}).status_code == 200
    assert post(api_client, VERIFY, {"token": refresh}).status_code == 401


# Logout ------------------------------------------------------------------------


def test_logout_refuses_the_refresh_and_the_access_token_at_once(
    admin_api_client, api_client, django_capture_on_commit_callbacks
):
    access, refresh = admin_api_client.tokens["access"], admin_api_client.tokens["refresh"]
    assert admin_api_client.get(ME).status_code == 200

    with django_capture_on_commit_callbacks(execute=True):
        response = post(admin_api_client, LOGOUT, {"refresh": refresh})
    assert response.status_code == 204

    refused = api_client.get(ME, **bearer(access))
    assert refused.status_code == 401
    assert 'error="invalid_token"' in refused["WWW-Authenticate"]
    assert post(api_client, REFRESH, {"refresh": refresh}).status_code == 401


def test_logged_out_access_token_stays_refused_after_the_cache_is_emptied(
    admin_api_client, api_client, django_capture_on_commit_callbacks
):

    access = admin_api_client.tokens["access"]
    with django_capture_on_commit_callbacks(execute=True):
        assert post(admin_api_client, LOGOUT, {}).status_code == 204
    assert api_client.get(ME, **bearer(access)).status_code == 401

    cache.clear()  # a Redis restart
    assert api_client.get(ME, **bearer(access)).status_code == 401
    assert api_client.get(ME, **bearer(access)).status_code == 401


def test_logout_with_someone_elses_refresh_token_is_refused_and_revokes_nothing(
    admin_api_client, api_client, django_capture_on_commit_callbacks
):
    other = UserFactory(is_staff=True)
    other_refresh = str(RefreshToken.for_user(other))

    with django_capture_on_commit_callbacks(execute=True):
        response = post(admin_api_client, LOGOUT, {"refresh": other_refresh})
    assert response.status_code == 401
    assert admin_api_client.get(ME).status_code == 200
    assert post(api_client, REFRESH, {"refresh": other_refresh}).status_code == 200


def test_logout_needs_a_bearer_token(api_client, admin_user):
    response = post(api_client, LOGOUT, {"refresh": str(RefreshToken.for_user(admin_user))})
    assert response.status_code == 401


# Me ----------------------------------------------------------------------------


def test_me_says_who_the_token_belongs_to_and_when_it_expires(admin_api_client, admin_user):
    response = admin_api_client.get(ME)

    assert response.status_code == 200
    body = response.json()
    assert body["username"] == admin_user.username
    assert body["role"] == "admin"
    assert body["auth_method"] == "backend_token"
    expires_at = datetime.fromisoformat(body["expires_at"].replace("Z", "+00:00"))
    exp = claims_of(admin_api_client.tokens["access"])["exp"]
    assert expires_at == datetime.fromtimestamp(exp, tz=UTC)
    expected = (expires_at - datetime.now(UTC)).total_seconds()
    assert 3590 <= body["expires_in"] <= 3600
    assert abs(body["expires_in"] - expected) <= 2


# Users who change after their token was issued ---------------------------------


@pytest.mark.parametrize(("change", "status"), [("deactivate", 401), ("demote", 403)])
@pytest.mark.parametrize(("method", "path"), [("get", ME), ("get", AUDIT), ("post", LOGOUT)])
def test_a_user_deactivated_or_demoted_after_issue_is_refused_at_once(admin_user, change, status, method, path):
    client = bearer_client(admin_user)
    assert client.get(ME).status_code == 200
    if change == "deactivate":
        admin_user.is_active = False
    else:
        admin_user.is_staff = False
    admin_user.save()

    assert getattr(client, method)(path).status_code == status


def test_an_expired_backend_token_is_refused(monkeypatch, api_client, admin_user):
    monkeypatch.setattr(AccessToken, "lifetime", timedelta(seconds=-1))
    token = AccessToken.for_user(admin_user)
    token["role"] = "admin"
    response = api_client.get(ME, **bearer(token))
    assert response.status_code == 401
    assert 'error="invalid_token"' in response["WWW-Authenticate"]
