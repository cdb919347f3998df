from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ...services import user_logout_all


class Command(BaseCommand):
    help = (
        "End every login session of USERNAME: its access and refresh tokens are refused from the next "
        "request on, in every process. Audited as user_logout_all. The same as "
        "POST /api/admin/users/USERNAME/logout-all."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        ended = user_logout_all(user=user, reason="ended_from_shell")
        self.stdout.write(f"Ended {ended} login session(s) of {user.get_username()}.")
