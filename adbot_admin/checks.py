"""Start-up checks: refuse to run with keys an attacker could guess or forge.

They run with every management command and `check --deploy`, and wsgi.py runs
them before serving (gunicorn runs no checks of its own).
"""

import functools
from pathlib import Path
from urllib.parse import urlsplit

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.http.request import validate_host

from .field_encryption import decode_key
from .hashers import valid_bcrypt_hash
from .ip_allowlist import parse_entry

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
OWN_KEY_HINT = "Give each its own value from `python manage.py generate_secret`."


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


def _key_messages(name, value, error_id, required=True, hint=None):
    problem = key_problem(value)
    if problem is None or (not value and not required):
        return []
    hint = hint or GENERATE_HINT.format(name=name)
    message = f"{name} {problem}."
    if settings.DEBUG and value:
        # A weak key on a DEBUG machine is a warning; missing is never fine.
        return [checks.Warning(message, hint=hint, id=error_id.replace(".E", ".W"))]
    return [checks.Error(message, hint=hint, id=error_id)]


# Each current key, its fallbacks and the id of their weak-key check.
KEY_FAMILIES = (
    ("SECRET_KEY", "SECRET_KEY_FALLBACKS", "adbot_admin.E001"),
    ("JWT_SECRET_KEY", "JWT_SECRET_KEY_FALLBACKS", "adbot_admin.E002"),
    ("JWT_SECRET", "JWT_SECRET_FALLBACKS", "adbot_admin.E003"),
    ("AUDIT_CHAIN_KEY", "AUDIT_CHAIN_KEY_FALLBACKS", "adbot_admin.E021"),
)
# A fallback still verifies: a weak one lets anyone who guesses it in, however strong the current key.
WEAK_FALLBACK_HINT = "Remove it from {name}; it verifies tokens as long as it is listed."


def _current_key(name):
    return _raw_secret_key() if name == "SECRET_KEY" else getattr(settings, name)


def _fallback_messages(name, fallbacks_name, error_id):
    """Return the weak-key messages of each fallback and an error for a fallback repeating the current key."""
    current = _current_key(name)
    messages = []
    for position, value in enumerate(getattr(settings, fallbacks_name), start=1):
        messages += _key_messages(
            f"{fallbacks_name} (key {position})", value, error_id, hint=WEAK_FALLBACK_HINT.format(name=fallbacks_name)
        )
        if current and value == current:
            messages.append(
                checks.Error(
                    f"{fallbacks_name} repeats {name}: a fallback must be an old key, not the current one.",
                    hint=f"Remove it from {fallbacks_name}.",
                    id="adbot_admin.E015",
                )
            )
    return messages


def _shared_backend_and_frontend_keys():
    """Return an error naming both variables for each key that signs backend and frontend tokens alike."""
    frontend = {value: "JWT_SECRET_FALLBACKS" for value in settings.JWT_SECRET_FALLBACKS}
    frontend[settings.JWT_SECRET] = "JWT_SECRET"
    backend = [("JWT_SECRET_KEY", settings.JWT_SECRET_KEY)]
    backend += [("JWT_SECRET_KEY_FALLBACKS", value) for value in settings.JWT_SECRET_KEY_FALLBACKS]
    return [
        checks.Error(
            f"{name} and {frontend[value]} hold the same key: the frontend could mint backend tokens "
            "and the other way round.",
            hint=OWN_KEY_HINT,
            id="adbot_admin.E016",
        )
        for name, value in backend
        if value and value in frontend
    ]


