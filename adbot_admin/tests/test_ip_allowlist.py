"""ADMIN_ALLOWED_IPS: other addresses get 403 ip_not_allowed on the admin surface, before any password check."""

from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from rest_framework.test import APIClient

from adbot_admin import ip_allowlist
from adbot_admin.checks import refuse_unsafe_start
from adbot_admin.models import AuditEvent, Outcome
from tests.security.routes import api_routes

pytestmark = pytest.mark.django_db

ALLOWED = "203.0.113.7,10.0.0.0/8,2001:db8::/32"
OUTSIDER = "198.51.100.9"
# One path per guarded family outside the API routes walked below.
PAGES = ["/admin/", "/admin/login/", "/cms/", "/cms"]
OPEN = ["/api/public/gallery", "/api/health", "/static/cms/cms.js", "/media/gallery/missing.png"]


@pytest.fixture(autouse=True)
def allowlist(settings):
    settings.ADMIN_ALLOWED_IPS = ALLOWED.split(",")


def get(path, address, method="get", **extra):
    return getattr(APIClient(), method)(path, REMOTE_ADDR=address, **extra)


def assert_refused(response):
    assert response.status_code == 403, response.content
    if response.request["REQUEST_METHOD"] == "HEAD":  # the test client drops a HEAD answer's body
        return
    assert response.json() == {"detail": "Your address may not reach the admin interface.", "code": "ip_not_allowed"}


def guarded_api_paths():
    return [
        (route.path, method)
        for route in api_routes()
        if not route.path.startswith(("/api/public", "/api/health"))
        for method in route.methods
    ]


@pytest.mark.parametrize(("path", "method"), guarded_api_paths())
def test_every_api_route_but_the_public_ones_refuses_an_outsider(path, method):
    assert_refused(get(path, OUTSIDER, method))


def test_the_walk_covers_every_guarded_family():
    paths = {path for path, _ in guarded_api_paths()}
    for family in ("/api/auth/", "/api/admin/", "/api/cms/", "/api/docs", "/api/schema", "/api/auth/cookie/"):
        assert any(path.startswith(family) for path in paths), family


@pytest.mark.parametrize("path", PAGES)
def test_the_admin_site_and_the_cms_page_refuse_an_outsider(path):
    assert_refused(get(path, OUTSIDER))


@pytest.mark.parametrize("path", OPEN)
def test_public_routes_stay_open_to_everyone(path):
    response = get(path, OUTSIDER)
    assert response.status_code in (200, 404), (path, response.status_code)
    if response.status_code == 404:
        assert path.startswith("/media/")  # a missing file, not a refusal


@pytest.mark.parametrize(
    "address", ["203.0.113.7", "10.1.2.3", "10.255.255.255", "2001:db8::5", "2001:db8:ffff::1", "::ffff:10.0.0.1"]
)
def test_listed_addresses_and_networks_pass(address):
    # Past the allowlist the API's own answer: 401 without a token.
    assert get("/api/auth/me", address).status_code == 401
    assert get("/cms/", address).status_code == 200


@pytest.mark.parametrize("address", ["203.0.113.8", "11.0.0.1", "2001:db9::1", "::1", "::ffff:198.51.100.9", "garbage"])
def test_addresses_outside_every_entry_are_refused(address):
    assert_refused(get("/api/auth/me", address))


def test_an_empty_allowlist_allows_everyone(settings):
    settings.ADMIN_ALLOWED_IPS = []
    assert get("/api/auth/me", OUTSIDER).status_code == 401
    assert get("/cms/", OUTSIDER).status_code == 200


