from django.core.management.base import BaseCommand, CommandError

from ... import service_tokens
from ...models import AuthMethod, ServiceTokenScope


class Command(BaseCommand):
    help = (
        "Make a service token NAME for an engine and print it once (only its SHA-256 is kept). "
        "--scope engine is required; --scope engine:secrets adds the accounts' secrets. "
        "--expires-days N ends it after N days; --allowed-ips takes addresses or CIDR networks, "
        "comma-separated (default: any address). Audited as service_token.create."
    )

    def add_arguments(self, parser):
        parser.add_argument("name")
        parser.add_argument("--scope", action="append", dest="scopes", choices=ServiceTokenScope.values, required=True)
        parser.add_argument("--expires-days", type=int, default=None)
        parser.add_argument("--allowed-ips", default="", help="Comma-separated addresses or CIDR networks.")

    def handle(self, *args, name, scopes, expires_days, allowed_ips, **options):
        try:
            issued = service_tokens.service_token_create(
                name=name,
                scopes=scopes,
                expires_days=expires_days,
                allowed_ips=[entry for entry in allowed_ips.split(",") if entry.strip()],
                created_by=AuthMethod.SHELL,
            )
        except service_tokens.ServiceTokenError as exc:
            raise CommandError(str(exc)) from exc
        self.stderr.write(f"Service token {issued.row.name} (shown once; store it in the engine's secrets):")
        self.stdout.write(issued.secret)
