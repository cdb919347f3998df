"""Every route × every kind of service token: it opens /api/engine/* and nothing else, and only while valid.

The routes come from Django's URL resolver (routes.py), so a route added
later is in the matrix the moment it exists.
"""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from adbot_admin import service_tokens
from adbot_admin.models import ServiceToken

from .routes import guarded_cases, is_engine
from .test_routes import bearer, call

CASES = guarded_cases()


def _token(name, *, scopes=("engine",), allowed_ips=()):
    return service_tokens.service_token_create(name=name, scopes=list(scopes), allowed_ips=list(allowed_ips)).secret


def _outcomes(secret, **extra):
    """Return {(method, path): (status, code)} for every guarded case."""
    outcomes = {}
    for route, method in CASES:
        response = call(APIClient(**extra), route, method, **bearer(secret))
        code = response.json().get("code") if method != "head" and response.content else None
        outcomes[(method.upper(), route.path)] = (response.status_code, code)
    return outcomes


def test_the_matrix_has_engine_and_other_routes():
    engine = {route.path for route, _ in CASES if is_engine(route.path)}
    assert {"/api/engine/leases", "/api/engine/leases/1/renew", "/api/engine/leases/1/file"} <= engine
    assert len({route.path for route, _ in CASES}) > len(engine) + 10


@pytest.mark.django_db
@pytest.mark.parametrize("scopes", [("engine",), ("engine", "engine:secrets")], ids=["engine", "engine+secrets"])
def test_a_valid_service_token_opens_the_engine_routes_only(scopes):
    outcomes = _outcomes(_token("worker", scopes=scopes))
    wrong = {}
    for (method, path), (status, code) in outcomes.items():
        if is_engine(path):
            # 201 (an empty grant), 404 (no such lease), 400/428 (an empty body): let through.
            if status in (401, 403) or status >= 500:
                wrong[(method, path)] = (status, code)
        elif status != 403 or (method != "HEAD" and code != "insufficient_scope"):
            wrong[(method, path)] = (status, code)
    assert not wrong


@pytest.mark.django_db
@pytest.mark.parametrize("kind", ["expired", "revoked", "unknown"])
def test_an_expired_revoked_or_unknown_service_token_is_401_everywhere(kind):
    secret = _token("worker", scopes=("engine", "engine:secrets"))
    if kind == "expired":
        ServiceToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    elif kind == "revoked":
        service_tokens.service_token_revoke(name="worker")
    else:
        secret = secret[:-4] + "AAAA"
    outcomes = _outcomes(secret)
    wrong = {
        case: outcome
        for case, outcome in outcomes.items()
        if outcome[0] != 401 or (case[0] != "HEAD" and outcome[1] != "token_not_valid")
    }
    assert not wrong


@pytest.mark.django_db
def test_a_service_token_from_a_disallowed_address_is_403_everywhere():
    secret = _token("worker", allowed_ips=["192.0.2.0/24"])
    outcomes = _outcomes(secret, REMOTE_ADDR="198.51.100.7")
    wrong = {
        case: outcome
        for case, outcome in outcomes.items()
        if outcome[0] != 403 or (case[0] != "HEAD" and outcome[1] != "ip_not_allowed")
    }
    assert not wrong
    allowed = _outcomes(secret, REMOTE_ADDR="192.0.2.7")
    assert all(status not in (401, 403) for (_, path), (status, _) in allowed.items() if is_engine(path))
