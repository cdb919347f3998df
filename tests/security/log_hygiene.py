"""Session-wide log hygiene: no secret a test makes ever reaches a log record.

A pytest plugin, loaded by the root conftest.py for the whole suite. It
installs a handler on the root logger that keeps every formatted record (the
suite runs at LOG_LEVEL=DEBUG), and a registry that learns each secret as it
is made: every JWT PyJWT encodes (SimpleJWT's included) and every one the
security suite forges, every password hashed (Django's hashers and bcrypt),
every saved `api_hash`, every secret stored encrypted (2FA passwords, proxy
credentials) and the FIELD_ENCRYPTION_KEYS, every Telegram auth key the session-file factories
write, every TOTP key (hex and base32), recovery code and `mfa_token`, and the
configured signing keys. When the session ends, any registered
secret found in any record fails the run.

Records of the test's own tools are left out: the data libraries (factory_boy,
Faker) describe fixtures, and the clients (urllib3 under requests, Selenium
driving the browser) log what the test itself sends, e.g. the password it
types. What the application and its libraries log is all kept.
"""

import base64
import functools
import json
import logging
import re

IGNORED_LOGGERS = ("factory", "faker", "urllib3", "selenium")
MIN_SECRET_LENGTH = 8
_RUN = re.compile(r"[A-Za-z0-9_-]{16,}")


class SecretRegistry:
    """Secrets to look for: JWT signatures (matched as whole base64url runs) and other strings."""

    def __init__(self):
        self.signatures = set()
        self.phrases = set()

    def register(self, value):
        if isinstance(value, bytes):
            value = value.decode("utf-8", "replace")
        if not isinstance(value, str) or len(value) < MIN_SECRET_LENGTH:
            return
        parts = value.split(".")
        if len(parts) == 3 and len(parts[2]) >= 16 and all(_RUN.fullmatch(p) for p in parts if p):
            self.signatures.add(parts[2])
        else:
            self.phrases.add(value)

    def register_auth_key(self, key):
        self.register(key.hex()[:32])
        self.register(base64.b64encode(key).decode()[:32])

    def leaks(self, texts):
        """Return (index, masked secret) for each text holding a registered secret."""
        found = []
        joined = "\n".join(texts)
        if self.signatures:
            for run in set(_RUN.findall(joined)) & self.signatures:
                found.append(_locate(texts, run))
        for phrase in self.phrases:
            if phrase in joined:
                found.append(_locate(texts, phrase))
        return found


def _mask(secret):
    return f"{secret[:4]}...({len(secret)} chars)"


def _locate(texts, secret):
    index = next((i for i, text in enumerate(texts) if secret in text), -1)
    return index, _mask(secret)


class CollectingHandler(logging.Handler):
    """Keeps `logger: message` (and the traceback) of every record, the test's own tools aside."""

    def __init__(self):
        super().__init__(level=logging.NOTSET)
        self.records = []

    def emit(self, record):
        if record.name.split(".")[0] in IGNORED_LOGGERS:
            return
        try:
            text = f"{record.name}: {record.getMessage()}"
        except Exception:  # a broken record is the logging call's problem, not a leak
            text = f"{record.name}: {record.msg!r} {record.args!r}"
        if record.exc_info:
            text += "\n" + logging.Formatter().formatException(record.exc_info)
        self.records.append(text)


REGISTRY = SecretRegistry()
HANDLER = CollectingHandler()


def register(value):
    """Register a secret a test or fixture made (tokens, passwords, keys) for the final check."""
    REGISTRY.register(value)


def leaks_in(text):
    """Return the registered secrets (masked) found in `text`, e.g. a live server's output."""
    return [masked for _, masked in REGISTRY.leaks([text])]


def _wrap(owner, name, learn):
    original = getattr(owner, name)
    if getattr(original, "_log_hygiene", False):
        return

    @functools.wraps(original)
    def wrapper(*args, **kwargs):
        result = original(*args, **kwargs)
        learn(args, kwargs, result)
        return result

    wrapper._log_hygiene = True
    setattr(owner, name, wrapper)


def _register_plaintext(plaintext):
    """Register an encrypted column's plain text, and each value of one that holds a JSON object."""
    register(plaintext)
    try:
        values = json.loads(plaintext).values()
    except (ValueError, AttributeError):
        return
    for value in values:
        register(value)


def _learn_secrets():
    import bcrypt
    import jwt
    from django.conf import settings
    from django.contrib.auth.hashers import get_hashers
    from django.db.models.signals import post_save

    from adbot_admin import field_encryption

    for name in ("SECRET_KEY", "JWT_SECRET_KEY", "JWT_SECRET", "AUDIT_CHAIN_KEY"):
        register(getattr(settings, name, ""))
    for key in getattr(settings, "FIELD_ENCRYPTION_KEYS", ()):
        register(key)
    # Every secret stored encrypted (2FA passwords, proxy credentials), in plain text.
    _wrap(
        field_encryption,
        "encrypt",
        lambda args, kwargs, result: _register_plaintext(args[0] if args else kwargs["plaintext"]),
    )
    _wrap(jwt, "encode", lambda args, kwargs, token: register(token))
    _wrap(bcrypt, "hashpw", lambda args, kwargs, result: register(args[0] if args else kwargs.get("password")))
    for hasher in get_hashers():
        _wrap(
            type(hasher),
            "encode",
            lambda args, kwargs, result: register(args[1] if len(args) > 1 else kwargs.get("password")),
        )

    def api_hash_saved(sender, instance, **kwargs):
        register(getattr(instance, "api_hash", None))

    post_save.connect(api_hash_saved, weak=False, dispatch_uid="log-hygiene-api-hash")
    _learn_two_factor_secrets()
    try:
        from sessions_admin.tests import session_files
    except ImportError:
        return
    if hasattr(session_files, "new_auth_key"):
        _wrap(session_files, "new_auth_key", lambda args, kwargs, key: REGISTRY.register_auth_key(key))


def _learn_two_factor_secrets():
    from django.db.models.signals import post_save
    from django_otp.plugins.otp_totp.models import TOTPDevice

    from adbot_admin import mfa

    def totp_key_saved(sender, instance, **kwargs):
        register(instance.key)
        register(base64.b32encode(instance.bin_key).decode())

    post_save.connect(totp_key_saved, sender=TOTPDevice, weak=False, dispatch_uid="log-hygiene-totp-key")
    _wrap(mfa, "new_recovery_code", lambda args, kwargs, code: register(code))
    _wrap(mfa, "login_challenge_start", lambda args, kwargs, body: register(body["mfa_token"]))


def pytest_sessionstart(session):
    # After pytest-django's django.setup(): Django's dictConfig would drop a handler added earlier.
    logging.getLogger().addHandler(HANDLER)
    _learn_secrets()


def pytest_sessionfinish(session, exitstatus):
    logging.getLogger().removeHandler(HANDLER)
    leaks = REGISTRY.leaks(HANDLER.records)
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.ensure_newline()
        reporter.write_sep("=", "log hygiene")
        reporter.write_line(
            f"{len(HANDLER.records)} log records checked against {len(REGISTRY.signatures)} token signatures "
            f"and {len(REGISTRY.phrases)} other secrets: {len(leaks)} leak(s)"
        )
        for index, masked in leaks:
            record = HANDLER.records[index].split(":", 1)[0] if index >= 0 else "?"
            reporter.write_line(f"  secret {masked} in a record of logger {record}")
    if leaks and session.exitstatus == 0:
        session.exitstatus = 1
