"""Deeply nested JSON is a 400 `parse_error` on every route that reads JSON, never a 500 or a logged traceback.

The routes come from Django's URL resolver (routes.py), so a new JSON route is
covered the moment it exists.
"""

import logging

import bcrypt
import pytest
from drf_spectacular.plumbing import build_mock_request
from rest_framework.test import APIClient

from adbot_admin.api.parsers import MAX_JSON_DEPTH
from cms.tests.factories import GalleryImageFactory
from sessions_admin.tests.engine import engine_client, service_token
from sessions_admin.tests.factories import ApiPairFactory, SessionFileFactory

from .routes import PARAMETER_SAMPLES, api_routes, is_engine

pytestmark = pytest.mark.django_db

BODY_METHODS = ("post", "put", "patch")
# One more level than allowed, the depth that overflowed Python's stack (~1,000), and far deeper.
DEPTHS = (MAX_JSON_DEPTH + 1, 1_000, 100_000)


def reads_json(route, method):
    view_class = getattr(route.callback, "cls", None)
    if view_class is None:
        return False
    view = view_class(**getattr(route.callback, "initkwargs", {}))
    view.action_map = getattr(route.callback, "actions", None) or {}
    # A view may choose its parsers by method (an engine's file write is multipart).
    view.request = build_mock_request(method, route.path, view, None)
    return any(parser.media_type == "application/json" for parser in view.get_parsers())


JSON_CASES = [
    (route, method)
    for route in api_routes()
    for method in route.methods
    if method in BODY_METHODS and reads_json(route, method)
]


def nested(kind, depth):
    if kind == "arrays":
        return "[" * depth + "]" * depth
    return '{"a":' * depth + "1" + "}" * depth


@pytest.fixture(autouse=True)
def _cms_login_configured(settings):
    settings.ADMIN_PASSWORD_HASH = bcrypt.hashpw(b"not the password", bcrypt.gensalt(4)).decode()


@pytest.fixture
def path_of(admin_user):
    """Return a route's path with its lookup naming an existing row, so the view gets as far as the body."""
    rows = {"api-pairs": ApiPairFactory(), "gallery-images": GalleryImageFactory()}
    session_file = SessionFileFactory()

    def path_of(route):
        if "(?P<filename>" in route.regex:
            return route.path.replace(PARAMETER_SAMPLES["filename"], session_file.filename)
        if "(?P<pk>" not in route.regex:
            return route.path
        collection, _ = route.path.rsplit("/", 1)
        return f"{collection}/{rows[collection.rsplit('/', 1)[1]].pk}"

    return path_of


def test_every_json_route_is_covered():
    paths = {route.path for route, _ in JSON_CASES}
    assert {
        "/api/auth/token",
        "/api/cms/login",
        "/api/auth/token/refresh",
        "/api/auth/token/verify",
        "/api/admin/api-pairs",
        "/api/cms/gallery-images/reorder",
    } <= paths


@pytest.mark.parametrize("kind", ["arrays", "objects"])
@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize(("route", "method"), JSON_CASES, ids=[f"{m.upper()} {r.path}" for r, m in JSON_CASES])
def test_deeply_nested_json_is_a_parse_error(fresh_admin_api_client, path_of, caplog, route, method, depth, kind):
    # A token that proved itself just now: sensitive actions (step-up) read their body too. The engine's
    # routes open to a service token only.
    if route.public:
        client = APIClient()
    elif is_engine(route.path):
        client = engine_client(service_token())
    else:
        client = fresh_admin_api_client
    with caplog.at_level(logging.DEBUG):
        response = getattr(client, method)(path_of(route), nested(kind, depth), content_type="application/json")
    assert response.status_code == 400, response.content[:200]
    assert response.json()["code"] == "parse_error"
    assert f"{MAX_JSON_DEPTH} levels" in response.json()["detail"]
    assert [record for record in caplog.records if record.exc_info or record.levelno >= logging.ERROR] == []


def test_json_as_deep_as_allowed_reaches_validation(admin_api_client):
    response = admin_api_client.post(
        "/api/cms/gallery-images/reorder", nested("arrays", MAX_JSON_DEPTH), content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"


def test_a_refused_body_still_spends_the_login_budget(settings, api_client):
    settings.RATELIMIT_LOGIN = "5/m"
    for path in ["/api/auth/token", "/api/cms/login"] * 2 + ["/api/auth/token"]:
        response = api_client.post(path, nested("arrays", 100_000), content_type="application/json")
        assert response.status_code == 400
    response = api_client.post("/api/auth/token", {"username": "a", "password": "b"}, format="json")
    assert response.status_code == 429
