"""The admin site: metadata only, masked hashes, and every write through the services."""

import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from adbot_admin.models import AuditEvent, AuthMethod
from adbot_admin.step_up import ADMIN_SITE_AUTH_TIME
from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory
from sessions_admin.models import ApiPair, SessionFile

from . import session_files
from .conftest import dir_state, sessions_dir, with_sidecars
from .factories import ApiPairFactory, SessionFileFactory, stored_session_file

pytestmark = pytest.mark.django_db(transaction=True)

SESSIONS = "/admin/sessions_admin/sessionfile/"
API_PAIRS = "/admin/sessions_admin/apipair/"
HASH = "0123456789abcdef0123456789abcdef"
MASKED = "0123************************cdef"


@pytest.fixture
def superuser_client(client, django_user_model):
    user = django_user_model.objects.create_superuser("root", "root@example.com", "unused-password")
    client.force_login(user)
    return client


def test_sessions_changelist_shows_metadata_and_searches_by_filename(superuser_client, source_dir):
    key = bytes(range(256))
    stored_session_file(source_dir, "alpha.session", maker=session_files.pyrogram_session, auth_key=key, user_id=4242)
    stored_session_file(source_dir, "beta.session")

    page = superuser_client.get(SESSIONS).content.decode()
    found = superuser_client.get(f"{SESSIONS}?q=alph").content.decode()

    assert "alpha.session" in page and "beta.session" in page and "4242" in page and "pyrogram-3" in page
    assert "alpha.session" in found and "beta.session" not in found
    assert key.hex() not in page


def test_session_detail_is_read_only_with_no_key_and_no_add(superuser_client, source_dir):
    key = bytes(range(256))
    session_file = stored_session_file(source_dir, "alpha.session", auth_key=key)

    detail = superuser_client.get(f"{SESSIONS}{session_file.pk}/change/")
    add = superuser_client.get(f"{SESSIONS}add/")

    assert detail.status_code == 200
    assert session_file.sha256 in detail.content.decode()
    assert key.hex() not in detail.content.decode()
    assert 'name="filename"' not in detail.content.decode()  # nothing editable
    assert add.status_code == 403


def test_sessions_changelist_query_count_does_not_grow(superuser_client):
    SessionFileFactory.create_batch(3)
    superuser_client.get(SESSIONS)
    with CaptureQueriesContext(connection) as few:
        superuser_client.get(SESSIONS)
    SessionFileFactory.create_batch(27)
    with CaptureQueriesContext(connection) as many:
        superuser_client.get(SESSIONS)
    assert len(many) == len(few)


