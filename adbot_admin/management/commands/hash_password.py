import getpass
import sys

import bcrypt
from django.core.management.base import BaseCommand, CommandError

from ...hashers import BCRYPT_MAX_BYTES

ROUNDS = 12


class Command(BaseCommand):
    help = (
        "Ask for a password twice without echo (or read one line from standard input with "
        "--stdin) and print `ADMIN_PASSWORD_HASH=<bcrypt hash>` for the CMS login. "
        "Quote the value in .env: ADMIN_PASSWORD_HASH='$2b$12$...'."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--stdin", action="store_true", help="read the password from standard input")

    def handle(self, *args, stdin=False, **options):
        password = sys.stdin.readline().rstrip("\r\n") if stdin else self._prompt()
        if not password:
            raise CommandError("The password is empty.")
        encoded = password.encode("utf-8")
        if len(encoded) > BCRYPT_MAX_BYTES:
            raise CommandError(f"The password is longer than bcrypt's {BCRYPT_MAX_BYTES} bytes.")
        hashed = bcrypt.hashpw(encoded, bcrypt.gensalt(ROUNDS)).decode()
        self.stdout.write(f"ADMIN_PASSWORD_HASH={hashed}")

    def _prompt(self):
        first = getpass.getpass("Password: ")
        second = getpass.getpass("Password (again): ")
        if first != second:
            raise CommandError("The passwords do not match.")
        return first
