"""The audit chain under concurrent writers on PostgreSQL: 16 threads in 2 processes, no fork, no gap, none pending."""

import os
from io import StringIO

from django.core.management import call_command

from adbot_admin.models import AuditEvent

from .audit_writers import run_writers


def test_sixteen_writers_in_two_processes_on_postgresql_leave_a_clean_chain(shared_services):
    kept = run_writers({**os.environ, **shared_services})

    # Sealed by the writers themselves, after their commits: none is left pending for verify_audit to seal.
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, kept + 1))
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().strip() == f"Audit chain intact: {kept} row(s), seq 1 to {kept}."


def test_a_writer_sealing_after_commit_reads_again_when_a_reader_sealed_in_between(shared_services, monkeypatch):
    """The elected writer's swap fails when the head moved since its read, and it seals nothing twice."""
    from adbot_admin import audit_chain
    from adbot_admin.audit import record

    record(action="login", target="first")
    chained = audit_chain._chained
    calls = []

    def reader_seals_first(*args):
        calls.append(args)
        if len(calls) == 1:
            # A reader's own seal pass (verify_audit, the export) commits between the writer's read and its swap.
            audit_chain.seal_pending(wait=True)
        return chained(*args)

    monkeypatch.setattr(audit_chain, "_chained", reader_seals_first)
    record(action="login", target="second")
    monkeypatch.undo()

    # The writer's read, the reader's pass, then the writer's read again (its swap found the head moved): none left.
    assert [len(args[-1]) for args in calls] == [1, 1, 0]
    assert list(AuditEvent.objects.order_by("seq").values_list("seq", "target")) == [(1, "first"), (2, "second")]
    out = StringIO()
    call_command("verify_audit", stdout=out)
    assert out.getvalue().strip() == "Audit chain intact: 2 row(s), seq 1 to 2."


def test_a_forged_pending_row_is_refused_once_by_the_elected_writer(shared_services):
    from adbot_admin.audit import record
    from adbot_admin.tests.test_audit_chain import forge_pending

    forged = forge_pending()
    record(action="login", target="after")
    assert list(AuditEvent.objects.filter(seq__isnull=True).values_list("id", flat=True)) == [forged.id]
    assert AuditEvent.objects.get(target="after").seq == 1
