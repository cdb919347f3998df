"""Passkeys through HTTP, answered by a software authenticator: registration, sign-in, the second step, removal."""

import time

import jwt
import pytest
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework.test import APIClient

from adbot_admin.models import AuditEvent, AuthMethod, LoginSession, Passkey, WebAuthnChallenge
from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory
from conftest import bearer_client

from .webauthn import SoftAuthenticator

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("roomy_login_budget")]

PASSKEYS = "/api/auth/passkeys"
REGISTER_BEGIN = "/api/auth/passkeys/register/begin"
REGISTER_COMPLETE = "/api/auth/passkeys/register/complete"
LOGIN_BEGIN = "/api/auth/passkey/begin"
LOGIN_COMPLETE = "/api/auth/passkey/complete"
TOKEN = "/api/auth/token"
TOKEN_2FA = "/api/auth/token/2fa"
ME = "/api/auth/me"


def fresh_client(user):
    return bearer_client(user, auth_time=time.time())


def register(user, authenticator=None, name="laptop"):
    """Register a passkey of `user` through the API; return its authenticator."""
    authenticator = authenticator or SoftAuthenticator()
    client = bearer_client(user)
    options = client.post(REGISTER_BEGIN, format="json").json()
    response = client.post(
        REGISTER_COMPLETE, {"credential": authenticator.register(options), "name": name}, format="json"
    )
    assert response.status_code == 201, response.content
    return authenticator


