"""Account fields, secrets, the status ledger and the summary through HTTP."""

import datetime
import json
import time
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from adbot_admin.models import AuditEvent
from conftest import bearer_client
from sessions_admin.models import SessionFile, SessionStatusChange
from sessions_admin.tests.factories import SessionFileFactory

from . import session_files
from .conftest import SESSIONS_URL, sessions_dir
from .test_accounts import post_pair, sidecar_bytes

pytestmark = pytest.mark.usefixtures("upload_tmp")

SECRETS = ("fixture-2fa-one", "fixture-px1")


@pytest.fixture
def account(admin_api_client, source_dir):
    path = session_files.telethon_session(source_dir, "acct.session")
    response = post_pair(admin_api_client, path, sidecar_bytes("seller-api-keys.json"))
    assert response.status_code == 201
    return SessionFile.objects.get(filename="acct.session")


@pytest.fixture
def fresh_client(admin_user):
    return bearer_client(admin_user, auth_time=time.time())


def no_secret_in(text):
    return not any(secret in text for secret in SECRETS)


def test_list_and_detail_show_the_account_never_the_secrets(admin_api_client, account):
    listed = admin_api_client.get(SESSIONS_URL)
    assert listed.status_code == 200
    item = next(row for row in listed.json()["results"] if row["filename"] == "acct.session")
    assert item["account"]["phone"] == "15555550101"
    assert item["device"]["system_version"] == "SDK 33"
    assert item["app"] == {"api_id": 1234567, "app_version": "11.2.3 (5432)"}
    assert item["status"] == "unknown" and "has_2fa_password" not in item

    detail = admin_api_client.get(f"{SESSIONS_URL}/acct.session")
    assert detail.json()["has_2fa_password"] is True
    assert detail.json()["proxy"] == {"type": "socks5", "host": "198.51.100.7", "port": 1080, "has_credentials": True}
    for response in (listed, detail):
        assert no_secret_in(response.content.decode())
    audit = json.dumps(list(AuditEvent.objects.values()), default=str)
    assert no_secret_in(audit)


def test_dumpdata_holds_only_ciphertext(account):
    out = StringIO()
    call_command("dumpdata", "sessions_admin", stdout=out)
    dumped = out.getvalue()
    assert no_secret_in(dumped)
    assert '"twofa_password": "v1.' in dumped


def test_secrets_need_a_recent_login_and_are_audited(admin_api_client, fresh_client, account):
    stale = admin_api_client.get(f"{SESSIONS_URL}/acct.session/secrets")
    assert stale.status_code == 403 and stale.json()["code"] == "reauthentication_required"

    response = fresh_client.get(f"{SESSIONS_URL}/acct.session/secrets")
    assert response.status_code == 200
    assert response.json() == {
        "twofa_password": "fixture-2fa-one",
        "proxy": {
            "type": "socks5",
            "host": "198.51.100.7",
            "port": 1080,
            "rdns": True,
            "username": "px1",
            "password": "fixture-px1",
        },
    }
    event = AuditEvent.objects.get(action="session_file.secrets")
    assert event.target == "acct.session" and no_secret_in(json.dumps(event.detail))
    assert fresh_client.get(f"{SESSIONS_URL}/none.session/secrets").status_code == 404


def test_patch_edits_the_account_with_the_sidecar_checks(admin_api_client, fresh_client, account):
    url = f"{SESSIONS_URL}/acct.session"
    response = admin_api_client.patch(
        url,
        {
            "account": {"username": "@renamed_one", "phone": "+15555550199"},
            "device": {"device_model": "Pixel 8"},
            "app": {"app_version": "12.0"},
            "proxy": {
                "type": "http",
                "host": "proxy.example.org",
                "port": 3128,
                "username": "u2",
                "password": "new-proxy-pw",
            },
            "twofa_password": "new-2fa-password",
        },
        format="json",
    )
    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["account"]["username"] == "renamed_one" and body["account"]["phone"] == "15555550199"
    assert body["device"]["device_model"] == "Pixel 8" and body["app"]["app_version"] == "12.0"
    assert body["proxy"]["type"] == "http" and body["has_2fa_password"] is True
    secrets = fresh_client.get(f"{url}/secrets").json()
    assert secrets["twofa_password"] == "new-2fa-password" and secrets["proxy"]["password"] == "new-proxy-pw"
    event = AuditEvent.objects.filter(action="session_file.update").latest("id")
    assert "new-2fa-password" not in json.dumps(event.detail) and "twoFA" in event.detail["account_keys"]
    on_disk = json.loads((sessions_dir() / "acct.json").read_bytes())
    assert on_disk["device"] == "Pixel 8" and "twoFA" not in on_disk

    cleared = admin_api_client.patch(url, {"twofa_password": None, "proxy": None}, format="json")
    assert cleared.json()["has_2fa_password"] is False and cleared.json()["proxy"] is None


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"account": {"username": "no spaces"}}, "username"),
        ({"account": {"phone": "12ab"}}, "phone"),
        ({"device": {"device_model": "x" * 1000}}, "device_model"),
        ({"proxy": {"type": "socks5", "host": "h.example", "port": 1080, "password": "a\nb"}}, "proxy"),
        ({"account": {"nickname": "x"}}, "account"),
        ({"status": "banned"}, "status"),
    ],
)
def test_patch_refuses_a_bad_value_naming_the_field(admin_api_client, account, body, field):
    before = list(SessionFile.objects.values())
    response = admin_api_client.patch(f"{SESSIONS_URL}/acct.session", body, format="json")
    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert list(SessionFile.objects.values()) == before


