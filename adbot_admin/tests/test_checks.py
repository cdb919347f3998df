"""Start-up checks: weak keys, wildcard CORS and a non-bcrypt ADMIN_PASSWORD_HASH refuse to run."""

import os
import re
import subprocess
import sys
from io import StringIO
from pathlib import Path

import bcrypt
import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError

BASE_DIR = Path(__file__).resolve().parents[2]
KNOWN_SECRETS = BASE_DIR / "adbot_admin" / "data" / "known_jwt_secrets.txt"
STRONG = "Zq3v8T1xW5rY7uI9oP2aS4dF6gH8jK0lQwErTyUiOpAsDfGh"


def known_long_secret():
    """A publicly known JWT secret that is long enough: only the list can refuse it."""
    with KNOWN_SECRETS.open(encoding="utf-8") as handle:
        return next(
            line.rstrip("\n")
            for line in handle
            if len(line.rstrip("\n").encode()) >= 32 and not line.lower().startswith("change-me")
        )


WEAK = {
    "missing": ("", "is not set"),
    "short": ("only-twenty-bytes-ok", "is shorter than 32 bytes"),
    "placeholder": ("change-me-run-manage.py-generate_secret", "is the placeholder from .env.example"),
    "publicly-known": (known_long_secret(), "is a publicly known JWT secret"),
}


def check(**options):
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err, **options)
    return out.getvalue() + err.getvalue()


@pytest.fixture(autouse=True)
def _debug_off(settings):
    settings.DEBUG = False


def test_the_test_configuration_passes(settings):
    # The counterpart of every refusal below.
    assert "no issues" in check()
    check(deploy=True)


# An unset JWT_SECRET is allowed: see test_an_unset_jwt_secret_is_allowed.
WEAK_KEYS = [
    (name, kind)
    for name in ("SECRET_KEY", "JWT_SECRET_KEY", "JWT_SECRET", "AUDIT_CHAIN_KEY")
    for kind in WEAK
    if (name, kind) != ("JWT_SECRET", "missing")
]


@pytest.mark.parametrize("deploy", [False, True], ids=["check", "check-deploy"])
@pytest.mark.parametrize(("name", "kind"), WEAK_KEYS)
def test_a_weak_key_refuses_to_start(settings, name, kind, deploy):
    value, problem = WEAK[kind]
    setattr(settings, name, value)

    with pytest.raises(SystemCheckError) as raised:
        check(deploy=deploy)
    message = str(raised.value)
    # The message names the variable itself (SECRET_KEY, not the tail of JWT_SECRET_KEY).
    assert re.search(rf"(?<![A-Z_]){name} {re.escape(problem)}", message), message
    assert "generate_secret" in message


def test_an_unset_jwt_secret_is_allowed(settings):
    settings.JWT_SECRET = ""
    assert "no issues" in check()


def test_with_debug_on_a_weak_key_warns_but_a_missing_one_still_refuses(settings):
    settings.DEBUG = True
    settings.JWT_SECRET_KEY = "short"
    assert "adbot_admin.W002" in check()

    settings.JWT_SECRET_KEY = ""
    with pytest.raises(SystemCheckError, match="JWT_SECRET_KEY is not set"):
        check()


FALLBACKS = {
    "SECRET_KEY": "SECRET_KEY_FALLBACKS",
    "JWT_SECRET_KEY": "JWT_SECRET_KEY_FALLBACKS",
    "JWT_SECRET": "JWT_SECRET_FALLBACKS",
    "AUDIT_CHAIN_KEY": "AUDIT_CHAIN_KEY_FALLBACKS",
}
WEAK_FALLBACKS = [(name, kind) for name in FALLBACKS.values() for kind in WEAK if kind != "missing"]


@pytest.mark.parametrize(("name", "kind"), WEAK_FALLBACKS)
def test_a_weak_fallback_refuses_to_start(settings, name, kind):
    value, problem = WEAK[kind]
    setattr(settings, name, [STRONG, value])

    with pytest.raises(SystemCheckError) as raised:
        check()
    # Named by variable and position: the operator must not have to guess which one.
    assert f"{name} (key 2) {problem}." in str(raised.value)


def test_strong_fallbacks_pass(settings):
    settings.SECRET_KEY_FALLBACKS = [STRONG + "-django"]
    settings.JWT_SECRET_KEY_FALLBACKS = [STRONG + "-backend-1", STRONG + "-backend-2"]
    settings.JWT_SECRET_FALLBACKS = [STRONG + "-frontend"]
    assert "no issues" in check()


@pytest.mark.parametrize("name", list(FALLBACKS))
def test_a_fallback_repeating_the_current_key_is_refused(settings, name):
    setattr(settings, FALLBACKS[name], [STRONG, getattr(settings, name)])
    with pytest.raises(SystemCheckError) as raised:
        check()
    message = str(raised.value)
    assert "adbot_admin.E015" in message
    assert f"{FALLBACKS[name]} repeats {name}" in message


