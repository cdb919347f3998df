import secrets

from django.core.management.base import BaseCommand, CommandError

from ...checks import key_problem
from ...field_encryption import generate_key

NAMES = ("SECRET_KEY", "JWT_SECRET_KEY", "JWT_SECRET", "AUDIT_CHAIN_KEY", "METRICS_TOKEN", "FIELD_ENCRYPTION_KEYS")


class Command(BaseCommand):
    help = (
        "Print a new random key (64 URL-safe characters, 384 bits) fit for SECRET_KEY, "
        "JWT_SECRET_KEY, JWT_SECRET, AUDIT_CHAIN_KEY or METRICS_TOKEN. With --env NAME, print it as a .env line "
        "`NAME=<key>`; --env FIELD_ENCRYPTION_KEYS prints an AES-256 key (32 random bytes, base64url) instead."
    )
    requires_system_checks = []

    def add_arguments(self, parser):
        parser.add_argument("--env", metavar="NAME", help=f"print `NAME=<key>`; NAME is one of {', '.join(NAMES)}")

    def handle(self, *args, env=None, **options):
        if env is not None and env not in NAMES:
            raise CommandError(f"--env takes one of {', '.join(NAMES)}.")
        if env == "FIELD_ENCRYPTION_KEYS":
            key = generate_key()
        else:
            key = secrets.token_urlsafe(48)
            assert key_problem(key) is None
        self.stdout.write(f"{env}={key}" if env else key)
