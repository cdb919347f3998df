"""Token attacks (RFC 8725): every forged, stale, mistyped or misplaced token is refused.

Each attack is presented where a token is accepted: as the bearer token of an
admin route, as the body of the refresh endpoint and of the verify endpoint.
Refused means 401 or 403 (never a 500, never a 200 from refresh or verify) in
the error format, without the token echoed back. test_honest_tokens_are_accepted
is the control: the same hand-built tokens, signed honestly, do work.

Every attack runs twice: with the current keys only, and with fallback keys
configured for both kinds (key rotation), which must widen nothing.
"""

import secrets
import time

import pytest
from django.conf import settings
from rest_framework.test import APIClient

from . import forge

ADMIN_ROUTE = "/api/admin/audit"
REFRESH = "/api/auth/token/refresh"
VERIFY = "/api/auth/token/verify"
TARGETS = ("admin-route", "refresh", "verify")
# The kind of token each target expects.
KIND = {"admin-route": "access", "refresh": "refresh", "verify": "access"}


def present(target, token, client=None):
    client = client or APIClient()
    if target == "admin-route":
        return client.get(ADMIN_ROUTE, HTTP_AUTHORIZATION=f"Bearer {token}")
    if target == "refresh":
        return client.post(REFRESH, {"refresh": token}, format="json")
    return client.post(VERIFY, {"token": token}, format="json")


def assert_refused(response, token, allowed=(401, 403)):
    assert response.status_code in allowed, (response.status_code, response.content[:300])
    body = response.json()
    assert set(body) >= {"detail", "code"}, body
    text = response.content.decode("utf-8", "replace")
    # Nothing of the token comes back: not whole, not its payload, not its signature.
    for part in [token, *[piece for piece in token.split(".")[1:] if len(piece) >= 16]]:
        assert part not in text
        assert all(part not in value for value in response.headers.values())


pytestmark = pytest.mark.usefixtures("db")

BACKEND_FALLBACKS = [forge.new_key(), forge.new_key()]
FRONTEND_FALLBACKS = [forge.new_key()]


@pytest.fixture(autouse=True, params=["current-keys-only", "with-fallbacks"])
def key_ring(request, settings):
    """Run each test without and with fallback keys for backend and frontend tokens."""
    if request.param == "with-fallbacks":
        settings.JWT_SECRET_KEY_FALLBACKS = BACKEND_FALLBACKS
        settings.JWT_SECRET_FALLBACKS = FRONTEND_FALLBACKS
    return request.param


def honest(user, kind):
    """Return a genuine token of `kind` for `user`, role claim included, as the server issues it."""
    return forge.backend_token(forge.backend_claims(user, kind))


@pytest.fixture
def user(admin_user):
    return admin_user


# --- Control ---------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_honest_tokens_are_accepted(user, target):
    """The builders below make real tokens: signed honestly, each target accepts them."""
    response = present(target, honest(user, KIND[target]))
    assert response.status_code == 200, response.content


def test_honest_frontend_token_is_accepted():
    response = present("admin-route", forge.frontend_token(forge.frontend_claims()))
    assert response.status_code == 200, response.content


# --- RFC 8725 2.1 / 3.1: alg none, and algorithms never allowed --------------------------

NONE_SPELLINGS = ["none", "None", "NONE", "nOnE"]


@pytest.mark.parametrize("signed", [False, True], ids=["no-signature", "with-signature"])
@pytest.mark.parametrize("spelling", NONE_SPELLINGS)
@pytest.mark.parametrize("target", TARGETS)
def test_alg_none_refused(user, target, spelling, signed):
    header = {"alg": spelling, "typ": "JWT"}
    claims = forge.backend_claims(user, KIND[target])
    if signed:
        # The server's own valid MAC of this very header and payload, under a header that says none.
        token = forge.hmac_sign(header, claims, settings.JWT_SECRET_KEY)
    else:
        token = forge.assemble(header, claims)
    assert_refused(present(target, token), token)


