"""One error body everywhere: {"detail", "code"}, plus "errors" for validation."""

import pytest
from django.test import Client

from adbot_admin.api import views

pytestmark = pytest.mark.django_db


def test_a_validation_error_names_each_field(api_client):
    response = api_client.post("/api/auth/token", {}, format="json")

    assert response.status_code == 400
    body = response.json()
    assert set(body) == {"detail", "code", "errors"}
    assert body["code"] == "invalid"
    assert set(body["errors"]) == {"username", "password"}
    assert body["errors"]["username"] == ["This field is required."]
    assert body["detail"] == "This field is required."


@pytest.mark.parametrize("path", ["/nope", "/api/nope", "/api/auth/nope/", "/api/admin/audit/extra"])
def test_an_unknown_url_is_a_json_404(api_client, path):
    response = api_client.get(path)
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Not found.", "code": "not_found"}


def test_a_malformed_json_body_is_a_json_400(api_client):
    response = api_client.post("/api/auth/token", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert set(response.json()) == {"detail", "code"}


def test_a_wrong_method_is_a_json_405(api_client):
    response = api_client.get("/api/auth/token")
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"


@pytest.mark.parametrize(
    "accept", [None, "*/*", "application/json", "application/json, */*", "application/*", "text/html, */*;q=0.1"]
)
def test_what_a_client_accepts_gets_json(admin_api_client, accept):
    headers = {"HTTP_ACCEPT": accept} if accept is not None else {}
    response = admin_api_client.get("/api/admin/sessions", **headers)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize("accept", ["", "text/html", "application/xml"])
def test_an_unacceptable_accept_header_is_a_json_406(admin_api_client, accept):
    response = admin_api_client.get("/api/admin/sessions", HTTP_ACCEPT=accept)
    assert response.status_code == 406
    assert response.json()["code"] == "not_acceptable"


def test_a_format_the_api_does_not_render_is_a_404(admin_api_client):
    assert admin_api_client.get("/api/admin/sessions", {"format": "json"}).status_code == 200
    assert admin_api_client.get("/api/admin/sessions", {"format": "xml"}).status_code == 404


def test_an_unhandled_error_answers_json_without_a_stack_trace(settings, monkeypatch):
    settings.DEBUG = False

    def explode(self, request):
        raise RuntimeError("secret internals: /srv/app/settings.py line 42")

    monkeypatch.setattr(views.HealthView, "get", explode)
    response = Client(raise_request_exception=False).get("/api/health")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"detail": "Internal server error.", "code": "server_error"}
    assert b"secret internals" not in response.content
    assert b"Traceback" not in response.content


def test_an_error_of_a_plain_django_view_answers_json(settings, monkeypatch):
    from django.contrib.admin import sites

    settings.DEBUG = False

    def explode(self, request, extra_context=None):
        raise RuntimeError("boom")

    monkeypatch.setattr(sites.AdminSite, "login", explode)
    response = Client(raise_request_exception=False).get("/admin/login/")

    assert response.status_code == 500
    assert response.json() == {"detail": "Internal server error.", "code": "server_error"}