@checks.register(checks.Tags.security)
def check_signing_keys(app_configs=None, **kwargs):
    """Refuse missing, short, placeholder and publicly known keys, current or fallback, and keys used twice."""
    messages = []
    for name, fallbacks_name, error_id in KEY_FAMILIES:
        # An unset JWT_SECRET only means no frontend tokens are accepted.
        messages += _key_messages(name, _current_key(name), error_id, required=name != "JWT_SECRET")
        messages += _fallback_messages(name, fallbacks_name, error_id)
    messages += _shared_backend_and_frontend_keys()
    if settings.JWT_SECRET_KEY and settings.JWT_SECRET_KEY == _raw_secret_key():
        messages.append(checks.Warning("JWT_SECRET_KEY equals SECRET_KEY.", hint=OWN_KEY_HINT, id="adbot_admin.W005"))
    return messages


@checks.register(checks.Tags.security)
def check_metrics_access(app_configs=None, **kwargs):
    """Refuse a weak METRICS_TOKEN and a METRICS_ALLOWED_IPS entry that is not an address or a network."""
    messages = _key_messages("METRICS_TOKEN", settings.METRICS_TOKEN, "adbot_admin.E022", required=False)
    return messages + _ip_entry_errors("METRICS_ALLOWED_IPS", "127.0.0.1,::1", "adbot_admin.E023")


def _error_if(refused, message, hint, error_id):
    return [checks.Error(message, hint=hint, id=error_id)] if refused else []


def _choice_errors(name, default, other, error_id):
    value = getattr(settings, name)
    return _error_if(
        value not in (default, other),
        f"{name} is {value!r}.",
        f"Set {name} to {default} (default) or {other}.",
        error_id,
    )


@checks.register()
def check_log_format(app_configs=None, **kwargs):
    """Refuse a LOG_FORMAT that is neither `text` nor `json`."""
    return _choice_errors("LOG_FORMAT", "text", "json", "adbot_admin.E024")


@checks.register(checks.Tags.security)
def check_cors_origins(app_configs=None, **kwargs):
    """Refuse a wildcard CORS origin: only exact frontend origins may call the API."""
    return _error_if(
        any("*" in origin for origin in settings.CORS_ALLOWED_ORIGINS),
        "CORS_ALLOWED_ORIGINS contains a wildcard.",
        "List the exact origins, e.g. CORS_ALLOWED_ORIGINS=https://admin.example.com",
        "adbot_admin.E006",
    )


@checks.register(checks.Tags.security)
def check_admin_password_hash(app_configs=None, **kwargs):
    """Refuse an ADMIN_PASSWORD_HASH that is not a bcrypt hash."""
    value = settings.ADMIN_PASSWORD_HASH
    return _error_if(
        value and not valid_bcrypt_hash(value),
        "ADMIN_PASSWORD_HASH is not a bcrypt hash.",
        "Make one with `python manage.py hash_password`; quote it in .env ('$2b$12$...').",
        "adbot_admin.E007",
    )


@checks.register()
def check_storage_choices(app_configs=None, **kwargs):
    """Refuse a media storage choice that is neither `filesystem` nor `s3`."""
    return _choice_errors("MEDIA_STORAGE", "filesystem", "s3", "adbot_admin.E008")


def _ip_entry_errors(name, example, error_id):
    """Return an error for each entry of the setting `name` that is not an address or a CIDR network."""
    messages = []
    for entry in getattr(settings, name):
        if not entry.strip():  # `a,,b` and a trailing comma mean nothing, as in the middleware
            continue
        try:
            parse_entry(entry)
        except ValueError as exc:
            messages.append(
                checks.Error(
                    f"{name} entry {entry!r} is not an IP address or a CIDR network ({exc}).",
                    hint=f"List addresses and networks separated by commas, e.g. {name}={example}",
                    id=error_id,
                )
            )
    return messages


@checks.register(checks.Tags.security)
def check_admin_allowed_ips(app_configs=None, **kwargs):
    """Refuse an ADMIN_ALLOWED_IPS entry that is not an address or a CIDR network."""
    example = "203.0.113.7,10.0.0.0/8,2001:db8::/32 (no host bits after the /)."
    return _ip_entry_errors("ADMIN_ALLOWED_IPS", example, "adbot_admin.E014")


