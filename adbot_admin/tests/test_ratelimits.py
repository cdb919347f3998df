"""The shared `login` budget: token endpoint, CMS login (and the admin site, in test_admin_site)."""

import pytest

from adbot_admin.budgets import LOGIN, working_slot
from adbot_admin.models import AuditEvent
from adbot_admin.tests.factories import TEST_PASSWORD

pytestmark = pytest.mark.django_db

TOKEN = "/api/auth/token"
CMS = "/api/cms/login"


def attempt(client, path=TOKEN, data=None, **extra):
    # An empty body spends budget but no password hash: the limit comes first.
    return client.post(path, data or {}, format="json", **extra)


def spend(client, times, path=TOKEN, **extra):
    for _ in range(times):
        assert attempt(client, path, **extra).status_code != 429


def assert_throttled(response):
    assert response.status_code == 429
    assert int(response["Retry-After"]) >= 1
    body = response.json()
    assert set(body) == {"detail", "code"}
    assert body["code"] == "throttled"


@pytest.mark.parametrize("path", [TOKEN, CMS])
def test_the_sixth_login_in_a_minute_is_refused(api_client, cms_password, path):
    spend(api_client, 5, path)
    assert_throttled(attempt(api_client, path))


@pytest.mark.parametrize("path", [TOKEN, CMS])
def test_limited_views_carry_ratelimit_headers_refusals_included(api_client, cms_password, path):
    first = attempt(api_client, path)
    assert first["RateLimit-Policy"] == '"login";q=5;w=60'
    assert first["RateLimit"].startswith('"login";r=4;t=')
    spend(api_client, 4, path)

    refused = attempt(api_client, path)
    assert refused.status_code == 429
    assert refused["RateLimit-Policy"] == '"login";q=5;w=60'
    assert refused["RateLimit"].startswith('"login";r=0;t=')


@pytest.mark.parametrize("last", [TOKEN, CMS])
def test_token_and_cms_login_share_one_budget(api_client, cms_password, last):
    spend(api_client, 3, TOKEN)
    spend(api_client, 2, CMS)
    assert_throttled(attempt(api_client, last))


@pytest.mark.parametrize(
    ("path", "data"),
    [
        (TOKEN, lambda user, pw: {"username": user.username, "password": TEST_PASSWORD}),
        (CMS, lambda user, pw: {"password": pw}),
    ],
    ids=["token", "cms"],
)
def test_the_limit_is_checked_before_any_password_hashing(api_client, admin_user, cms_password, hash_calls, path, data):
    spend(api_client, 5, path)
    hash_calls.clear()

    response = attempt(api_client, path, data(admin_user, cms_password))
    assert_throttled(response)
    assert hash_calls == []


def test_each_client_address_has_its_own_budget(api_client):
    spend(api_client, 5, REMOTE_ADDR="198.51.100.1")
    assert_throttled(attempt(api_client, REMOTE_ADDR="198.51.100.1"))
    assert attempt(api_client, REMOTE_ADDR="198.51.100.2").status_code == 400


def test_without_trusted_proxies_x_forwarded_for_is_ignored(api_client, settings):
    settings.TRUSTED_PROXY_COUNT = 0
    for n in range(5):
        attempt(api_client, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}", REMOTE_ADDR="198.51.100.1")
    assert_throttled(attempt(api_client, HTTP_X_FORWARDED_FOR="203.0.113.99", REMOTE_ADDR="198.51.100.1"))
    assert AuditEvent.objects.get(action="rate_limited").client_ip == "198.51.100.1"


