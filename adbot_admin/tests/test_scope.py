"""Token scope: a CMS-password login reaches the gallery only; its session, not just its claim, says so.

The route-by-route matrix is tests/security/test_routes.py
(test_a_cms_token_reaches_only_the_gallery_and_its_own_login).
"""

import pytest
from rest_framework.test import APIClient

from adbot_admin.login_sessions import login_session_start
from adbot_admin.models import AuthMethod
from adbot_admin.signin import cms_admin_user
from adbot_admin.tests.tokens import bearer, claims_of
from tests.security import forge

pytestmark = pytest.mark.django_db

AUDIT = "/api/admin/audit"


def get(path, token):
    return APIClient().get(path, **bearer(token))


def test_a_password_login_has_the_whole_scope(admin_user):
    issued = login_session_start(user=admin_user, auth_method=AuthMethod.PASSWORD)
    assert claims_of(str(issued.access))["scope"] == "all"
    assert get("/api/auth/me", str(issued.access)).json()["scope"] == "all"
    assert get(AUDIT, str(issued.access)).status_code == 200


def test_a_token_from_before_scopes_keeps_the_whole_scope(admin_api_client):
    assert admin_api_client.get("/api/auth/me").json()["scope"] == "all"
    assert admin_api_client.get(AUDIT).status_code == 200


def test_the_session_narrows_a_token_whose_claim_says_otherwise(db):
    # Even a token signed with the key but claiming `all` (or nothing) stays in its CMS session's scope.
    session = login_session_start(
        user=cms_admin_user(), auth_method=AuthMethod.CMS_PASSWORD, with_refresh=False
    ).session
    for scope in ("all", None):
        token = forge.backend_token(forge.backend_claims(session.user, sid=session.id.hex, scope=scope))
        response = get(AUDIT, token)
        assert response.status_code == 403
        assert response.json()["code"] == "insufficient_scope"
        assert get("/api/auth/me", token).json()["scope"] == "cms"


def test_the_claim_alone_narrows_a_token_too(admin_user):
    token = forge.backend_token(forge.backend_claims(admin_user, scope="cms"))
    assert get(AUDIT, token).json()["code"] == "insufficient_scope"
    assert get("/api/cms/gallery-images", token).status_code == 200


@pytest.mark.parametrize("scope", ["admin", "", "CMS", ["cms"], 1])
def test_an_unknown_scope_is_an_invalid_token(admin_user, scope):
    token = forge.backend_token(forge.backend_claims(admin_user, scope=scope))
    response = get("/api/auth/me", token)
    assert response.status_code == 401
    assert response.json()["code"] == "token_not_valid"
