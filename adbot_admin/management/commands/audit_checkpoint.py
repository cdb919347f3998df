import json
import logging

from django.core.management.base import BaseCommand, CommandError

from ...audit_chain import make_checkpoint
from ...env_file import env_file_write

logger = logging.getLogger("adbot_admin.audit")


class Command(BaseCommand):
    help = (
        "Write the audit chain head's seq and MAC and the time, signed with AUDIT_CHAIN_KEY, as one JSON line: "
        "to stdout, or with --write PATH to that file (mode 0600). The line is also logged at INFO. Keep it "
        "outside the database (a log shipper, another host, a bucket with object lock): "
        "`verify_audit --checkpoint PATH` then proves that no row up to it was cut."
    )

    def add_arguments(self, parser):
        parser.add_argument("--write", metavar="PATH", help="write the checkpoint to this file instead of stdout")

    def handle(self, *args, write=None, **options):
        line = json.dumps(make_checkpoint(), sort_keys=True)
        # In the template, not an argument: arguments are cut at 200 characters (logs.py), and this line
        # is ours, made of hex digits and a time.
        logger.info(f"audit checkpoint {line}")
        if write is None:
            self.stdout.write(line)
            return
        try:
            env_file_write(write, line + "\n")
        except OSError as exc:
            raise CommandError(f"Cannot write {write}: {exc.strerror}.") from exc
        self.stdout.write(f"Wrote the checkpoint of seq {json.loads(line)['seq']} to {write}.")
