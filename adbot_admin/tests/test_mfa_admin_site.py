"""Two-factor at the admin-site login: a code for users with a device; REQUIRE_ADMIN_2FA refuses the rest."""

import pytest
from django.test import Client

from adbot_admin.models import AuditEvent
from adbot_admin.tests.factories import TEST_PASSWORD
from conftest import bearer_client

from .mfa import clock, code_at, enrol, enrol_spending  # noqa: F401  (clock is a fixture)

pytestmark = pytest.mark.django_db

LOGIN = "/admin/login/"
INDEX = "/admin/"


@pytest.fixture(autouse=True)
def _roomy_login_budget(settings):
    settings.RATELIMIT_LOGIN = "1000/m"
    settings.DEBUG = False


def admin_login(client, **extra):
    return client.post(LOGIN, {"username": "alice", "password": TEST_PASSWORD, "next": INDEX, **extra})


def test_a_user_with_2fa_must_give_a_current_code(admin_user):
    secret, _ = enrol(bearer_client(admin_user))
    client = Client()

    without = admin_login(client)
    assert without.status_code == 200
    assert b"otp_token" in without.content
    assert client.get(INDEX).status_code == 302

    response = admin_login(client, otp_token=code_at(secret, 1))

    assert response.status_code == 302
    assert client.get(INDEX).status_code == 200


def test_a_wrong_or_replayed_code_is_refused_and_audited(admin_user, clock):
    secret, _, spent = enrol_spending(bearer_client(admin_user))
    client = Client()

    # The code that confirmed the device was spent there.
    replayed = admin_login(client, otp_token=spent)

    assert replayed.status_code == 200
    assert client.get(INDEX).status_code == 302
    assert AuditEvent.objects.filter(action="mfa_code_failed", auth_method="admin_site", target="alice").exists()
    clock(2)
    assert admin_login(client, otp_token=code_at(secret, 1)).status_code == 302


def test_without_2fa_the_password_is_enough_unless_required(admin_user, settings):
    client = Client()
    assert admin_login(client).status_code == 302
    assert client.get(INDEX).status_code == 200

    settings.REQUIRE_ADMIN_2FA = True

    # The session already open is refused from the next page on.
    assert client.get(INDEX).status_code == 302
    refused = admin_login(Client())
    assert refused.status_code == 200
    assert b"/api/auth/2fa/setup" in refused.content


def test_with_2fa_required_an_enrolled_admin_logs_in_with_a_code(admin_user, settings):
    settings.REQUIRE_ADMIN_2FA = True
    secret, _ = enrol(bearer_client(admin_user))
    client = Client()

    assert admin_login(client, otp_token=code_at(secret, 1)).status_code == 302
    assert client.get(INDEX).status_code == 200


def test_enrolling_after_an_admin_site_login_asks_for_a_code_on_the_next_page(admin_user):
    client = Client()
    assert admin_login(client).status_code == 302

    enrol(bearer_client(admin_user))

    assert client.get(INDEX).status_code == 302


def test_deleting_a_device_in_the_admin_site_turns_2fa_off_and_is_audited(admin_user):
    from django_otp.plugins.otp_totp.models import TOTPDevice

    secret, _ = enrol(bearer_client(admin_user))
    operator = Client()
    operator.force_login(admin_user)
    device = TOTPDevice.objects.get(user=admin_user)
    session = operator.session
    session["otp_device_id"] = device.persistent_id  # as django-otp's login left it
    session.save()

    page = operator.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/")
    assert page.status_code == 200
    assert device.key.encode() not in page.content and secret.encode() not in page.content
    response = operator.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})

    assert response.status_code == 302
    assert not TOTPDevice.objects.exists()
    assert AuditEvent.objects.filter(action="admin_site.totpdevice.deleted", auth_method="admin_site").exists()
