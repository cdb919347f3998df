"""The API pair API, through HTTP: strict input, masked hashes, audited reads and writes."""

import logging

import pytest

from adbot_admin.models import AuditEvent, Outcome
from sessions_admin.models import ApiPair

from .conftest import API_PAIRS_URL
from .factories import ApiPairFactory, SessionFileFactory

HASH = "0123456789abcdef0123456789abcdef"
MASKED = "0123************************cdef"

pytestmark = pytest.mark.django_db


def _add(client, url=API_PAIRS_URL, **body):
    return client.post(url, {"api_id": 12345, "api_hash": HASH, **body}, format="json")


@pytest.mark.parametrize("url", [API_PAIRS_URL, API_PAIRS_URL + "/", f"{API_PAIRS_URL}/add", f"{API_PAIRS_URL}/add/"])
def test_add_returns_201_with_the_hash_masked(admin_api_client, url):
    response = _add(admin_api_client, url, label="main")

    assert response.status_code == 201, response.json()
    body = response.json()
    assert {key: body[key] for key in ("api_id", "api_hash", "label", "is_active")} == {
        "api_id": 12345,
        "api_hash": MASKED,
        "label": "main",
        "is_active": True,
    }
    assert HASH not in response.content.decode()
    assert ApiPair.objects.get().api_hash == HASH


def test_add_normalises_the_hash_to_lower_case(admin_api_client):
    response = _add(admin_api_client, api_hash=HASH.upper())

    assert response.status_code == 201
    assert ApiPair.objects.get().api_hash == HASH


def test_label_is_optional(admin_api_client):
    assert _add(admin_api_client).json()["label"] == ""


def test_a_duplicate_api_id_is_409(admin_api_client):
    assert _add(admin_api_client).status_code == 201
    rows = list(ApiPair.objects.values())

    response = _add(admin_api_client, api_hash="f" * 32)

    assert response.status_code == 409
    assert response.json()["code"] == "conflict"
    assert list(ApiPair.objects.values()) == rows


@pytest.mark.parametrize(
    "field, value",
    [
        ("api_id", 0),
        ("api_id", -1),
        ("api_id", 2**31),
        ("api_id", True),
        ("api_id", "12345"),
        ("api_id", 12345.0),
        ("api_id", None),
        ("api_hash", HASH[:-1]),
        ("api_hash", HASH + "0"),
        ("api_hash", "g" * 32),
        ("api_hash", " " + HASH[1:]),
        ("api_hash", int("1" * 32)),
        ("api_hash", None),
        ("label", "x" * 101),
        ("is_active", "yes"),
        ("extra", 1),
    ],
)
def test_bad_values_are_400_naming_the_field(admin_api_client, api_pair_state, field, value):
    response = _add(admin_api_client, **{field: value})

    assert response.status_code == 400
    assert list(response.json()["errors"]) == [field]
    assert HASH not in response.content.decode()
    assert api_pair_state()


def test_largest_api_id_is_accepted(admin_api_client):
    assert _add(admin_api_client, api_id=2**31 - 1).status_code == 201


def test_missing_fields_and_non_json_are_refused(admin_api_client, api_pair_state):
    missing = admin_api_client.post(API_PAIRS_URL, {}, format="json")
    form = admin_api_client.post(API_PAIRS_URL, {"api_id": "1", "api_hash": HASH}, format="multipart")
    not_object = admin_api_client.post(API_PAIRS_URL, [1, 2], format="json")

    assert missing.status_code == 400 and set(missing.json()["errors"]) == {"api_id", "api_hash"}
    assert form.status_code == 415
    assert not_object.status_code == 400
    assert api_pair_state()


def test_list_masks_every_hash_and_is_paginated(admin_api_client):
    ApiPairFactory.create_batch(3)

    response = admin_api_client.get(f"{API_PAIRS_URL}?page_size=2")

    body = response.json()
    assert body["count"] == 3 and len(body["results"]) == 2
    for item, api_pair in zip(body["results"], ApiPair.objects.all(), strict=False):
        assert item["api_hash"] == api_pair.masked_hash
        assert api_pair.api_hash not in response.content.decode()
    assert not AuditEvent.objects.exists()


