"""GET /metrics: who may read it, and what its series count (through HTTP, as Prometheus reads them)."""

import re

import pytest
from django.db import DatabaseError, connection
from django.db.backends.signals import connection_created
from django.test import Client
from prometheus_client import CONTENT_TYPE_LATEST
from prometheus_client.parser import text_string_to_metric_families

from adbot_admin.audit import record
from adbot_admin.tests.factories import TEST_PASSWORD
from cms.api import views as gallery_views
from conftest import bearer_client
from sessions_admin.tests.factories import SessionFileFactory

pytestmark = pytest.mark.django_db

METRICS = "/metrics"
TOKEN = "metrics-token-for-tests-0123456789abcdefghijkl"
OUTSIDE = {"REMOTE_ADDR": "203.0.113.9"}


def scrape(**extra):
    response = Client().get(METRICS, **extra)
    assert response.status_code == 200, response.content[:300]
    assert response["Content-Type"] == CONTENT_TYPE_LATEST
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def series_names():
    """Return the name of every series /metrics declares, with or without samples yet."""
    text = Client().get(METRICS).content.decode()
    names = set()
    for family in text_string_to_metric_families(text):
        names.add(family.name + ("_total" if family.type == "counter" else ""))
    return names


def value(samples, name, **labels):
    return samples.get((name, tuple(sorted(labels.items()))), 0)


# --- who may read it --------------------------------------------------------------------------------------------


def test_loopback_reads_the_metrics_without_a_token():
    assert value(scrape(), "adbot_database_up") == 1


def test_another_address_without_a_token_is_403(settings):
    settings.METRICS_TOKEN = TOKEN
    response = Client().get(METRICS, **OUTSIDE)
    assert response.status_code == 403
    assert response.json() == {"detail": "Your address may not read the metrics.", "code": "metrics_not_allowed"}


@pytest.mark.parametrize("header", ["Bearer wrong-token", "Basic Zm9vOmJhcg==", "Bearer", f"Token {TOKEN}"])
def test_a_wrong_token_is_401_from_any_address(settings, header):
    settings.METRICS_TOKEN = TOKEN
    for address in ("127.0.0.1", "203.0.113.9"):
        response = Client().get(METRICS, HTTP_AUTHORIZATION=header, REMOTE_ADDR=address)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_metrics_token"
        assert response["WWW-Authenticate"] == 'Bearer realm="metrics"'


def test_the_metrics_token_reads_from_any_address(settings):
    settings.METRICS_TOKEN = TOKEN
    scrape(HTTP_AUTHORIZATION=f"Bearer {TOKEN}", **OUTSIDE)


def test_no_token_is_accepted_when_none_is_configured(settings):
    settings.METRICS_TOKEN = ""
    assert Client().get(METRICS, HTTP_AUTHORIZATION="Bearer ", **OUTSIDE).status_code == 401


def test_a_user_login_never_opens_the_metrics(admin_user):
    """An admin's access token is no metrics token: /metrics is not behind a user login."""
    token = bearer_client(admin_user).tokens["access"]
    assert Client().get(METRICS, HTTP_AUTHORIZATION=f"Bearer {token}", **OUTSIDE).status_code == 401
    assert Client().get(METRICS, HTTP_AUTHORIZATION=f"Bearer {token}").status_code == 401


def test_allowed_networks_are_configurable(settings):
    settings.METRICS_ALLOWED_IPS = ["10.0.0.0/8"]
    assert Client().get(METRICS, REMOTE_ADDR="10.1.2.3").status_code == 200
    assert Client().get(METRICS).status_code == 403  # loopback is no longer listed


def test_the_admin_allowlist_leaves_metrics_to_its_own_guard(settings):
    settings.ADMIN_ALLOWED_IPS = ["198.51.100.0/24"]
    settings.METRICS_ALLOWED_IPS = ["203.0.113.9"]
    assert Client().get(METRICS, **OUTSIDE).status_code == 200


