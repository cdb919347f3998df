"""POST /api/cms/login: the CMS password (bcrypt, ADMIN_PASSWORD_HASH) for an admin token."""

import os
import subprocess
import sys
from pathlib import Path

import bcrypt
import pytest
from django.contrib.auth import get_user_model

from adbot_admin.tests.factories import TEST_PASSWORD
from adbot_admin.tests.tokens import bearer, claims_of

pytestmark = pytest.mark.django_db

LOGIN = "/api/cms/login"
BASE_DIR = Path(__file__).resolve().parents[2]


def login(client, password):
    return client.post(LOGIN, {"password": password}, format="json")


def test_the_right_password_yields_an_admin_token_of_the_cms_scope(api_client, cms_password):
    response = login(api_client, cms_password)

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"access_token", "token_type", "expires_in"}
    assert (body["token_type"], body["expires_in"]) == ("bearer", 3600)
    claims = claims_of(body["access_token"])
    assert (claims["role"], claims["token_type"], claims["scope"]) == ("admin", "access", "cms")
    assert api_client.get("/api/cms/gallery-images", **bearer(body["access_token"])).status_code == 200
    refused = api_client.get("/api/admin/audit", **bearer(body["access_token"]))
    assert refused.status_code == 403
    assert refused.json()["code"] == "insufficient_scope"
    me = api_client.get("/api/auth/me", **bearer(body["access_token"])).json()
    assert (me["scope"], me["role"]) == ("cms", "admin")


def test_a_wrong_password_is_refused(api_client, cms_password):
    response = login(api_client, cms_password + "?")
    assert response.status_code == 401
    assert response.json() == {"detail": "The credentials are wrong.", "code": "invalid_credentials"}


def test_passwords_past_72_bytes_are_wrong_passwords_never_errors(api_client, settings):
    exact = "p" * 72
    settings.ADMIN_PASSWORD_HASH = bcrypt.hashpw(exact.encode(), bcrypt.gensalt(4)).decode()
    wrong = login(api_client, "nope").json()

    assert login(api_client, exact).status_code == 200
    # bcrypt alone would compare only the first 72 bytes and let these in.
    for longer in (exact + "x", exact + "é", exact + "x" * 200):
        response = login(api_client, longer)
        assert response.status_code == 401
        assert response.json() == wrong


def test_a_multibyte_password_past_72_bytes_is_refused(api_client, cms_password):
    response = login(api_client, "é" * 37)  # 74 bytes
    assert response.status_code == 401


def test_a_very_long_password_is_a_wrong_password_not_a_validation_error(api_client, cms_password):
    response = login(api_client, "x" * 100_000)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_credentials"


def test_without_admin_password_hash_it_says_it_is_not_configured(api_client, settings):
    settings.ADMIN_PASSWORD_HASH = ""
    response = login(api_client, "anything")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "not_configured"
    assert "ADMIN_PASSWORD_HASH" in body["detail"]
    assert set(body) == {"detail", "code"}


def test_a_disabled_cms_account_is_refused(api_client, cms_password):
    assert login(api_client, cms_password).status_code == 200
    get_user_model().objects.filter(username="cms-admin").update(is_active=False)
    assert login(api_client, cms_password).status_code == 401


def test_an_empty_body_is_a_validation_error(api_client, cms_password):
    response = api_client.post(LOGIN, {}, format="json")
    assert response.status_code == 400
    assert "password" in response.json()["errors"]


@pytest.mark.parametrize("quote", ["", "'"], ids=["bare", "single-quoted"])
def test_a_bcrypt_hash_in_a_dotenv_file_stays_intact(tmp_path, quote):
    hashed = bcrypt.hashpw(b"from the env file", bcrypt.gensalt(12)).decode()
    assert hashed.startswith("$2b$12$")
    env_file = tmp_path / ".env"
    env_file.write_text(f"ADMIN_PASSWORD_HASH={quote}{hashed}{quote}\n")
    env = {key: value for key, value in os.environ.items() if key != "ADMIN_PASSWORD_HASH"}
    env["ENV_FILE"] = str(env_file)

    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "shell",
            "--verbosity",
            "0",
            "-c",
            "from django.conf import settings; print(settings.ADMIN_PASSWORD_HASH)",
        ],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == hashed


def test_with_cms_password_login_off_the_route_is_404(api_client, cms_password, settings):
    settings.CMS_PASSWORD_LOGIN = False
    response = login(api_client, cms_password)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_under_require_admin_2fa_the_shared_password_is_refused_at_login(api_client, cms_password, settings):
    settings.REQUIRE_ADMIN_2FA = True
    response = login(api_client, cms_password)
    assert response.status_code == 403
    assert response.json()["code"] == "cms_password_disabled"
    assert "access_token" not in response.json()


def test_an_account_login_keeps_the_cms_scope_only_when_asked(api_client, admin_user):
    def token_login(**extra):
        body = {"username": admin_user.username, "password": TEST_PASSWORD, **extra}
        return api_client.post("/api/auth/token", body, format="json").json()["access"]

    assert claims_of(token_login())["scope"] == "all"
    narrowed = token_login(scope="cms")
    assert claims_of(narrowed)["scope"] == "cms"
    assert api_client.get("/api/admin/audit", **bearer(narrowed)).json()["code"] == "insufficient_scope"
    assert api_client.get("/api/cms/gallery-images", **bearer(narrowed)).status_code == 200
