from django.core.management.base import BaseCommand, CommandError

from ... import service_tokens


class Command(BaseCommand):
    help = (
        "Revoke the live service token NAME: the next request that presents it gets 401. "
        "Audited as service_token.revoke."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")

    def handle(self, *args, name, **options):
        try:
            row = service_tokens.service_token_revoke(name=name)
        except service_tokens.ServiceTokenNotFound as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"Revoked service token {row.name}.")
