"""Per-account lockout: LOGIN_ACCOUNT_FAILURES failed password checks for one username lock it for the window.

Each failure comes from its own address: the lockout counts per username,
whatever the address, and the per-address budget never gets in the way.
"""

import itertools
from datetime import timedelta
from io import StringIO

import pytest
from django.conf import settings as django_settings
from django.core.cache import cache
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from adbot_admin.models import AuditEvent
from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

TOKEN = "/api/auth/token"
ADMIN_LOGIN = "/admin/login/"
FAILURES = 3
# As settings.py reads it without LOGIN_ACCOUNT_FAILURES in the environment, before any test overrides it.
DEFAULT_FAILURES = django_settings.LOGIN_ACCOUNT_FAILURES
WINDOW = 15 * 60


@pytest.fixture(autouse=True)
def _lockout(settings):
    settings.LOGIN_ACCOUNT_FAILURES = FAILURES
    settings.DEBUG = False
    # Each address spends one login, but a test sends many in a second.
    settings.RATELIMIT_PASSWORD_CHECKS = "1000/s"


@pytest.fixture
def admin(db):
    return UserFactory(username="grace", is_staff=True, is_superuser=True)


_addresses = (f"198.51.{n // 250}.{n % 250 + 1}" for n in itertools.count())


def token_login(username, password="wrong password", addr=None):
    return Client().post(
        TOKEN,
        {"username": username, "password": password},
        content_type="application/json",
        REMOTE_ADDR=addr or next(_addresses),
    )


def site_login(username, password="wrong password"):
    return Client().post(ADMIN_LOGIN, {"username": username, "password": password}, REMOTE_ADDR=next(_addresses))


def fail(username, times, via=token_login):
    for _ in range(times):
        response = via(username)
        assert response.status_code in (200, 401), response.content[:300]  # the admin site re-shows its form


def assert_locked(response):
    assert response.status_code == 429
    assert 1 <= int(response["Retry-After"]) <= WINDOW + 1
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "account_locked"
    return body


def test_failures_from_many_addresses_lock_the_username_without_hashing(admin, hash_calls):
    fail("grace", FAILURES)
    hash_calls.clear()

    # The right password does not help once locked, and costs no bcrypt.
    assert_locked(token_login("grace", TEST_PASSWORD))
    assert hash_calls == []


def test_the_default_is_ten_failures(admin, settings):
    assert DEFAULT_FAILURES == 10
    settings.LOGIN_ACCOUNT_FAILURES = DEFAULT_FAILURES
    fail("grace", 9)
    assert token_login("grace", TEST_PASSWORD).status_code == 200
    fail("grace", 10)
    assert_locked(token_login("grace", TEST_PASSWORD))


def test_an_unknown_username_gets_the_identical_answer(admin):
    fail("grace", FAILURES)
    fail("nobody-at-all", FAILURES)

    known, unknown = token_login("grace"), token_login("nobody-at-all")

    assert assert_locked(known)["detail"].split(" Try")[0] == assert_locked(unknown)["detail"].split(" Try")[0]
    assert set(known.headers) == set(unknown.headers)
    # Before the lock both answer the same 401 too.
    assert token_login("grace2").json() == token_login("nobody-at-all-2").json()


def test_other_usernames_are_not_locked(admin):
    UserFactory(username="heidi", is_staff=True)
    fail("grace", FAILURES)
    assert token_login("heidi", TEST_PASSWORD).status_code == 200


def test_spellings_of_one_name_share_its_count(admin):
    fail("Grace", 1)
    fail(" GRACE ", 1)
    fail("ｇｒａｃｅ", 1)  # fullwidth: NFKC folds it to "grace"
    assert_locked(token_login("grace", TEST_PASSWORD))


def test_a_successful_login_resets_the_count(admin):
    fail("grace", FAILURES - 1)
    assert token_login("grace", TEST_PASSWORD).status_code == 200
    fail("grace", FAILURES - 1)
    assert token_login("grace", TEST_PASSWORD).status_code == 200


def test_the_lock_ends_with_its_window(admin, monkeypatch):
    fail("grace", FAILURES)
    locked = token_login("grace")
    assert_locked(locked)
    wait = int(locked["Retry-After"])
    later = timezone.now() + timedelta(seconds=wait)
    monkeypatch.setattr(timezone, "now", lambda: later)

    assert token_login("grace", TEST_PASSWORD).status_code == 200


def test_one_audit_row_per_locked_window(admin):
    fail("grace", FAILURES)
    for _ in range(3):
        token_login("grace")

    events = AuditEvent.objects.filter(action="account_locked")
    assert events.count() == 1
    event = events.get()
    assert (event.target, event.outcome, event.actor) == ("grace", "denied", "")
    assert event.detail["failures"] == FAILURES


