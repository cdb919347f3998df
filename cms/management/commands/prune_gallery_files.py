from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from cms import services


class Command(BaseCommand):
    help = (
        "Delete files under MEDIA_ROOT/gallery/ that no gallery image names and that are older "
        "than --older-than minutes (default 60): leftovers of a crash between writing an upload's "
        "files and committing its row, or of a file removal that failed after a delete. "
        "Safe to run from cron at any time."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--older-than",
            type=int,
            default=60,
            metavar="MINUTES",
            help="Spare files younger than this many minutes (an upload may still be committing).",
        )

    def handle(self, *args, older_than, **options):
        if older_than < 1:
            raise CommandError("--older-than must be at least 1 minute.")
        removed = services.gallery_orphans_delete(older_than=timedelta(minutes=older_than))
        for name in removed:
            self.stdout.write(f"removed {name}")
        self.stdout.write(f"{len(removed)} orphan file(s) removed.")
