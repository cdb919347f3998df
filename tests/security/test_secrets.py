"""Signing keys: weak ones refuse to start, and the server's tokens resist the public list of JWT secrets.

RFC 8725 3.5 (key entropy): a HS256 key must be long and unguessable. The
start-up checks (adbot_admin/checks.py) refuse keys under 32 bytes and keys in
the shipped list adbot_admin/data/known_jwt_secrets.txt; these tests run them
end to end, through `manage.py check`, gunicorn and the WSGI module, and then
try that list against tokens the server issues.
"""

import base64
import hashlib
import hmac
import os
import re
import subprocess
import sys
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from rest_framework.test import APIClient
from rest_framework_simplejwt.tokens import RefreshToken

from adbot_admin.checks import KNOWN_SECRETS_FILE, MIN_KEY_BYTES
from adbot_admin.tests.factories import TEST_PASSWORD
from tests.system.servers import ROOT, free_port

from . import forge

VARIABLES = ("SECRET_KEY", "JWT_SECRET_KEY", "JWT_SECRET", "AUDIT_CHAIN_KEY")


def listed_secrets():
    with KNOWN_SECRETS_FILE.open(encoding="utf-8") as handle:
        return [line.rstrip("\n") for line in handle if line.strip()]


def weak_keys():
    listed = next(
        s for s in listed_secrets() if len(s.encode()) >= MIN_KEY_BYTES and not s.lower().startswith("change-me")
    )
    return {
        # One byte short of the minimum, otherwise random-looking: only the length refuses it.
        "short": "k9Qw" * ((MIN_KEY_BYTES - 1) // 4) + "x" * ((MIN_KEY_BYTES - 1) % 4),
        # Long enough: only the list refuses it.
        "publicly-known": listed,
    }


WEAK = weak_keys()
PROBLEM = {"short": f"is shorter than {MIN_KEY_BYTES} bytes", "publicly-known": "is a publicly known JWT secret"}
assert len(WEAK["short"].encode()) == MIN_KEY_BYTES - 1


def crack(token, candidates):
    """Return the candidate that is the token's HS256/384/512 key, or None."""
    header_b64, payload_b64, signature_b64 = token.split(".")
    signing_input = f"{header_b64}.{payload_b64}".encode()
    signature = base64.urlsafe_b64decode(signature_b64 + "=" * (-len(signature_b64) % 4))
    digest = {32: hashlib.sha256, 48: hashlib.sha384, 64: hashlib.sha512}[len(signature)]
    for candidate in candidates:
        if hmac.compare_digest(hmac.new(candidate.encode(), signing_input, digest).digest(), signature):
            return candidate
    return None


# --- manage.py check ---------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(WEAK))
@pytest.mark.parametrize("name", VARIABLES)
def test_check_refuses_a_weak_key(settings, name, kind):
    settings.DEBUG = False
    setattr(settings, name, WEAK[kind])
    with pytest.raises(SystemCheckError) as raised:
        call_command("check", stdout=StringIO(), stderr=StringIO())
    message = str(raised.value)
    assert re.search(rf"(?<![A-Z_]){name} {PROBLEM[kind]}", message), message
    assert WEAK[kind] not in message


# --- a real start-up ---------------------------------------------------------------------

STARTS = {
    "gunicorn": [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
    "wsgi": [sys.executable, "-c", "import adbot_admin.wsgi"],
}


@pytest.mark.parametrize("kind", list(WEAK))
@pytest.mark.parametrize("name", VARIABLES)
@pytest.mark.parametrize("start", list(STARTS))
def test_server_refuses_to_start_with_a_weak_key(tmp_path, start, name, kind):
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "BIND": f"127.0.0.1:{free_port()}",
        "WEB_CONCURRENCY": "1",
        name: WEAK[kind],
    }
    result = subprocess.run(STARTS[start], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    output = result.stdout + result.stderr
    assert result.returncode != 0, output[-2000:]
    assert "refuses to start" in output, output[-2000:]
    assert re.search(rf"(?<![A-Z_]){name} {PROBLEM[kind]}", output), output[-2000:]
    assert WEAK[kind] not in output  # the message names the variable, never its value


def test_server_starts_with_the_test_keys(tmp_path):
    # The counterpart: the same start-up with sound keys serves.
    env = {**os.environ, "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}"}
    result = subprocess.run(STARTS["wsgi"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr[-2000:]


# --- the list against real tokens ----------------------------------------------------------


@pytest.mark.django_db
def test_issued_tokens_resist_the_known_secrets_list(admin_user):
    candidates = listed_secrets()
    response = APIClient().post(
        "/api/auth/token", {"username": admin_user.username, "password": TEST_PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    refresh = RefreshToken.for_user(admin_user)
    issued = [response.json()["access"], response.json()["refresh"], str(refresh), str(refresh.access_token)]
    for token in issued:
        assert crack(token, candidates) is None


def test_the_cracker_does_crack_a_token_signed_with_a_listed_secret():
    """The test above can fail: a token signed with any entry of the list is cracked."""
    candidates = listed_secrets()
    assert len(candidates) > 1000
    for secret in (candidates[0], candidates[len(candidates) // 2], candidates[-1]):
        token = forge.hmac_sign({"alg": "HS256", "typ": "JWT"}, {"sub": "x", "exp": 1}, secret)
        assert crack(token, candidates) == secret
    token = forge.hmac_sign({"alg": "HS512", "typ": "JWT"}, {"sub": "x"}, candidates[7])
    assert crack(token, candidates) == candidates[7]
