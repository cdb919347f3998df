"""Every sensitive action, in a matrix: refused with an old `auth_time`, allowed right after
POST /api/auth/reauthenticate, and still refused after a refresh of the old login.

The sensitive set is read from the views' permissions (routes.sensitive_cases), so a view
that asks for RecentAuthentication is covered the moment it exists.
"""

import re
from datetime import timedelta

import pytest
from django.urls import resolve
from django.utils import timezone
from rest_framework.test import APIClient

from adbot_admin.tests.factories import TEST_PASSWORD

from .routes import PARAMETER_SAMPLES, SENSITIVE_AT_LEAST, sensitive_cases

CASES = sensitive_cases()
CASE_IDS = [f"{method.upper()} {route.path}" for route, method in CASES]
REAUTHENTICATE = "/api/auth/reauthenticate"
pytestmark = pytest.mark.usefixtures("roomy_login_budget")


@pytest.fixture
def later(monkeypatch, settings):
    """Return a function moving Django's clock past REAUTH_MAX_AGE (tokens stay unexpired: their `exp` is real time)."""

    def move():
        real_now = timezone.now
        monkeypatch.setattr(timezone, "now", lambda: real_now() + timedelta(seconds=settings.REAUTH_MAX_AGE + 60))

    return move


def call(route, method, access):
    body = {} if method in ("post", "put", "patch") else None
    kwargs = {"format": "json"} if body is not None else {}
    return getattr(APIClient(), method)(route.path, body, **kwargs, HTTP_AUTHORIZATION=f"Bearer {access}")


def login(username):
    response = APIClient().post("/api/auth/token", {"username": username, "password": TEST_PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def assert_step_up_refused(response):
    assert response.status_code == 403, response.content[:200]
    if response.request["REQUEST_METHOD"] != "HEAD":
        assert response.json()["code"] == "reauthentication_required"


def assert_let_through(response):
    # 404 (no such id or user) or 409 (two-factor is off) are fine: step-up let it through.
    assert response.status_code not in (401, 403), response.content[:200]
    assert response.status_code < 500, response.content[:200]


def test_the_matrix_finds_every_listed_sensitive_action():
    assert set(SENSITIVE_AT_LEAST) <= {(method, route.path) for route, method in CASES}


@pytest.mark.django_db
def test_the_schema_marks_exactly_the_sensitive_operations():
    schema = APIClient().get("/api/schema", {"format": "json"}).json()
    marked = {
        (method, resolve(re.sub(r"\{(\w+)\}", lambda m: PARAMETER_SAMPLES.get(m.group(1), "1"), path)).route)
        for path, operations in schema["paths"].items()
        for method, operation in operations.items()
        if isinstance(operation, dict) and operation.get("x-reauthentication-required")
    }
    expected = {(method, resolve(route.path).route) for route, method in CASES if method != "head"}
    assert marked == expected
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            if isinstance(operation, dict) and operation.get("x-reauthentication-required"):
                assert "reauthentication_required" in operation["responses"]["403"]["description"], path


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), CASES, ids=CASE_IDS)
def test_a_fresh_login_is_let_through(admin_user, route, method):
    assert_let_through(call(route, method, login(admin_user.username)["access"]))


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), CASES, ids=CASE_IDS)
def test_an_old_login_is_refused_until_it_reauthenticates(admin_user, later, route, method):
    tokens = login(admin_user.username)
    later()

    assert_step_up_refused(call(route, method, tokens["access"]))

    reauthenticated = APIClient().post(
        REAUTHENTICATE, {"password": TEST_PASSWORD}, format="json", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}"
    )
    assert reauthenticated.status_code == 200, reauthenticated.content
    assert_let_through(call(route, method, reauthenticated.json()["access"]))


@pytest.mark.django_db
@pytest.mark.parametrize(("route", "method"), CASES, ids=CASE_IDS)
def test_a_refresh_of_an_old_login_is_still_refused(admin_user, later, route, method):
    tokens = login(admin_user.username)
    later()

    refreshed = APIClient().post("/api/auth/token/refresh", {"refresh": tokens["refresh"]}, format="json")
    assert refreshed.status_code == 200, refreshed.content

    assert_step_up_refused(call(route, method, refreshed.json()["access"]))
