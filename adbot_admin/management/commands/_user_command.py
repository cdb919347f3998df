from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError


class UserCommand(BaseCommand):
    """A command about one existing user, named on the command line; subclasses define handle_user(user)."""

    def add_arguments(self, parser):
        parser.add_argument("username")

    def handle(self, *args, username, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No user named {username!r}.")
        self.handle_user(user)

    def handle_user(self, user):
        raise NotImplementedError