def test_manage_py_unlock_user_clears_the_count(admin):
    fail("grace", FAILURES)
    out = StringIO()

    call_command("unlock_user", "grace", stdout=out)

    assert "grace" in out.getvalue()
    assert token_login("grace", TEST_PASSWORD).status_code == 200
    assert AuditEvent.objects.filter(action="account_unlock", target="grace").count() == 1


def test_the_lock_lives_in_the_database_not_the_cache(admin):
    fail("grace", FAILURES)
    cache.clear()  # a cache restart
    assert_locked(token_login("grace", TEST_PASSWORD))

    call_command("unlock_user", "grace", stdout=StringIO())
    assert token_login("grace", TEST_PASSWORD).status_code == 200


def test_zero_turns_the_lockout_off(admin, settings):
    settings.LOGIN_ACCOUNT_FAILURES = 0
    fail("grace", FAILURES + 2)
    assert token_login("grace", TEST_PASSWORD).status_code == 200
    assert not AuditEvent.objects.filter(action="account_locked").exists()


def test_the_admin_site_login_counts_and_is_refused_without_hashing(admin, hash_calls):
    fail("grace", FAILURES, via=site_login)
    hash_calls.clear()

    response = site_login("grace", TEST_PASSWORD)

    assert_locked(response)
    assert hash_calls == []
    # One count for both doors: the token view is locked too.
    assert_locked(token_login("grace", TEST_PASSWORD))


def test_the_admin_site_shares_the_count_with_the_token_view(admin):
    fail("grace", FAILURES - 1)
    fail("grace", 1, via=site_login)
    assert_locked(site_login("grace", TEST_PASSWORD))


def test_an_admin_site_login_resets_the_count(admin):
    fail("grace", FAILURES - 1, via=site_login)
    response = site_login("grace", TEST_PASSWORD)
    assert response.status_code == 302
    fail("grace", FAILURES - 1)
    assert token_login("grace", TEST_PASSWORD).status_code == 200


def test_a_locked_unknown_username_on_the_admin_site_answers_alike(admin):
    fail("grace", FAILURES, via=site_login)
    fail("nobody-at-all", FAILURES, via=site_login)
    known, unknown = site_login("grace"), site_login("nobody-at-all")
    assert assert_locked(known)["code"] == assert_locked(unknown)["code"]


def test_a_right_password_refused_for_its_missing_code_is_no_failure(admin):
    # Two-factor: the admin site re-shows its form for a missing code; the password itself was right.
    from conftest import bearer_client

    from .mfa import enrol

    enrol(bearer_client(admin))
    for _ in range(FAILURES + 1):
        response = site_login("grace", TEST_PASSWORD)
        assert response.status_code == 200 and b"otp_token" in response.content
    assert token_login("grace", TEST_PASSWORD).json()["mfa_required"] is True
    assert not AuditEvent.objects.filter(action="account_locked").exists()


def test_wrong_passwords_at_the_cms_login_lock_the_cms_account(cms_password, hash_calls):
    for _ in range(FAILURES):
        response = Client().post(
            "/api/cms/login", {"password": "a guess"}, content_type="application/json", REMOTE_ADDR=next(_addresses)
        )
        assert response.status_code == 401
    hash_calls.clear()
    response = Client().post(
        "/api/cms/login", {"password": cms_password}, content_type="application/json", REMOTE_ADDR=next(_addresses)
    )
    assert_locked(response)
    assert hash_calls == []


# 2fa/disable checks no password any more: it needs a recent `auth_time` (step-up), which
# POST /api/auth/reauthenticate gives, its password counted like any other.
@pytest.mark.parametrize("path", ["/api/auth/2fa/setup", "/api/auth/reauthenticate"])
def test_password_re_checks_count_and_a_right_one_resets(admin, path, settings):
    from conftest import bearer_client

    settings.RATELIMIT_LOGIN = "1000/m"  # one client address: its own budget must not answer first

    client = bearer_client(admin)
    body = {"password": "a guess"}
    for _ in range(FAILURES - 1):
        assert client.post(path, body, format="json").status_code == 401
    # A right password clears the count.
    assert client.post(path, {**body, "password": TEST_PASSWORD}, format="json").status_code != 401
    for _ in range(FAILURES - 1):
        assert client.post(path, body, format="json").status_code == 401
    assert token_login("grace", TEST_PASSWORD).status_code == 200
    for _ in range(FAILURES):
        client.post(path, body, format="json")
    assert_locked(client.post(path, {**body, "password": TEST_PASSWORD}, format="json"))
    assert_locked(token_login("grace", TEST_PASSWORD))
