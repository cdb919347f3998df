"""Two-factor authentication through HTTP: enrolment, two-step login, codes, turning it off."""

import time
from urllib.parse import parse_qs, urlparse

import pytest
from rest_framework.test import APIClient

from adbot_admin.models import AuditEvent, LoginSession, MfaChallenge, RecoveryCode
from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory
from conftest import bearer_client

from .mfa import (  # noqa: F401  (clock is a fixture)
    CONFIRM,
    DISABLE,
    SETUP,
    TOKEN,
    TOKEN_2FA,
    clock,
    code_at,
    enrol,
    enrol_spending,
    password_step,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("roomy_login_budget")]

ME = "/api/auth/me"
REAUTHENTICATE = "/api/auth/reauthenticate"


@pytest.fixture
def client(admin):
    return bearer_client(admin)


@pytest.fixture
def enrolled(client):
    return enrol(client)


def second_step(mfa_token, code):
    return APIClient().post(TOKEN_2FA, {"mfa_token": mfa_token, "code": code}, format="json")


def test_enrolment_with_a_code_computed_from_the_returned_secret(client):
    assert client.get(ME).json()["mfa_enabled"] is False

    response = client.post(SETUP, {"password": TEST_PASSWORD}, format="json")

    assert response.status_code == 200
    body = response.json()
    assert set(body) == {"secret", "otpauth_uri", "qr_svg"}
    uri = urlparse(body["otpauth_uri"])
    assert (uri.scheme, uri.netloc) == ("otpauth", "totp")
    assert parse_qs(uri.query)["secret"] == [body["secret"]]
    assert "alice" in uri.path
    assert body["qr_svg"].startswith("<svg") and body["qr_svg"].rstrip().endswith("</svg>")
    # Not on until confirmed.
    assert client.get(ME).json()["mfa_enabled"] is False

    confirmed = client.post(CONFIRM, {"code": code_at(body["secret"])}, format="json")

    assert confirmed.status_code == 200
    codes = confirmed.json()["recovery_codes"]
    assert len(codes) == 10 and len(set(codes)) == 10
    assert client.get(ME).json()["mfa_enabled"] is True
    # Stored hashed: no code appears in the table.
    stored = set(RecoveryCode.objects.values_list("code_hash", flat=True))
    assert len(stored) == 10 and not stored & set(codes)


def test_setup_with_a_wrong_password_is_the_login_401(client, admin):
    login = APIClient().post(TOKEN, {"username": admin.username, "password": "wrong"}, format="json")

    response = client.post(SETUP, {"password": "wrong"}, format="json")

    assert response.status_code == login.status_code == 401
    assert response.json() == login.json()


def test_setup_again_replaces_an_unconfirmed_device_and_is_409_once_confirmed(client, clock):
    first = client.post(SETUP, {"password": TEST_PASSWORD}, format="json").json()["secret"]
    second = client.post(SETUP, {"password": TEST_PASSWORD}, format="json").json()["secret"]
    assert first != second
    # The first secret is gone: its code no longer confirms.
    if code_at(first) != code_at(second):
        assert client.post(CONFIRM, {"code": code_at(first)}, format="json").status_code == 401
        clock(2)  # past the device's back-off

    response = client.post(CONFIRM, {"code": code_at(second)}, format="json")
    assert response.status_code == 200, response.content

    again = client.post(SETUP, {"password": TEST_PASSWORD}, format="json")
    assert again.status_code == 409
    assert again.json()["code"] == "mfa_already_enabled"


def test_a_wrong_code_does_not_confirm(client):
    secret = client.post(SETUP, {"password": TEST_PASSWORD}, format="json").json()["secret"]
    wrong = f"{(int(code_at(secret)) + 1) % 1_000_000:06d}"

    response = client.post(CONFIRM, {"code": wrong}, format="json")

    assert response.status_code == 401
    assert response.json()["code"] == "invalid_mfa_code"
    assert client.get(ME).json()["mfa_enabled"] is False


def test_confirm_without_setup_is_409(client):
    response = client.post(CONFIRM, {"code": "123456"}, format="json")
    assert response.status_code == 409
    assert response.json()["code"] == "mfa_not_enabled"


def test_login_in_two_steps(client, admin, enrolled):
    secret, _ = enrolled

    first = password_step(APIClient(), admin.username)

    assert set(first) == {"mfa_required", "mfa_token", "expires_in"}
    assert first["mfa_required"] is True and first["expires_in"] == 300

    response = second_step(first["mfa_token"], code_at(secret, 1))

    assert response.status_code == 200
    pair = response.json()
    assert set(pair) == {"access", "refresh", "token_type", "expires_in"}
    me = APIClient().get(ME, HTTP_AUTHORIZATION=f"Bearer {pair['access']}")
    assert me.status_code == 200 and me.json()["mfa_enabled"] is True
    assert LoginSession.objects.get(user=admin, ended_at=None).auth_method == "password_totp"
    # The mfa_token was for one login.
    assert second_step(first["mfa_token"], code_at(secret, 1)).json()["code"] == "mfa_token_invalid"