def login_options(username=None):
    body = {"username": username} if username else {}
    response = APIClient().post(LOGIN_BEGIN, body, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def complete(credential, **extra):
    return APIClient().post(LOGIN_COMPLETE, {"credential": credential, **extra}, format="json")


def assert_refused(response):
    assert response.status_code == 401, response.content
    assert response.json()["code"] == "invalid_passkey"


# ---- registration -----------------------------------------------------------------


def test_registration_keeps_the_passkey_and_lists_it_without_its_key(admin):
    client = bearer_client(admin)
    options = client.post(REGISTER_BEGIN, format="json").json()
    assert options["rp"] == {"id": "localhost", "name": "adbot-admin"}
    assert options["user"]["name"] == "alice"
    authenticator = SoftAuthenticator()

    response = client.post(
        REGISTER_COMPLETE, {"credential": authenticator.register(options), "name": "laptop"}, format="json"
    )

    assert response.status_code == 201, response.content
    assert set(response.json()) == {"id", "name", "created_at", "last_used_at", "transports"}
    listed = client.get(PASSKEYS).json()
    assert [(p["name"], p["last_used_at"]) for p in listed] == [("laptop", None)]
    event = AuditEvent.objects.get(action="passkey_register")
    assert (event.actor, event.target, event.outcome) == ("alice", "alice", "success")
    assert not WebAuthnChallenge.objects.exists()


def test_a_registration_challenge_works_once(admin):
    client = bearer_client(admin)
    options = client.post(REGISTER_BEGIN, format="json").json()
    first = client.post(
        REGISTER_COMPLETE, {"credential": SoftAuthenticator().register(options), "name": "a"}, format="json"
    )
    second = client.post(
        REGISTER_COMPLETE, {"credential": SoftAuthenticator().register(options), "name": "b"}, format="json"
    )
    assert first.status_code == 201
    assert second.status_code == 400
    assert second.json()["code"] == "invalid_passkey_registration"
    assert Passkey.objects.count() == 1


@pytest.mark.parametrize("bend", [{"origin": "https://evil.example"}, {"rp_id": "evil.example"}])
def test_a_registration_for_another_origin_or_rp_id_is_refused(admin, bend):
    client = bearer_client(admin)
    options = client.post(REGISTER_BEGIN, format="json").json()
    response = client.post(
        REGISTER_COMPLETE, {"credential": SoftAuthenticator().register(options, **bend), "name": "x"}, format="json"
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_passkey_registration"
    assert not Passkey.objects.exists()
    assert AuditEvent.objects.get(action="passkey_register").outcome == "failure"


def test_another_users_registration_challenge_is_refused(admin):
    options = bearer_client(admin).post(REGISTER_BEGIN, format="json").json()
    mallory = UserFactory(username="mallory", is_staff=True)
    response = bearer_client(mallory).post(
        REGISTER_COMPLETE, {"credential": SoftAuthenticator().register(options), "name": "x"}, format="json"
    )
    assert response.status_code == 400
    assert not Passkey.objects.exists()


@pytest.mark.parametrize("credential", [None, "text", [], {}, {"response": {"clientDataJSON": "!!"}}])
def test_a_malformed_registration_is_a_400(admin, credential):
    client = bearer_client(admin)
    client.post(REGISTER_BEGIN, format="json")
    response = client.post(REGISTER_COMPLETE, {"credential": credential, "name": "x"}, format="json")
    assert response.status_code == 400, response.content


# ---- signing in ---------------------------------------------------------------------


@pytest.mark.parametrize("with_username", [True, False], ids=["username", "discoverable"])
def test_a_passkey_signs_in_with_the_body_of_a_password_login(admin, with_username):
    authenticator = register(admin)
    options = login_options("alice" if with_username else None)
    assert [c["id"] for c in options.get("allowCredentials", [])] == ([authenticator.id] if with_username else [])

    response = complete(authenticator.assertion(options))

    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body) == {"access", "refresh", "token_type", "expires_in"}
    me = APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {body['access']}").json()
    assert me["username"] == "alice"
    assert me["mfa_enabled"] is True
    assert LoginSession.objects.get().auth_method == AuthMethod.PASSKEY
    event = AuditEvent.objects.get(action="login")
    assert (event.actor, event.auth_method, event.outcome) == ("alice", "passkey", "success")
    assert Passkey.objects.get().last_used_at is not None


def test_a_passkey_login_in_cookie_mode_sets_the_refresh_cookie(admin):
    authenticator = register(admin)
    response = complete(authenticator.assertion(login_options()), session="cookie")
    assert response.status_code == 200
    assert "refresh" not in response.json()
    assert any(name.endswith("adbot_refresh") for name in response.cookies)


def test_a_replayed_assertion_is_refused(admin):
    authenticator = register(admin)
    assertion = authenticator.assertion(login_options())
    assert complete(assertion).status_code == 200
    assert_refused(complete(assertion))


def test_a_challenge_answered_twice_is_refused(admin):
    authenticator = register(admin)
    options = login_options()
    assert complete(authenticator.assertion(options)).status_code == 200
    # A new, properly counted and signed assertion of the same challenge.
    assert_refused(complete(authenticator.assertion(options)))


@pytest.mark.parametrize(
    "bend", [{"origin": "https://evil.example"}, {"origin": "http://localhost:8001"}, {"rp_id": "evil.example"}]
)
def test_an_assertion_for_another_origin_or_rp_id_is_refused(admin, bend):
    authenticator = register(admin)
    assert_refused(complete(authenticator.assertion(login_options(), **bend)))


def test_a_lowered_sign_count_is_refused(admin):
    authenticator = register(admin)
    assert complete(authenticator.assertion(login_options())).status_code == 200  # count 1
    assert complete(authenticator.assertion(login_options())).status_code == 200  # count 2
    assert_refused(complete(authenticator.assertion(login_options(), sign_count=1)))
    assert Passkey.objects.get().sign_count == 2


def test_another_users_credential_is_refused_for_a_named_account(admin):
    mallory = UserFactory(username="mallory", is_staff=True)
    mallorys = register(mallory)
    register(admin)
    assert_refused(complete(mallorys.assertion(login_options("alice"))))


def test_a_credential_claiming_another_account_is_refused(admin):
    authenticator = register(admin)
    mallory = UserFactory(username="mallory", is_staff=True)
    register(mallory)
    assertion = authenticator.assertion(login_options())
    assertion["response"]["userHandle"] = Passkey.objects.get(user=mallory).user_handle
    assert_refused(complete(assertion))


def test_an_unknown_credential_is_refused(admin):
    register(admin)
    assert_refused(complete(SoftAuthenticator().assertion(login_options())))


def test_a_passkey_alone_needs_user_verification(admin):
    authenticator = register(admin)
    assert_refused(complete(authenticator.assertion(login_options(), user_verified=False)))


def test_an_expired_challenge_is_refused(admin):
    authenticator = register(admin)
    options = login_options()
    WebAuthnChallenge.objects.update(expires_at="2000-01-01T00:00:00Z")
    assert_refused(complete(authenticator.assertion(options)))


def test_a_forged_signature_is_refused(admin):
    authenticator = register(admin)
    assertion = authenticator.assertion(login_options())
    assertion["response"]["signature"] = SoftAuthenticator().assertion(login_options())["response"]["signature"]
    assert_refused(complete(assertion))


def test_an_inactive_user_cannot_sign_in_with_a_passkey(admin):
    authenticator = register(admin)
    admin.is_active = False
    admin.save(update_fields=["is_active"])
    assert_refused(complete(authenticator.assertion(login_options())))


def test_failed_passkey_logins_count_toward_the_account_lockout(admin, settings):
    settings.LOGIN_ACCOUNT_FAILURES = 2
    authenticator = register(admin)
    for _ in range(2):
        assert_refused(complete(authenticator.assertion(login_options(), user_verified=False)))
    response = complete(authenticator.assertion(login_options()))
    assert response.status_code == 429
    assert response.json()["code"] == "account_locked"


@pytest.mark.parametrize(
    "body", [{}, {"credential": "x"}, {"credential": {}}, {"credential": {"id": 1, "response": []}}]
)
def test_a_malformed_assertion_is_a_4xx(admin, body):
    register(admin)
    response = APIClient().post(LOGIN_COMPLETE, body, format="json")
    assert response.status_code in (400, 401), response.content


# ---- second step, REQUIRE_ADMIN_2FA ------------------------------------------------------


def test_a_passkey_is_the_second_step_after_a_password(admin):
    authenticator = register(admin)
    step = APIClient().post(TOKEN, {"username": "alice", "password": TEST_PASSWORD}, format="json").json()
    assert step["mfa_required"] is True

    assertion = authenticator.assertion(login_options("alice"), user_verified=False)
    response = APIClient().post(TOKEN_2FA, {"mfa_token": step["mfa_token"], "credential": assertion}, format="json")

    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access", "refresh", "token_type", "expires_in"}
    assert LoginSession.objects.get().auth_method == AuthMethod.PASSWORD_PASSKEY


def test_a_wrong_passkey_at_the_second_step_counts_as_a_wrong_code(admin):
    register(admin)
    step = APIClient().post(TOKEN, {"username": "alice", "password": TEST_PASSWORD}, format="json").json()
    stranger = SoftAuthenticator()
    response = APIClient().post(
        TOKEN_2FA,
        {"mfa_token": step["mfa_token"], "credential": stranger.assertion(login_options("alice"))},
        format="json",
    )
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_mfa_code"
    assert AuditEvent.objects.get(action="mfa_code_failed").detail == {"kind": "passkey"}


def test_the_second_step_takes_a_code_or_a_passkey_not_both(admin):
    authenticator = register(admin)
    step = APIClient().post(TOKEN, {"username": "alice", "password": TEST_PASSWORD}, format="json").json()
    body = {"mfa_token": step["mfa_token"], "code": "123456", "credential": authenticator.assertion(login_options())}
    assert APIClient().post(TOKEN_2FA, body, format="json").status_code == 400


def test_a_passkey_meets_require_admin_2fa(admin, settings):
    settings.REQUIRE_ADMIN_2FA = True
    authenticator = register(admin)  # allowed before enrolment: a passkey is the enrolment
    access = complete(authenticator.assertion(login_options())).json()["access"]
    response = APIClient().get("/api/admin/audit", HTTP_AUTHORIZATION=f"Bearer {access}")
    assert response.status_code == 200, response.content


# ---- removal --------------------------------------------------------------------------


def test_removing_a_passkey_needs_a_recent_authentication(admin):
    register(admin)
    passkey = Passkey.objects.get()
    old = bearer_client(admin, auth_time=time.time() - 3600)
    response = old.delete(f"{PASSKEYS}/{passkey.pk}")
    assert response.status_code == 403
    assert response.json()["code"] == "reauthentication_required"

    assert fresh_client(admin).delete(f"{PASSKEYS}/{passkey.pk}").status_code == 204
    assert not Passkey.objects.exists()
    event = AuditEvent.objects.get(action="passkey_delete")
    assert (event.actor, event.outcome, event.detail["name"]) == ("alice", "success", "laptop")


def test_another_users_passkey_cannot_be_removed(admin):
    mallory = UserFactory(username="mallory", is_staff=True)
    register(mallory)
    response = fresh_client(admin).delete(f"{PASSKEYS}/{Passkey.objects.get().pk}")
    assert response.status_code == 404
    assert Passkey.objects.exists()


def test_the_last_second_factor_of_an_admin_stays_under_require_admin_2fa(admin, settings):
    register(admin)
    settings.REQUIRE_ADMIN_2FA = True
    passkey = Passkey.objects.get()
    response = fresh_client(admin).delete(f"{PASSKEYS}/{passkey.pk}")
    assert response.status_code == 409
    assert response.json()["code"] == "last_second_factor"
    assert AuditEvent.objects.get(action="passkey_delete").outcome == "denied"

    # With a TOTP device (or another passkey) beside it, it may go.
    TOTPDevice.objects.create(user=admin, name="authenticator", confirmed=True)
    assert fresh_client(admin).delete(f"{PASSKEYS}/{passkey.pk}").status_code == 204


# ---- re-authentication (step-up) -----------------------------------------------------------

REAUTHENTICATE = "/api/auth/reauthenticate"


def claims(token):
    return jwt.decode(token, options={"verify_signature": False})


def signed_in(user):
    """Return the tokens of a real password login of `user` (no second factor)."""
    response = APIClient().post(TOKEN, {"username": user.username, "password": TEST_PASSWORD}, format="json")
    assert response.status_code == 200, response.content
    return response.json()


def reauthenticate(access, **body):
    return APIClient().post(REAUTHENTICATE, body, format="json", HTTP_AUTHORIZATION=f"Bearer {access}")


def test_a_passkey_alone_reauthenticates_within_the_same_login_session(admin):
    tokens = signed_in(admin)  # before the passkey: one step
    authenticator = register(admin)
    old = bearer_client(admin, auth_time=time.time() - 3600)  # an old login, for the same user

    response = reauthenticate(old.tokens["access"], credential=authenticator.assertion(login_options("alice")))

    assert response.status_code == 200, response.content
    assert set(response.json()) == {"access", "token_type", "expires_in"}
    assert abs(claims(response.json()["access"])["auth_time"] - time.time()) < 10
    # The same login session as the token it replaces.
    again = reauthenticate(tokens["access"], credential=authenticator.assertion(login_options()))
    assert claims(again.json()["access"])["sid"] == claims(tokens["access"])["sid"]
    event = AuditEvent.objects.filter(action="reauthenticate").first()
    assert (event.actor, event.outcome, event.detail) == ("alice", "success", {"proofs": ["passkey"]})


def test_a_passkey_alone_needs_user_verification_to_reauthenticate(admin):
    authenticator = register(admin)
    response = reauthenticate(
        bearer_client(admin).tokens["access"], credential=authenticator.assertion(login_options(), user_verified=False)
    )
    assert_refused(response)


def test_a_password_alone_does_not_reauthenticate_a_user_with_a_second_factor(admin):
    authenticator = register(admin)
    access = bearer_client(admin).tokens["access"]

    alone = reauthenticate(access, password=TEST_PASSWORD)
    assert alone.status_code == 401
    assert alone.json()["code"] == "second_factor_required"

    # As the second factor the authenticator need not verify its user: the password is the first.
    both = reauthenticate(
        access, password=TEST_PASSWORD, credential=authenticator.assertion(login_options(), user_verified=False)
    )
    assert both.status_code == 200, both.content
    assert AuditEvent.objects.filter(action="reauthenticate", outcome="success").get().detail == {
        "proofs": ["password", "passkey"]
    }


def test_another_users_passkey_does_not_reauthenticate(admin):
    mallory = UserFactory(username="mallory", is_staff=True)
    mallorys = register(mallory)
    register(admin)
    assert_refused(
        reauthenticate(bearer_client(admin).tokens["access"], credential=mallorys.assertion(login_options()))
    )


def test_wrong_passwords_at_reauthentication_count_toward_the_account_lockout(admin, settings):
    settings.LOGIN_ACCOUNT_FAILURES = 2
    access = bearer_client(admin).tokens["access"]
    for _ in range(2):
        wrong = reauthenticate(access, password="wrong")
        assert wrong.status_code == 401
        assert wrong.json()["code"] == "invalid_credentials"  # the answer of a wrong password at /api/auth/token

    locked = reauthenticate(access, password=TEST_PASSWORD)

    assert locked.status_code == 429
    assert locked.json()["code"] == "account_locked"
    assert AuditEvent.objects.filter(action="reauthenticate", outcome="failure").count() == 2


@pytest.mark.parametrize(
    "body", [{}, {"code": "123456"}, {"password": TEST_PASSWORD, "code": "123456", "credential": {"id": "x"}}]
)
def test_reauthentication_needs_one_proof_of_a_known_shape(admin, body):
    response = reauthenticate(bearer_client(admin).tokens["access"], **body)
    assert response.status_code == 400, response.content
