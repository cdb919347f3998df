import hashlib
import uuid

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.db import models, transaction
from django.utils import timezone


class Role(models.TextChoices):
    ADMIN = "admin"
    USER = "user"


class User(AbstractUser):
    """A backend user; active staff users hold the admin role."""

    # Raised when every login of the user is ended (login_sessions_end_all): it is part of the
    # session auth hash, so the user's admin-site sessions end with their tokens.
    session_epoch = models.PositiveIntegerField(default=0, editable=False)

    @property
    def role(self):
        return Role.ADMIN if self.is_active and self.is_staff else Role.USER

    def get_session_auth_hash(self):
        return self._with_session_epoch(super().get_session_auth_hash())

    def get_session_auth_fallback_hash(self):
        for digest in super().get_session_auth_fallback_hash():
            yield self._with_session_epoch(digest)

    def _with_session_epoch(self, digest):
        # Epoch 0 keeps Django's own hash: the sessions that were open before this field existed stay open.
        if not self.session_epoch:
            return digest
        return hashlib.sha256(f"{digest}:{self.session_epoch}".encode()).hexdigest()

    def save(self, *args, **kwargs):
        """Save; a new password (set_password, as the admin site and `changepassword` do) ends every login session.

        The sessions end in the same transaction, from post_save (logout.py). A
        hash upgraded at login (Django's rehash) is not a new password and ends nothing.
        """
        with transaction.atomic():
            super().save(*args, **kwargs)


class AuthMethod(models.TextChoices):
    PASSWORD = "password"
    # A password, then a TOTP code (or a recovery code) for the same login.
    PASSWORD_TOTP = "password_totp"
    PASSWORD_RECOVERY_CODE = "password_recovery_code"
    # A password, then a passkey assertion for the same login.
    PASSWORD_PASSKEY = "password_passkey"
    # A passkey alone, verified by the authenticator (user verification): both factors at once.
    PASSKEY = "passkey"
    CMS_PASSWORD = "cms_password"
    BACKEND_TOKEN = "backend_token"
    FRONTEND_TOKEN = "frontend_token"
    ADMIN_SITE = "admin_site"
    # An engine process, by its service token (adbot_admin/service_tokens.py).
    SERVICE_TOKEN = "service_token"
    SHELL = "shell"
    NONE = "none"


class Scope(models.TextChoices):
    """What a token may touch: everything its role allows, or only the CMS gallery (and its own login)."""

    ALL = "all"
    CMS = "cms"


def scope_of(auth_method):
    """Return the Scope of a login made by `auth_method`: the shared CMS password reaches the gallery only."""
    return Scope.CMS if auth_method == AuthMethod.CMS_PASSWORD else Scope.ALL


class Outcome(models.TextChoices):
    SUCCESS = "success"
    FAILURE = "failure"
    DENIED = "denied"


class AuditEvent(models.Model):
    """One admin action or login attempt; rows are only ever added, each sealed into the chain (audit_chain.py)."""

    # Set by the chain writer at insert, before the row MAC is computed over it.
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    actor = models.CharField(max_length=255, blank=True)
    auth_method = models.CharField(max_length=32, choices=AuthMethod.choices)
    client_ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    target = models.CharField(max_length=255, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    detail = models.JSONField(default=dict, blank=True)
    # The hash chain: position (gapless), the previous row's MAC, this row's MAC and the id of its key.
    # seq, prev and mac are set when the row is sealed; until then seq is NULL (pending).
    seq = models.BigIntegerField(unique=True, null=True, blank=True)
    prev = models.CharField(max_length=64, blank=True)
    mac = models.CharField(max_length=64, blank=True)
    kid = models.CharField(max_length=16)
    # The MAC of the row's fields without seq and prev, taken when it was written: only rows written with the key
    # get sealed. Kept once sealed, and unique, so a copy of any row (pending or sealed) cannot be inserted to be
    # sealed a second time.
    row_mac = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["actor", "created_at"]),
            models.Index(fields=["id"], condition=models.Q(seq__isnull=True), name="audit_pending_idx"),
        ]
        constraints = [
            models.UniqueConstraint(fields=["row_mac"], condition=~models.Q(row_mac=""), name="audit_row_mac_unique")
        ]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M:%S} {self.actor or '-'} {self.action} {self.outcome}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("Audit events are append-only.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValueError("Audit events are append-only.")


class AuditChainHead(models.Model):
    """The audit chain's last seq and MAC: one row, locked by whoever seals pending audit rows (audit_chain.py)."""

    seq = models.BigIntegerField()
    mac = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"audit chain head at seq {self.seq}"


class RevokedToken(models.Model):
    """An access token refused before its expiry (logout); read on every request that presents it."""

    key = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["expires_at"]

    def __str__(self):
        return f"revoked until {self.expires_at:%Y-%m-%d %H:%M:%S}"


class LoginSession(models.Model):
    """One login and the family of tokens it issued: ending it refuses every one of them at once."""

    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="login_sessions")
    auth_method = models.CharField(max_length=32, choices=AuthMethod.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(auto_now_add=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=255, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)
    end_reason = models.CharField(max_length=32, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["user", "ended_at"])]

    def __str__(self):
        state = f"ended {self.ended_at:%Y-%m-%d %H:%M:%S}" if self.ended_at else "active"
        return f"{self.auth_method} login of {self.created_at:%Y-%m-%d %H:%M:%S}, {state}"