@pytest.mark.parametrize("algorithm", ["HS384", "HS512"])
@pytest.mark.parametrize("target", TARGETS)
def test_other_hmac_algorithms_refused_even_with_the_right_key(user, target, algorithm):
    token = forge.hmac_sign(
        {"alg": algorithm, "typ": "JWT"}, forge.backend_claims(user, KIND[target]), settings.JWT_SECRET_KEY
    )
    assert_refused(present(target, token), token)


@pytest.mark.parametrize("algorithm", ["RS256", "ES256", "PS256"])
@pytest.mark.parametrize("target", TARGETS)
def test_asymmetric_algorithms_refused(user, attacker_keys, target, algorithm):
    token = attacker_keys.sign(algorithm, forge.backend_claims(user, KIND[target]))
    assert_refused(present(target, token), token)


@pytest.mark.parametrize("header_alg", ["HS256", "RS256"])
@pytest.mark.parametrize("target", TARGETS)
def test_public_key_as_hmac_secret_refused(user, attacker_keys, target, header_alg):
    """Algorithm confusion: an RSA public key (PEM) used as the HMAC secret."""
    claims = forge.backend_claims(user, KIND[target])
    signing_input = forge.hmac_sign({"alg": "HS256", "typ": "JWT"}, claims, attacker_keys.rsa_public_pem)
    # Same MAC, with the header claiming either algorithm.
    _, payload, signature = forge.split(signing_input)
    token = f"{forge.segment({'alg': header_alg, 'typ': 'JWT'})}.{payload}.{signature}"
    if header_alg == "RS256":
        token = forge.hmac_sign({"alg": "RS256", "typ": "JWT"}, claims, attacker_keys.rsa_public_pem)
    assert_refused(present(target, token), token)


# --- RFC 8725 3.1: header parameters never pick the key, never make the server fetch ------


def key_choosing_tokens(keys, key_server, claims):
    jwk = {**keys.rsa_public_jwk(), "kid": "attacker"}
    return {
        "jwk-embedded": keys.sign("RS256", claims, headers={"jwk": jwk, "kid": "attacker"}),
        "jku": keys.sign("RS256", claims, headers={"jku": f"{key_server.url}/jwks.json", "kid": "attacker"}),
        "x5u": keys.sign("RS256", claims, headers={"x5u": f"{key_server.url}/cert.pem"}),
        "jku-hs256": forge.hmac_sign({"alg": "HS256", "jku": f"{key_server.url}/jwks.json"}, claims, b"attacker"),
        "kid-path-traversal": forge.hmac_sign({"alg": "HS256", "kid": "../../../../../dev/null"}, claims, b""),
        "kid-sql-injection": forge.hmac_sign({"alg": "HS256", "kid": "x' UNION SELECT 'key"}, claims, b"key"),
        "kid-names-the-frontend-key": forge.hmac_sign(
            {"alg": "HS256", "kid": "JWT_SECRET"}, claims, settings.JWT_SECRET
        ),
    }


KEY_HEADERS = [
    "jwk-embedded",
    "jku",
    "x5u",
    "jku-hs256",
    "kid-path-traversal",
    "kid-sql-injection",
    "kid-names-the-frontend-key",
]


@pytest.mark.parametrize("attack", KEY_HEADERS)
@pytest.mark.parametrize("target", TARGETS)
def test_key_headers_never_pick_a_key_nor_fetch_one(user, attacker_keys, key_server, target, attack):
    token = key_choosing_tokens(attacker_keys, key_server, forge.backend_claims(user, KIND[target]))[attack]
    assert_refused(present(target, token), token)
    assert key_server.requests == [], "the server fetched a key named by a token header"


def test_key_server_answers_when_asked(key_server):
    # Proves the assertion above could fail: the key server does record a fetch.
    import urllib.request

    with urllib.request.urlopen(f"{key_server.url}/jwks.json", timeout=5) as response:
        assert b'"kty"' in response.read()
    assert key_server.requests == ["/jwks.json"]
    key_server.requests.clear()


