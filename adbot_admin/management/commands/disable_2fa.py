from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from ...audit import record
from ...mfa import mfa_reset


class Command(BaseCommand):
    help = (
        "Turn two-factor authentication off for USERNAME: delete their TOTP device, recovery codes and "
        "pending two-factor logins. For an admin who lost both the authenticator and the recovery codes; "
        "they log in with the password alone afterwards and can enrol again. Audited."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        with transaction.atomic():
            mfa_reset(user=user)
            record(action="mfa_disable", target=user.username, detail={"proved_by": "shell"})
        self.stdout.write(f"Two-factor authentication is off for {user.username}.")
