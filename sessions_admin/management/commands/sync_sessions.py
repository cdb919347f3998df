from django.core.management.base import BaseCommand, CommandError

from sessions_admin import services
from sessions_admin.names import shown_name


class Command(BaseCommand):
    help = (
        "Report drift between SESSIONS_DIR and the session file table; with --repair, repair it. "
        "Kinds: 'unregistered' (a valid session file without a row: --repair adds a row with "
        "uploaded_by 'sync_sessions'), 'invalid' (a file without a row that is refused: bad name, "
        "not an accepted session file, too large, a symbolic link: reported, NEVER deleted, even "
        "with --repair), 'missing' (a row without a file: --repair deletes the row), 'changed' (size "
        "or sha256 differ from the row: --repair updates the row from the file, which the engine "
        "may have written to), 'changed_invalid' (a file with a row that is refused now: reported "
        "only), 'duplicate_key' (two or more files hold one auth key: reported, never repaired), "
        "'sidecar_missing' and 'sidecar_differs' (a session's <name>.json is missing, or differs from "
        "the account the database holds: --repair writes it from the database). Temporary files "
        "(.incoming-*), -journal/-wal/-shm companions and .json sidecars are not session files; folders "
        "are skipped. Every repair is audited. Exit status: 0 when nothing is left unresolved; 1 "
        "when drift was found and not repaired (without --repair, any drift; with --repair, "
        "'invalid', 'changed_invalid' and 'duplicate_key' files), so a scheduled run can alert."
    )

    def add_arguments(self, parser):
        parser.add_argument("--repair", action="store_true", help="Repair the drift that can be repaired.")

    def handle(self, *args, repair=False, **options):
        report = services.session_files_sync(repair=repair)
        for finding in report.findings:
            if finding.repaired:
                outcome = "repaired"
            elif finding.repairable:
                outcome = "repairable with --repair"
            else:
                outcome = "left alone"
            self.stdout.write(f"{finding.kind}: {shown_name(finding.filename)}: {finding.message} [{outcome}]")
        unresolved = report.unresolved
        self.stdout.write(
            f"Checked {report.checked_files} file(s) and {report.checked_rows} row(s): "
            f"{len(report.findings)} finding(s), {len(report.findings) - len(unresolved)} repaired, "
            f"{len(unresolved)} unresolved."
        )
        if unresolved:
            raise CommandError(f"{len(unresolved)} unresolved finding(s).", returncode=1)
