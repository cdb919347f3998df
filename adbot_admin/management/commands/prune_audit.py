from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from ...audit import prune


class Command(BaseCommand):
    help = (
        "Delete audit events older than --older-than DAYS (default AUDIT_RETENTION_DAYS, 365), "
        "in batches. The prune itself is audited. Run it daily from cron or a systemd timer."
    )

    def add_arguments(self, parser):
        parser.add_argument("--older-than", metavar="DAYS", type=int, help="retention in days (at least 1)")

    def handle(self, *args, older_than=None, **options):
        days = settings.AUDIT_RETENTION_DAYS if older_than is None else older_than
        if days < 1:
            raise CommandError("--older-than takes a whole number of days, at least 1.")
        deleted = prune(older_than_days=days)
        self.stdout.write(f"Deleted {deleted} audit event(s) older than {days} day(s).")
