from ...logout import user_logout_all
from ._user_command import UserCommand


class Command(UserCommand):
    help = (
        "End every login session of USERNAME: its access and refresh tokens are refused from the next "
        "request on, in every process. Audited as user_logout_all. The same as "
        "POST /api/admin/users/USERNAME/logout-all."
    )

    def handle_user(self, user):
        ended = user_logout_all(user=user, reason="ended_from_shell")
        self.stdout.write(f"Ended {ended} login session(s) of {user.get_username()}.")
