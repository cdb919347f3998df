"""Passkeys on the admin site: signing in with one from the login page, and registering one."""

import json

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from adbot_admin.models import AuditEvent, Passkey
from adbot_admin.step_up import ADMIN_SITE_AUTH_TIME
from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory

from .test_passkeys import register
from .webauthn import SoftAuthenticator

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("roomy_login_budget")]

BEGIN = "/admin/passkey/begin"
COMPLETE = "/admin/passkey/complete"
REGISTER_BEGIN = "/admin/passkeys/register/begin"
REGISTER_COMPLETE = "/admin/passkeys/register/complete"


def post(client, url, body):
    return client.post(url, json.dumps(body), content_type="application/json")


def passkey_login(client, authenticator, **bend):
    options = post(client, BEGIN, {}).json()
    return post(client, COMPLETE, {"credential": authenticator.assertion(options, **bend)})


def test_the_login_page_offers_a_passkey():
    page = Client().get("/admin/login/").content.decode()
    assert 'id="passkey-login-button"' in page and "Sign in with a passkey" in page
    assert "/static/adbot_admin/admin_passkeys.js" in page


def test_a_passkey_logs_the_admin_site_in(admin_user):
    authenticator = register(admin_user)
    client = Client()

    response = passkey_login(client, authenticator)

    assert response.status_code == 200, response.content
    assert response.json() == {"redirect": "/admin/"}
    assert client.get("/admin/").status_code == 200
    assert ADMIN_SITE_AUTH_TIME in client.session
    event = AuditEvent.objects.get(action="admin_site_login")
    assert (event.actor, event.auth_method, event.outcome) == ("alice", "admin_site", "success")


def test_with_a_username_only_that_accounts_passkeys_log_in(admin_user):
    register(admin_user)
    mallory = UserFactory(username="mallory", is_staff=True)
    mallorys = register(mallory)
    client = Client()
    options = post(client, BEGIN, {"username": "alice"}).json()
    assert [c["id"] for c in options["allowCredentials"]] == [Passkey.objects.get(user=admin_user).credential_id]
    response = post(client, COMPLETE, {"credential": mallorys.assertion(options)})
    assert response.status_code == 401
    assert client.get("/admin/").status_code == 302


def test_a_passkey_meets_the_admin_sites_two_factor_rule(admin_user, settings):
    settings.REQUIRE_ADMIN_2FA = True
    TOTPDevice.objects.create(user=admin_user, name="authenticator", confirmed=True)
    authenticator = register(admin_user)
    client = Client()
    assert passkey_login(client, authenticator).status_code == 200
    assert client.get("/admin/").status_code == 200


@pytest.mark.parametrize("bend", [{"origin": "https://evil.example"}, {"user_verified": False}])
def test_a_refused_passkey_logs_nothing_in(admin_user, bend):
    authenticator = register(admin_user)
    client = Client()
    response = passkey_login(client, authenticator, **bend)
    assert response.status_code == 401
    assert response.json()["code"] == "invalid_passkey"
    assert client.get("/admin/").status_code == 302
    assert AuditEvent.objects.get(action="admin_site_login").outcome == "failure"


def test_a_non_staff_passkey_does_not_open_the_admin_site(admin_user):
    authenticator = register(admin_user)
    type(admin_user).objects.filter(pk=admin_user.pk).update(is_staff=False)
    client = Client()
    assert passkey_login(client, authenticator).status_code == 401
    assert client.get("/admin/").status_code == 302


def test_an_admin_registers_a_passkey_on_the_admin_site(admin_user):
    client = Client()
    client.force_login(admin_user)
    assert "Add a passkey" in client.get("/admin/passkeys/").content.decode()

    options = post(client, REGISTER_BEGIN, {}).json()
    response = post(client, REGISTER_COMPLETE, {"credential": SoftAuthenticator().register(options), "name": "desk"})

    assert response.status_code == 201, response.content
    assert Passkey.objects.get(user=admin_user).name == "desk"
    assert "desk" in client.get("/admin/passkeys/").content.decode()


@pytest.mark.parametrize("body", [{"name": "x"}, {"credential": {}, "name": ""}, ["not", "an", "object"]])
def test_a_bad_registration_body_is_a_400(admin_user, body):
    client = Client()
    client.force_login(admin_user)
    post(client, REGISTER_BEGIN, {})
    response = post(client, REGISTER_COMPLETE, body)
    assert response.status_code == 400
    assert not Passkey.objects.exists()


def test_registration_needs_an_admin_site_login():
    assert post(Client(), REGISTER_BEGIN, {}).status_code == 302


def test_the_passkey_views_are_csrf_checked(admin_user):
    client = Client(enforce_csrf_checks=True)
    assert post(client, BEGIN, {}).status_code == 403
    client.force_login(admin_user)
    assert post(client, REGISTER_BEGIN, {}).status_code == 403


def test_a_password_alone_does_not_open_the_admin_site_for_an_account_with_a_passkey(admin_user):
    register(admin_user)
    client = Client()
    response = client.post("/admin/login/", {"username": "alice", "password": TEST_PASSWORD, "next": "/admin/"})
    assert response.status_code == 200
    assert "second factor is a passkey" in response.content.decode()
    assert client.get("/admin/").status_code == 302
