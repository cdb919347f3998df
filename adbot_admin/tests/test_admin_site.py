"""The Django admin site: served with DEBUG off, its login form on the shared `login` budget."""

import pytest
from django.test import Client

from adbot_admin.tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"


@pytest.fixture(autouse=True)
def _debug_off(settings):
    settings.DEBUG = False


def test_the_login_page_renders_with_debug_off():
    response = Client(raise_request_exception=False).get(LOGIN)
    assert response.status_code == 200
    assert b"adbot admin" in response.content
    assert b"/static/admin/css/base.css" in response.content


def test_its_static_files_are_served_with_debug_off():
    response = Client().get("/static/admin/css/base.css")
    assert response.status_code == 200
    assert b"".join(response.streaming_content)


def test_an_admin_logs_in_and_sees_the_index(admin_user):
    client = Client()
    response = client.post(LOGIN, {"username": "alice", "password": TEST_PASSWORD, "next": "/admin/"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200


def test_the_login_form_is_rate_limited():
    client = Client()
    for _ in range(5):
        response = client.post(LOGIN, {"username": "", "password": ""})
        assert response.status_code == 200

    refused = client.post(LOGIN, {"username": "", "password": ""})
    assert refused.status_code == 429
    assert int(refused["Retry-After"]) >= 1
    assert refused.json()["code"] == "throttled"
    assert set(refused.json()) == {"detail", "code"}
    # Only posting the form spends the budget.
    assert client.get(LOGIN).status_code == 200


def test_the_login_form_shares_the_budget_with_the_api(api_client):
    for _ in range(5):
        api_client.post("/api/auth/token", {}, format="json")
    assert Client().post(LOGIN, {"username": "", "password": ""}).status_code == 429


def test_the_rate_limit_is_checked_before_the_password(admin_user, hash_calls):
    client = Client()
    for _ in range(5):
        client.post(LOGIN, {"username": "", "password": ""})
    hash_calls.clear()
    response = client.post(LOGIN, {"username": "alice", "password": TEST_PASSWORD})
    assert response.status_code == 429
    assert hash_calls == []


def test_a_csrf_failure_answers_json():
    response = Client(enforce_csrf_checks=True).post(LOGIN, {"username": "alice", "password": "x"})
    assert response.status_code == 403
    assert response.json()["code"] == "csrf_failed"
