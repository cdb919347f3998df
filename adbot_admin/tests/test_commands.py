"""manage.py generate_secret, hash_password and prune_audit."""

import getpass
import io
import sys
from io import StringIO

import bcrypt
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from adbot_admin.management.commands import hash_password


def run(*args, **options):
    out = StringIO()
    call_command(*args, stdout=out, **options)
    return out.getvalue().strip()


# generate_secret ---------------------------------------------------------------


def test_generate_secret_prints_a_new_strong_key_each_time(settings):
    keys = {run("generate_secret") for _ in range(3)}
    assert len(keys) == 3
    for key in keys:
        assert len(key.encode()) >= 32
        assert "\n" not in key and " " not in key
        # A generated key passes the start-up check that refuses weak ones.
    settings.DEBUG = False
    settings.SECRET_KEY, settings.JWT_SECRET_KEY, settings.JWT_SECRET = keys
    assert "no issues" in run("check")


@pytest.mark.parametrize("name", ["SECRET_KEY", "JWT_SECRET_KEY", "JWT_SECRET", "AUDIT_CHAIN_KEY", "METRICS_TOKEN"])
def test_generate_secret_prints_a_dotenv_line(name):
    line = run("generate_secret", "--env", name)
    prefix, key = line.split("=", 1)
    assert prefix == name
    assert len(key.encode()) >= 32


def test_generate_secret_refuses_an_unknown_variable():
    with pytest.raises(CommandError, match="--env takes one of"):
        run("generate_secret", "--env", "DATABASE_URL")


# hash_password -----------------------------------------------------------------


@pytest.fixture
def fast_rounds(monkeypatch):
    monkeypatch.setattr(hash_password, "ROUNDS", 4)


def stdin(monkeypatch, text):
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))


def parse(line):
    name, hashed = line.split("=", 1)
    assert name == "ADMIN_PASSWORD_HASH"
    return hashed.encode()


def test_hash_password_reads_stdin_and_prints_a_cost_12_bcrypt_hash(monkeypatch):
    stdin(monkeypatch, "correct horse\n")
    hashed = parse(run("hash_password", "--stdin"))
    assert hashed.startswith(b"$2b$12$")
    assert bcrypt.checkpw(b"correct horse", hashed)
    assert not bcrypt.checkpw(b"correct horse\n", hashed)


def test_hash_password_keeps_surrounding_spaces(monkeypatch, fast_rounds):
    stdin(monkeypatch, "  spaced  \r\n")
    assert bcrypt.checkpw(b"  spaced  ", parse(run("hash_password", "--stdin")))


@pytest.mark.parametrize("text", ["", "\n"], ids=["eof", "empty-line"])
def test_hash_password_refuses_an_empty_password(monkeypatch, text):
    stdin(monkeypatch, text)
    with pytest.raises(CommandError, match="empty"):
        run("hash_password", "--stdin")


def test_hash_password_refuses_a_password_bcrypt_would_truncate(monkeypatch):
    stdin(monkeypatch, "x" * 73 + "\n")
    with pytest.raises(CommandError, match="72 bytes"):
        run("hash_password", "--stdin")


def test_hash_password_asks_twice_without_echo(monkeypatch, fast_rounds):
    prompts = []

    def fake_getpass(prompt="Password: "):
        prompts.append(prompt)
        return "typed twice"

    monkeypatch.setattr(getpass, "getpass", fake_getpass)
    hashed = parse(run("hash_password"))
    assert len(prompts) == 2
    assert bcrypt.checkpw(b"typed twice", hashed)


def test_hash_password_refuses_mismatched_entries(monkeypatch):
    answers = iter(["first", "second"])
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": next(answers))
    with pytest.raises(CommandError, match="do not match"):
        run("hash_password")


def test_the_printed_hash_logs_in_to_the_cms(monkeypatch, fast_rounds, settings, api_client, db):
    stdin(monkeypatch, "cms door\n")
    settings.ADMIN_PASSWORD_HASH = parse(run("hash_password", "--stdin")).decode()
    response = api_client.post("/api/cms/login", {"password": "cms door"}, format="json")
    assert response.status_code == 200


# prune_audit ------------------------------------------------------------------


@pytest.mark.django_db
def test_prune_audit_deletes_old_rows_in_batches_and_audits_itself(settings, monkeypatch):
    from datetime import timedelta

    from django.utils import timezone

    from adbot_admin import audit, audit_chain
    from adbot_admin.models import AuditEvent

    now = timezone.now()
    events = [audit.record(action="login") for _ in range(5)]
    # Sealed before they are aged: a pending row whose fields changed no longer matches its row MAC.
    audit_chain.seal_pending()
    for event, days in zip(events, (400, 380, 366, 10, 0), strict=True):
        AuditEvent.objects.filter(pk=event.pk).update(created_at=now - timedelta(days=days))
    batches = []
    real_filter = AuditEvent.objects.filter

    def counting_filter(*args, **kwargs):
        if "id__in" in kwargs:
            batches.append(len(kwargs["id__in"]))
        return real_filter(*args, **kwargs)

    monkeypatch.setattr(audit, "PRUNE_BATCH", 2)
    monkeypatch.setattr(AuditEvent.objects, "filter", counting_filter)

    output = run("prune_audit")

    assert output == "Deleted 3 audit event(s) older than 365 day(s)."
    assert batches == [2, 1]
    kept = sorted(
        (now - created).days
        for created in AuditEvent.objects.filter(action="login").values_list("created_at", flat=True)
    )
    assert kept == [0, 10]
    event = AuditEvent.objects.get(action="audit_prune")
    assert event.auth_method == "shell"
    assert event.detail == {
        "older_than_days": 365,
        "deleted": 3,
        "pruned_through_seq": 3,
        "pruned_through_mac": event.detail["pruned_through_mac"],
    }

    settings.AUDIT_RETENTION_DAYS = 5
    assert run("prune_audit", "--older-than", "7") == "Deleted 1 audit event(s) older than 7 day(s)."
    with pytest.raises(CommandError, match="at least 1"):
        run("prune_audit", "--older-than", "0")