def webauthn_problems():
    """Return why WEBAUTHN_RP_ID and WEBAUTHN_ORIGINS cannot work together here, one sentence each."""
    rp_id = settings.WEBAUTHN_RP_ID.strip().lower()
    problems = []
    if not rp_id or rp_id != settings.WEBAUTHN_RP_ID or "/" in rp_id or ":" in rp_id:
        problems.append(f"WEBAUTHN_RP_ID {settings.WEBAUTHN_RP_ID!r} is not a bare domain name.")
    elif rp_id.replace(".", "").isdigit():
        problems.append(f"WEBAUTHN_RP_ID {rp_id!r} is an IP address; WebAuthn needs a domain name.")
    if not settings.WEBAUTHN_ORIGINS:
        problems.append("WEBAUTHN_ORIGINS is empty: no page could use a passkey.")
    trusted = set(settings.CSRF_TRUSTED_ORIGINS) | set(settings.CORS_ALLOWED_ORIGINS)
    for origin in settings.WEBAUTHN_ORIGINS:
        parts = urlsplit(origin)
        host = (parts.hostname or "").lower()
        if parts.scheme not in ("https", "http") or not host or parts.path or parts.query or parts.fragment:
            problems.append(f"WEBAUTHN_ORIGINS entry {origin!r} is not an origin (scheme://host[:port]).")
            continue
        if parts.scheme != "https" and host != "localhost":
            problems.append(
                f"WEBAUTHN_ORIGINS entry {origin!r} is not https; browsers allow passkeys over http on localhost only."
            )
        if rp_id and not (host == rp_id or host.endswith("." + rp_id)):
            problems.append(f"WEBAUTHN_ORIGINS entry {origin!r} is not under WEBAUTHN_RP_ID {rp_id!r}.")
        served = any(validate_host(name, settings.ALLOWED_HOSTS) for name in (parts.netloc.lower(), host))
        if not served and origin not in trusted:
            problems.append(
                f"WEBAUTHN_ORIGINS entry {origin!r} is neither served here (ALLOWED_HOSTS) nor trusted "
                "(CSRF_TRUSTED_ORIGINS, CORS_ALLOWED_ORIGINS)."
            )
    return problems


@checks.register(checks.Tags.security)
def check_webauthn(app_configs=None, **kwargs):
    """Refuse passkey settings a browser would refuse: an RP ID the origins are not under, or foreign origins."""
    return [
        checks.Error(
            problem,
            hint="Set WEBAUTHN_RP_ID to this site's domain (or a parent of it) and WEBAUTHN_ORIGINS to the exact "
            "https origins of its pages, each in ALLOWED_HOSTS or CSRF_TRUSTED_ORIGINS.",
            id="adbot_admin.E018",
        )
        for problem in webauthn_problems()
    ]


@checks.register(checks.Tags.security)
def check_field_encryption_keys(app_configs=None, **kwargs):
    """Refuse a missing or weak FIELD_ENCRYPTION_KEYS (a warning only with DEBUG), and a key listed twice."""
    values = settings.FIELD_ENCRYPTION_KEYS
    hint = "Generate one with `python manage.py generate_secret --env FIELD_ENCRYPTION_KEYS`."
    problems = (
        [] if values else ["FIELD_ENCRYPTION_KEYS is not set: 2FA passwords and proxy credentials cannot be stored."]
    )
    seen = set()
    for position, value in enumerate(values, start=1):
        try:
            raw = decode_key(value)
        except ValueError as exc:
            problems.append(f"FIELD_ENCRYPTION_KEYS key {position} {exc}.")
            continue
        if raw in seen:
            problems.append(f"FIELD_ENCRYPTION_KEYS key {position} repeats an earlier key.")
        seen.add(raw)
    level = checks.Warning if settings.DEBUG else checks.Error
    error_id = "adbot_admin.W017" if settings.DEBUG else "adbot_admin.E017"
    return [level(problem, hint=hint, id=error_id) for problem in problems]


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