def test_list_pages_count_each_pairs_sessions(admin_api_client):
    pairs = ApiPairFactory.create_batch(3)
    SessionFileFactory.create_batch(2, api_id=pairs[0].api_id)
    SessionFileFactory(api_id=pairs[2].api_id)
    SessionFileFactory(api_id=None)
    expected = [(pair.pk, {pairs[0].pk: 2, pairs[2].pk: 1}.get(pair.pk, 0)) for pair in ApiPair.objects.all()]

    pages = [admin_api_client.get(f"{API_PAIRS_URL}?page_size=2&page={page}").json() for page in (1, 2)]

    assert [page["count"] for page in pages] == [3, 3]
    assert [(item["id"], item["sessions_count"]) for page in pages for item in page["results"]] == expected


def test_list_filters_by_is_active(admin_api_client):
    ApiPairFactory(is_active=True)
    inactive = ApiPairFactory(is_active=False)

    body = admin_api_client.get(f"{API_PAIRS_URL}?is_active=false").json()

    assert [item["id"] for item in body["results"]] == [inactive.pk]


def test_detail_shows_the_whole_hash_and_is_audited(fresh_admin_api_client):
    api_pair = ApiPairFactory(api_id=555, api_hash=HASH)

    response = fresh_admin_api_client.get(f"{API_PAIRS_URL}/{api_pair.pk}")

    assert response.status_code == 200
    assert response.json()["api_hash"] == HASH
    event = AuditEvent.objects.get(action="api_pair.reveal")
    assert (event.target, event.actor, event.outcome) == ("api_id 555", "alice", Outcome.SUCCESS)
    assert HASH not in str(event.detail)
    assert fresh_admin_api_client.get(f"{API_PAIRS_URL}/{api_pair.pk + 1000}").status_code == 404


def test_the_whole_hash_needs_a_recent_authentication(admin_api_client):
    api_pair = ApiPairFactory(api_hash=HASH)

    response = admin_api_client.get(f"{API_PAIRS_URL}/{api_pair.pk}")

    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"
    assert HASH not in response.content.decode()
    assert not AuditEvent.objects.filter(action="api_pair.reveal").exists()


def test_patch_changes_label_and_is_active_only(admin_api_client):
    api_pair = ApiPairFactory(api_hash=HASH, label="old", is_active=True)
    url = f"{API_PAIRS_URL}/{api_pair.pk}"

    response = admin_api_client.patch(url, {"label": "new", "is_active": False}, format="json")

    assert response.status_code == 200
    assert (response.json()["label"], response.json()["is_active"], response.json()["api_hash"]) == (
        "new",
        False,
        MASKED,
    )
    api_pair.refresh_from_db()
    assert (api_pair.label, api_pair.is_active) == ("new", False)
    assert AuditEvent.objects.get(action="api_pair.update").detail == {"is_active": False, "label": "new"}


