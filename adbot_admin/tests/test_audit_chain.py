"""The audit hash chain: every way of tampering is reported by `verify_audit` at the right seq.

On PostgreSQL a row is sealed after its transaction commits, and the test's own
transaction never does: `write` seals what it wrote, as every reader of the
chain fields does first.
"""

import hashlib
import json
import os
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, transaction
from django.utils import timezone

from adbot_admin import audit_chain
from adbot_admin.audit import record
from adbot_admin.audit_chain import ROW_FIELDS, canonical, row_mac_of
from adbot_admin.models import AuditChainHead, AuditEvent
from tests.security import live
from tests.system.audit_writers import run_writers

pytestmark = pytest.mark.django_db

OTHER_KEY = "another-audit-chain-key-0123456789abcdefghijklmnop"


def verify(*args):
    out = StringIO()
    call_command("verify_audit", *args, stdout=out, stderr=StringIO())
    return out.getvalue().strip()


def broken_at(*args):
    with pytest.raises(CommandError) as raised:
        verify(*args)
    return str(raised.value)


def write(count, **fields):
    """Record `count` events, seal them, and return them as read back."""
    events = [
        record(action="login", target=f"user{n}", detail={"n": n, "ratio": n / 3}, **fields) for n in range(count)
    ]
    audit_chain.seal_pending()
    return [AuditEvent.objects.get(id=event.id) for event in events]


def pending():
    return list(AuditEvent.objects.filter(seq__isnull=True).order_by("id").values_list("id", flat=True))


def test_a_clean_chain_verifies_gapless_from_seq_1():
    events = write(5)
    assert [event.seq for event in events] == [1, 2, 3, 4, 5]
    assert events[0].prev == "" and all(b.prev == a.mac for a, b in zip(events, events[1:], strict=False))
    assert verify() == "Audit chain intact: 5 row(s), seq 1 to 5."
    assert verify("--since", "3") == "Audit chain intact: 3 row(s), seq 3 to 5."


def test_a_rolled_back_writer_leaves_no_gap():
    write(2)
    with pytest.raises(RuntimeError), transaction.atomic():
        record(action="login")
        raise RuntimeError
    assert pending() == []
    record(action="login")
    assert verify() == "Audit chain intact: 3 row(s), seq 1 to 3."
    assert pending() == []


def test_editing_one_field_is_reported_at_its_seq():
    write(5)
    AuditEvent.objects.filter(seq=3).update(actor="mallory")
    assert broken_at() == "Audit chain broken at seq 3: MAC does not match: edited, or forged without the key."


def test_editing_the_detail_is_reported():
    write(5)
    AuditEvent.objects.filter(seq=2).update(detail={"n": 1, "ratio": 0.5})
    assert "seq 2: MAC does not match" in broken_at()


def test_deleting_a_row_is_reported_at_its_seq():
    write(5)
    AuditEvent.objects.filter(seq=3).delete()
    assert broken_at() == "Audit chain broken at seq 3: missing: deleted (the next row is seq 4)."


def test_deleting_the_last_row_is_reported_by_the_head():
    write(5)
    AuditEvent.objects.filter(seq=5).delete()
    assert "seq 5: missing: the tail was cut (the chain head is seq 5)" in broken_at()


def mallory_row():
    """The fields of a row someone without the key writes: a login they would like on record."""
    return {
        "created_at": timezone.now(),
        "actor": "mallory",
        "auth_method": "password",
        "client_ip": None,
        "action": "login",
        "target": "mallory",
        "outcome": "success",
        "detail": {},
    }


def test_a_forged_row_with_a_recomputed_sha256_is_reported_at_its_seq():
    """Without the key, the best a forger can do is a plain hash over the same bytes."""
    last = write(4)[-1]
    forged = mallory_row()
    message = canonical(seq=5, kid=last.kid, **forged)
    mac = hashlib.sha256(last.mac.encode() + b"\n" + message).hexdigest()
    AuditEvent.objects.bulk_create([AuditEvent(seq=5, prev=last.mac, mac=mac, kid=last.kid, **forged)])
    AuditChainHead.objects.update(seq=5, mac=mac)
    assert broken_at() == "Audit chain broken at seq 5: MAC does not match: edited, or forged without the key."


def test_swapping_two_rows_seq_is_reported_at_the_first():
    write(5)
    AuditEvent.objects.filter(seq=2).update(seq=-2)
    AuditEvent.objects.filter(seq=3).update(seq=2)
    AuditEvent.objects.filter(seq=-2).update(seq=3)
    assert broken_at() == "Audit chain broken at seq 2: does not follow the row before it: inserted or reordered."


