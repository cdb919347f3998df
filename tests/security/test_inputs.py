"""Query parameters of the wrong type are a 400 naming the parameter, never a silent "no filter"."""

import pytest

from . import forge
from .routes import api_routes

LIST_PATHS = sorted(
    route.path for route in api_routes()
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


@pytest.mark.parametrize(("path", "name", "value"), [
    (path, name, value) for path, names in BAD_VALUES.items() for name, values in names.items() for value in values
])
def test_a_filter_value_of_the_wrong_type_is_a_400(admin_client, path, name, value):
    if path not in LIST_PATHS:
        pytest.fail(f"{path} is no longer a list route; update BAD_VALUES")
    response = admin_client.get(path, {name: value})
    assert response.status_code == 400, response.content[:200]
    assert name in response.json()["errors"]
    assert admin_client.get(path, {name: ""}).status_code == 200  # empty means no filter