@pytest.mark.parametrize(
    "body, field",
    [
        ({"api_id": 999}, "api_id"),
        ({"api_hash": "f" * 32}, "api_hash"),
        ({"label": "x", "api_hash": "f" * 32}, "api_hash"),
        ({"colour": "red"}, "colour"),
        ({"is_active": "false"}, "is_active"),
    ],
)
def test_patch_refuses_other_fields(admin_api_client, body, field):
    api_pair = ApiPairFactory(api_hash=HASH, label="old")
    before = list(ApiPair.objects.values())

    response = admin_api_client.patch(f"{API_PAIRS_URL}/{api_pair.pk}", body, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert list(ApiPair.objects.values()) == before


def test_put_is_not_allowed(admin_api_client):
    api_pair = ApiPairFactory()
    response = admin_api_client.put(f"{API_PAIRS_URL}/{api_pair.pk}", {"label": "x"}, format="json")
    assert response.status_code == 405


def test_delete_is_204_then_404_and_audited(fresh_admin_api_client):
    api_pair = ApiPairFactory(api_id=31)
    url = f"{API_PAIRS_URL}/{api_pair.pk}"

    assert fresh_admin_api_client.delete(url).status_code == 204
    assert fresh_admin_api_client.delete(url).status_code == 404
    assert fresh_admin_api_client.get(url).status_code == 404
    assert AuditEvent.objects.get(action="api_pair.delete").target == "api_id 31"


def test_deletes_past_the_delete_budget_are_429(admin_api_client, settings):
    settings.RATELIMIT_DELETE = "1/h"
    first, second = ApiPairFactory.create_batch(2)

    assert admin_api_client.delete(f"{API_PAIRS_URL}/{first.pk}").status_code == 204
    refused = admin_api_client.delete(f"{API_PAIRS_URL}/{second.pk}")

    assert refused.status_code == 429 and "Retry-After" in refused
    assert ApiPair.objects.filter(pk=second.pk).exists()


def test_every_write_and_read_of_a_hash_is_audited(admin_api_client, fresh_admin_api_client):
    pk = _add(admin_api_client, label="a").json()["id"]
    fresh_admin_api_client.get(f"{API_PAIRS_URL}/{pk}")
    admin_api_client.patch(f"{API_PAIRS_URL}/{pk}", {"label": "b"}, format="json")
    admin_api_client.delete(f"{API_PAIRS_URL}/{pk}")

    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions == ["api_pair.create", "api_pair.reveal", "api_pair.update", "api_pair.delete"]


ENDPOINTS = [
    ("get", API_PAIRS_URL),
    ("post", API_PAIRS_URL),
    ("post", f"{API_PAIRS_URL}/add"),
    ("get", f"{API_PAIRS_URL}/{{pk}}"),
    ("patch", f"{API_PAIRS_URL}/{{pk}}"),
    ("delete", f"{API_PAIRS_URL}/{{pk}}"),
]


@pytest.mark.parametrize("method, url", ENDPOINTS)
def test_no_token_is_401_and_user_role_is_403(api_client, user_api_client, method, url):
    api_pair = ApiPairFactory(api_hash=HASH)
    url = url.format(pk=api_pair.pk)
    body = {"api_id": 777, "api_hash": HASH} if method == "post" else {"label": "x"}

    def call(client):
        if method in ("post", "patch"):
            return getattr(client, method)(url, body, format="json")
        return getattr(client, method)(url)

    anonymous, user = call(api_client), call(user_api_client)

    assert anonymous.status_code == 401
    assert user.status_code == 403
    assert HASH not in anonymous.content.decode() + user.content.decode()
    assert list(ApiPair.objects.values_list("api_id", "label")) == [(api_pair.api_id, api_pair.label)]


def test_only_the_detail_view_and_nothing_logged_shows_the_whole_hash(admin_api_client, fresh_admin_api_client, caplog):
    caplog.set_level(logging.DEBUG)
    created = _add(admin_api_client, label="x")
    pk = created.json()["id"]
    others = [
        created,
        admin_api_client.get(API_PAIRS_URL),
        admin_api_client.patch(f"{API_PAIRS_URL}/{pk}", {"is_active": False}, format="json"),
        _add(admin_api_client),  # 409
        _add(admin_api_client, api_id=0),  # 400
    ]
    detail = fresh_admin_api_client.get(f"{API_PAIRS_URL}/{pk}")

    assert [response.status_code for response in others] == [201, 200, 200, 409, 400]
    for response in others:
        assert HASH not in response.content.decode()
    assert HASH in detail.content.decode()
    for log_record in caplog.records:
        assert HASH not in log_record.getMessage()
    for event in AuditEvent.objects.all():
        assert HASH not in f"{event.target} {event.detail}"
