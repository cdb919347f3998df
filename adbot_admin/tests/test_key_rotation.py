"""Signing-key rotation through HTTP: tokens name their key in `kid`, fallbacks verify, retiring a key refuses its tokens.

A rotation here is what an operator does: tokens are minted under one
configuration, then JWT_SECRET_KEY (or JWT_SECRET) becomes a new key and the
old one moves to the fallbacks, then the fallback is dropped.
"""

import time

import jwt
import pytest

from adbot_admin.tests.factories import TEST_PASSWORD
from adbot_admin.tests.tokens import backend_token, bearer, claims_of, frontend_token, header_of
from tests.security import forge

kid_of, new_key = forge.key_id, forge.new_key

pytestmark = pytest.mark.django_db

TOKEN = "/api/auth/token"
REFRESH = "/api/auth/token/refresh"
VERIFY = "/api/auth/token/verify"
ME = "/api/auth/me"
AUDIT = "/api/admin/audit"


def login(client, user):
    response = client.post(TOKEN, {"username": user.username, "password": TEST_PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def assert_invalid_token(response):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "token_not_valid"
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


@pytest.fixture
def rotate(settings):
    """Make a new key current for `kind` (backend or frontend), the old one the first fallback; return both."""

    def rotate(kind="backend"):
        current, fallbacks = (
            ("JWT_SECRET_KEY", "JWT_SECRET_KEY_FALLBACKS")
            if kind == "backend"
            else ("JWT_SECRET", "JWT_SECRET_FALLBACKS")
        )
        old, new = getattr(settings, current), new_key()
        setattr(settings, current, new)
        setattr(settings, fallbacks, [old, *getattr(settings, fallbacks)])
        return old, new

    return rotate


# --- kid ---------------------------------------------------------------------------------


def test_new_tokens_name_the_current_key_by_a_short_hash(api_client, admin_user, settings):
    pair = login(api_client, admin_user)
    for token in (pair["access"], pair["refresh"]):
        header = header_of(token)
        assert header["alg"] == "HS256"
        assert header["kid"] == kid_of(settings.JWT_SECRET_KEY)
        assert len(header["kid"]) == 16 and set(header["kid"]) <= set("0123456789abcdef")
        assert settings.JWT_SECRET_KEY not in str(header)


def test_a_token_naming_an_unknown_key_is_refused(api_client, admin_user, settings):
    signed = {"key": settings.JWT_SECRET_KEY}
    assert api_client.get(AUDIT, **bearer(backend_token(admin_user, **signed))).status_code == 200
    token = backend_token(admin_user, headers={"kid": kid_of(new_key())}, **signed)
    assert_invalid_token(api_client.get(AUDIT, **bearer(token)))


HOSTILE_KIDS = {
    "path-traversal": "../../dev/null",
    "sql": "x' UNION SELECT 'key' --",
    "10-kB": "a" * 10240,
    "uppercase-hex-of-the-current-key": None,  # filled in from the settings below
    "current-kid-and-a-newline": None,
    "number": 12345,
    "url": "https://attacker.example/key",
}


@pytest.mark.parametrize("kind", list(HOSTILE_KIDS))
def test_a_hostile_kid_is_refused_with_401(api_client, admin_user, settings, kind):
    kid = {
        "uppercase-hex-of-the-current-key": kid_of(settings.JWT_SECRET_KEY).upper(),
        "current-kid-and-a-newline": kid_of(settings.JWT_SECRET_KEY) + "\n",
    }.get(kind, HOSTILE_KIDS[kind])
    # Built byte by byte: PyJWT refuses to write a kid that is not a string.
    header = {"alg": "HS256", "typ": "JWT", "kid": kid}
    access = forge.hmac_sign(header, forge.backend_claims(admin_user, "access"), settings.JWT_SECRET_KEY)
    refresh = forge.hmac_sign(header, forge.backend_claims(admin_user, "refresh"), settings.JWT_SECRET_KEY)
    for response in (
        api_client.get(AUDIT, **bearer(access)),
        api_client.post(VERIFY, {"token": access}, format="json"),
        api_client.post(REFRESH, {"refresh": refresh}, format="json"),
    ):
        assert response.status_code == 401, response.content
        assert set(response.json()) >= {"detail", "code"}


def test_a_kid_picks_the_key_even_when_another_configured_key_signed(api_client, admin_user, rotate):
    old, new = rotate()
    token = backend_token(admin_user, key=old, headers={"kid": kid_of(new)})
    assert_invalid_token(api_client.get(AUDIT, **bearer(token)))


# --- Backend rotation --------------------------------------------------------------------------


def test_a_backend_rotation_keeps_every_login_and_refresh_answers_with_the_current_key(
    api_client, admin_user, rotate, settings
):
    before = login(api_client, admin_user)
    old, new = rotate()

    assert api_client.get(AUDIT, **bearer(before["access"])).status_code == 200
    assert api_client.post(VERIFY, {"token": before["access"]}, format="json").status_code == 200

    refreshed = api_client.post(REFRESH, {"refresh": before["refresh"]}, format="json")
    assert refreshed.status_code == 200, refreshed.content
    pair = refreshed.json()
    for token in (pair["access"], pair["refresh"]):
        assert header_of(token)["kid"] == kid_of(new)
        jwt.decode(token, new, algorithms=["HS256"])  # raises unless the current key signed it
        with pytest.raises(jwt.InvalidSignatureError):
            jwt.decode(token, old, algorithms=["HS256"])
    # The new tokens belong to the same login session.
    assert claims_of(pair["access"])["sid"] == claims_of(before["access"])["sid"]
    assert api_client.get(AUDIT, **bearer(pair["access"])).status_code == 200

    # Retiring the old key refuses what it signed, and only that.
    settings.JWT_SECRET_KEY_FALLBACKS = []
    assert_invalid_token(api_client.get(AUDIT, **bearer(before["access"])))
    assert api_client.get(AUDIT, **bearer(pair["access"])).status_code == 200
    assert api_client.post(REFRESH, {"refresh": pair["refresh"]}, format="json").status_code == 200


def test_tokens_without_kid_try_the_current_key_then_each_fallback(api_client, admin_user, rotate, settings):
    older, _ = rotate()
    old, _ = rotate()
    assert settings.JWT_SECRET_KEY_FALLBACKS == [old, older]
    for key in (settings.JWT_SECRET_KEY, old, older):
        assert "kid" not in header_of(backend_token(admin_user, key=key))
        assert api_client.get(AUDIT, **bearer(backend_token(admin_user, key=key))).status_code == 200
        assert (
            api_client.get(
                AUDIT, **bearer(backend_token(admin_user, key=key, headers={"kid": kid_of(key)}))
            ).status_code
            == 200
        )
    assert_invalid_token(api_client.get(AUDIT, **bearer(backend_token(admin_user, key=new_key()))))

    settings.JWT_SECRET_KEY_FALLBACKS = [old]
    assert_invalid_token(api_client.get(AUDIT, **bearer(backend_token(admin_user, key=older))))
    assert api_client.get(AUDIT, **bearer(backend_token(admin_user, key=old))).status_code == 200


def test_a_refresh_token_without_kid_signed_by_a_fallback_is_traded_for_current_key_tokens(
    api_client, admin_user, rotate
):
    old, new = rotate()
    legacy = backend_token(admin_user, key=old, token_type="refresh", exp_in=3600)
    response = api_client.post(REFRESH, {"refresh": legacy}, format="json")
    assert response.status_code == 200, response.content
    assert {
        header_of(token)["kid"]
        for token in response.json().values()
        if isinstance(token, str) and token.count(".") == 2
    } == {kid_of(new)}


# --- Frontend rotation --------------------------------------------------------------------------


@pytest.mark.parametrize("with_kid", [True, False], ids=["with-kid", "without-kid"])
def test_a_frontend_token_signed_with_a_fallback_is_accepted_until_retired(api_client, rotate, settings, with_kid):
    old, new = rotate("frontend")
    headers = {"kid": kid_of(old)} if with_kid else None
    token = frontend_token(key=old, headers=headers)
    response = api_client.get(ME, **bearer(token))
    assert response.status_code == 200, response.content
    assert response.json()["auth_method"] == "frontend_token"
    assert (
        api_client.get(AUDIT, **bearer(frontend_token(key=new, headers=headers and {"kid": kid_of(new)}))).status_code
        == 200
    )

    settings.JWT_SECRET_FALLBACKS = []
    assert_invalid_token(api_client.get(AUDIT, **bearer(token)))


def test_the_backend_accepts_the_next_frontend_key_before_the_frontend_deploys_it(api_client, settings):
    upcoming = new_key()
    settings.JWT_SECRET_FALLBACKS = [upcoming]
    assert api_client.get(AUDIT, **bearer(frontend_token())).status_code == 200
    assert api_client.get(AUDIT, **bearer(frontend_token(key=upcoming))).status_code == 200
    assert (
        api_client.get(AUDIT, **bearer(frontend_token(key=upcoming, headers={"kid": kid_of(upcoming)}))).status_code
        == 200
    )


def test_a_frontend_token_naming_an_unknown_or_backend_key_is_refused(api_client, settings):
    for kid in (kid_of(new_key()), kid_of(settings.JWT_SECRET_KEY), "../../dev/null"):
        assert_invalid_token(api_client.get(AUDIT, **bearer(frontend_token(headers={"kid": kid}))))


# --- Frontend lifetime ceiling --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("lifetime", "accepted"),
    [(3600, True), (3601, False), (30 * 86400, False)],
    ids=["at-the-ceiling", "one-second-past", "nextauth-30-days"],
)
def test_a_frontend_token_living_longer_than_the_ceiling_is_refused(api_client, settings, lifetime, accepted):
    settings.FRONTEND_TOKEN_MAX_AGE = 3600
    now = int(time.time())
    token = frontend_token(iat=now - 60, exp_in=lifetime - 60)
    assert claims_of(token)["exp"] - claims_of(token)["iat"] == lifetime
    response = api_client.get(AUDIT, **bearer(token))
    if accepted:
        assert response.status_code == 200, response.content
    else:
        assert_invalid_token(response)


@pytest.mark.parametrize(("exp_in", "accepted"), [(3500, True), (3700, False)])
def test_a_frontend_token_without_iat_is_refused_when_exp_lies_past_the_ceiling(api_client, settings, exp_in, accepted):
    settings.FRONTEND_TOKEN_MAX_AGE = 3600
    token = frontend_token(exp_in=exp_in)
    assert "iat" not in claims_of(token)
    response = api_client.get(AUDIT, **bearer(token))
    if accepted:
        assert response.status_code == 200, response.content
    else:
        assert_invalid_token(response)


def test_the_default_ceiling_is_one_day(api_client):
    assert api_client.get(AUDIT, **bearer(frontend_token(exp_in=86400 - 60))).status_code == 200
    assert_invalid_token(api_client.get(AUDIT, **bearer(frontend_token(exp_in=86400 + 60))))


def test_an_iat_in_the_future_cannot_stretch_a_token_past_the_ceiling(api_client, settings):
    settings.FRONTEND_TOKEN_MAX_AGE = 3600
    far = int(time.time()) + 30 * 86400
    token = frontend_token(iat=far - 3600, exp=far)
    assert_invalid_token(api_client.get(AUDIT, **bearer(token)))
