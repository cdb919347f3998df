"""The api_id a session belongs to, through HTTP: from the file or an admin, API pairs, filters, guarded deletes."""

import pytest

from adbot_admin.models import AuditEvent, Outcome

from . import session_files
from .conftest import API_PAIRS_URL, SESSIONS_URL, upload
from .factories import ApiPairFactory


@pytest.fixture
def stored(admin_api_client):
    """Upload a library-made fixture under its own name and return its metadata."""

    def store(fixture):
        response = upload(admin_api_client, session_files.fixture_path(fixture))
        assert response.status_code == 201, response.json()
        return response.json()

    return store


def patch(client, filename, body):
    return client.patch(f"{SESSIONS_URL}/{filename}", body, format="json")


def test_pyrogram_family_files_carry_their_api_id_and_telethon_files_none(stored):
    assert stored("kurigram-2.2.26.session")["api_id"] == 611335
    assert stored("telethon-1.45.0.session")["api_id"] is None


def test_an_admin_sets_the_api_id_of_a_telethon_file_and_it_is_audited(admin_api_client, stored):
    stored("telethon-1.45.0.session")
    pair = ApiPairFactory(api_id=94575)

    response = patch(admin_api_client, "telethon-1.45.0.session", {"api_id": 94575})

    assert response.status_code == 200
    assert (response.json()["api_id"], response.json()["api_pair"]) == (94575, pair.pk)
    assert admin_api_client.get(f"{SESSIONS_URL}/telethon-1.45.0.session").json()["api_pair"] == pair.pk
    event = AuditEvent.objects.get(action="session_file.update")
    assert (event.target, event.detail) == ("telethon-1.45.0.session", {"api_id": {"from": None, "to": 94575}})

    cleared = patch(admin_api_client, "telethon-1.45.0.session", {"api_id": None})
    assert (cleared.status_code, cleared.json()["api_id"], cleared.json()["api_pair"]) == (200, None, None)


def test_a_different_api_id_than_the_file_records_is_400(admin_api_client, stored):
    stored("pyrofork-2.3.69.session")

    different = patch(admin_api_client, "pyrofork-2.3.69.session", {"api_id": 12345})
    cleared = patch(admin_api_client, "pyrofork-2.3.69.session", {"api_id": None})
    same = patch(admin_api_client, "pyrofork-2.3.69.session", {"api_id": 2496})

    assert different.status_code == 400 and "records api_id 2496" in different.json()["errors"]["api_id"][0]
    assert cleared.status_code == 400
    assert same.status_code == 200 and same.json()["api_id"] == 2496
    assert not AuditEvent.objects.filter(action="session_file.update").exists()


@pytest.mark.parametrize(
    "body, field",
    [
        ({"api_id": 0}, "api_id"),
        ({"api_id": "2040"}, "api_id"),
        ({"api_id": 2**31}, "api_id"),
        ({"layout": "telethon-9"}, "layout"),
        ({"filename": "x.session"}, "filename"),
        ({"nope": 1}, "nope"),
    ],
)
def test_bad_patches_are_400_naming_the_field(admin_api_client, stored, body, field):
    stored("telethon-1.45.0.session")

    response = patch(admin_api_client, "telethon-1.45.0.session", body)

    assert response.status_code == 400 and field in response.json()["errors"]
    assert admin_api_client.get(f"{SESSIONS_URL}/telethon-1.45.0.session").json()["api_id"] is None


def test_patch_of_an_unknown_file_is_404_and_put_is_405(admin_api_client, stored):
    stored("telethon-1.45.0.session")

    assert patch(admin_api_client, "nope.session", {"api_id": 1}).status_code == 404
    assert (
        admin_api_client.put(f"{SESSIONS_URL}/telethon-1.45.0.session", {"api_id": 1}, format="json").status_code == 405
    )


def test_the_list_filters_by_api_id_and_api_pair(admin_api_client, stored):
    for fixture in (
        "kurigram-2.2.26.session",
        "pyrogram-2.0.106.session",
        "pyrogram-2.0.106-to-pyrofork-2.3.69.session",
        "telethon-1.45.0.session",
    ):
        stored(fixture)
    pair = ApiPairFactory(api_id=2040)

    def names(query):
        response = admin_api_client.get(SESSIONS_URL, query)
        assert response.status_code == 200, response.json()
        return sorted(item["filename"] for item in response.json()["results"])

    assert names({"api_id": 2040}) == ["pyrogram-2.0.106-to-pyrofork-2.3.69.session", "pyrogram-2.0.106.session"]
    assert names({"api_pair": pair.pk}) == names({"api_id": 2040})
    assert names({"api_pair": pair.pk + 1000}) == []
    assert admin_api_client.get(SESSIONS_URL, {"api_pair": "x"}).status_code == 400
    assert admin_api_client.get(SESSIONS_URL, {"api_id": "1.5"}).status_code == 400


def test_api_pairs_count_their_sessions_and_refuse_deletion_while_used(admin_api_client, stored):
    stored("pyrogram-2.0.106.session")
    stored("pyrogram-2.0.106-to-kurigram-2.2.26.session")
    used, unused = ApiPairFactory(api_id=2040), ApiPairFactory(api_id=7)

    listed = {item["api_id"]: item["sessions_count"] for item in admin_api_client.get(API_PAIRS_URL).json()["results"]}
    refused = admin_api_client.delete(f"{API_PAIRS_URL}/{used.pk}")
    free = admin_api_client.delete(f"{API_PAIRS_URL}/{unused.pk}")

    assert listed == {2040: 2, 7: 0}
    assert refused.status_code == 409
    assert refused.json()["code"] == "api_pair_in_use"
    assert refused.json()["detail"].startswith("2 session file(s) use this api_id")
    assert free.status_code == 204
    failure = AuditEvent.objects.get(action="api_pair.delete", outcome=Outcome.FAILURE)
    assert failure.detail == {"reason": "api_pair_in_use", "sessions_count": 2}

    forced = admin_api_client.delete(f"{API_PAIRS_URL}/{used.pk}?force=true")
    assert forced.status_code == 204
    event = AuditEvent.objects.filter(action="api_pair.delete", outcome=Outcome.SUCCESS).latest("id")
    assert (event.detail["sessions_count"], event.detail["forced"]) == (2, True)
    # The sessions keep the api_id their files record.
    assert admin_api_client.get(f"{SESSIONS_URL}/pyrogram-2.0.106.session").json()["api_pair"] is None
    assert admin_api_client.get(f"{SESSIONS_URL}/pyrogram-2.0.106.session").json()["api_id"] == 2040