def test_a_tail_cut_after_a_checkpoint_is_reported(tmp_path):
    write(10)
    path = tmp_path / "checkpoint.json"
    call_command("audit_checkpoint", "--write", str(path), stdout=StringIO())
    assert json.loads(path.read_text())["seq"] == 10
    write(2)
    assert verify("--checkpoint", str(path)) == "Audit chain intact: 12 row(s), seq 1 to 12."

    # Rows 8..12 go and the head is moved back: only the checkpoint still knows.
    AuditEvent.objects.filter(seq__gte=8).delete()
    seven = AuditEvent.objects.get(seq=7)
    AuditChainHead.objects.update(seq=7, mac=seven.mac)
    assert verify() == "Audit chain intact: 7 row(s), seq 1 to 7."
    assert broken_at("--checkpoint", str(path)) == (
        "Audit chain broken at seq 8: missing: the tail was cut (the checkpoint names seq 10)."
    )


def test_an_altered_checkpoint_is_refused(tmp_path):
    write(3)
    path = tmp_path / "checkpoint.json"
    call_command("audit_checkpoint", "--write", str(path), stdout=StringIO())
    checkpoint = json.loads(path.read_text())
    path.write_text(json.dumps({**checkpoint, "seq": 2}))
    assert "signature does not match" in broken_at("--checkpoint", str(path))


def test_the_checkpoint_is_logged_and_printed(caplog):
    write(2)
    out = StringIO()
    call_command("audit_checkpoint", stdout=out)
    line = out.getvalue().strip()
    assert json.loads(line)["seq"] == 2 and set(json.loads(line)) == {"seq", "mac", "time", "kid", "sig"}
    assert f"audit checkpoint {line}" in caplog.messages


def test_a_prune_then_a_verify_passes():
    old = write(4)
    AuditEvent.objects.filter(seq__lte=3).update(created_at=timezone.now() - timedelta(days=400))
    # Moving created_at broke those rows' MACs; they are the ones the prune removes.
    call_command("prune_audit", stdout=StringIO())
    prune = AuditEvent.objects.get(action="audit_prune")
    assert prune.detail == {
        "older_than_days": 365,
        "deleted": 3,
        "pruned_through_seq": 3,
        "pruned_through_mac": old[2].mac,
    }
    assert verify() == "Audit chain intact: 2 row(s), seq 4 to 5."
    # Deleting the first kept row is still seen: the chain starts right after the prune's anchor.
    AuditEvent.objects.filter(seq=4).delete()
    assert broken_at() == "Audit chain broken at seq 4: missing: deleted (the next row is seq 5)."


def test_rows_of_a_rotated_key_verify_while_it_is_a_fallback(settings):
    first = write(2)
    previous = settings.AUDIT_CHAIN_KEY
    settings.AUDIT_CHAIN_KEY, settings.AUDIT_CHAIN_KEY_FALLBACKS = OTHER_KEY, [previous]
    later = write(2)
    assert first[0].kid != later[0].kid
    assert verify() == "Audit chain intact: 4 row(s), seq 1 to 4."
    settings.AUDIT_CHAIN_KEY_FALLBACKS = []
    assert broken_at() == f"Audit chain broken at seq 1: sealed with an unknown key (kid '{first[0].kid}')."


def test_without_the_key_nothing_is_written(settings):
    settings.AUDIT_CHAIN_KEY = ""
    with pytest.raises(Exception, match="AUDIT_CHAIN_KEY is not set"):
        record(action="login")
    assert not AuditEvent.objects.exists()


def test_canonical_fields_are_the_row_fields():
    event = write(1)[0]
    fields = {name: getattr(AuditEvent.objects.get(seq=1), name) for name in ROW_FIELDS}
    assert canonical(seq=1, kid=event.kid, **fields) == canonical(
        seq=1, kid=event.kid, **{name: getattr(event, name) for name in ROW_FIELDS}
    )


def test_sixteen_writers_in_two_processes_on_sqlite_leave_a_clean_chain(tmp_path):
    """The counterpart on PostgreSQL is tests/system/test_audit_chain.py."""
    env = live.private_env(tmp_path)
    live.manage(env, "migrate", "--no-input", "-v", "0")
    kept = run_writers({**os.environ, **env})
    output = live.manage(env, "verify_audit")
    assert output.strip() == f"Audit chain intact: {kept} row(s), seq 1 to {kept}."


