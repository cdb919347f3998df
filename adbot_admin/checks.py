"""Start-up checks: refuse to run with keys an attacker could guess or forge.

They run with every management command and `check --deploy`, and wsgi.py runs
them before serving (gunicorn runs no checks of its own).
"""

import functools
from pathlib import Path

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

MIN_KEY_BYTES = 32
# The values .env.example ships with; a copied example file must not start.
PLACEHOLDERS = frozenset(
    {
        "change-me-run-manage.py-generate_secret",
        "change-me",
        "changeme",
        "secret",
    }
)
KNOWN_SECRETS_FILE = Path(__file__).resolve().parent / "data" / "known_jwt_secrets.txt"
GENERATE_HINT = "Generate one with `python manage.py generate_secret` and set {name} in the environment or .env."


@functools.cache
def known_secrets():
    """Return the publicly known JWT secrets shipped with the project (wallarm/jwt-secrets, MIT)."""
    with KNOWN_SECRETS_FILE.open(encoding="utf-8") as handle:
        return frozenset(line.rstrip("\n") for line in handle if line.strip())


def key_problem(value):
    """Return why `value` is unfit as a signing key, or None when it is fit."""
    if not value:
        return "is not set"
    if value in PLACEHOLDERS or value.lower().startswith("change-me"):
        return "is the placeholder from .env.example"
    if len(value.encode("utf-8")) < MIN_KEY_BYTES:
        return f"is shorter than {MIN_KEY_BYTES} bytes"
    if value in known_secrets():
        return "is a publicly known JWT secret"
    return None


def _raw_secret_key():
    try:
        return settings.SECRET_KEY
    except ImproperlyConfigured:  # Django refuses to hand out an empty key
        return ""


def _key_messages(name, value, error_id, required=True):
    problem = key_problem(value)
    if problem is None or (not value and not required):
        return []
    hint = GENERATE_HINT.format(name=name)
    message = f"{name} {problem}."
    if settings.DEBUG and value:
        # A weak key on a DEBUG machine is a warning; missing is never fine.
        return [checks.Warning(message, hint=hint, id=error_id.replace(".E", ".W"))]
    return [checks.Error(message, hint=hint, id=error_id)]


@checks.register(checks.Tags.security)
def check_signing_keys(app_configs=None, **kwargs):
    """Refuse missing, short, placeholder and publicly known keys."""
    messages = []
    messages += _key_messages("SECRET_KEY", _raw_secret_key(), "adbot_admin.E001")
    messages += _key_messages("JWT_SECRET_KEY", settings.JWT_SECRET_KEY, "adbot_admin.E002")
    messages += _key_messages("JWT_SECRET", settings.JWT_SECRET, "adbot_admin.E003", required=False)
    if settings.JWT_SECRET and settings.JWT_SECRET == settings.JWT_SECRET_KEY:
        messages.append(
            checks.Warning(
                "JWT_SECRET equals JWT_SECRET_KEY: the frontend could mint backend tokens and the other way round.",
                hint="Give each its own value from `python manage.py generate_secret`.",
                id="adbot_admin.W004",
            )
        )
    if settings.JWT_SECRET_KEY and settings.JWT_SECRET_KEY == _raw_secret_key():
        messages.append(
            checks.Warning(
                "JWT_SECRET_KEY equals SECRET_KEY.",
                hint="Give each its own value from `python manage.py generate_secret`.",
                id="adbot_admin.W005",
            )
        )
    return messages


@checks.register(checks.Tags.security)
def check_cors_origins(app_configs=None, **kwargs):
    """Refuse a wildcard CORS origin: only exact frontend origins may call the API."""
    if any("*" in origin for origin in settings.CORS_ALLOWED_ORIGINS):
        return [
            checks.Error(
                "CORS_ALLOWED_ORIGINS contains a wildcard.",
                hint="List the exact origins, e.g. CORS_ALLOWED_ORIGINS=https://admin.example.com",
                id="adbot_admin.E006",
            )
        ]
    return []


@checks.register(checks.Tags.security)
def check_admin_password_hash(app_configs=None, **kwargs):
    """Refuse an ADMIN_PASSWORD_HASH that is not a bcrypt hash."""
    from .services import valid_bcrypt_hash

    value = settings.ADMIN_PASSWORD_HASH
    if value and not valid_bcrypt_hash(value):
        return [
            checks.Error(
                "ADMIN_PASSWORD_HASH is not a bcrypt hash.",
                hint="Make one with `python manage.py hash_password`; quote it in .env ('$2b$12$...').",
                id="adbot_admin.E007",
            )
        ]
    return []


@checks.register()
def check_storage_choices(app_configs=None, **kwargs):
    """Refuse a media storage choice that is neither `filesystem` nor `s3`."""
    if settings.MEDIA_STORAGE in ("filesystem", "s3"):
        return []
    return [
        checks.Error(
            f"MEDIA_STORAGE is {settings.MEDIA_STORAGE!r}.",
            hint="Set MEDIA_STORAGE to filesystem (default) or s3.",
            id="adbot_admin.E008",
        )
    ]


@checks.register(checks.Tags.security)
def check_admin_allowed_ips(app_configs=None, **kwargs):
    """Refuse an ADMIN_ALLOWED_IPS entry that is not an address or a CIDR network."""
    from .ip_allowlist import parse_entry

    messages = []
    for entry in settings.ADMIN_ALLOWED_IPS:
        if not entry.strip():  # `a,,b` and a trailing comma mean nothing, as in the middleware
            continue
        try:
            parse_entry(entry)
        except ValueError as exc:
            messages.append(
                checks.Error(
                    f"ADMIN_ALLOWED_IPS entry {entry!r} is not an IP address or a CIDR network ({exc}).",
                    hint="List addresses and networks separated by commas, e.g. "
                    "ADMIN_ALLOWED_IPS=203.0.113.7,10.0.0.0/8,2001:db8::/32 (no host bits after the /).",
                    id="adbot_admin.E014",
                )
            )
    return messages


def refuse_unsafe_start():
    """Raise SystemCheckError when a check says the configuration is unsafe to serve."""
    from django.core.management.base import SystemCheckError

    errors = [
        message
        for message in checks.run_checks(tags=[checks.Tags.security], include_deployment_checks=False)
        if message.level >= checks.ERROR and not message.is_silenced()
    ]
    if errors:
        lines = "\n".join(f"{message.id}: {message.msg} HINT: {message.hint}" for message in errors)
        raise SystemCheckError(f"adbot-admin refuses to start:\n{lines}")