class RecoveryCode(models.Model):
    """One single-use recovery code of a user's two-factor login, kept only as its SHA-256."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="recovery_codes")
    code_hash = models.CharField(max_length=64)
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["user", "code_hash"])]

    def __str__(self):
        return f"recovery code of user {self.user_id}, {'used' if self.used_at else 'unused'}"


class MfaChallenge(models.Model):
    """The second step of a two-factor login: an opaque `mfa_token`, kept only as its SHA-256."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="mfa_challenges")
    key_hash = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    failures = models.PositiveSmallIntegerField(default=0)
    used = models.BooleanField(default=False)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"two-factor login of user {self.user_id} until {self.expires_at:%Y-%m-%d %H:%M:%S}"


class AccountLockout(models.Model):
    """The failed password checks of one username (every spelling of it) in the current window, and its lock."""

    # SHA-256 of the normalised username (lockout.py): the name itself is kept nowhere here.
    key = models.CharField(max_length=64, unique=True)
    failures = models.PositiveIntegerField(default=0)
    window_ends_at = models.DateTimeField(db_index=True)
    locked_until = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["window_ends_at"]

    def __str__(self):
        return f"{self.failures} failed login(s) until {self.window_ends_at:%Y-%m-%d %H:%M:%S}"


class Passkey(models.Model):
    """One WebAuthn credential of a user: its public key and sign count; the private key never leaves the authenticator."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="passkeys")
    # base64url, as the browser names it (at most 1023 bytes, so 1364 characters).
    credential_id = models.CharField(max_length=1364, unique=True)
    public_key = models.BinaryField()
    sign_count = models.PositiveBigIntegerField(default=0)
    transports = models.JSONField(default=list, blank=True)
    # The WebAuthn user handle (base64url) the credential was made for: random, the same for all of a user's passkeys.
    user_handle = models.CharField(max_length=128)
    name = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self):
        return f"passkey {self.name!r} of user {self.user_id}"


class WebAuthnChallengePurpose(models.TextChoices):
    REGISTER = "register"
    AUTHENTICATE = "authenticate"


class WebAuthnChallenge(models.Model):
    """One WebAuthn ceremony's challenge: single use and short-lived, kept only as its SHA-256."""

    purpose = models.CharField(max_length=16, choices=WebAuthnChallengePurpose.choices)
    # Registration: who registers. Authentication: the account named at `begin`, None for a discoverable login.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="webauthn_challenges"
    )
    challenge_hash = models.CharField(max_length=64, unique=True)
    user_handle = models.CharField(max_length=128, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"{self.purpose} challenge until {self.expires_at:%Y-%m-%d %H:%M:%S}"


class ServiceTokenScope(models.TextChoices):
    """What a service token opens: the engine's routes, and with `engine:secrets` the accounts' secrets too."""

    ENGINE = "engine"
    ENGINE_SECRETS = "engine:secrets"


class ServiceToken(models.Model):
    """A long-lived credential of one engine process: only the SHA-256 of its secret is kept.

    The secret is 256 random bits, so a fast hash is enough: nobody can guess
    their way through 2^256 inputs, and a per-request bcrypt would cost more
    than the request. A revoked token keeps its row (the list shows it); its
    name is free for a new token.
    """

    name = models.CharField(max_length=100)
    key_hash = models.CharField(max_length=64, unique=True)
    # The first characters of the token after its prefix, to tell tokens apart in a list; never enough to use.
    hint = models.CharField(max_length=8)
    scopes = models.JSONField(default=list)
    allowed_ips = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.CharField(max_length=255, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["name"], condition=models.Q(revoked_at__isnull=True), name="service_token_live_name"
            )
        ]

    def __str__(self):
        return f"service token {self.name}" + (" (revoked)" if self.revoked_at else "")
