from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from ...audit_chain import CheckpointInvalid, head, read_checkpoint, seal_pending, verify


class Command(BaseCommand):
    help = (
        "Walk the audit hash chain in seq order, in constant memory, and check every row's MAC under "
        "AUDIT_CHAIN_KEY (or the fallback its kid names) and its link to the row before it. Reports the "
        "first row that was edited, deleted, inserted or reordered, by seq, and exits 1. Rows still pending "
        "(written, not yet chained) are sealed first; one that cannot be (inserted without the key, or its key "
        "is gone) is reported by id and exits 1. --since SEQ starts "
        "at that row. --checkpoint PATH (a file written by `manage.py audit_checkpoint`) also proves that "
        "every row up to the checkpoint is still there: a tail cut after it is reported."
    )

    def add_arguments(self, parser):
        parser.add_argument("--since", metavar="SEQ", type=int, help="start at this seq instead of the first row")
        parser.add_argument("--checkpoint", metavar="PATH", help="a checkpoint file from audit_checkpoint")

    def handle(self, *args, since=None, checkpoint=None, **options):
        refused = seal_pending(wait=True)
        if since is not None and not 1 <= since <= max(head()[0], 1):
            raise CommandError(f"--since takes a seq between 1 and the chain head ({head()[0]}).")
        anchor = None
        if checkpoint is not None:
            try:
                anchor = read_checkpoint(Path(checkpoint).read_text(encoding="utf-8"))
            except OSError as exc:
                raise CommandError(f"Cannot read the checkpoint {checkpoint}: {exc.strerror}.") from exc
            except CheckpointInvalid as exc:
                raise CommandError(f"The checkpoint {checkpoint} is refused: {exc}.") from exc
        report = verify(since=since, checkpoint=anchor, refused=refused)
        if report.finding is not None:
            raise CommandError(f"Audit chain broken at {report.finding}.")
        if report.checked:
            self.stdout.write(f"Audit chain intact: {report.checked} row(s), seq {report.first} to {report.last}.")
        else:
            self.stdout.write("Audit chain intact: no rows.")
