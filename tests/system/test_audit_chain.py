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
