"""Who may act is read from the database on every request: each way of changing it counts on the next one.

Every path that can log a user out, deactivate or demote them is tried here,
through the public interfaces, and the very next request is refused. None of
these paths has to tell a cache anything: there is no copy to tell.
"""

import pytest
from django.contrib.auth import get_user_model
from django.core.cache import caches
from django.core.management import call_command
from django.db import DatabaseError, connection
from django.test import Client

from adbot_admin import auth_state
from adbot_admin.models import AuditEvent
from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory
from conftest import bearer_client

pytestmark = pytest.mark.django_db

ME = "/api/auth/me"
AUDIT = "/api/admin/audit"


@pytest.fixture
def admin(db):
    return UserFactory(username="dora", is_staff=True, is_superuser=True)


def _admin_site(superuser):
    client = Client()
    client.force_login(superuser)
    return client


def _change_in_admin_site(user, **fields):
    operator = UserFactory(username="operator", is_staff=True, is_superuser=True)
    form = {
        "username": user.username,
        "email": user.email,
        "date_joined_0": "2026-01-01",
        "date_joined_1": "00:00:00",
        "is_active": "on" if fields.get("is_active", user.is_active) else "",
        "is_staff": "on" if fields.get("is_staff", user.is_staff) else "",
        "is_superuser": "on" if user.is_superuser else "",
    }
    form = {name: value for name, value in form.items() if value != ""}
    response = _admin_site(operator).post(f"/admin/adbot_admin/user/{user.pk}/change/", form)
    assert response.status_code == 302, response.content[:2000]


def _raw_sql(user, column):
    table = connection.ops.quote_name(get_user_model()._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(f"UPDATE {table} SET {connection.ops.quote_name(column)} = %s WHERE id = %s", [False, user.pk])


CHANGES = {
    "admin-site-deactivate": (lambda user: _change_in_admin_site(user, is_active=False), 401),
    "admin-site-demote": (lambda user: _change_in_admin_site(user, is_staff=False), 403),
    "queryset-update-deactivate": (
        lambda user: get_user_model().objects.filter(pk=user.pk).update(is_active=False),
        401,
    ),
    "queryset-update-demote": (lambda user: get_user_model().objects.filter(pk=user.pk).update(is_staff=False), 403),
    "raw-sql-deactivate": (lambda user: _raw_sql(user, "is_active"), 401),
    "raw-sql-demote": (lambda user: _raw_sql(user, "is_staff"), 403),
    "manage-py-shell": (
        lambda user: call_command(
            "shell",
            command=f"from adbot_admin.models import User; User.objects.filter(pk={user.pk}).update(is_active=False)",
        ),
        401,
    ),
    "delete": (lambda user: get_user_model().objects.filter(pk=user.pk).delete(), 401),
}


@pytest.mark.parametrize("change", list(CHANGES))
def test_every_change_is_refused_on_the_next_request(admin, change):
    client = bearer_client(admin)
    assert client.get(AUDIT).status_code == 200
    make, status = CHANGES[change]

    make(admin)

    assert client.get(AUDIT).status_code == status
    assert client.get(ME).status_code in (status, 401)


def test_a_logout_through_the_api_is_refused_on_the_next_request(admin):
    client = bearer_client(admin)
    assert client.post("/api/auth/logout", {}, format="json").status_code == 204
    assert client.get(ME).status_code == 401


def test_each_authenticated_request_asks_the_database_once_and_the_cache_never(
    admin, django_assert_num_queries, monkeypatch
):
    client = bearer_client(admin)
    touched = []
    backend = caches["default"]
    for name in ("get", "get_many", "set", "add", "has_key", "incr"):
        monkeypatch.setattr(backend, name, lambda *args, _name=name, **kwargs: touched.append(_name))
    with django_assert_num_queries(1):
        assert client.get(ME).status_code == 200
    assert touched == []


def test_a_logout_the_database_cannot_record_says_it_did_not_happen(admin, monkeypatch):
    client = bearer_client(admin)

    def broken(token):
        raise DatabaseError("the database went away")

    monkeypatch.setattr(auth_state, "revoke", broken)
    response = client.post("/api/auth/logout", {}, format="json")

    assert response.status_code == 503
    assert response.json()["code"] == "logout_failed"
    assert "did not happen" in response.json()["detail"]
    assert not AuditEvent.objects.filter(action="logout").exists()


def _login(username="dora"):
    response = Client().post(
        "/api/auth/token", {"username": username, "password": TEST_PASSWORD}, content_type="application/json"
    )
    assert response.status_code == 200
    return response.json()


def _refresh(refresh):
    return Client().post("/api/auth/token/refresh", {"refresh": refresh}, content_type="application/json")


def _me(access):
    return Client().get(ME, HTTP_AUTHORIZATION=f"Bearer {access}")


def test_a_refresh_token_rotates_and_keeps_the_session(admin):
    first = _login()
    second = _refresh(first["refresh"])
    assert second.status_code == 200
    pair = second.json()
    assert set(pair) == {"access", "refresh", "token_type", "expires_in"}
    assert _me(pair["access"]).status_code == 200
    assert _refresh(pair["refresh"]).status_code == 200


def test_a_reused_refresh_token_ends_every_token_of_its_login(admin):
    first = _login()
    other_login = _login()
    rotated = _refresh(first["refresh"]).json()

    reuse = _refresh(first["refresh"])

    assert reuse.status_code == 401
    assert reuse.json()["code"] == "token_not_valid"
    # Every token descended from that login is refused from now on...
    for access in (first["access"], rotated["access"]):
        assert _me(access).status_code == 401
    assert _refresh(rotated["refresh"]).status_code == 401
    # ...and another login of the same user is left alone.
    assert _me(other_login["access"]).status_code == 200
    event = AuditEvent.objects.get(action="token_refresh_reuse")
    assert event.outcome == "denied" and event.detail == {"session_ended": True}
    assert first["refresh"] not in str(event.detail)


def test_a_logout_ends_the_refresh_token_of_its_login_too(admin):
    tokens = _login()
    response = Client().post(
        "/api/auth/logout", {}, content_type="application/json", HTTP_AUTHORIZATION=f"Bearer {tokens['access']}"
    )
    assert response.status_code == 204
    assert _refresh(tokens["refresh"]).status_code == 401


def test_a_refresh_of_a_deactivated_user_is_refused(admin):
    tokens = _login()
    get_user_model().objects.filter(pk=admin.pk).update(is_active=False)
    assert _refresh(tokens["refresh"]).status_code == 401


def test_a_demoted_user_refreshes_into_a_user_role(admin):
    tokens = _login()
    get_user_model().objects.filter(pk=admin.pk).update(is_staff=False)
    pair = _refresh(tokens["refresh"]).json()
    assert Client().get(AUDIT, HTTP_AUTHORIZATION=f"Bearer {pair['access']}").status_code == 403
