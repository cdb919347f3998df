"""Two more ways in: signing in with a passkey alone, and re-authenticating (step-up) within a login.

Each runs the login steps in order: the view has spent the `login` budget;
then the account lockout, the check itself, counting or clearing the
account's failures, the token, and the audit row, which commits with what
the check spent (a challenge, a TOTP step, a recovery code).

Failed passkey assertions count toward the account lockout like wrong
passwords; an assertion naming no known credential has no account to count
against (the per-client budget still counts it).
"""

from django.db import transaction

from . import mfa
from .api import lockout
from .audit import record
from .login_sessions import IssuedTokens, access_token_reauthenticated, login_session_start
from .models import AuthMethod, Outcome
from .passkeys import PasskeyRefused, passkey_assertion_verify, passkey_owner


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
