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


def test_the_index_lists_no_library_internals(admin_client):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    apps = {app["app_label"]: {model["object_name"] for model in app["models"]} for app in response.context["app_list"]}
    assert "token_blacklist" not in apps
    assert b"Outstanding tokens" not in response.content and b"Blacklisted tokens" not in response.content
    # What admins do manage is still there.
    assert {"AuditEvent", "LoginSession", "User"} <= apps["adbot_admin"]
    assert "SessionFile" in apps["sessions_admin"]


@pytest.mark.parametrize("model", ["outstandingtoken", "blacklistedtoken"])
def test_simplejwt_token_rows_cannot_be_edited_in_the_admin_site(admin_client, model):
    # Deleting a blacklist row would revive a spent refresh token: the pages are not mounted at all.
    assert admin_client.get(f"/admin/token_blacklist/{model}/").status_code == 404


def test_the_login_form_says_the_two_factor_code_is_only_for_users_with_two_factor_on():
    response = Client().get(LOGIN)
    assert response.status_code == 200
    html = response.content.decode()
    assert "Two-factor code" in html
    assert "Only if two-factor authentication is on for your account" in html
    assert "OTP Token" not in html and "OTP Device" not in html
    field = html.split('name="otp_token"', 1)[1].split(">", 1)[0]
    assert "required" not in field


def test_an_admin_without_two_factor_logs_in_leaving_the_code_empty(admin_user):
    client = Client()
    response = client.post(LOGIN, {"username": "alice", "password": TEST_PASSWORD, "otp_token": "", "next": "/admin/"})
    assert response.status_code == 302
    assert client.get("/admin/").status_code == 200