# --- Signatures: tampered and stripped -----------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_tampered_payload_with_the_old_signature_refused(user, plain_user, target):
    genuine = honest(plain_user, KIND[target])
    header, _, signature = forge.split(genuine)
    claims = forge.backend_claims(plain_user, KIND[target], user_id=str(user.pk), role="admin")
    token = f"{header}.{forge.segment(claims)}.{signature}"
    assert_refused(present(target, token), token)


@pytest.mark.parametrize("form", ["empty-signature", "two-segments"])
@pytest.mark.parametrize("target", TARGETS)
def test_stripped_signature_refused(user, target, form):
    header, payload, _ = forge.split(honest(user, KIND[target]))
    token = f"{header}.{payload}." if form == "empty-signature" else f"{header}.{payload}"
    assert_refused(present(target, token), token)


# --- Time claims --------------------------------------------------------------------------

TIME_ATTACKS = {
    "expired": lambda now: {"exp": now - 10},
    "not-yet-valid": lambda now: {"nbf": now + 3600},
    "missing-exp": lambda now: {"exp": None},
    "exp-as-string": lambda now: {"exp": str(now + 300)},
    "exp-as-float-string": lambda now: {"exp": f"{now + 300}.0"},
    "exp-as-object": lambda now: {"exp": {"$gt": 0}},
    "exp-as-list": lambda now: {"exp": [now + 300]},
    "exp-as-bool": lambda now: {"exp": True},
    "exp-past-year-9999": lambda now: {"exp": 10**20},
    "exp-as-huge-float": lambda now: {"exp": 1e300},
    "iat-as-string": lambda now: {"iat": "yesterday"},
    "nbf-as-object": lambda now: {"nbf": {"a": 1}},
}


@pytest.mark.parametrize("attack", list(TIME_ATTACKS))
@pytest.mark.parametrize("target", TARGETS)
def test_time_claims_enforced(user, target, attack):
    claims = forge.backend_claims(user, KIND[target], **TIME_ATTACKS[attack](int(time.time())))
    token = forge.backend_token(claims)
    assert_refused(present(target, token), token)


@pytest.mark.parametrize("attack", list(TIME_ATTACKS))
def test_frontend_time_claims_enforced(attack):
    claims = forge.frontend_claims(**TIME_ATTACKS[attack](int(time.time())))
    token = forge.frontend_token(claims)
    assert_refused(present("admin-route", token), token)


# --- RFC 8725 3.11 / 3.12: one kind of token never stands in for another --------------------


def test_refresh_token_is_not_an_access_token(user):
    token = honest(user, "refresh")
    assert_refused(present("admin-route", token), token)


def test_access_token_is_not_a_refresh_token(user):
    token = honest(user, "access")
    assert_refused(present("refresh", token), token)


@pytest.mark.parametrize("target", TARGETS)
def test_frontend_token_signed_with_the_backend_key_refused(target):
    """Frontend-shaped (no token_type) but signed with JWT_SECRET_KEY."""
    token = forge.frontend_token(forge.frontend_claims(), key=settings.JWT_SECRET_KEY)
    assert_refused(present(target, token), token)


@pytest.mark.parametrize("target", TARGETS)
def test_backend_token_signed_with_the_frontend_key_refused(user, target):
    """Backend-shaped (token_type, user_id) but signed with JWT_SECRET."""
    token = forge.backend_token(forge.backend_claims(user, KIND[target]), key=settings.JWT_SECRET)
    assert_refused(present(target, token), token)


@pytest.mark.parametrize("token_type", ["frontend", "sliding", "Access", "", None])
@pytest.mark.parametrize("target", TARGETS)
def test_unknown_token_types_refused(user, target, token_type):
    token = forge.backend_token(forge.backend_claims(user, KIND[target], token_type=token_type))
    assert_refused(present(target, token), token)


