"""GET /api/health, /api/schema and /api/docs: open to anyone."""

import pytest
import yaml
from django.db import DatabaseError

pytestmark = pytest.mark.django_db


def test_health_reports_ok(api_client):
    response = api_client.get("/api/health")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "cache": "ok"}


def test_health_names_a_broken_cache(api_client, broken_cache):
    response = api_client.get("/api/health")
    assert response.status_code == 503
    body = response.json()
    assert body["cache"] == "unavailable"
    assert body["database"] == "ok"
    assert body["status"] != "ok"
    assert body["code"] == "service_unavailable"
    assert "cache" in body["detail"]


def test_health_names_a_broken_database(api_client, monkeypatch):
    from adbot_admin.api import views

    def broken():
        raise DatabaseError("the database went away")

    monkeypatch.setattr(views, "_database_ok", broken)
    response = api_client.get("/api/health")
    assert response.status_code == 503
    assert response.json()["database"] == "unavailable"
    assert "database" in response.json()["detail"]


@pytest.mark.parametrize("accept", [None, "application/vnd.oai.openapi+json"])
def test_the_schema_is_openapi_3_with_both_bearer_schemes(api_client, accept):
    headers = {"HTTP_ACCEPT": accept} if accept else {}
    response = api_client.get("/api/schema", **headers)
    assert response.status_code == 200
    schema = response.json() if accept else yaml.safe_load(response.content)

    assert schema["openapi"].startswith("3.")
    schemes = schema["components"]["securitySchemes"]
    for name in ("backendToken", "frontendToken"):
        assert schemes[name]["type"] == "http"
        assert schemes[name]["scheme"] == "bearer"
    paths = {path.rstrip("/") for path in schema["paths"]}
    assert {"/api/auth/token", "/api/cms/login", "/api/admin/audit"} <= paths


def test_the_docs_page_is_html(api_client):
    response = api_client.get("/api/docs")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/html")
    assert b'<script src="/api/docs?script="></script>' in response.content
    assert b"/api/schema" in api_client.get("/api/docs?script=").content
