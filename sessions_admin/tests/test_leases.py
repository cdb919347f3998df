"""Leases through the engine's HTTP door: grant, renew, release, download, fenced writes, admins' view."""

from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from adbot_admin.models import AuditEvent, AuthMethod, Outcome
from sessions_admin.models import Lease, SessionFile

from . import session_files
from .engine import LEASES_URL, engine_client, lease, put_file, service_token
from .factories import SessionFileFactory, stored_session_file

pytestmark = pytest.mark.django_db


@pytest.fixture
def engine():
    return engine_client(service_token("engine-1"))


@pytest.fixture
def other_engine():
    return engine_client(service_token("engine-2"))


def test_a_grant_hands_out_free_accounts_with_their_fence_and_is_audited(engine):
    rows = SessionFileFactory.create_batch(3, library="telethon", dc_id=2, api_id=None)

    granted = lease(engine, count=2, ttl=120)

    assert len(granted) == 2
    first = granted[0]
    assert set(first) == {"id", "fence", "expires_at", "session"}
    assert first["fence"] == 1
    session = first["session"]
    assert set(session) == {"name", "library", "dc_id", "api_id", "account", "device", "app", "status"}
    assert (session["name"], session["library"], session["dc_id"], session["api_id"]) == (
        rows[0].filename,
        "telethon",
        2,
        None,
    )
    assert session["status"] == "unknown"
    events = AuditEvent.objects.filter(action="lease.grant")
    assert events.count() == 2
    event = events.get(target=rows[0].filename)
    assert (event.actor, event.auth_method) == ("engine-1", AuthMethod.SERVICE_TOKEN)
    assert event.detail["fence"] == 1


def test_fewer_free_accounts_give_fewer_leases_down_to_none(engine, other_engine):
    SessionFileFactory.create_batch(2)
    assert len(lease(engine, count=5)) == 2
    assert lease(other_engine, count=5) == []
    assert lease(engine, count=1) == []


def test_where_filters_by_library_api_id_and_dc_id(engine):
    SessionFileFactory(library="pyrogram", dc_id=4, api_id=11)
    wanted = SessionFileFactory(library="telethon", dc_id=4, api_id=12)
    SessionFileFactory(library="telethon", dc_id=2, api_id=12)

    granted = lease(engine, count=5, library="telethon", api_id=12, dc_id=4)

    assert [item["session"]["name"] for item in granted] == [wanted.filename]


@pytest.mark.parametrize(
    "body",
    [
        {"count": 0},
        {"count": 51},
        {"ttl": 59},
        {"ttl": 3601},
        {"count": "1"},
        {"where": {"colour": "red"}},
        {"where": {"status": ["banned"]}},
        {"where": {"library": "tdlib"}},
        {"extra": True},
    ],
)
def test_bad_grant_bodies_are_400_and_grant_nothing(engine, body):
    SessionFileFactory()
    response = engine.post(LEASES_URL, body, format="json")
    assert response.status_code == 400, response.content
    assert response.json()["code"] == "invalid"
    assert not Lease.objects.exists()


