"""Two-factor authentication (TOTP, RFC 6238): enrolment, recovery codes and the second step of a login.

TOTP devices are django-otp's (`TOTPDevice`): it does the HOTP arithmetic,
accepts a code within one 30-second step either way, refuses any code at or
before the step of the last one it accepted (`last_t`: no replay), and backs
off exponentially after wrong codes (1, 2, 4, ... seconds per device, across
every login attempt of the account).

A two-factor login is two requests. The password step hands out an opaque
`mfa_token` whose SHA-256 is kept in an MfaChallenge row: the database
decides whether it is still good (unexpired, unused, fewer than 5 wrong
codes). It is no JWT, so no token class ever accepts it as a bearer token.

Every enrolment, confirmation, disable, recovery-code use and wrong code is
audited. Secrets and codes go to no log, audit detail or error message.
"""

import base64
import hashlib
import re
import secrets
from datetime import timedelta

import segno
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from .audit import record
from .errors import InvalidMfaCode, MfaAlreadyEnabled, MfaCodeThrottled, MfaNotEnabled, PasskeyRefused
from .models import AuthMethod, MfaChallenge, Outcome, RecoveryCode
from .passkeys import has_passkey, passkey_assertion_verify

MFA_TOKEN_LIFETIME = timedelta(seconds=300)
MFA_TOKEN_MAX_FAILURES = 5
RECOVERY_CODE_COUNT = 10
RECOVERY_CODE_BYTES = 15  # 120 random bits, 24 base32 characters
DEVICE_NAME = "authenticator"
TOTP_CODE = re.compile(r"[0-9]{6}")
CODE_SEPARATORS = re.compile(r"[\s-]+")


# The refusals of the two-factor steps (errors.py); each carries its own status and code.
MFA_ERRORS = (InvalidMfaCode, MfaCodeThrottled, MfaAlreadyEnabled, MfaNotEnabled)


def confirmed_device(user):
    """Return the user's confirmed TOTP device, or None."""
    return TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).first()


def mfa_enabled(user):
    """Return True when `user` has a second factor: a confirmed TOTP device or a passkey."""
    return confirmed_device(user) is not None or has_passkey(user)


def _digest(value):
    return hashlib.sha256(value.encode()).hexdigest()


def new_recovery_code():
    """Return a fresh recovery code, e.g. `k3vq-8zt2-m4pa-x7ne-q2rs-5abc` (from the OS's CSPRNG)."""
    raw = base64.b32encode(secrets.token_bytes(RECOVERY_CODE_BYTES)).decode().lower()
    return "-".join(raw[i : i + 4] for i in range(0, len(raw), 4))


def _recovery_code_hash(code):
    # Recovery codes are 120 random bits: no dictionary to try and 2**120
    # guesses to exhaust, so a fast hash keeps them as safe as a slow salted one
    # would (ASVS 5.0 6.5.2 allows a standard hash from 112 bits on), and the
    # check costs no bcrypt time.
    return _digest(CODE_SEPARATORS.sub("", code).lower())


def totp_setup(*, user, request=None):
    """Start enrolment: return {secret, otpauth_uri, qr_svg} of a new unconfirmed device.

    The caller has re-checked the password (signin.mfa_setup). Replaces an
    unconfirmed device. Raises MfaAlreadyEnabled when a confirmed device exists.
    """
    with transaction.atomic():
        devices = TOTPDevice.objects.select_for_update().filter(user_id=user.pk)
        if any(device.confirmed for device in devices):
            refused = True
        else:
            refused = False
            devices.delete()
            device = TOTPDevice.objects.create(user_id=user.pk, name=DEVICE_NAME, confirmed=False)
            record(request=request, action="mfa_setup")
    if refused:
        raise MfaAlreadyEnabled()
    uri = device.config_url
    return {
        "secret": base64.b32encode(device.bin_key).decode(),
        "otpauth_uri": uri,
        "qr_svg": segno.make(uri, error="m").svg_inline(scale=4, title="TOTP enrolment"),
    }


def check_code(*, user, device, code, request, recovery=True):
    """Return the AuthMethod the code proves (TOTP or, with `recovery`, a recovery code), else the refusal.

    Must run inside a transaction: the device and the recovery code are
    locked, so two requests cannot both spend one code.
    """
    code = CODE_SEPARATORS.sub("", code)
    if TOTP_CODE.fullmatch(code):
        allowed, extra = device.verify_is_allowed()
        if not allowed:
            locked_until = (extra or {}).get("locked_until")
            wait = (locked_until - timezone.now()).total_seconds() if locked_until else 1
            return MfaCodeThrottled(wait=max(1, int(wait) + 1))
        if device.verify_token(code):  # saves last_t: the same code never passes again
            return AuthMethod.PASSWORD_TOTP
    elif recovery:
        spent = (
            RecoveryCode.objects.select_for_update()
            .filter(user_id=user.pk, code_hash=_recovery_code_hash(code), used_at__isnull=True)
            .first()
        )
        if spent is not None:
            spent.used_at = timezone.now()
            spent.save(update_fields=["used_at"])
            left = RecoveryCode.objects.filter(user_id=user.pk, used_at__isnull=True).count()
            record(
                request=request,
                action="mfa_recovery_code_used",
                actor=user.get_username(),
                target=user.get_username(),
                detail={"recovery_codes_left": left},
            )
            return AuthMethod.PASSWORD_RECOVERY_CODE
    code_failure_record(request=request, user=user, kind="totp" if TOTP_CODE.fullmatch(code) else "recovery_code")
    return InvalidMfaCode()