CLAIM_ATTACKS = {
    "no-jti": {"jti": None},
    "jti-as-object": {"jti": {"a": 1}},
    "user-id-not-a-number": {"user_id": "abc"},
    "user-id-sql": {"user_id": "1 OR 1=1"},
    "user-id-list": {"user_id": [1]},
    "user-id-object": {"user_id": {"pk": 1}},
    "user-id-negative": {"user_id": -1},
    "user-id-past-bigint": {"user_id": str(2**70)},
    "user-id-float": {"user_id": 1.5},
    "user-id-bool": {"user_id": True},
    "user-id-unknown": {"user_id": "987654321"},
    "token-type-object": {"token_type": {"access": 1}},
}


@pytest.mark.parametrize("attack", list(CLAIM_ATTACKS))
@pytest.mark.parametrize("target", TARGETS)
def test_claims_of_the_wrong_type_refused(user, target, attack):
    """Correctly signed (as only a key holder could) yet malformed: refused, never a 500."""
    token = forge.backend_token(forge.backend_claims(user, KIND[target], **CLAIM_ATTACKS[attack]))
    response = present(target, token)
    assert_refused(response, token)


# --- The role claim is exactly the string "admin" --------------------------------------------

ROLE_VARIANTS = {"capitalised": "Admin", "list": ["admin"], "true": True, "padded": "admin ", "object": {"admin": True}}


@pytest.mark.parametrize("variant", list(ROLE_VARIANTS))
@pytest.mark.parametrize("kind", ["backend", "frontend"])
def test_role_must_be_exactly_admin(user, kind, variant):
    role = ROLE_VARIANTS[variant]
    if kind == "backend":
        token = forge.backend_token(forge.backend_claims(user, "access", role=role))
    else:
        token = forge.frontend_token(forge.frontend_claims(role=role))
    assert_refused(present("admin-route", token), token)


# --- RFC 8725 3.8 / 3.9: issuer and audience of frontend tokens -------------------------------

ISSUER, AUDIENCE = "https://admin.example.com", "adbot-admin"


@pytest.mark.parametrize(
    "claims",
    [
        {"iss": "https://evil.example.com"},
        {"iss": None},
        {"aud": "another-service"},
        {"aud": None},
        {"aud": ["another-service"]},
    ],
    ids=["wrong-iss", "no-iss", "wrong-aud", "no-aud", "aud-list-without-ours"],
)
def test_frontend_issuer_and_audience_are_checked(settings, claims):
    settings.JWT_ISSUER, settings.JWT_AUDIENCE = ISSUER, AUDIENCE
    good = forge.frontend_token(forge.frontend_claims(iss=ISSUER, aud=AUDIENCE))
    assert present("admin-route", good).status_code == 200
    token = forge.frontend_token(forge.frontend_claims(**{"iss": ISSUER, "aud": AUDIENCE, **claims}))
    assert_refused(present("admin-route", token), token)


# --- Size and placement ------------------------------------------------------------------------


@pytest.mark.parametrize("target", TARGETS)
def test_16_kb_token_refused(user, target):
    claims = forge.backend_claims(user, KIND[target], padding=secrets.token_urlsafe(12 * 1024))
    token = forge.hmac_sign({"alg": "HS256", "typ": "JWT"}, claims, secrets.token_bytes(32))
    assert len(token) >= 16 * 1024
    assert_refused(present(target, token), token)


@pytest.mark.parametrize("parameter", ["token", "access_token", "jwt", "bearer"])
@pytest.mark.parametrize("path", [ADMIN_ROUTE, "/api/auth/me"])
def test_token_in_the_query_string_does_not_authenticate(user, path, parameter):
    token = honest(user, "access")
    response = APIClient().get(path, {parameter: token})
    assert_refused(response, token, allowed=(401,))