def test_a_wrong_password_answers_alike_with_and_without_2fa(client, admin, enrolled):
    UserFactory(username="plain", is_staff=True)
    bodies = [
        APIClient().post(TOKEN, {"username": name, "password": "wrong"}, format="json")
        for name in (admin.username, "plain", "nobody")
    ]
    assert {r.status_code for r in bodies} == {401}
    assert bodies[0].json() == bodies[1].json() == bodies[2].json()


def test_an_accepted_code_is_refused_when_replayed(client, admin, enrolled):
    secret, _ = enrolled
    code = code_at(secret, 1)
    assert second_step(password_step(APIClient(), admin.username)["mfa_token"], code).status_code == 200

    replay = second_step(password_step(APIClient(), admin.username)["mfa_token"], code)

    assert replay.status_code == 401
    assert replay.json()["code"] == "invalid_mfa_code"


def test_the_confirming_code_cannot_log_in(client, admin):
    _, _, spent = enrol_spending(client)
    response = second_step(password_step(APIClient(), admin.username)["mfa_token"], spent)
    assert response.json()["code"] == "invalid_mfa_code"


def test_a_recovery_code_works_once(client, admin, enrolled):
    _, codes = enrolled

    used = second_step(password_step(APIClient(), admin.username)["mfa_token"], codes[0])
    assert used.status_code == 200
    assert LoginSession.objects.get(user=admin, ended_at=None).auth_method == "password_recovery_code"

    again = second_step(password_step(APIClient(), admin.username)["mfa_token"], codes[0])
    assert again.status_code == 401
    assert again.json()["code"] == "invalid_mfa_code"

    # Typed without dashes and in capitals, another code still works.
    typed = codes[1].replace("-", "").upper()
    assert second_step(password_step(APIClient(), admin.username)["mfa_token"], typed).status_code == 200


def test_five_wrong_codes_kill_the_mfa_token(client, admin, enrolled, clock):
    secret, _ = enrolled
    mfa_token = password_step(APIClient(), admin.username)["mfa_token"]
    wrong = f"{(int(code_at(secret, 1)) + 500_000) % 1_000_000:06d}"

    for failures in range(5):
        clock(2**failures)  # past the device's back-off (1, 2, 4, 8, 16 s), which is tested on its own
        response = second_step(mfa_token, wrong)
        assert response.status_code == 401
        assert response.json()["code"] == "invalid_mfa_code"
        assert "WWW-Authenticate" in response

    clock(2**5)
    dead = second_step(mfa_token, code_at(secret, 1))

    assert dead.status_code == 401
    assert dead.json()["code"] == "mfa_token_invalid"
    # A fresh login still works with that very code: it was never accepted.
    fresh = password_step(APIClient(), admin.username)["mfa_token"]
    assert second_step(fresh, code_at(secret, 1)).status_code == 200


def test_the_device_backs_off_after_a_wrong_code(client, admin, enrolled, clock):
    secret, _ = enrolled
    mfa_token = password_step(APIClient(), admin.username)["mfa_token"]
    assert second_step(mfa_token, "000000" if code_at(secret, 1) != "000000" else "111111").status_code == 401

    throttled = second_step(mfa_token, code_at(secret, 1))

    assert throttled.status_code == 429
    assert throttled.json()["code"] == "mfa_code_throttled"
    assert int(throttled["Retry-After"]) >= 1
    clock(2)
    # The throttled try checked no code and did not count against the mfa_token.
    assert second_step(mfa_token, code_at(secret, 1)).status_code == 200
    assert MfaChallenge.objects.get().failures == 1


def test_the_mfa_token_expires_after_five_minutes(client, admin, enrolled, clock):
    secret, _ = enrolled
    mfa_token = password_step(APIClient(), admin.username)["mfa_token"]
    clock(301)

    response = second_step(mfa_token, code_at(secret, 1))

    assert response.status_code == 401
    assert response.json()["code"] == "mfa_token_invalid"


@pytest.mark.parametrize("path", [ME, "/api/admin/audit", SETUP, "/api/auth/logout"])
def test_an_mfa_token_is_never_a_bearer_token(client, admin, enrolled, path):
    mfa_token = password_step(APIClient(), admin.username)["mfa_token"]

    response = APIClient().generic(
        "GET" if path in (ME, "/api/admin/audit") else "POST", path, HTTP_AUTHORIZATION=f"Bearer {mfa_token}"
    )

    assert response.status_code == 401


def test_an_unknown_mfa_token_is_refused(db):
    response = second_step("not-a-token", "123456")
    assert response.status_code == 401
    assert response.json()["code"] == "mfa_token_invalid"