def forge_pending(**fields):
    """Insert a pending row as someone without the key would: its row MAC made with another key."""
    values = {**mallory_row(), **fields}
    kid = audit_chain.signing_key()[0]
    row_mac = row_mac_of(OTHER_KEY.encode(), canonical(seq=None, kid=kid, **values))
    return AuditEvent.objects.bulk_create([AuditEvent(seq=None, kid=kid, row_mac=row_mac, **values)])[0]


def test_a_pending_row_forged_without_the_key_is_reported_and_never_sealed(django_capture_on_commit_callbacks):
    write(2)
    forged = forge_pending()
    with django_capture_on_commit_callbacks(execute=True):
        record(action="login", target="after")
    assert broken_at() == (
        f"Audit chain broken at row id {forged.id} (pending, no seq): inserted without the key: "
        "its row MAC does not match."
    )
    assert pending() == [forged.id]
    # The rows around it are sealed and chained without it.
    assert sorted(AuditEvent.objects.exclude(id=forged.id).values_list("seq", flat=True)) == [1, 2, 3]
    AuditEvent.objects.filter(id=forged.id).delete()
    assert verify() == "Audit chain intact: 3 row(s), seq 1 to 3."


@pytest.mark.parametrize("state", ["pending", "sealed"])
def test_a_copy_of_a_row_cannot_be_inserted_to_be_sealed_again(monkeypatch, state):
    """A replayed event: someone with write access copies a row, its row MAC included, as a new pending row."""
    write(1)
    if state == "pending":
        monkeypatch.setattr(audit_chain, "_seal_pass", lambda **kwargs: True)
    original = AuditEvent.objects.get(pk=record(action="login", target="once").pk)
    monkeypatch.undo()
    copy = {name: getattr(original, name) for name in (*ROW_FIELDS, "kid", "row_mac")}

    with pytest.raises(IntegrityError), transaction.atomic():
        AuditEvent.objects.create(seq=None, **copy)
    assert verify() == "Audit chain intact: 2 row(s), seq 1 to 2."


def test_a_pending_row_whose_key_is_gone_is_reported(settings, monkeypatch):
    monkeypatch.setattr(audit_chain, "_seal_pass", lambda **kwargs: True)
    stranded = record(action="login", target="stranded")
    monkeypatch.undo()
    settings.AUDIT_CHAIN_KEY = OTHER_KEY
    assert broken_at() == (
        f"Audit chain broken at row id {stranded.id} (pending, no seq): cannot be sealed: its key "
        f"(kid '{stranded.kid}') is neither AUDIT_CHAIN_KEY nor a fallback."
    )


def test_rows_left_pending_by_a_crash_are_sealed_by_the_next_write(monkeypatch, django_capture_on_commit_callbacks):
    """A writer that dies between its commit and its seal pass (the seal skipped) leaves rows the next pass takes."""
    write(1)
    monkeypatch.setattr(audit_chain, "_seal_pass", lambda **kwargs: True)
    left = [record(action="login", target=f"left{n}") for n in range(3)]
    monkeypatch.undo()
    assert pending() == [event.id for event in left]
    with django_capture_on_commit_callbacks(execute=True):
        record(action="login", target="next")
    assert pending() == []
    sealed = AuditEvent.objects.filter(seq__isnull=False).order_by("seq").values_list("target", flat=True)
    assert list(sealed) == ["user0", "left0", "left1", "left2", "next"]
    assert verify() == "Audit chain intact: 5 row(s), seq 1 to 5."


def test_rows_left_pending_are_sealed_by_verify_audit(monkeypatch):
    write(2)
    monkeypatch.setattr(audit_chain, "_seal_pass", lambda **kwargs: True)
    record(action="login", target="left")
    monkeypatch.undo()
    assert len(pending()) == 1
    assert verify() == "Audit chain intact: 3 row(s), seq 1 to 3."
    assert pending() == []


def test_a_prune_removes_a_prefix_by_seq_even_when_created_at_steps_back():
    write(4)
    old = timezone.now() - timedelta(days=400)
    # seq 3 is younger than the cutoff: seq 4, though old, stays with it, or the kept chain would have a hole.
    AuditEvent.objects.filter(seq__in=[1, 2, 4]).update(created_at=old)
    call_command("prune_audit", stdout=StringIO())
    assert AuditEvent.objects.get(action="audit_prune").detail["pruned_through_seq"] == 2
    assert "seq 4: MAC does not match" in broken_at()  # its created_at was moved above, and is still there
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == [3, 4, 5]  # the prune's own row sealed