def test_only_get_and_head(settings):
    response = Client().post(METRICS)
    assert response.status_code == 405 and response.json()["code"] == "method_not_allowed"


# --- what it counts --------------------------------------------------------------------------------------------


def test_requests_are_counted_by_route_template_never_by_raw_path(admin_api_client):
    before = scrape()
    session = "00000000-0000-4000-8000-000000000000"
    assert admin_api_client.delete(f"/api/auth/sessions/{session}").status_code == 404
    assert admin_api_client.get("/no-such-path/alice@example.com").status_code == 404
    samples = scrape()

    route = {"route": "/api/auth/sessions/{session_id}", "method": "DELETE", "status": "404"}
    assert (
        value(samples, "adbot_http_requests_total", **route) == value(before, "adbot_http_requests_total", **route) + 1
    )
    unmatched = {"route": "unmatched", "method": "GET", "status": "404"}
    assert value(samples, "adbot_http_requests_total", **unmatched) >= 1
    count = {"route": "/api/auth/sessions/{session_id}", "method": "DELETE"}
    assert value(samples, "adbot_http_request_duration_seconds_count", **count) >= 1
    labels = {v for (_, pairs) in samples for (_, v) in pairs}
    assert not any(session in label or "alice" in label for label in labels)


def test_an_unknown_method_is_labelled_other():
    Client().generic("BREW", "/api/health")
    assert value(scrape(), "adbot_http_requests_total", route="/api/health", method="other", status="405") >= 1


# The audit writer counts once the row commits; inside a test's transaction that is these captured callbacks.


def test_logins_are_counted_from_the_audit_log(api_client, admin_user, django_capture_on_commit_callbacks):
    def logins(outcome):
        return value(scrape(), "adbot_logins_total", method="password", outcome=outcome)

    success, failure = logins("success"), logins("failure")
    with django_capture_on_commit_callbacks(execute=True):
        api_client.post("/api/auth/token", {"username": "alice", "password": TEST_PASSWORD}, format="json")
        api_client.post("/api/auth/token", {"username": "alice", "password": "wrong"}, format="json")
    assert (logins("success"), logins("failure")) == (success + 1, failure + 1)


def test_lockouts_are_counted(api_client, admin_user, settings, django_capture_on_commit_callbacks):
    settings.LOGIN_ACCOUNT_FAILURES = 2
    before = scrape()
    with django_capture_on_commit_callbacks(execute=True):
        for _ in range(3):
            api_client.post("/api/auth/token", {"username": "alice", "password": "wrong"}, format="json")
    samples = scrape()
    assert value(samples, "adbot_lockouts_total") == value(before, "adbot_lockouts_total") + 1
    locked = {"method": "none", "outcome": "locked"}
    assert value(samples, "adbot_logins_total", **locked) == value(before, "adbot_logins_total", **locked) + 1


def test_refused_addresses_are_counted_each_time(settings, api_client):
    settings.ADMIN_ALLOWED_IPS = ["198.51.100.0/24"]
    before = value(scrape(), "adbot_refused_addresses_total")
    for _ in range(3):
        assert api_client.get("/api/auth/me", **OUTSIDE).status_code == 403
    assert value(scrape(), "adbot_refused_addresses_total") == before + 3


def test_sessions_by_status_and_the_audit_head_are_read_at_scrape_time(django_assert_max_num_queries):
    SessionFileFactory.create_batch(3)
    for _ in range(4):
        record(action="login")
    # The first scrape seals the rows still pending (on PostgreSQL, the test's transaction never commits).
    assert value(scrape(), "adbot_audit_head_seq") == 4
    with django_assert_max_num_queries(2):
        samples = scrape()
    assert sum(v for (name, _), v in samples.items() if name == "adbot_sessions") == 3
    assert value(samples, "adbot_audit_head_seq") == 4


