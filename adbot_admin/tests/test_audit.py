"""Audit events: who did what, how, from where, with what outcome; read-only everywhere."""

from datetime import UTC, datetime

import pytest
from django.test import Client

from adbot_admin.audit import record
from adbot_admin.models import AuditEvent
from adbot_admin.tests.factories import TEST_PASSWORD
from conftest import bearer_client

pytestmark = pytest.mark.django_db

AUDIT = "/api/admin/audit"
IP = {"REMOTE_ADDR": "198.51.100.23"}


def fields(event):
    return {
        "actor": event.actor,
        "auth_method": event.auth_method,
        "client_ip": event.client_ip,
        "action": event.action,
        "target": event.target,
        "outcome": event.outcome,
    }


@pytest.mark.parametrize(
    ("password", "status", "actor", "outcome"),
    [(TEST_PASSWORD, 200, "alice", "success"), ("wrong", 401, "", "failure")],
)
def test_api_logins_are_audited(api_client, admin_user, password, status, actor, outcome):
    response = api_client.post("/api/auth/token", {"username": "alice", "password": password}, format="json", **IP)
    assert response.status_code == status

    assert fields(AuditEvent.objects.get()) == {
        "actor": actor,
        "auth_method": "password",
        "client_ip": "198.51.100.23",
        "action": "login",
        "target": "alice",
        "outcome": outcome,
    }


@pytest.mark.parametrize(
    ("right", "status", "actor", "outcome"),
    [(True, 200, "cms-admin", "success"), (False, 401, "", "failure")],
)
def test_cms_logins_are_audited(api_client, cms_password, right, status, actor, outcome):
    password = cms_password if right else "wrong"
    assert api_client.post("/api/cms/login", {"password": password}, format="json", **IP).status_code == status

    assert fields(AuditEvent.objects.get()) == {
        "actor": actor,
        "auth_method": "cms_password",
        "client_ip": "198.51.100.23",
        "action": "cms_login",
        "target": "",
        "outcome": outcome,
    }


@pytest.mark.parametrize(
    ("password", "status", "actor", "outcome"),
    [(TEST_PASSWORD, 302, "alice", "success"), ("wrong", 200, "", "failure")],
)
def test_admin_site_logins_are_audited(admin_user, password, status, actor, outcome):
    response = Client().post("/admin/login/", {"username": "alice", "password": password}, **IP)
    assert response.status_code == status

    assert fields(AuditEvent.objects.get()) == {
        "actor": actor,
        "auth_method": "admin_site",
        "client_ip": "198.51.100.23",
        "action": "admin_site_login",
        "target": "alice",
        "outcome": outcome,
    }


def test_logouts_are_audited(admin_api_client):
    assert admin_api_client.post("/api/auth/logout", {}, format="json", **IP).status_code == 204

    assert fields(AuditEvent.objects.get()) == {
        "actor": "alice",
        "auth_method": "backend_token",
        "client_ip": "198.51.100.23",
        "action": "logout",
        "target": "",
        "outcome": "success",
    }


def test_rate_limit_refusals_are_audited_once_per_window_and_client(api_client, rate_clock):
    rate_clock.now = 1_800_000_000.0

    def flood(addr, times=9):
        for _ in range(times):
            api_client.post("/api/auth/token", {}, format="json", REMOTE_ADDR=addr)

    flood("198.51.100.1")
    flood("198.51.100.2")
    refusals = AuditEvent.objects.filter(action="rate_limited")
    assert sorted(refusals.values_list("client_ip", flat=True)) == ["198.51.100.1", "198.51.100.2"]
    assert fields(refusals.get(client_ip="198.51.100.1")) == {
        "actor": "",
        "auth_method": "none",
        "client_ip": "198.51.100.1",
        "action": "rate_limited",
        "target": "login",
        "outcome": "denied",
    }

    rate_clock.now += 61  # the next window
    flood("198.51.100.1")
    assert refusals.filter(client_ip="198.51.100.1").count() == 2


# The audit log is read-only in the admin site --------------------------------


@pytest.fixture
def event():
    return record(action="login", actor="alice", target="alice")


def test_the_admin_site_lists_audit_events(admin_client, event):
    response = admin_client.get("/admin/adbot_admin/auditevent/")
    assert response.status_code == 200
    assert b"alice" in response.content


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", "/admin/adbot_admin/auditevent/add/"),
        ("post", "/admin/adbot_admin/auditevent/add/"),
        ("post", "/admin/adbot_admin/auditevent/{pk}/change/"),
        ("get", "/admin/adbot_admin/auditevent/{pk}/delete/"),
        ("post", "/admin/adbot_admin/auditevent/{pk}/delete/"),
    ],
)
def test_the_admin_site_cannot_add_change_or_delete_audit_events(admin_client, event, method, url):
    data = {"actor": "mallory", "action": "login", "outcome": "success", "auth_method": "none", "post": "yes"}
    response = getattr(admin_client, method)(url.format(pk=event.pk), data if method == "post" else None)

    assert response.status_code == 403
    assert AuditEvent.objects.filter(actor="mallory").count() == 0
    assert AuditEvent.objects.filter(pk=event.pk, actor="alice").exists()


