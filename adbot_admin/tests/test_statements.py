"""The hot statements on PostgreSQL: no health-check round trip, prepared by the server, healed when the
connection dies, and still the database's answer on every request."""

import psycopg
import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.services

ME = "/api/auth/me"


@pytest.fixture
def postgres(transactional_db):
    """Autocommit, as a server runs (a test transaction would keep the retry from ever applying)."""
    if connection.vendor != "postgresql":
        pytest.fail("needs PostgreSQL: run `python3 scripts/dev.py test --services`")


@pytest.fixture
def logged_in(postgres):
    """An APIClient holding the access token of a real password login (a token with a login session)."""
    UserFactory(username="erin", is_staff=True)
    client = APIClient()
    response = client.post("/api/auth/token", {"username": "erin", "password": TEST_PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {response.json()['access']}")
    return client


def _kill_backend():
    """End the server process behind this thread's persistent connection, as a database restart would."""
    pid = connection.connection.info.backend_pid
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"], port=db["PORT"], user=db["USER"], dbname=db["NAME"], autocommit=True
    ) as other:
        assert other.execute("SELECT pg_terminate_backend(%s)", [pid]).fetchone()[0] is True


def _prepared_statements():
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def test_an_authenticated_request_runs_one_statement_and_no_health_check(logged_in, monkeypatch):
    logged_in.get(ME)
    checks = []
    is_usable = connection.is_usable
    monkeypatch.setattr(connection, "is_usable", lambda: checks.append(1) or is_usable())
    with CaptureQueriesContext(connection) as queries:
        assert logged_in.get(ME).status_code == 200
    assert len(queries) == 1
    # Django's CONN_HEALTH_CHECKS would ask is_usable() (a `SELECT 1` round trip) before that statement.
    assert checks == []


def test_the_auth_statement_is_prepared_and_still_decides(logged_in):
    threshold = settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"]
    for _ in range(threshold + 1):
        assert logged_in.get(ME).status_code == 200
    table = get_user_model()._meta.db_table
    assert any(table in statement and "ended_at" in statement for statement in _prepared_statements())

    # Prepared means parsed and planned once, not answered once: a change made behind the app counts at once.
    get_user_model().objects.filter(username="erin").update(is_active=False)
    assert logged_in.get(ME).status_code == 401


def test_a_dead_connection_is_replaced_by_the_first_statement_of_the_next_request(logged_in):
    assert logged_in.get(ME).status_code == 200
    _kill_backend()
    assert logged_in.get(ME).status_code == 200


def test_the_health_probe_heals_a_dead_connection(postgres, api_client):
    assert api_client.get("/api/health").json()["database"] == "ok"
    _kill_backend()
    assert api_client.get("/api/health").json()["database"] == "ok"