def test_behind_one_trusted_proxy_only_the_address_it_saw_counts(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    proxy = "192.0.2.1"  # the proxy itself is not on the list
    # An outsider writes an allowed address into the header; the proxy appends the real one.
    assert_refused(get("/api/auth/me", proxy, HTTP_X_FORWARDED_FOR=f"203.0.113.7, {OUTSIDER}"))
    assert_refused(get("/api/auth/me", proxy, HTTP_X_FORWARDED_FOR="10.0.0.1, 2001:db8::1, " + OUTSIDER))
    # An allowed client behind the proxy passes, whatever it wrote before.
    assert get("/api/auth/me", proxy, HTTP_X_FORWARDED_FOR=f"{OUTSIDER}, 203.0.113.7").status_code == 401


def test_without_trusted_proxies_a_forwarded_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    assert_refused(get("/api/auth/me", OUTSIDER, HTTP_X_FORWARDED_FOR="203.0.113.7"))


def test_logins_are_refused_without_hashing_a_password(cms_password, admin_user, hash_calls):
    token = get("/api/auth/token", OUTSIDER, "post", data={"username": "alice", "password": "x"}, format="json")
    cms = get("/api/cms/login", OUTSIDER, "post", data={"password": cms_password}, format="json")
    admin_site = get("/admin/login/", OUTSIDER, "post", data={"username": "alice", "password": "x"})
    for response in (token, cms, admin_site):
        assert_refused(response)
    assert hash_calls == []
    # The same CMS login from an allowed address does hash, and succeeds.
    assert get("/api/cms/login", "10.0.0.1", "post", data={"password": cms_password}, format="json").status_code == 200
    assert hash_calls


def test_one_audit_row_per_refused_address_per_minute():
    for _ in range(5):
        assert_refused(get("/api/admin/audit", OUTSIDER))
    assert_refused(get("/cms/", "198.51.100.10"))
    rows = list(AuditEvent.objects.filter(action="ip_refused").order_by("id"))
    assert [(row.client_ip, row.outcome, row.target) for row in rows] == [
        (OUTSIDER, Outcome.DENIED, "/api/admin/audit"),
        ("198.51.100.10", Outcome.DENIED, "/cms/"),
    ]
    # The marker lives a minute; once it is gone (expired or lost) the next refusal is audited again.
    assert ip_allowlist.AUDIT_EVERY_SECONDS == 60
    cache.delete(ip_allowlist.AUDIT_MARKER.format(address=OUTSIDER))
    assert_refused(get("/api/admin/audit", OUTSIDER))
    assert AuditEvent.objects.filter(action="ip_refused", client_ip=OUTSIDER).count() == 2


def test_one_audit_row_per_ipv6_slash_64_per_minute():
    for host in range(1, 6):
        assert_refused(get("/api/admin/audit", f"2001:db9:0:1::{host}"))
    assert_refused(get("/api/admin/audit", "2001:db9:0:2::1"))
    assert AuditEvent.objects.filter(action="ip_refused").count() == 2


def test_at_most_the_setting_many_rows_a_minute_the_rest_counted_in_a_log_line(settings, monkeypatch, caplog):
    settings.IP_REFUSED_AUDIT_PER_MINUTE = 5
    now = 1_800_000_000.0
    monkeypatch.setattr(ip_allowlist.time, "time", lambda: now)
    for host in range(1, 21):
        assert_refused(get("/api/admin/audit", f"198.51.100.{host}"))
    assert AuditEvent.objects.filter(action="ip_refused").count() == 5

    now += 60
    assert_refused(get("/api/admin/audit", "198.51.100.200"))
    assert "15 refusal(s) of the previous minute were not audited" in caplog.text
    assert AuditEvent.objects.filter(action="ip_refused").count() == 6


def test_a_refusal_does_not_need_the_cache(broken_cache):
    assert_refused(get("/api/admin/audit", OUTSIDER))
    assert AuditEvent.objects.filter(action="ip_refused").count() == 1


@pytest.mark.parametrize("entry", ["10.0.0.1/8", "203.0.113.300", "example.com", "10.0.0.0/33", "2001:db8::/129"])
def test_a_malformed_entry_stops_start_up_naming_it(settings, entry):
    settings.ADMIN_ALLOWED_IPS = ["203.0.113.7", entry]
    for deploy in (False, True):
        with pytest.raises(SystemCheckError, match="adbot_admin.E014") as refused:
            call_command("check", deploy=deploy, stdout=StringIO(), stderr=StringIO())
        assert repr(entry) in str(refused.value)
    with pytest.raises(SystemCheckError, match=f"E014: ADMIN_ALLOWED_IPS entry {entry!r}"):
        refuse_unsafe_start()


def test_spaces_and_empty_entries_are_ignored(settings):
    settings.ADMIN_ALLOWED_IPS = [" 203.0.113.7", "", " ", "10.0.0.0/8 "]
    assert "no issues" in _check_output()
    assert get("/api/auth/me", "10.9.9.9").status_code == 401
    assert_refused(get("/api/auth/me", OUTSIDER))


def _check_output():
    out = StringIO()
    call_command("check", stdout=out, stderr=StringIO())
    return out.getvalue()