def test_a_deactivated_user_cannot_finish_a_two_factor_login(client, admin, enrolled):
    secret, _ = enrolled
    mfa_token = password_step(APIClient(), admin.username)["mfa_token"]
    type(admin).objects.filter(pk=admin.pk).update(is_active=False)

    assert second_step(mfa_token, code_at(secret, 1)).json()["code"] == "mfa_token_invalid"


def test_the_second_step_spends_the_login_budget(settings, client, admin, enrolled):
    settings.RATELIMIT_LOGIN = "3/m"
    mfa_token = password_step(APIClient(), admin.username)["mfa_token"]  # one unit
    for _ in range(2):
        assert second_step(mfa_token, "12345x").status_code == 401

    refused = second_step(mfa_token, "12345x")

    assert refused.status_code == 429
    assert refused.json()["code"] == "throttled"


def test_turning_it_off_needs_a_recent_authentication(admin, enrolled):
    secret, _ = enrolled
    old = bearer_client(admin, auth_time=time.time() - 3600)

    refused = old.post(DISABLE, format="json")
    assert refused.status_code == 403
    assert refused.json()["code"] == "reauthentication_required"
    assert old.get(ME).json()["mfa_enabled"] is True

    fresh = bearer_client(admin, auth_time=time.time())
    response = fresh.post(DISABLE, format="json")

    assert response.status_code == 204
    assert fresh.get(ME).json()["mfa_enabled"] is False
    assert not RecoveryCode.objects.filter(user=admin).exists()
    login = APIClient().post(TOKEN, {"username": admin.username, "password": TEST_PASSWORD}, format="json")
    assert "access" in login.json()
    assert fresh.post(DISABLE, format="json").status_code == 409


def test_turning_it_off_after_reauthenticating_with_the_password_and_a_totp_code(client, enrolled):
    secret, _ = enrolled
    assert client.post(DISABLE, format="json").status_code == 403
    reauthenticated = client.post(
        REAUTHENTICATE, {"password": TEST_PASSWORD, "code": code_at(secret, 1)}, format="json"
    )
    assert reauthenticated.status_code == 200, reauthenticated.content

    response = APIClient().post(DISABLE, format="json", HTTP_AUTHORIZATION=f"Bearer {reauthenticated.json()['access']}")

    assert response.status_code == 204


def test_a_frontend_token_has_no_account_to_enrol(settings):
    from adbot_admin.tests.tokens import bearer, frontend_token

    response = APIClient().post(SETUP, {"password": TEST_PASSWORD}, format="json", **bearer(frontend_token()))

    assert response.status_code == 409
    assert response.json()["code"] == "mfa_not_available"


def test_every_step_is_audited_without_its_secrets(client, admin, enrolled):
    secret, codes = enrolled
    second_step(password_step(APIClient(), admin.username)["mfa_token"], "999999x")
    second_step(password_step(APIClient(), admin.username)["mfa_token"], codes[0])
    bearer_client(admin, auth_time=time.time()).post(DISABLE, format="json")

    events = list(AuditEvent.objects.order_by("id").values_list("action", "outcome", "auth_method"))

    assert ("mfa_setup", "success", "backend_token") in events
    assert ("mfa_confirm", "success", "backend_token") in events
    assert ("login_mfa_required", "success", "password") in events
    assert ("mfa_code_failed", "failure", "none") in events
    assert ("mfa_recovery_code_used", "success", "none") in events
    assert ("login", "success", "password_recovery_code") in events
    assert ("mfa_disable", "success", "backend_token") in events
    stored = str(list(AuditEvent.objects.values_list("target", "detail")))
    assert secret not in stored and not any(code in stored for code in codes)


def test_with_2fa_required_an_admin_without_it_logs_in_and_can_enrol(settings, admin):
    settings.REQUIRE_ADMIN_2FA = True
    login = APIClient().post(TOKEN, {"username": admin.username, "password": TEST_PASSWORD}, format="json")
    assert login.status_code == 200
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {login.json()['access']}")

    refused = client.get("/api/admin/audit")
    assert refused.status_code == 403
    assert refused.json()["code"] == "mfa_enrollment_required"
    assert client.get(ME).json()["mfa_enabled"] is False

    enrol(client)

    # The same token, on the next request: the database says two-factor is on now.
    assert client.get("/api/admin/audit").status_code == 200


def test_manage_py_disable_2fa_turns_it_off_for_a_lost_device(client, admin, enrolled):
    from io import StringIO

    from django.core.management import CommandError, call_command

    out = StringIO()
    call_command("disable_2fa", admin.username, stdout=out)

    assert "off for alice" in out.getvalue()
    assert client.get(ME).json()["mfa_enabled"] is False
    login = APIClient().post(TOKEN, {"username": admin.username, "password": TEST_PASSWORD}, format="json")
    assert "access" in login.json()
    assert AuditEvent.objects.filter(action="mfa_disable", auth_method="shell", target="alice").exists()
    with pytest.raises(CommandError):
        call_command("disable_2fa", "nobody", stdout=StringIO())