def test_an_expired_lease_frees_its_account_and_the_fence_moves_on(engine, other_engine):
    row = SessionFileFactory()
    first = lease(engine)[0]
    Lease.objects.filter(pk=first["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    SessionFile.objects.filter(pk=row.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))

    second = lease(other_engine)[0]

    assert second["session"]["name"] == row.filename
    assert second["fence"] == first["fence"] + 1
    renew = engine.post(f"{LEASES_URL}/{first['id']}/renew", {"ttl": 60}, format="json")
    assert renew.status_code == 409
    assert renew.json()["code"] == "lease_lost"


def test_renew_moves_expiry_and_release_frees_the_account(engine, other_engine):
    row = SessionFileFactory()
    granted = lease(engine, ttl=60)[0]

    renewed = engine.post(f"{LEASES_URL}/{granted['id']}/renew", {"ttl": 3600}, format="json")
    assert renewed.status_code == 200
    assert renewed.json()["expires_at"] > granted["expires_at"]
    assert lease(other_engine) == []

    released = engine.post(f"{LEASES_URL}/{granted['id']}/release", {}, format="json")
    assert released.status_code == 204
    assert AuditEvent.objects.filter(action="lease.release", target=row.filename).count() == 1
    again = engine.post(f"{LEASES_URL}/{granted['id']}/release", {}, format="json")
    assert (again.status_code, again.json()["code"]) == (409, "lease_lost")
    renew = engine.post(f"{LEASES_URL}/{granted['id']}/renew", {}, format="json")
    assert (renew.status_code, renew.json()["code"]) == (409, "lease_lost")
    assert lease(other_engine)[0]["fence"] == 2


def test_a_renew_that_expired_is_lost_even_when_nobody_took_the_account(engine):
    SessionFileFactory()
    granted = lease(engine)[0]
    Lease.objects.filter(pk=granted["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = engine.post(f"{LEASES_URL}/{granted['id']}/renew", {"ttl": 60}, format="json")

    assert (response.status_code, response.json()["code"]) == (409, "lease_lost")


def test_another_tokens_lease_is_404_to_every_route(engine, other_engine, tmp_path):
    stored_session_file(tmp_path)
    granted = lease(engine)[0]
    base = f"{LEASES_URL}/{granted['id']}"
    assert other_engine.post(f"{base}/renew", {}, format="json").status_code == 404
    assert other_engine.post(f"{base}/release", {}, format="json").status_code == 404
    assert other_engine.get(f"{base}/file").status_code == 404
    assert engine.get(f"{base}/file").status_code == 200


def test_the_holder_downloads_the_file_while_its_lease_is_live(engine, tmp_path):
    row = stored_session_file(tmp_path)
    granted = lease(engine)[0]

    response = engine.get(f"{LEASES_URL}/{granted['id']}/file")

    assert response.status_code == 200
    assert b"".join(response.streaming_content) == (Path(tmp_path) / "sessions" / row.filename).read_bytes()
    engine.post(f"{LEASES_URL}/{granted['id']}/release", {}, format="json")
    lost = engine.get(f"{LEASES_URL}/{granted['id']}/file")
    assert (lost.status_code, lost.json()["code"]) == (409, "lease_lost")


# --- Fencing ------------------------------------------------------------------


def _account(tmp_path):
    """Return (row, stored path, an updated copy holding the same key, another account's file)."""
    key = session_files.new_auth_key()
    row = stored_session_file(tmp_path, auth_key=key)
    updated = session_files.telethon_session(tmp_path / "updated", row.filename, dc_id=4, auth_key=key)
    foreign = session_files.telethon_session(tmp_path / "foreign", row.filename)
    return row, Path(tmp_path) / "sessions" / row.filename, updated, foreign


@pytest.fixture
def account(tmp_path):
    (tmp_path / "updated").mkdir()
    (tmp_path / "foreign").mkdir()
    return _account(tmp_path)


def test_a_fenced_write_replaces_the_file_and_is_audited(engine, account):
    row, stored, updated, _ = account
    granted = lease(engine)[0]

    response = put_file(engine, granted["id"], updated, granted["fence"])

    assert response.status_code == 204, response.content
    assert stored.read_bytes() == updated.read_bytes()
    row.refresh_from_db()
    assert row.dc_id == 4
    assert row.uploaded_by == "engine:engine-1"
    event = AuditEvent.objects.get(action="lease.write", outcome=Outcome.SUCCESS)
    assert event.detail == {"lease": granted["id"], "fence": granted["fence"]}


def test_an_old_fence_after_the_account_was_leased_again_is_refused(engine, other_engine, account):
    row, stored, updated, _ = account
    before = stored.read_bytes()
    old = lease(engine)[0]
    Lease.objects.filter(pk=old["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    SessionFile.objects.filter(pk=row.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
    new = lease(other_engine)[0]
    assert new["fence"] == old["fence"] + 1

    response = put_file(engine, old["id"], updated, old["fence"])

    assert (response.status_code, response.json()["code"]) == (409, "stale_fence")
    assert stored.read_bytes() == before
    failure = AuditEvent.objects.get(action="lease.write", outcome=Outcome.FAILURE)
    assert failure.detail["reason"] == "stale_fence"


def test_a_holder_whose_lease_expired_cannot_write(engine, account):
    row, stored, updated, _ = account
    before = stored.read_bytes()
    granted = lease(engine)[0]
    Lease.objects.filter(pk=granted["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))

    response = put_file(engine, granted["id"], updated, granted["fence"])

    assert (response.status_code, response.json()["code"]) == (409, "stale_fence")
    assert stored.read_bytes() == before


def test_a_fence_that_is_not_the_current_one_is_refused(engine, account):
    _, stored, updated, _ = account
    before = stored.read_bytes()
    granted = lease(engine)[0]
    for fence in (granted["fence"] + 1, granted["fence"] - 1):
        response = put_file(engine, granted["id"], updated, fence)
        assert (response.status_code, response.json()["code"]) == (409, "stale_fence")
    assert stored.read_bytes() == before


def test_a_released_lease_cannot_write(engine, account):
    _, stored, updated, _ = account
    before = stored.read_bytes()
    granted = lease(engine)[0]
    engine.post(f"{LEASES_URL}/{granted['id']}/release", {}, format="json")

    response = put_file(engine, granted["id"], updated, granted["fence"])

    assert (response.status_code, response.json()["code"]) == (409, "stale_fence")
    assert stored.read_bytes() == before


def test_a_write_with_another_accounts_key_is_refused(engine, account):
    row, stored, _, foreign = account
    before = stored.read_bytes()
    granted = lease(engine)[0]

    response = put_file(engine, granted["id"], foreign, granted["fence"])

    assert response.status_code == 400, response.content
    assert response.json()["code"] == "auth_key_changed"
    assert "another auth key" in response.json()["errors"]["file"][0]
    assert stored.read_bytes() == before
    row_after = SessionFile.objects.get(pk=row.pk)
    assert row_after.sha256 == row.sha256


def test_a_write_without_a_fence_or_with_a_bad_one(engine, account):
    _, stored, updated, _ = account
    granted = lease(engine)[0]
    with open(updated, "rb") as handle:
        response = engine.put(f"{LEASES_URL}/{granted['id']}/file", {"file": handle}, format="multipart")
    assert (response.status_code, response.json()["code"]) == (428, "fence_required")
    assert put_file(engine, granted["id"], updated, "1e3").status_code == 400


def test_a_write_that_is_not_a_session_file_is_refused(engine, account, tmp_path):
    _, stored, _, _ = account
    before = stored.read_bytes()
    granted = lease(engine)[0]
    junk = tmp_path / "junk.session"
    junk.write_bytes(b"not a database")

    response = put_file(engine, granted["id"], junk, granted["fence"])

    assert response.status_code == 400
    assert stored.read_bytes() == before


# --- Admins -------------------------------------------------------------------


def test_admins_list_and_break_leases(engine, admin_api_client, other_engine):
    row = SessionFileFactory()
    granted = lease(engine)[0]

    listing = admin_api_client.get("/api/admin/leases?live=true")
    assert listing.status_code == 200
    [item] = listing.json()["results"]
    assert item["session"] == row.filename
    assert (item["holder"], item["fence"], item["live"]) == ("engine-1", 1, True)
    assert {"since", "until"} <= set(item)

    response = admin_api_client.delete(f"/api/admin/leases/{granted['id']}")
    assert response.status_code == 204
    assert AuditEvent.objects.filter(action="lease.break", target=row.filename).count() == 1
    assert admin_api_client.delete(f"/api/admin/leases/{granted['id']}").status_code == 409
    assert admin_api_client.get("/api/admin/leases?live=true").json()["results"] == []
    assert lease(other_engine)[0]["fence"] == 2
    lost = engine.post(f"{LEASES_URL}/{granted['id']}/renew", {}, format="json")
    assert lost.json()["code"] == "lease_lost"


def test_deleting_a_leased_session_is_409_unless_forced(engine, admin_api_client, tmp_path):
    row = stored_session_file(tmp_path)
    granted = lease(engine)[0]

    response = admin_api_client.delete(f"/api/admin/sessions/{row.filename}")
    assert (response.status_code, response.json()["code"]) == (409, "session_leased")
    assert SessionFile.objects.filter(pk=row.pk).exists()

    forced = admin_api_client.delete(f"/api/admin/sessions/{row.filename}?force=true")
    assert forced.status_code == 204
    assert not SessionFile.objects.filter(pk=row.pk).exists()
    assert AuditEvent.objects.filter(action="lease.break", detail__lease=granted["id"]).exists()


def test_a_session_whose_lease_expired_deletes_without_force(engine, admin_api_client):
    row = SessionFileFactory()
    granted = lease(engine)[0]
    Lease.objects.filter(pk=granted["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
    assert admin_api_client.delete(f"/api/admin/sessions/{row.filename}").status_code == 204


def test_the_admin_site_shows_leases_read_only(engine, admin_client):
    SessionFileFactory()
    granted = lease(engine)[0]
    listing = admin_client.get("/admin/sessions_admin/lease/")
    assert listing.status_code == 200
    assert b"engine-1" in listing.content
    page = admin_client.get(f"/admin/sessions_admin/lease/{granted['id']}/change/")
    assert page.status_code == 200
    assert b'name="_save"' not in page.content
    assert admin_client.get("/admin/sessions_admin/lease/add/").status_code == 403
    assert admin_client.post(f"/admin/sessions_admin/lease/{granted['id']}/delete/", {"post": "yes"}).status_code == 403


# --- Cost ---------------------------------------------------------------------


def test_a_grant_runs_a_fixed_number_of_queries_whatever_the_table_holds(engine):
    SessionFileFactory.create_batch(5)
    lease(engine)  # the token's first request of the minute also writes last_used_at
    with CaptureQueriesContext(connection) as small:
        lease(engine)
    SessionFileFactory.create_batch(200)
    with CaptureQueriesContext(connection) as large:
        lease(engine)
    # Each grant is audited; on SQLite its row is sealed into the chain in the same transaction
    # (the head, the pending rows, their seq, the head's new MAC), on PostgreSQL after the commit.
    assert len(small) == len(large) <= 13


def test_deleting_a_leased_session_on_the_admin_site_breaks_its_lease(engine, admin_client, tmp_path):
    row = stored_session_file(tmp_path)
    granted = lease(engine)[0]

    response = admin_client.post(f"/admin/sessions_admin/sessionfile/{row.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not SessionFile.objects.filter(pk=row.pk).exists()
    assert AuditEvent.objects.filter(action="lease.break", detail__lease=granted["id"]).exists()


def test_the_default_status_is_active_or_unknown_and_banned_revoked_deactivated_never_lease(engine):
    wanted = {
        SessionFileFactory(status="active").filename,
        SessionFileFactory(status="unknown").filename,
    }
    limited = SessionFileFactory(status="limited")
    for status in ("banned", "revoked", "deactivated", "frozen"):
        SessionFileFactory(status=status)

    assert {item["session"]["name"] for item in lease(engine, count=50)} == wanted
    assert [item["session"]["name"] for item in lease(engine, count=50, status=["limited"])] == [limited.filename]
    for status in ("banned", "revoked", "deactivated"):
        response = engine.post(LEASES_URL, {"where": {"status": [status]}}, format="json")
        assert response.status_code == 400


def test_a_release_with_a_status_writes_the_ledger_as_the_engine(engine):
    from sessions_admin.models import SessionStatusChange

    row = SessionFileFactory(status="active")
    granted = lease(engine)[0]
    until = (timezone.now() + timedelta(days=1)).isoformat()

    response = engine.post(
        f"{LEASES_URL}/{granted['id']}/release",
        {"status": "limited", "reason": "PEER_FLOOD", "until": until},
        format="json",
    )

    assert response.status_code == 204, response.content
    row.refresh_from_db()
    assert (row.status, row.status_reason) == ("limited", "PEER_FLOOD")
    change = SessionStatusChange.objects.get(session_file=row)
    assert change.source == "engine:engine-1"


def test_a_release_with_a_bad_status_releases_nothing(engine, other_engine):
    SessionFileFactory(status="active")
    granted = lease(engine)[0]
    past = (timezone.now() - timedelta(days=1)).isoformat()

    response = engine.post(f"{LEASES_URL}/{granted['id']}/release", {"status": "limited", "until": past}, format="json")

    assert (response.status_code, response.json()["code"]) == (400, "invalid_status")
    assert lease(other_engine) == []


def test_the_sidecar_comes_with_its_secrets_only_to_the_secrets_scope(settings, tmp_path):
    import json

    from adbot_admin.models import AuditEvent as Event
    from sessions_admin import services
    from sessions_admin.tests.engine import engine_client, service_token

    path = session_files.telethon_session(tmp_path, "acct.session")
    sidecar = {
        "app_id": 2040,
        "app_hash": "b18441a1ff607e10a989891a5462e627",
        "twoFA": "s3cret-pass",
        "phone": "15550001",
    }
    with open(path, "rb") as content:
        from django.core.files import File

        services.session_file_store(upload=File(content, name="acct.session"), sidecar=sidecar, uploaded_by="t")
    plain = engine_client(service_token("plain"))
    granted = lease(plain, status=["unknown", "active"])[0]
    body = plain.get(f"{LEASES_URL}/{granted['id']}/sidecar")
    assert body.status_code == 200, body.content
    assert json.loads(body.content)["phone"] == "15550001"
    assert b"s3cret-pass" not in body.content and b"b18441a1" not in body.content
    plain.post(f"{LEASES_URL}/{granted['id']}/release", {}, format="json")

    secrets = engine_client(service_token("secrets", scopes=("engine", "engine:secrets")))
    granted = lease(secrets)[0]
    body = secrets.get(f"{LEASES_URL}/{granted['id']}/sidecar")
    assert body.status_code == 200
    assert json.loads(body.content)["twoFA"] == "s3cret-pass"
    assert Event.objects.filter(action="lease.sidecar_secrets", actor="secrets").exists()
    assert b"s3cret-pass" not in str(list(Event.objects.values())).encode()


def test_grants_lost_leases_and_stale_fences_are_counted_in_the_metrics(
    engine, other_engine, account, django_capture_on_commit_callbacks
):
    from adbot_admin.tests.test_metrics import scrape, value

    row, _, updated, _ = account
    names = ("adbot_leases_granted_total", "adbot_leases_lost_total", "adbot_lease_stale_fence_total")
    before = [value(scrape(), name) for name in names]
    with django_capture_on_commit_callbacks(execute=True):
        old = lease(engine)[0]
        Lease.objects.filter(pk=old["id"]).update(expires_at=timezone.now() - timedelta(seconds=1))
        SessionFile.objects.filter(pk=row.pk).update(lease_expires_at=timezone.now() - timedelta(seconds=1))
        assert engine.post(f"{LEASES_URL}/{old['id']}/renew", {"ttl": 60}, format="json").status_code == 409
        lease(other_engine)
        assert put_file(engine, old["id"], updated, old["fence"]).status_code == 409

    samples = scrape()
    assert [value(samples, name) for name in names] == [before[0] + 2, before[1] + 1, before[2] + 1]
