"""Helpers for the engine's tests: service tokens, their clients, and fenced writes."""

from django.utils import timezone
from rest_framework.test import APIClient

from adbot_admin import service_tokens
from adbot_admin.models import ServiceToken

LEASES_URL = "/api/engine/leases"


def service_token(name="engine-1", scopes=("engine",), **options):
    """Return the secret of a new service token."""
    return service_tokens.service_token_create(name=name, scopes=list(scopes), **options).secret


def engine_client(secret, **extra):
    client = APIClient(**extra)
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def expire(name):
    ServiceToken.objects.filter(name=name).update(expires_at=timezone.now() - timezone.timedelta(seconds=1))


def lease(client, count=1, ttl=60, **where):
    body = {"count": count, "ttl": ttl}
    if where:
        body["where"] = where
    response = client.post(LEASES_URL, body, format="json")
    assert response.status_code == 201, response.content[:300]
    return response.json()["leases"]


def put_file(client, lease_id, path, fence):
    with open(path, "rb") as handle:
        return client.put(
            f"{LEASES_URL}/{lease_id}/file",
            {"file": handle},
            format="multipart",
            HTTP_LEASE_FENCE=str(fence),
        )
