"""Query parameters of the wrong type are a 400 naming the parameter, never a silent "no filter"."""

from datetime import UTC

import pytest

from . import forge
from .routes import api_routes

LIST_PATHS = sorted(
    route.path
    for route in api_routes()
    if not route.public and "get" in route.methods and getattr(route.callback, "actions", {}).get("get") == "list"
) + ["/api/admin/audit"]
BAD_VALUES = {
    "/api/admin/api-pairs": {"is_active": ["banana", "1", "yes"]},
    "/api/admin/sessions": {"dc_id": ["0.5", "two"]},
    "/api/admin/audit": {"since": ["yesterday"], "outcome": ["maybe"]},
}


@pytest.fixture
def admin_client(admin_user, api_client):
    api_client.credentials(HTTP_AUTHORIZATION=f"Bearer {forge.backend_token(forge.backend_claims(admin_user))}")
    return api_client


@pytest.mark.parametrize("value", ["abc", "0", "-1", "201", "1.5", ""])
@pytest.mark.parametrize("path", LIST_PATHS)
def test_a_bad_page_size_is_a_400(admin_client, path, value):
    response = admin_client.get(path, {"page_size": value})
    assert response.status_code == 400, response.content[:200]
    assert "page_size" in response.json()["errors"]


@pytest.mark.parametrize("path", LIST_PATHS)
def test_a_good_page_size_and_an_empty_filter_are_fine(admin_client, path):
    assert admin_client.get(path, {"page_size": "200"}).status_code == 200


@pytest.mark.parametrize(
    ("path", "name", "value"),
    [(path, name, value) for path, names in BAD_VALUES.items() for name, values in names.items() for value in values],
)
def test_a_filter_value_of_the_wrong_type_is_a_400(admin_client, path, name, value):
    if path not in LIST_PATHS:
        pytest.fail(f"{path} is no longer a list route; update BAD_VALUES")
    response = admin_client.get(path, {name: value})
    assert response.status_code == 400, response.content[:200]
    assert name in response.json()["errors"]
    assert admin_client.get(path, {name: ""}).status_code == 200  # empty means no filter


@pytest.mark.parametrize(
    "path",
    [
        "/media/gallery/a.jpg%00.png",
        "/media/gallery/%00.png",
        "/media/%00/a.png",
        "/media/gallery/a%00",
    ],
)
def test_a_nul_byte_in_a_media_path_is_a_404(client, path):
    response = client.get(path)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("since", "0001-01-01T00:00:00+23:59"),
        ("until", "9999-12-31T23:59:59-23:59"),
        ("since", "0001-01-01T00:00:00+00:01"),
        ("until", "9999-12-31T23:59:59.999999-00:01"),
    ],
)
def test_an_audit_time_past_the_representable_range_is_a_400_naming_it(admin_client, name, value):
    response = admin_client.get("/api/admin/audit", {name: value})
    assert response.status_code == 400, response.content[:200]
    assert response.json()["code"] == "invalid"
    assert list(response.json()["errors"]) == [name]


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("since", "0001-01-01T00:00:00+00:00"),
        ("until", "9999-12-31T23:59:59+00:00"),
        ("since", "0001-01-01T23:59:00+23:59"),
        ("until", "9999-12-31T00:00:00-23:59"),
    ],
)
def test_the_extremes_of_the_range_still_filter(admin_client, name, value):
    assert admin_client.get("/api/admin/audit", {name: value}).status_code == 200


def test_a_time_with_any_offset_filters_by_the_same_instant(admin_client, api_client):
    from datetime import datetime, timedelta, timezone

    api_client.post("/api/auth/token", {"username": "offset-probe", "password": "wrong"}, format="json")
    now = datetime.now(UTC)
    far_east, far_west = timezone(timedelta(hours=23, minutes=59)), timezone(-timedelta(hours=23, minutes=59))

    def probes(**query):
        response = admin_client.get("/api/admin/audit", {"actor": "", "action": "login", **query})
        assert response.status_code == 200, response.content[:200]
        return [event for event in response.json()["results"] if event["target"] == "offset-probe"]

    assert probes(since=(now - timedelta(minutes=1)).astimezone(far_east).isoformat())
    assert not probes(since=(now + timedelta(minutes=1)).astimezone(far_west).isoformat())
    assert probes(until=(now + timedelta(minutes=1)).astimezone(far_west).isoformat())
