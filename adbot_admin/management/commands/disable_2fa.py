from django.db import transaction

from ...audit import record
from ...mfa import mfa_reset
from ._user_command import UserCommand


class Command(UserCommand):
    help = (
        "Turn two-factor authentication off for USERNAME: delete their TOTP device, recovery codes and "
        "pending two-factor logins. For an admin who lost both the authenticator and the recovery codes; "
        "they log in with the password alone afterwards and can enrol again. Audited."
    )

    def handle_user(self, user):
        with transaction.atomic():
            mfa_reset(user=user)
            record(action="mfa_disable", target=user.username, detail={"proved_by": "shell"})
        self.stdout.write(f"Two-factor authentication is off for {user.username}.")
