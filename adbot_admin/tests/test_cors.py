"""CORS: only the exact configured origins may call the API from a browser."""

import pytest

pytestmark = pytest.mark.django_db


def preflight(client, origin):
    return client.options(
        "/api/auth/me",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )


@pytest.fixture(autouse=True)
def _origins(settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://admin.example.com"]


def test_a_preflight_from_an_allowed_origin_is_answered(api_client):
    response = preflight(api_client, "https://admin.example.com")
    assert response["Access-Control-Allow-Origin"] == "https://admin.example.com"
    assert "authorization" in response["Access-Control-Allow-Headers"]


@pytest.mark.parametrize(
    "origin", ["https://evil.example.com", "http://admin.example.com", "https://admin.example.com.evil.net"]
)
def test_a_preflight_from_another_origin_gets_no_allowance(api_client, origin):
    response = preflight(api_client, origin)
    assert "Access-Control-Allow-Origin" not in response
