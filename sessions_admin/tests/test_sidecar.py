"""The sidecar parser and renderer: every alias style real exporters write, and hostile sidecars refused by key."""

import json
from pathlib import Path

import pytest

from sessions_admin.sidecar import MAX_EXTRA_BYTES, SidecarInvalid, parse_sidecar, render_sidecar, status_hint

SIDECARS = Path(__file__).parent / "fixtures" / "sidecars"
FAKE_HASH = "0123456789abcdef0123456789abcdef"


def load(name):
    return parse_sidecar(data=(SIDECARS / name).read_bytes())


def test_seller_api_keys_style():
    sidecar = load("seller-api-keys.json")
    assert sidecar.values == {
        "session_file": "seller-api-keys",
        "app_id": 1234567,
        "app_hash": FAKE_HASH,
        "app_version": "11.2.3 (5432)",
        "device": "Samsung SM-G991B",
        "sdk": "SDK 33",
        "lang_pack": "android",
        "system_lang_pack": "en-US",
        "lang_code": "en",
        "system_lang_code": "en-US",
        "id": 5000000101,
        "phone": "15555550101",
        "username": "fixture_one",
        "first_name": "Fixture",
        "last_name": "One",
        "twoFA": "fixture-2fa-one",
        "proxy": {
            "type": "socks5",
            "host": "198.51.100.7",
            "port": 1080,
            "rdns": True,
            "username": "px1",
            "password": "fixture-px1",
        },
        "spamblock": "free",
    }
    assert sidecar.extra == {"register_time": 1700000000, "stats_spam": "clean"}
    assert status_hint(sidecar) is None


def test_tw0fa_and_proxy_url_style():
    sidecar = load("seller-tw0fa-url.json")
    assert sidecar.get("twoFA") == "fixture 2fa: two"
    assert sidecar.get("proxy") == {
        "type": "socks5",
        "host": "proxy.example.net",
        "port": 9050,
        "rdns": True,
        "username": "px2",
        "password": "fixture@px2",
    }
    assert sidecar.get("freeze_until_date") == 1801353600
    status, until, _reason = status_hint(sidecar)
    assert (status, until.isoformat()) == ("frozen", "2027-01-31T00:00:00+00:00")
    assert sidecar.extra == {"avatar": None, "sex": 0}


def test_password_and_pysocks_list_style():
    sidecar = load("seller-password-pysocks.json")
    assert sidecar.get("twoFA") == "975310"
    assert sidecar.get("app_id") == 6
    assert sidecar.get("phone") == "15555550103"
    assert sidecar.get("proxy") == {
        "type": "socks5",
        "host": "203.0.113.9",
        "port": 1080,
        "rdns": True,
        "username": "px3",
        "password": "fixture-px3",
    }
    assert status_hint(sidecar)[0] == "limited"


def test_opentele2_style():
    sidecar = load("opentele2.json")
    assert sidecar.get("app_id") == 2040
    assert sidecar.get("device") == "Desktop"
    assert sidecar.get("twoFA") == "fixture-2fa-four"
    assert sidecar.get("proxy")["type"] == "http"
    assert sidecar.get("proxy")["rdns"] is False
    # opentele2's empty defaults are "absent", its other keys are kept.
    assert "first_name" in sidecar.values and "spamblock" not in sidecar.values
    assert {"role", "has_profile_pic", "ipv6"} <= set(sidecar.extra)


@pytest.mark.parametrize("name", sorted(path.name for path in SIDECARS.glob("*.json")))
def test_render_then_parse_gives_the_same_values(name):
    sidecar = load(name)
    again = parse_sidecar(data=render_sidecar(sidecar=sidecar, include_secrets=True))
    assert (again.values, again.extra) == (sidecar.values, sidecar.extra)


@pytest.mark.parametrize("name", sorted(path.name for path in SIDECARS.glob("*.json")))
def test_render_without_secrets_leaves_them_out(name):
    sidecar = load(name)
    rendered = render_sidecar(sidecar=sidecar, include_secrets=False)
    for secret in (sidecar.get("twoFA"), sidecar.get("proxy")["password"], sidecar.get("proxy")["username"]):
        assert secret.encode() not in rendered
    document = json.loads(rendered)
    assert "twoFA" not in document
    assert document["proxy"]["has_credentials"] is True
    assert parse_sidecar(data=rendered).get("proxy") == {
        key: value for key, value in sidecar.get("proxy").items() if key not in ("username", "password")
    }