def code_failure_record(*, request, user, kind, auth_method=None):
    """Audit one wrong (or refused) two-factor code given for `user`; the code itself is never kept."""
    record(
        request=request,
        action="mfa_code_failed",
        outcome=Outcome.FAILURE,
        auth_method=auth_method,
        target=user.get_username(),
        detail={"kind": kind},
    )


def locked_device(user, *, confirmed):
    return TOTPDevice.objects.select_for_update().filter(user_id=user.pk, confirmed=confirmed).first()


def totp_confirm(*, user, code, request=None):
    """Confirm the unconfirmed device with a current code; return the 10 new recovery codes (shown once).

    Raises InvalidMfaCode, MfaCodeThrottled, MfaAlreadyEnabled (a confirmed
    device exists) or MfaNotEnabled (no device awaits confirmation).
    """
    codes = []
    with transaction.atomic():
        device = locked_device(user, confirmed=False)
        if device is None:
            outcome = MfaAlreadyEnabled() if confirmed_device(user) else MfaNotEnabled()
        else:
            # Only the app's code proves the app holds the secret.
            outcome = check_code(user=user, device=device, code=code, request=request, recovery=False)
        if not isinstance(outcome, MFA_ERRORS):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            RecoveryCode.objects.filter(user_id=user.pk).delete()
            codes = [new_recovery_code() for _ in range(RECOVERY_CODE_COUNT)]
            RecoveryCode.objects.bulk_create(
                RecoveryCode(user_id=user.pk, code_hash=_recovery_code_hash(new)) for new in codes
            )
            record(request=request, action="mfa_confirm")
    # Raised after the transaction, so the wrong code's audit row and the device's back-off are kept.
    if isinstance(outcome, MFA_ERRORS):
        raise outcome
    return codes


def totp_disable(*, user, request=None):
    """Turn two-factor by TOTP off: delete the device, the recovery codes and pending two-factor logins.

    The fresh proof it needs is the caller's recent `auth_time` (step-up,
    api/permissions.py RecentAuthentication). Raises MfaNotEnabled.
    """
    with transaction.atomic():
        device = locked_device(user, confirmed=True)
        if device is not None:
            mfa_reset(user=user)
            record(request=request, action="mfa_disable")
    if device is None:
        raise MfaNotEnabled()


def second_factor_check(*, user, code=None, credential=None, request=None):
    """Return the AuthMethod that `code` (TOTP or recovery code) or `credential` (a passkey assertion) proves.

    Otherwise return the refusal: InvalidMfaCode (a wrong code, or a passkey
    assertion that does not verify, audited alike) or MfaCodeThrottled. Must
    run inside a transaction: a passkey challenge stays spent either way.
    """
    if credential is not None:
        try:
            # As the second factor the authenticator need not verify its user: the password was the first.
            passkey_assertion_verify(credential=credential, user=user, require_user_verification=False)
        except PasskeyRefused:
            code_failure_record(request=request, user=user, kind="passkey")
            return InvalidMfaCode()
        return AuthMethod.PASSWORD_PASSKEY
    device = locked_device(user, confirmed=True)
    if device is None:  # a passkey is this user's only second factor
        code_failure_record(request=request, user=user, kind="totp")
        return InvalidMfaCode()
    return check_code(user=user, device=device, code=code, request=request)


def mfa_reset(*, user):
    """Delete the user's devices, recovery codes and pending two-factor logins (the caller audits)."""
    TOTPDevice.objects.filter(user_id=user.pk).delete()
    RecoveryCode.objects.filter(user_id=user.pk).delete()
    MfaChallenge.objects.filter(user_id=user.pk).delete()


def login_challenge_start(*, user):
    """Return the password step's body for a user with two-factor on: {mfa_required, mfa_token, expires_in}."""
    now = timezone.now()
    raw = secrets.token_urlsafe(32)
    with transaction.atomic():
        # Expired challenges can never be completed: the table holds live ones only.
        MfaChallenge.objects.filter(expires_at__lte=now).delete()
        MfaChallenge.objects.create(user_id=user.pk, key_hash=_digest(raw), expires_at=now + MFA_TOKEN_LIFETIME)
    return {"mfa_required": True, "mfa_token": raw, "expires_in": int(MFA_TOKEN_LIFETIME.total_seconds())}


def live_challenge(raw):
    """Return (challenge, user) for a usable mfa_token `raw`, locked for update; None otherwise."""
    challenge = (
        MfaChallenge.objects.select_for_update()
        .filter(key_hash=_digest(raw), used=False, failures__lt=MFA_TOKEN_MAX_FAILURES, expires_at__gt=timezone.now())
        .first()
    )
    if challenge is None:
        return None
    user = get_user_model().objects.filter(pk=challenge.user_id, is_active=True).first()
    return (challenge, user) if user is not None else None