@pytest.mark.parametrize(
    ("backend", "frontend"),
    [
        ("JWT_SECRET_KEY", "JWT_SECRET"),
        ("JWT_SECRET_KEY", "JWT_SECRET_FALLBACKS"),
        ("JWT_SECRET_KEY_FALLBACKS", "JWT_SECRET"),
        ("JWT_SECRET_KEY_FALLBACKS", "JWT_SECRET_FALLBACKS"),
    ],
)
def test_one_key_under_a_backend_and_a_frontend_name_is_refused(settings, backend, frontend):
    shared = STRONG + "-shared"
    for name in (backend, frontend):
        setattr(settings, name, [shared] if name.endswith("_FALLBACKS") else shared)
    with pytest.raises(SystemCheckError) as raised:
        check()
    message = str(raised.value)
    assert "adbot_admin.E016" in message
    assert f"{backend} and {frontend} hold the same key" in message
    assert shared not in message


@pytest.mark.parametrize("origin", ["*", "https://*.example.com"])
def test_a_wildcard_cors_origin_is_refused(settings, origin):
    settings.CORS_ALLOWED_ORIGINS = ["https://admin.example.com", origin]
    with pytest.raises(SystemCheckError, match="adbot_admin.E006"):
        check()


@pytest.mark.parametrize("value", ["plain-text-password", "$2b$12$tooshort", "pbkdf2_sha256$1$abc$def"])
def test_a_non_bcrypt_admin_password_hash_is_refused(settings, value):
    settings.ADMIN_PASSWORD_HASH = value
    with pytest.raises(SystemCheckError, match="adbot_admin.E007"):
        check()


def test_a_bcrypt_admin_password_hash_is_accepted(settings):
    settings.ADMIN_PASSWORD_HASH = bcrypt.hashpw(b"pw", bcrypt.gensalt(4)).decode()
    assert "no issues" in check()


@pytest.mark.parametrize(("secret_key", "returncode"), [("short-key", 1), (STRONG, 0)], ids=["weak", "strong"])
def test_the_wsgi_module_refuses_to_start_with_a_weak_key(secret_key, returncode):
    env = {
        **os.environ,
        "ENV_FILE": "",
        "SECRET_KEY": secret_key,
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "adbot_admin.settings",
    }
    result = subprocess.run(
        [sys.executable, "-c", "import adbot_admin.wsgi"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert (result.returncode != 0) == bool(returncode), result.stderr
    if returncode:
        assert "SECRET_KEY is shorter than 32 bytes" in result.stderr
        assert "generate_secret" in result.stderr


@pytest.mark.parametrize("name", list(FALLBACKS.values()))
def test_fallbacks_are_read_from_the_environment_comma_separated(name):
    env = {
        **os.environ,
        "ENV_FILE": "",
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "adbot_admin.settings",
        name: f"{STRONG}-one , only-twenty-bytes-ok,",
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert f"{name} (key 2) is shorter than 32 bytes." in result.stderr
    assert "(key 1)" not in result.stderr and "(key 3)" not in result.stderr


@pytest.mark.parametrize(
    ("rp_id", "origins", "problem"),
    [
        ("localhost", ["https://admin.example.com"], "is not under WEBAUTHN_RP_ID"),
        ("127.0.0.1", ["http://127.0.0.1:8000"], "is an IP address"),
        ("example.com", ["http://admin.example.com"], "is not https"),
        ("example.com", ["https://elsewhere.example.com"], "neither served here"),
        ("localhost", ["http://localhost:8000/cms/"], "is not an origin"),
        ("localhost", [], "WEBAUTHN_ORIGINS is empty"),
        ("https://example.com", ["https://example.com"], "is not a bare domain name"),
    ],
)
def test_passkey_settings_that_cannot_work_refuse_to_start(settings, rp_id, origins, problem):
    settings.ALLOWED_HOSTS = ["localhost", "127.0.0.1", "admin.example.com", "example.com"]
    settings.WEBAUTHN_RP_ID = rp_id
    settings.WEBAUTHN_ORIGINS = origins
    with pytest.raises(SystemCheckError, match="adbot_admin.E018") as raised:
        check()
    assert problem in str(raised.value)


@pytest.mark.parametrize(
    ("rp_id", "origins", "trusted"),
    [
        ("localhost", ["http://localhost:8000"], []),
        ("example.com", ["https://admin.example.com"], []),
        # A frontend on a sibling host, trusted for CSRF: its pages may use the same passkeys.
        ("example.com", ["https://admin.example.com", "https://app.example.com"], ["https://app.example.com"]),
    ],
)
def test_passkey_settings_that_work_pass(settings, rp_id, origins, trusted):
    settings.ALLOWED_HOSTS = ["localhost", "admin.example.com"]
    settings.WEBAUTHN_RP_ID = rp_id
    settings.WEBAUTHN_ORIGINS = origins
    settings.CSRF_TRUSTED_ORIGINS = trusted
    assert "no issues" in check()
