"""More ways in: signing in with a passkey alone (API and admin site), and re-authenticating (step-up).

Each runs the login steps in order: the view has spent the `login` budget;
then the account lockout, the check itself, counting or clearing the
account's failures, the token, and the audit row, which commits with what
the check spent (a challenge, a TOTP step, a recovery code).

Failed passkey assertions count toward the account lockout like wrong
passwords; an assertion naming no known credential has no account to count
against (the per-client budget still counts it).
"""

from django.contrib.auth import login as django_login
from django.db import transaction

from . import mfa
from .api import lockout
from .audit import record
from .login_sessions import IssuedTokens, access_token_reauthenticated, login_session_start
from .models import AuthMethod, Outcome
from .passkeys import PasskeyRefused, passkey_assertion_verify, passkey_owner
from .step_up import admin_site_auth_time_stamp

# The admin site's session key saying its login was a passkey with user verification: both factors.
ADMIN_SITE_PASSKEY_VERIFIED = "adbot_passkey_verified"


class SecondFactorRequired(mfa.MfaError):
    """A password alone re-authenticates no one who has two-factor on."""


def login_with_passkey(*, credential, request=None, scope=None) -> IssuedTokens:
    """Verify a passkey assertion (user verification required) and start a login session; return its tokens.

    Raises AccountLocked before anything is checked, and PasskeyRefused.
    """
    owner = passkey_owner(credential=credential)
    if owner is not None:
        lockout.check(request, owner.get_username())
    refused = None
    with transaction.atomic():
        try:
            passkey = passkey_assertion_verify(credential=credential, require_user_verification=True)
        except PasskeyRefused as exc:
            refused = exc
            record(
                request=request,
                action="login",
                auth_method=AuthMethod.PASSKEY,
                target=owner.get_username() if owner is not None else "",
                outcome=Outcome.FAILURE,
            )
        else:
            user = passkey.user
            issued = login_session_start(user=user, auth_method=AuthMethod.PASSKEY, request=request, scope=scope)
            record(
                request=request,
                action="login",
                auth_method=AuthMethod.PASSKEY,
                actor=user.get_username(),
                target=user.get_username(),
                detail={"passkey_id": passkey.pk},
            )
    # After the transaction: the spent challenge and the audit row are kept.
    if refused is not None:
        if owner is not None:
            lockout.failed(request, owner.get_username())
        raise refused
    lockout.clear(user.get_username())
    return issued


def admin_site_login_with_passkey(*, credential, request):
    """Verify a passkey assertion (user verification required) of a staff user and log the admin site in.

    The session remembers that the login had both factors (AdbotAdminSite.has_permission
    reads it) and when it happened (step-up). Raises AccountLocked and PasskeyRefused.
    """
    owner = passkey_owner(credential=credential)
    if owner is not None:
        lockout.check(request, owner.get_username())
    refused = None
    with transaction.atomic():
        try:
            passkey = passkey_assertion_verify(credential=credential, require_user_verification=True)
            if not passkey.user.is_staff:
                raise PasskeyRefused()
        except PasskeyRefused as exc:
            refused = exc
        user = passkey.user if refused is None else None
        record(
            request=request,
            action="admin_site_login",
            auth_method=AuthMethod.ADMIN_SITE,
            actor=user.get_username() if user is not None else "",
            target=(user or owner).get_username() if (user or owner) is not None else "",
            outcome=Outcome.SUCCESS if refused is None else Outcome.FAILURE,
            detail={"passkey_id": passkey.pk} if refused is None else {"via": "passkey"},
        )
    if refused is not None:
        if owner is not None:
            lockout.failed(request, owner.get_username())
        raise refused
    lockout.clear(user.get_username())
    django_login(request, user, backend="django.contrib.auth.backends.ModelBackend")
    request.session[ADMIN_SITE_PASSKEY_VERIFIED] = True
    admin_site_auth_time_stamp(request)
    return user


def _proofs(*, password, code, credential):
    return [name for name, value in (("password", password), ("code", code), ("passkey", credential)) if value]


def reauthenticate(*, user, access_token, password=None, code=None, credential=None, request=None):
    """Check a fresh proof of `user` and return a new access token of the same login session, `auth_time` now.

    The proof is a passkey alone (user verification required), or the
    password plus, for a user with two-factor on, a TOTP or recovery code or a
    passkey. Raises AccountLocked, SecondFactorRequired, mfa.PasswordMismatch,
    mfa.InvalidCode, mfa.CodeThrottled or PasskeyRefused.
    """
    username = user.get_username()
    lockout.check(request, username)
    proofs = _proofs(password=password, code=code, credential=credential)
    if password is not None and code is None and credential is None and mfa.mfa_enabled(user):
        raise SecondFactorRequired()
    refused = None
    # bcrypt runs before the transaction: a write lock must not wait on it.
    if password is not None and not mfa.password_matches(user, password):
        refused = mfa.PasswordMismatch()
    with transaction.atomic():
        if refused is None and password is None:
            try:
                passkey_assertion_verify(credential=credential, user=user, require_user_verification=True)
            except PasskeyRefused as exc:
                refused = exc
        elif refused is None and (code is not None or credential is not None):
            outcome = mfa.second_factor_check(user=user, code=code, credential=credential, request=request)
            if isinstance(outcome, (mfa.MfaError, PasskeyRefused)):
                refused = outcome
        if refused is None:
            token = access_token_reauthenticated(user=user, access_token=access_token)
            record(request=request, action="reauthenticate", target=username, detail={"proofs": proofs})
        else:
            record(
                request=request,
                action="reauthenticate",
                target=username,
                outcome=Outcome.FAILURE,
                detail={"proofs": proofs, "reason": type(refused).__name__},
            )
    if refused is not None:
        # A throttled code was never tried: nothing to count.
        if not isinstance(refused, mfa.CodeThrottled):
            lockout.failed(request, username)
        raise refused
    lockout.clear(username)
    return token
