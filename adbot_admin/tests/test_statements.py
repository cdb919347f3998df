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
from cms import services as gallery_services
from sessions_admin.tests.factories import SessionFileFactory

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


def _fixed_statements():
    """Return the statements this connection has prepared through libpq (prepared_statements.py)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements WHERE name LIKE 'adbot_fixed_%%'")
        return [row[0] for row in cursor.fetchall()]


def test_statements_deallocated_behind_the_apps_back_are_prepared_again(logged_in):
    threshold = settings.DATABASES["default"]["OPTIONS"]["prepare_threshold"]
    for _ in range(threshold + 1):
        assert logged_in.get(ME).status_code == 200
    assert _fixed_statements()

    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # as a pooler resetting a session would
    assert _fixed_statements() == []

    for _ in range(threshold + 1):
        assert logged_in.get(ME).status_code == 200
    assert any("ended_at" in statement for statement in _fixed_statements())


def test_a_connection_keeps_no_more_prepared_statements_than_prepared_max(logged_in):
    files = [SessionFileFactory() for _ in range(12)]
    newest_first = sorted(files, key=lambda row: (row.uploaded_at, row.id), reverse=True)
    logged_in.get(ME)  # the connection is open
    connection.connection.prepare_threshold = 0  # every statement prepared at its first run
    connection.connection.prepared_max = 2
    try:
        # Each deep page of a list just written is a statement of its own (a deferred join: sessions_admin/api/
        # pagination.py): more statements than prepared_max.
        for page in range(1, 7):
            response = logged_in.get("/api/admin/sessions", {"page": page, "page_size": 2})
            assert response.status_code == 200, response.content
            shown = [row["filename"] for row in response.json()["results"]]
            assert shown == [row.filename for row in newest_first[(page - 1) * 2 : page * 2]]
            assert 0 < len(_fixed_statements()) <= 2
    finally:
        connection.close()  # the next test's connection has the settings' thresholds


def test_a_statement_the_database_refuses_answers_503_and_leaves_the_connection_working(logged_in, monkeypatch):
    assert logged_in.get("/api/public/gallery").status_code == 200
    monkeypatch.setattr(gallery_services, "_revision_statement", lambda: 'SELECT 1 FROM "no_such_table" WHERE 1 = %s')
    response = logged_in.get("/api/public/gallery")
    assert (response.status_code, response.json()["code"]) == (503, "database_unavailable")

    monkeypatch.undo()
    assert logged_in.get("/api/public/gallery").status_code == 200
    assert logged_in.get(ME).status_code == 200