def test_one_trusted_proxy_makes_the_rightmost_entry_the_client(api_client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = {"REMOTE_ADDR": "10.0.0.2"}
    # The client prepends a different spoofed entry each time; the proxy appends the truth.
    for n in range(5):
        attempt(api_client, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 198.51.100.7", **proxy)
    assert_throttled(attempt(api_client, HTTP_X_FORWARDED_FOR="203.0.113.99, 198.51.100.7", **proxy))
    assert AuditEvent.objects.get(action="rate_limited").client_ip == "198.51.100.7"
    # Another client behind the same proxy keeps its own budget.
    assert attempt(api_client, HTTP_X_FORWARDED_FOR="198.51.100.7, 198.51.100.8", **proxy).status_code == 400


def test_two_trusted_proxies_make_the_second_entry_from_the_right_the_client(api_client, settings):
    settings.TRUSTED_PROXY_COUNT = 2
    proxy = {"REMOTE_ADDR": "10.0.0.3"}
    for n in range(5):
        attempt(api_client, HTTP_X_FORWARDED_FOR=f"203.0.113.{n}, 198.51.100.7, 10.0.0.2", **proxy)
    assert_throttled(attempt(api_client, HTTP_X_FORWARDED_FOR="203.0.113.99, 198.51.100.7, 10.0.0.2", **proxy))
    assert AuditEvent.objects.get(action="rate_limited").client_ip == "198.51.100.7"
    assert attempt(api_client, HTTP_X_FORWARDED_FOR="198.51.100.7, 198.51.100.8, 10.0.0.2", **proxy).status_code == 400


def test_the_rate_comes_from_settings(api_client, settings):
    settings.RATELIMIT_LOGIN = "2/m"
    spend(api_client, 2)
    refused = attempt(api_client)
    assert_throttled(refused)
    assert refused["RateLimit-Policy"] == '"login";q=2;w=60'


@pytest.mark.parametrize("path", [TOKEN, CMS])
def test_a_broken_cache_refuses_logins(api_client, admin_user, cms_password, broken_cache, hash_calls, path):
    hash_calls.clear()
    data = {"username": admin_user.username, "password": TEST_PASSWORD} if path == TOKEN else {"password": cms_password}

    response = attempt(api_client, path, data)
    assert response.status_code == 503
    assert response.json()["code"] == "rate_limiter_unavailable"
    assert set(response.json()) == {"detail", "code"}
    assert hash_calls == []


def test_the_budget_frees_once_the_window_has_passed(api_client, rate_clock):
    rate_clock.now = 1_800_000_000.0

    spend(api_client, 5)
    refused = attempt(api_client)
    assert_throttled(refused)
    wait = int(refused["Retry-After"])
    assert 1 <= wait <= 60

    rate_clock.now += wait - 1
    assert attempt(api_client).status_code == 429
    rate_clock.now += 2
    assert attempt(api_client).status_code == 400


def test_password_checks_of_all_clients_together_are_bounded(api_client, settings):
    # Every address stays within its own login budget; the server-wide one still holds.
    settings.RATELIMIT_PASSWORD_CHECKS = "3/m"
    statuses = []
    for n in range(5):
        response = api_client.post(
            "/api/auth/token", {"username": "nobody", "password": "x"}, format="json", REMOTE_ADDR=f"198.51.100.{n}"
        )
        statuses.append(response.status_code)
    assert statuses == [401, 401, 401, 503, 503]
    assert response.json()["code"] == "login_capacity_exceeded"
    assert int(response["Retry-After"]) >= 1


def test_a_client_over_its_own_budget_spends_none_of_the_servers(api_client, settings):
    settings.RATELIMIT_LOGIN = "1/m"
    settings.RATELIMIT_PASSWORD_CHECKS = "2/m"
    flood = [
        api_client.post(
            "/api/auth/token", {"username": "a", "password": "x"}, format="json", REMOTE_ADDR="203.0.113.9"
        ).status_code
        for _ in range(4)
    ]
    assert flood == [401, 429, 429, 429]
    other = api_client.post(
        "/api/auth/token", {"username": "a", "password": "x"}, format="json", REMOTE_ADDR="203.0.113.10"
    )
    assert other.status_code == 401


def test_a_login_arriving_while_every_password_check_slot_is_busy_gets_503_at_once(api_client, settings):
    settings.PASSWORD_CHECK_SLOTS = 1
    with working_slot(LOGIN):  # another request is checking a password in this process
        busy = api_client.post("/api/auth/token", {"username": "a", "password": "x"}, format="json")
    assert busy.status_code == 503
    assert busy.json()["code"] == "login_capacity_exceeded"
    assert busy["Retry-After"] == "1"
    # The slot is free again once that check is done.
    assert api_client.post("/api/auth/token", {"username": "a", "password": "x"}, format="json").status_code == 401


def test_password_hashing_runs_at_the_lowest_cpu_priority(api_client, admin_user, monkeypatch):
    import os
    import threading

    import bcrypt

    from adbot_admin.tests.factories import TEST_PASSWORD

    seen = []
    original = bcrypt.hashpw

    def spy(*args):
        seen.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id()))
        return original(*args)

    monkeypatch.setattr(bcrypt, "hashpw", spy)
    response = api_client.post(
        "/api/auth/token", {"username": admin_user.username, "password": TEST_PASSWORD}, format="json"
    )
    assert response.status_code == 200
    assert seen and set(seen) == {19}
    # The request's own thread keeps its normal priority.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == 0
