"""Secrets at rest: the key ring, its start-up check, and `rotate_field_key` keeping every secret readable."""

import json
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError, SystemCheckError

from adbot_admin.field_encryption import DecryptionFailed, decrypt, decrypt_field, encrypt, encrypt_field, generate_key
from adbot_admin.models import AuditEvent
from sessions_admin.models import SessionFile
from sessions_admin.tests.factories import SessionFileFactory

pytestmark = pytest.mark.django_db


def check():
    out, err = StringIO(), StringIO()
    call_command("check", stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


@pytest.fixture(autouse=True)
def _debug_off(settings):
    settings.DEBUG = False


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ([], "FIELD_ENCRYPTION_KEYS is not set"),
        (["change-me-run-manage.py-generate_secret"], "key 1 is"),
        (["c2hvcnQ"], "key 1 is 5 bytes, not 32"),
        (["A" * 43], "key 1 is a pattern"),
        ([generate_key(), "not base64!"], "key 2 is not base64url"),
    ],
)
def test_a_missing_or_weak_key_refuses_to_start(settings, keys, problem):
    settings.FIELD_ENCRYPTION_KEYS = keys
    with pytest.raises(SystemCheckError, match=problem) as raised:
        check()
    assert "adbot_admin.E017" in str(raised.value)


def test_a_repeated_key_is_refused(settings):
    key = generate_key()
    settings.FIELD_ENCRYPTION_KEYS = [key, key]
    with pytest.raises(SystemCheckError, match="key 2 repeats an earlier key"):
        check()


def test_with_debug_a_missing_key_only_warns(settings):
    settings.DEBUG = True
    settings.FIELD_ENCRYPTION_KEYS = []
    assert "adbot_admin.W017" in check()


def test_generate_secret_makes_a_key_the_check_accepts(settings):
    out = StringIO()
    call_command("generate_secret", env="FIELD_ENCRYPTION_KEYS", stdout=out)
    name, _, key = out.getvalue().strip().partition("=")
    assert name == "FIELD_ENCRYPTION_KEYS"
    settings.FIELD_ENCRYPTION_KEYS = [key]
    assert "no issues" in check()


def test_a_value_is_bound_to_its_purpose_and_never_plaintext():
    stored = encrypt("hunter2-secret", purpose="app.Model.a")
    assert "hunter2" not in stored and stored.startswith("v1.")
    assert decrypt(stored, purpose="app.Model.a") == "hunter2-secret"
    with pytest.raises(DecryptionFailed):
        decrypt(stored, purpose="app.Model.b")
    assert encrypt("hunter2-secret", purpose="app.Model.a") != stored  # a fresh nonce each time


def test_an_unknown_key_cannot_decrypt(settings):
    stored = encrypt("s3cret", purpose="p")
    settings.FIELD_ENCRYPTION_KEYS = [generate_key()]
    with pytest.raises(DecryptionFailed, match="no longer holds"):
        decrypt(stored, purpose="p")


def test_rotate_field_key_reencrypts_every_row_and_keeps_every_secret_readable(settings):
    old = settings.FIELD_ENCRYPTION_KEYS[0]
    rows = SessionFileFactory.create_batch(3)
    for number, row in enumerate(rows):
        encrypt_field(row, "twofa_password", f"2fa-{number}")
        encrypt_field(row, "proxy_credentials", json.dumps({"username": "u", "password": f"p{number}"}))
        row.save()
    SessionFileFactory()  # no secrets: nothing to re-encrypt

    settings.FIELD_ENCRYPTION_KEYS = [generate_key(), old]
    out = StringIO()
    call_command("rotate_field_key", stdout=out)
    assert "Re-encrypted 6 value(s)" in out.getvalue()
    assert AuditEvent.objects.filter(action="field_encryption.rotate", detail__values=6).exists()

    # The old key can go: every value reads under the new one alone.
    settings.FIELD_ENCRYPTION_KEYS = settings.FIELD_ENCRYPTION_KEYS[:1]
    for number, row in enumerate(SessionFile.objects.filter(pk__in=[r.pk for r in rows]).order_by("pk")):
        assert decrypt_field(row, "twofa_password") == f"2fa-{number}"
        assert json.loads(decrypt_field(row, "proxy_credentials"))["password"] == f"p{number}"

    out = StringIO()
    call_command("rotate_field_key", stdout=out)
    assert "Re-encrypted 0 value(s)" in out.getvalue()


def test_rotate_field_key_stops_on_a_value_no_key_decrypts(settings):
    row = SessionFileFactory()
    encrypt_field(row, "twofa_password", "lost")
    row.save()
    settings.FIELD_ENCRYPTION_KEYS = [generate_key()]
    with pytest.raises(CommandError, match="no longer holds"):
        call_command("rotate_field_key", stdout=StringIO())
