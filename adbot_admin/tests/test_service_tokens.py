"""Service tokens: made once and shown once, hashed at rest, checked in the database on every request."""

import hashlib
import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from adbot_admin import service_tokens
from adbot_admin.models import AuditEvent, ServiceToken
from conftest import bearer_client
from sessions_admin.tests.engine import LEASES_URL, engine_client, expire, service_token
from sessions_admin.tests.factories import SessionFileFactory

pytestmark = pytest.mark.django_db

URL = "/api/admin/service-tokens"


def test_the_command_prints_the_token_once_and_stores_only_its_hash():
    out, err = StringIO(), StringIO()
    call_command(
        "create_service_token",
        "worker-1",
        "--scope",
        "engine",
        "--scope",
        "engine:secrets",
        "--expires-days",
        "30",
        "--allowed-ips",
        "10.0.0.0/8, 192.0.2.7",
        stdout=out,
        stderr=err,
    )
    secret = out.getvalue().strip()
    assert secret.startswith("adbot_svc_") and len(secret) >= 50
    row = ServiceToken.objects.get(name="worker-1")
    assert row.key_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(list(ServiceToken.objects.values()))
    assert row.scopes == ["engine", "engine:secrets"]
    assert row.allowed_ips == ["10.0.0.0/8", "192.0.2.7/32"]
    assert timedelta(days=29) < row.expires_at - timezone.now() <= timedelta(days=30)
    assert AuditEvent.objects.filter(action="service_token.create", target="worker-1").exists()
    assert secret not in str(list(AuditEvent.objects.values()))


@pytest.mark.parametrize(
    "arguments",
    [
        ["--scope", "engine:secrets"],
        ["--scope", "engine", "--allowed-ips", "10.0.0.1/8"],
        ["--scope", "engine", "--allowed-ips", "nowhere"],
        ["--scope", "engine", "--expires-days", "0"],
    ],
)
def test_the_command_refuses_bad_options_and_stores_nothing(arguments):
    with pytest.raises(CommandError):
        call_command("create_service_token", "worker-1", *arguments, stdout=StringIO(), stderr=StringIO())
    assert not ServiceToken.objects.exists()


def test_revoking_by_command_refuses_the_next_request():
    SessionFileFactory()
    client = engine_client(service_token("worker-1"))
    assert client.post(LEASES_URL, {}, format="json").status_code == 201

    call_command("revoke_service_token", "worker-1", stdout=StringIO())

    response = client.post(LEASES_URL, {}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "token_not_valid")
    with pytest.raises(CommandError):
        call_command("revoke_service_token", "worker-1", stdout=StringIO())
    # The name is free again.
    service_token("worker-1")


def test_an_expired_token_is_401():
    client = engine_client(service_token("worker-1"))
    expire("worker-1")
    response = client.post(LEASES_URL, {}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "token_not_valid")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_unknown_token_is_401():
    response = engine_client("adbot_svc_" + "x" * 43).post(LEASES_URL, {}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "token_not_valid")


def test_allowed_ips_are_enforced_before_anything_else():
    secret = service_token("worker-1", allowed_ips=["192.0.2.0/24"])
    assert engine_client(secret, REMOTE_ADDR="192.0.2.9").post(LEASES_URL, {}, format="json").status_code == 201
    refused = engine_client(secret, REMOTE_ADDR="198.51.100.1").post(LEASES_URL, {}, format="json")
    assert (refused.status_code, refused.json()["code"]) == (403, "ip_not_allowed")
    # Even on a route it could not use, and even once revoked: the address is checked first.
    service_tokens.service_token_revoke(name="worker-1")
    assert engine_client(secret, REMOTE_ADDR="198.51.100.1").get("/api/admin/audit").json()["code"] == (
        "ip_not_allowed"
    )