def test_status_changes_append_history_and_are_audited(admin_api_client, account):
    url = f"{SESSIONS_URL}/acct.session/status"
    until = (timezone.now() + datetime.timedelta(days=3)).replace(microsecond=0)
    response = admin_api_client.post(
        url, {"status": "limited", "reason": "spambot says so", "until": until.isoformat()}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["status"] == "limited" and response.json()["status_reason"] == "spambot says so"
    assert admin_api_client.post(url, {"status": "banned"}, format="json").status_code == 200

    history = admin_api_client.get(f"{SESSIONS_URL}/acct.session/status-history").json()
    rows = history["results"] if isinstance(history, dict) else history
    assert [(row["previous_status"], row["status"], row["source"]) for row in rows] == [
        ("limited", "banned", "admin"),
        ("unknown", "limited", "admin"),
    ]
    assert AuditEvent.objects.filter(action="session_file.status", target="acct.session").count() == 2

    for bad in (
        {"status": "zombie"},
        {"status": "banned", "until": until.isoformat()},
        {"status": "frozen", "until": "2001-01-01T00:00:00Z"},
    ):
        refused = admin_api_client.post(url, bad, format="json")
        assert refused.status_code == 400, bad
    assert SessionStatusChange.objects.count() == 2


def test_list_filters(admin_api_client, account):
    SessionFileFactory(filename="other.session", phone="15555550000", username="Other_User", status="banned")

    def names(query):
        response = admin_api_client.get(f"{SESSIONS_URL}?{query}")
        assert response.status_code == 200, response.json()
        return sorted(row["filename"] for row in response.json()["results"])

    assert names("phone=%2B15555550101") == ["acct.session"]
    assert names("username=other_user") == ["other.session"]
    assert names("status=banned") == ["other.session"]
    assert names("api_id=1234567") == ["acct.session"]
    assert names("has_proxy=true") == ["acct.session"]
    assert names("has_proxy=false") == ["other.session"]
    assert admin_api_client.get(f"{SESSIONS_URL}?has_proxy=maybe").status_code == 400
    assert admin_api_client.get(f"{SESSIONS_URL}?status=zombie").status_code == 400


def test_summary_counts_in_one_query(admin_api_client, account):
    SessionFileFactory.create_batch(3, library="pyrogram", dc_id=4, api_id=None)
    SessionFileFactory(library="telethon", dc_id=2, api_id=2040, status="frozen")
    SessionFile.objects.filter(filename="acct.session").update(dc_id=2)

    with CaptureQueriesContext(connection) as queries:
        response = admin_api_client.get(f"{SESSIONS_URL}/summary")
    body = response.json()
    assert response.status_code == 200
    assert body["total"] == 5
    assert body["by_status"]["unknown"] == 4 and body["by_status"]["frozen"] == 1 and body["by_status"]["banned"] == 0
    assert body["by_library"] == {"pyrogram": 3, "telethon": 2}
    assert body["by_dc_id"] == {"2": 2, "4": 3}
    assert body["by_api_id"] == {"1234567": 1, "2040": 1, "none": 3}
    summary_queries = [q for q in queries.captured_queries if "sessioncount" in q["sql"]]
    assert len(summary_queries) == 1

    # The counts follow every kind of write, including bulk ones that skip the services.
    SessionFile.objects.filter(library="pyrogram").delete()
    assert admin_api_client.get(f"{SESSIONS_URL}/summary").json()["by_library"] == {"telethon": 2}


def test_sidecar_keeps_unknown_keys_for_export(account):
    assert account.sidecar_extra["stats_spam"] == "clean"
    on_disk = json.loads((sessions_dir() / "acct.json").read_bytes())
    assert on_disk["stats_spam"] == "clean" and on_disk["register_time"] == 1700000000