def test_the_bulk_delete_action_cannot_delete_audit_events(admin_client, event):
    admin_client.post(
        "/admin/adbot_admin/auditevent/",
        {"action": "delete_selected", "_selected_action": [event.pk], "post": "yes"},
    )
    assert AuditEvent.objects.filter(pk=event.pk).exists()


# GET /api/admin/audit ------------------------------------------------------------


@pytest.fixture
def events(monkeypatch):
    """Four events, one a day from 2026-01-01."""
    from django.utils import timezone as django_timezone

    rows = [
        ("login", "alice", "success"),
        ("login", "bob", "failure"),
        ("logout", "alice", "success"),
        ("rate_limited", "", "denied"),
    ]
    made = []
    for day, (action, actor, outcome) in enumerate(rows, start=1):
        moment = datetime(2026, 1, day, 12, tzinfo=UTC)
        monkeypatch.setattr(django_timezone, "now", lambda moment=moment: moment)
        made.append(record(action=action, actor=actor, outcome=outcome))
    monkeypatch.undo()
    return made


def listed(client, **query):
    response = client.get(AUDIT, query)
    assert response.status_code == 200
    return [(row["action"], row["actor"], row["outcome"]) for row in response.json()["results"]]


def test_the_audit_list_is_newest_first_with_every_field(admin_api_client, events):
    response = admin_api_client.get(AUDIT)
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"next", "previous", "results"}  # a cursor page: no count to compute
    assert [row["id"] for row in body["results"]] == [event.pk for event in reversed(events)]
    assert set(body["results"][0]) == {
        "id",
        "created_at",
        "actor",
        "auth_method",
        "client_ip",
        "action",
        "target",
        "outcome",
        "detail",
    }


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"action": "login"}, [("login", "bob", "failure"), ("login", "alice", "success")]),
        ({"actor": "alice"}, [("logout", "alice", "success"), ("login", "alice", "success")]),
        ({"outcome": "failure"}, [("login", "bob", "failure")]),
        ({"since": "2026-01-03T00:00:00Z"}, [("rate_limited", "", "denied"), ("logout", "alice", "success")]),
        ({"until": "2026-01-02T00:00:00Z"}, [("login", "alice", "success")]),
        ({"since": "2026-01-02T00:00:00+00:00", "until": "2026-01-03T00:00:00+00:00"}, [("login", "bob", "failure")]),
        ({"action": "login", "actor": "alice", "outcome": "success"}, [("login", "alice", "success")]),
    ],
)
def test_the_audit_list_filters(admin_api_client, events, query, expected):
    assert listed(admin_api_client, **query) == expected


def test_the_audit_list_is_for_admins_only(api_client, user_api_client, admin_user, events):
    assert api_client.get(AUDIT).status_code == 401
    assert user_api_client.get(AUDIT).status_code == 403
    assert bearer_client(admin_user).get(AUDIT).status_code == 200


def test_the_audit_list_cannot_be_written_through_the_api(admin_api_client, events):
    response = admin_api_client.post(AUDIT, {"action": "forged"}, format="json")
    assert response.status_code == 405
    assert not AuditEvent.objects.filter(action="forged").exists()


def test_the_audit_list_walks_by_cursor_both_ways(admin_api_client, events):
    first = admin_api_client.get(AUDIT, {"page_size": 3}).json()
    assert first["previous"] is None
    assert [row["id"] for row in first["results"]] == [event.pk for event in reversed(events)][:3]
    assert "cursor=" in first["next"]

    second = admin_api_client.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [events[0].pk]
    assert second["next"] is None

    back = admin_api_client.get(second["previous"]).json()
    assert back["results"] == first["results"]


def test_a_new_event_does_not_shift_the_next_page(admin_api_client, events):
    first = admin_api_client.get(AUDIT, {"page_size": 2}).json()
    record(action="login", actor="mallory", outcome="failure")
    second = admin_api_client.get(first["next"]).json()
    assert [row["id"] for row in second["results"]] == [events[1].pk, events[0].pk]


# "cD1hYmM" is base64 for "p=abc": well formed, with a position that is no id.
@pytest.mark.parametrize("cursor", ["nonsense", "cD1hYmM", "%00", "cD0tMQ"])
def test_a_forged_cursor_is_refused_in_the_error_format(admin_api_client, events, cursor):
    response = admin_api_client.get(AUDIT, {"cursor": cursor})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