def test_two_aliases_that_agree_are_one_key():
    assert parse_sidecar(data={"app_id": 5, "api_id": "5"}).values == {"app_id": 5}


HOSTILE = [
    ({"app_id": "twelve"}, "app_id"),
    ({"api_id": True}, "api_id"),
    ({"app_id": 2**31}, "app_id"),
    ({"api_hash": "not-a-hash"}, "api_hash"),
    ({"device": ["a"]}, "device"),
    ({"first_name": "x" * 1_000_000}, "first_name"),
    ({"twoFA": "p" * 1_000_000}, "twoFA"),
    ({"tw0FA": {"nested": 1}}, "tw0FA"),
    ({"notes": "x" * 1_000_000}, "notes"),
    ({"notes": "x" * (MAX_EXTRA_BYTES // 2), "more": "y" * (MAX_EXTRA_BYTES // 2 + 10)}, "more"),
    ({"deep": [[[[[[[[[["too deep"]]]]]]]]]]}, "deep"),
    ({"proxy": "socks5://user:pass@host.example:1080\n"}, "proxy"),
    ({"proxy": "socks5://user:pass@host.example:1080\nX-Injected: 1"}, "proxy"),
    ({"proxy": "socks5://host.example"}, "proxy"),
    ({"proxy": "ftp://host.example:21"}, "proxy"),
    ({"proxy": [2, "host.example"]}, "proxy"),
    ({"proxy": [9, "host.example", 1080]}, "proxy"),
    ({"proxy": ["socks5", "host.example", 70000]}, "proxy"),
    ({"proxy": ["socks5", "bad host", 1080]}, "proxy"),
    ({"proxy": {"type": "socks5", "host": "h.example", "port": 1, "evil": 1}}, "proxy"),
    ({"proxy": 1080}, "proxy"),
    ({"username": "a b"}, "username"),
    ({"phone": "call me"}, "phone"),
    ({"first_name": "line\nbreak"}, "first_name"),
    ({"first_name": "nul\x00"}, "first_name"),
    ({"last_name": "\ud800"}, "last_name"),
    ({"freeze_until_date": "tomorrow"}, "freeze_until_date"),
    ({"freeze_appeal_url": "javascript:alert(1)"}, "freeze_appeal_url"),
    ({"app_id": 5, "api_id": 6}, "api_id"),
    ({"twoFA": "a", "password": "b"}, "password"),
    ({"bad\nkey": 1}, "bad?key"),
]


@pytest.mark.parametrize(("document", "key"), HOSTILE)
def test_hostile_sidecar_refused_naming_the_key(document, key):
    with pytest.raises(SidecarInvalid) as caught:
        parse_sidecar(data=json.dumps(document).encode())
    assert caught.value.key == key
    assert str(caught.value).startswith(f"{key}: ")
    # The refusal never repeats a value.
    assert "user:pass@host.example" not in str(caught.value) and "xxxx" not in str(caught.value)


@pytest.mark.parametrize(
    "raw",
    [
        b"[" * 200_000 + b"]" * 200_000,
        b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
        b"not json",
        b'{"a": 1, "a": 2}',
        b'{"a": NaN}',
        b"\xff\xfe{}",
        b"[]",
        b"{" + b" " * (3 * 1024 * 1024) + b"}",
    ],
)
def test_malformed_documents_refused(raw):
    with pytest.raises(SidecarInvalid) as caught:
        parse_sidecar(data=raw)
    assert caught.value.key in ("sidecar", "a")


def test_a_dict_is_checked_like_bytes():
    nested = {"x": 1}
    for _ in range(20):
        nested = {"x": nested}
    with pytest.raises(SidecarInvalid) as caught:
        parse_sidecar(data={"blob": nested})
    assert caught.value.key == "blob"