def test_a_rolled_back_audit_event_is_not_counted(django_capture_on_commit_callbacks):
    from django.db import transaction

    before = value(scrape(), "adbot_logins_total", method="shell", outcome="success")
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(RuntimeError), transaction.atomic():
            record(action="login")
            raise RuntimeError
        record(action="login")
    assert value(scrape(), "adbot_logins_total", method="shell", outcome="success") == before + 1


def test_the_lease_counters_exist_for_the_engine():
    names = series_names()
    assert {"adbot_leases_granted_total", "adbot_leases_lost_total", "adbot_lease_stale_fence_total"} <= names
    assert {"adbot_database_errors_total", "adbot_cache_errors_total", "adbot_cache_up"} <= names


def test_a_broken_cache_is_counted_and_reported_down(broken_cache):
    before = value(scrape(), "adbot_cache_errors_total")
    samples = scrape()
    assert value(samples, "adbot_cache_up") == 0
    assert value(samples, "adbot_cache_errors_total") == before + 1


@pytest.mark.parametrize("path", ["/api/auth/token", "/api/public/gallery"])
def test_a_request_that_meets_a_broken_cache_is_counted(broken_cache, admin_user, path, monkeypatch):
    # Not this process's copy of the body from an earlier test: the gallery must ask the cache.
    monkeypatch.setattr(gallery_views, "_latest", (None, None))
    before = value(scrape(), "adbot_cache_errors_total")
    if path == "/api/public/gallery":
        assert Client().get(path).status_code == 200  # the listing works without its cache
    else:
        body = {"username": admin_user.username, "password": TEST_PASSWORD}
        assert Client().post(path, body, content_type="application/json").status_code == 503

    # This request's failures (the gallery tries to read and to store its body), then the scrape's own probe.
    expected = 2 if path == "/api/public/gallery" else 1
    assert value(scrape(), "adbot_cache_errors_total") == before + expected + 1


def test_every_series_name_is_documented():
    from pathlib import Path

    documented = (Path(__file__).resolve().parents[2] / "docs" / "monitoring.md").read_text()
    for name in series_names():
        if name.startswith("adbot_"):
            assert name in documented, name


def test_the_grafana_dashboard_reads_only_series_that_exist():
    import json
    from pathlib import Path

    dashboard = json.loads((Path(__file__).resolve().parents[2] / "docs" / "grafana-dashboard.json").read_text())
    names = series_names()
    used = {
        name
        for panel in dashboard["panels"]
        for target in panel["targets"]
        for name in re.findall(r"adbot_\w+", target["expr"])
    }
    assert len(dashboard["panels"]) >= 10
    assert {re.sub(r"_bucket$", "", name) for name in used} <= names


@pytest.mark.django_db(transaction=True)
def test_a_failed_statement_is_counted_once_however_often_the_connection_was_remade():
    # Django sends connection_created on every connect (CONN_MAX_AGE ends a connection every 10 minutes), to the
    # same connection object: its wrappers must not pile up, each counting the error again and costing each
    # statement one more call.
    for _ in range(3):
        connection_created.send(sender=type(connection), connection=connection)
    before = value(scrape(), "adbot_database_errors_total")

    with pytest.raises(DatabaseError), connection.cursor() as cursor:
        cursor.execute('SELECT 1 FROM "no_such_table"')

    assert value(scrape(), "adbot_database_errors_total") == before + 1


@pytest.mark.django_db(transaction=True)
def test_a_fixed_statement_that_fails_in_the_database_is_counted(monkeypatch):
    from cms import services as gallery_services

    # The gallery's revision read is a fixed statement (adbot_admin.statements): it runs on the driver's cursor.
    monkeypatch.setattr(gallery_services, "_revision_statement", lambda: 'SELECT 1 FROM "no_such_table" WHERE 1 = %s')
    before = value(scrape(), "adbot_database_errors_total")

    response = Client().get("/api/public/gallery")

    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    # Two failed statements: the plain read's, then DRF's answer to it, which reads the revision again.
    assert value(scrape(), "adbot_database_errors_total") == before + 2