def test_token_in_a_cookie_or_the_body_does_not_authenticate(user):
    token = honest(user, "access")
    client = APIClient()
    client.cookies["access_token"] = token
    assert_refused(
        client.post("/api/auth/logout", {"access_token": token, "token": token}, format="json"), token, allowed=(401,)
    )


@pytest.mark.parametrize(
    "header",
    [
        "Bearer",
        "Bearer ",
        "bearer {t}",
        "Basic {t}",
        "Token {t}",
        "JWT {t}",
        "Bearer {t} extra",
        "{t}",
        "Bearer {t},Bearer {t}",
        "Bearer {t}\x00",
    ],
)
def test_malformed_authorization_headers_refused(user, header):
    token = honest(user, "access")
    response = APIClient().get(ADMIN_ROUTE, HTTP_AUTHORIZATION=header.format(t=token))
    assert_refused(response, token, allowed=(401,))


# --- Key rotation: a fallback verifies only its own kind, and only under its own kid ------------


kid_of = forge.key_id


@pytest.mark.parametrize("with_kid", [False, True], ids=["no-kid", "kid-of-the-key"])
@pytest.mark.parametrize("target", TARGETS)
def test_backend_token_signed_with_a_frontend_fallback_refused(user, target, with_kid):
    key = FRONTEND_FALLBACKS[0]
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid_of(key)} if with_kid else {})}
    token = forge.hmac_sign(header, forge.backend_claims(user, KIND[target]), key)
    assert_refused(present(target, token), token)


@pytest.mark.parametrize("with_kid", [False, True], ids=["no-kid", "kid-of-the-key"])
@pytest.mark.parametrize("target", TARGETS)
def test_frontend_token_signed_with_a_backend_fallback_refused(target, with_kid):
    key = BACKEND_FALLBACKS[1]
    header = {"alg": "HS256", "typ": "JWT", **({"kid": kid_of(key)} if with_kid else {})}
    token = forge.hmac_sign(header, forge.frontend_claims(), key)
    assert_refused(present(target, token), token)


@pytest.mark.parametrize("kid_names", ["current-backend-key", "backend-fallback", "frontend-fallback"])
@pytest.mark.parametrize("target", TARGETS)
def test_a_kid_naming_a_configured_key_does_not_admit_another_signature(user, target, kid_names):
    """A real kid with the attacker's MAC, or with the MAC of a different configured key."""
    named = {
        "current-backend-key": settings.JWT_SECRET_KEY,
        "backend-fallback": BACKEND_FALLBACKS[0],
        "frontend-fallback": FRONTEND_FALLBACKS[0],
    }[kid_names]
    claims = forge.backend_claims(user, KIND[target])
    for key in (forge.new_key(), BACKEND_FALLBACKS[1] if named != BACKEND_FALLBACKS[1] else settings.JWT_SECRET_KEY):
        token = forge.hmac_sign({"alg": "HS256", "typ": "JWT", "kid": kid_of(named)}, claims, key)
        assert_refused(present(target, token), token)


@pytest.mark.parametrize("spelling", NONE_SPELLINGS)
@pytest.mark.parametrize("target", TARGETS)
def test_alg_none_with_the_kid_of_a_fallback_refused(user, target, spelling):
    token = forge.assemble(
        {"alg": spelling, "typ": "JWT", "kid": kid_of(BACKEND_FALLBACKS[0])}, forge.backend_claims(user, KIND[target])
    )
    assert_refused(present(target, token), token)


@pytest.mark.parametrize("target", TARGETS)
def test_tokens_of_a_fallback_are_honest_only_while_it_is_configured(user, key_ring, target):
    """The control for the rotation attacks: a fallback's own token works exactly when fallbacks are set."""
    key = BACKEND_FALLBACKS[0]
    token = forge.hmac_sign(
        {"alg": "HS256", "typ": "JWT", "kid": kid_of(key)}, forge.backend_claims(user, KIND[target]), key
    )
    response = present(target, token)
    if key_ring == "with-fallbacks":
        assert response.status_code == 200, response.content
    else:
        assert_refused(response, token)