def test_delete_goes_through_the_service(superuser_client, source_dir):
    session_file = stored_session_file(source_dir, "gone.session")
    (sessions_dir() / "gone.session-journal").write_bytes(b"j")

    response = superuser_client.post(f"{SESSIONS}{session_file.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert dir_state() == {}
    assert not SessionFile.objects.exists()
    event = AuditEvent.objects.get(action="session_file.delete")
    assert (event.actor, event.auth_method) == ("root", AuthMethod.ADMIN_SITE)


def logged_in_at(client, auth_time):
    session = client.session
    session[ADMIN_SITE_AUTH_TIME] = int(auth_time)
    session.save()


def bulk_delete(client, rows):
    return client.post(
        SESSIONS, {"action": "delete_selected", "_selected_action": [row.pk for row in rows], "post": "yes"}
    )


def test_bulk_delete_goes_through_the_service_for_each_file(superuser_client, source_dir):
    logged_in_at(superuser_client, time.time())
    rows = [stored_session_file(source_dir, f"s{n}.session") for n in range(3)]
    kept = stored_session_file(source_dir, "kept.session")

    response = superuser_client.post(
        SESSIONS,
        {
            "action": "delete_selected",
            "_selected_action": [row.pk for row in rows],
            "post": "yes",
        },
    )

    assert response.status_code == 302
    assert set(dir_state()) == with_sidecars("kept.session")
    assert list(SessionFile.objects.values_list("pk", flat=True)) == [kept.pk]
    assert AuditEvent.objects.filter(action="session_file.delete").count() == 3


@pytest.mark.parametrize("auth_time", [None, time.time() - 3600], ids=["never", "an hour ago"])
def test_bulk_delete_of_many_files_needs_a_recent_login(superuser_client, source_dir, auth_time):
    if auth_time is not None:
        logged_in_at(superuser_client, auth_time)
    rows = [stored_session_file(source_dir, f"s{n}.session") for n in range(2)]

    response = superuser_client.post(
        SESSIONS,
        {"action": "delete_selected", "_selected_action": [row.pk for row in rows], "post": "yes"},
        follow=True,
    )

    assert "needs a recent login" in response.content.decode()
    assert SessionFile.objects.count() == 2
    assert set(dir_state()) == with_sidecars("s0.session", "s1.session")
    # One file at a time is no bulk delete.
    assert bulk_delete(superuser_client, rows[:1]).status_code == 302
    assert SessionFile.objects.count() == 1


def test_a_login_through_the_admin_site_form_allows_a_bulk_delete(client, source_dir):
    UserFactory(username="root", is_staff=True, is_superuser=True)
    login = client.post("/admin/login/", {"username": "root", "password": TEST_PASSWORD, "next": "/admin/"})
    assert login.status_code == 302
    rows = [stored_session_file(source_dir, f"s{n}.session") for n in range(2)]

    assert bulk_delete(client, rows).status_code == 302
    assert not SessionFile.objects.exists()


# --- API pairs ---------------------------------------------------------------------


def test_api_pair_list_and_change_form_mask_the_hash(superuser_client):
    api_pair = ApiPairFactory(api_id=4321, api_hash=HASH, label="primary")

    page = superuser_client.get(API_PAIRS).content.decode()
    found = superuser_client.get(f"{API_PAIRS}?q=4321").content.decode()
    form = superuser_client.get(f"{API_PAIRS}{api_pair.pk}/change/").content.decode()

    assert MASKED in page and HASH not in page
    assert "primary" in found
    assert MASKED in form and HASH not in form
    assert superuser_client.get(f"{API_PAIRS}?q=not-a-number").status_code == 200


def test_add_goes_through_the_service_and_never_echoes_the_hash(superuser_client):
    response = superuser_client.post(
        f"{API_PAIRS}add/",
        {
            "api_id": "777",
            "api_hash": HASH.upper(),
            "label": "new",
            "is_active": "on",
        },
    )

    assert response.status_code == 302
    api_pair = ApiPair.objects.get()
    assert (api_pair.api_id, api_pair.api_hash, api_pair.label) == (777, HASH, "new")
    assert AuditEvent.objects.filter(action="api_pair.create", target="api_id 777").exists()

    again = superuser_client.post(f"{API_PAIRS}add/", {"api_id": "777", "api_hash": HASH, "label": ""})
    assert again.status_code == 200  # the form shows the duplicate
    assert HASH not in again.content.decode()
    assert ApiPair.objects.count() == 1


def test_add_refuses_a_bad_hash(superuser_client):
    response = superuser_client.post(f"{API_PAIRS}add/", {"api_id": "777", "api_hash": "z" * 32})

    assert response.status_code == 200
    assert not ApiPair.objects.exists()


def test_change_goes_through_the_update_service(superuser_client):
    api_pair = ApiPairFactory(api_hash=HASH, label="old", is_active=True)

    response = superuser_client.post(f"{API_PAIRS}{api_pair.pk}/change/", {"label": "renamed"})

    assert response.status_code == 302
    api_pair.refresh_from_db()
    assert (api_pair.label, api_pair.is_active, api_pair.api_hash) == ("renamed", False, HASH)
    event = AuditEvent.objects.get(action="api_pair.update")
    assert event.detail == {"is_active": False, "label": "renamed"}


def test_activate_and_deactivate_actions(superuser_client):
    on, off = ApiPairFactory(is_active=True), ApiPairFactory(is_active=False)

    superuser_client.post(API_PAIRS, {"action": "deactivate", "_selected_action": [on.pk, off.pk]})
    assert not ApiPair.objects.filter(is_active=True).exists()
    superuser_client.post(API_PAIRS, {"action": "activate", "_selected_action": [on.pk]})

    assert list(ApiPair.objects.filter(is_active=True).values_list("pk", flat=True)) == [on.pk]
    assert AuditEvent.objects.filter(action="api_pair.update").count() == 2


def test_api_pair_deletes_go_through_the_service(superuser_client):
    one, two, three = ApiPairFactory.create_batch(3)

    superuser_client.post(f"{API_PAIRS}{one.pk}/delete/", {"post": "yes"})
    superuser_client.post(API_PAIRS, {"action": "delete_selected", "_selected_action": [two.pk], "post": "yes"})

    assert list(ApiPair.objects.values_list("pk", flat=True)) == [three.pk]
    assert AuditEvent.objects.filter(action="api_pair.delete").count() == 2