def test_a_service_token_gets_403_insufficient_scope_on_admin_routes():
    client = engine_client(service_token("worker-1", scopes=("engine", "engine:secrets")))
    for path in ("/api/admin/sessions", "/api/admin/audit", URL, "/api/auth/me", "/api/admin/leases"):
        response = client.get(path)
        assert (response.status_code, response.json()["code"]) == (403, "insufficient_scope"), path


def test_a_user_token_gets_403_on_engine_routes(admin_api_client):
    response = admin_api_client.post(LEASES_URL, {}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "insufficient_scope")


def test_last_used_at_is_written_at_most_once_a_minute():
    SessionFileFactory.create_batch(3)
    client = engine_client(service_token("worker-1"))
    client.post(LEASES_URL, {}, format="json")
    first = ServiceToken.objects.get().last_used_at
    assert first is not None
    with CaptureQueriesContext(connection) as queries:
        client.post(LEASES_URL, {}, format="json")
    assert not [q for q in queries if q["sql"].startswith("UPDATE") and "last_used_at" in q["sql"]]
    assert ServiceToken.objects.get().last_used_at == first
    ServiceToken.objects.update(last_used_at=first - timedelta(seconds=61))
    client.post(LEASES_URL, {}, format="json")
    assert ServiceToken.objects.get().last_used_at > first


# --- Admin API ----------------------------------------------------------------


def test_post_needs_a_recent_login(admin_user):
    stale = bearer_client(admin_user, auth_time=time.time() - 3600)
    response = stale.post(URL, {"name": "w", "scopes": ["engine"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (403, "reauthentication_required")
    assert not ServiceToken.objects.exists()


def test_post_shows_the_token_once_and_the_list_never(admin_user):
    client = bearer_client(admin_user, auth_time=time.time())
    response = client.post(
        URL,
        {"name": "worker-1", "scopes": ["engine"], "expires_days": 7, "allowed_ips": ["10.1.0.0/16"]},
        format="json",
    )
    assert response.status_code == 201, response.content
    secret = response.json()["token"]
    assert secret.startswith("adbot_svc_")
    listing = client.get(URL)
    assert listing.status_code == 200
    [item] = listing.json()["results"]
    assert {"name", "scopes", "created_at", "expires_at", "last_used_at", "allowed_ips"} <= set(item)
    assert "token" not in item and "key_hash" not in item
    assert secret not in listing.content.decode()
    assert secret[len("adbot_svc_") :][:6] == item["hint"]

    duplicate = client.post(URL, {"name": "worker-1", "scopes": ["engine"]}, format="json")
    assert (duplicate.status_code, duplicate.json()["code"]) == (409, "service_token_exists")


@pytest.mark.parametrize(
    "body",
    [
        {"name": "w", "scopes": []},
        {"name": "w", "scopes": ["admin"]},
        {"name": "w", "scopes": ["engine:secrets"]},
        {"name": "w", "scopes": ["engine"], "allowed_ips": ["10.0.0.1/8"]},
        {"name": "w", "scopes": ["engine"], "expires_days": 0},
        {"name": "", "scopes": ["engine"]},
    ],
)
def test_post_refuses_bad_bodies(admin_user, body):
    response = bearer_client(admin_user, auth_time=time.time()).post(URL, body, format="json")
    assert response.status_code == 400, response.content
    assert not ServiceToken.objects.exists()


def test_delete_revokes_and_the_next_request_is_401(admin_api_client):
    SessionFileFactory()
    secret = service_token("worker-1")
    client = engine_client(secret)
    assert client.post(LEASES_URL, {}, format="json").status_code == 201
    row = ServiceToken.objects.get()

    assert admin_api_client.delete(f"{URL}/{row.pk}").status_code == 204

    assert client.post(LEASES_URL, {}, format="json").status_code == 401
    assert admin_api_client.delete(f"{URL}/{row.pk}").status_code == 404
    assert AuditEvent.objects.filter(action="service_token.revoke", target="worker-1").exists()
