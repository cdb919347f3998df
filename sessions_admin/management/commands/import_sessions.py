"""manage.py import_sessions DIR [--dry-run]: the zip import's rules, applied to a folder."""

from getpass import getpass

from django.core.management.base import BaseCommand, CommandError

from sessions_admin import imports
from sessions_admin.errors import ArchiveRefused
from sessions_admin.names import shown_name

ACTOR = "import_sessions"


class Command(BaseCommand):
    help = (
        "Import a folder of session files (each with its <name>.json sidecar) and Telegram Desktop tdata "
        "folders, by the zip import's rules: the same name rule, limits (SESSION_IMPORT_MAX_FILES, "
        "SESSION_IMPORT_MAX_BYTES, SESSION_MAX_BYTES), inspection, and storage in SESSIONS_DIR with mode 0600; "
        "each stored or refused file is audited. Symbolic links are refused, never followed. Prints what was "
        "imported, refused and skipped, and exits 1 when anything was refused. With --dry-run every check runs "
        "and nothing is stored."
    )

    def add_arguments(self, parser):
        parser.add_argument("folder", help="The folder to import.")
        parser.add_argument("--dry-run", action="store_true", help="Check everything, store nothing.")
        parser.add_argument("--overwrite", action="store_true", help="Replace stored files of the same name.")
        parser.add_argument(
            "--allow-duplicate-key", action="store_true", help="Store files whose auth key a stored file holds."
        )
        parser.add_argument(
            "--tdata-passcode",
            action="store_true",
            help="Prompt for the local passcode of the folder's tdata (never taken on the command line).",
        )

    def handle(self, *args, folder, dry_run, overwrite, allow_duplicate_key, tdata_passcode, **options):
        passcode = getpass("tdata passcode: ") if tdata_passcode else ""
        try:
            result = imports.session_files_import_folder(
                path=folder,
                uploaded_by=ACTOR,
                overwrite=overwrite,
                allow_duplicate_key=allow_duplicate_key,
                tdata_passcode=passcode,
                dry_run=dry_run,
            )
        except ArchiveRefused as exc:
            raise CommandError(f"{shown_name(folder)}: {exc} ({exc.code})") from exc
        verb = "would import" if dry_run else "imported"
        for session_file in result.imported:
            self.stdout.write(f"{verb}  {session_file.filename} ({session_file.library}, dc {session_file.dc_id})")
        for refusal in result.refused:
            self.stdout.write(f"refused   {shown_name(refusal['name'])}: {refusal['code']}: {refusal['detail']}")
        for name in result.skipped:
            self.stdout.write(f"skipped   {shown_name(name)}")
        summary = f"{len(result.imported)} {verb}, {len(result.refused)} refused, {len(result.skipped)} skipped" + (
            " (dry run: nothing was stored)" if dry_run else ""
        )
        if result.refused:
            raise CommandError(summary, returncode=1)
        self.stdout.write(self.style.SUCCESS(summary))
