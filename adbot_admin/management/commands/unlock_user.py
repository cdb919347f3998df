from django.core.management.base import BaseCommand

from ... import lockout
from ...audit import record


class Command(BaseCommand):
    help = (
        "Clear the failed-login count of USERNAME, so a username locked by LOGIN_ACCOUNT_FAILURES may "
        "log in again at once, in every server process. Works for any name, existing or not "
        "(the lockout does not know either). "
        "Audited as account_unlock."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        lockout.clear(username=username)
        record(action="account_unlock", target=username[:150])
        self.stdout.write(f"Cleared the failed-login count of {username}.")
