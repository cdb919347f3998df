"""Signing in: every way in is one flow function, and every flow runs the same steps.

1. spend the `login` budget (once per request: a view's `rate_limited(LOGIN)`
   spends it before the body is even read) and hold a password-check slot;
2. refuse a locked account (lockout.py), before any hashing;
3. verify (each way in has its own verify function);
4. in one transaction: count the failure, or clear the count, start the login
   session and audit.

A flow returns a SignIn (or, for the admin site, Django's response) or raises
one domain error (errors.py) that says how it is answered. Views, the admin
site and the cookie endpoints only translate. The slow verify (bcrypt) runs
before the transaction: no row lock waits on it.

Adding a way in means one verify function, one flow here calling `_verified`
(`_verified_passkey` for a passkey, which checks no password), and one view.
"""

from collections.abc import Callable
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import authenticate, get_user_model
from django.contrib.auth import login as django_login
from django.db import transaction

from . import budgets, hashers, lockout, mfa
from .audit import record
from .errors import (
    AccountDisabled,
    CmsPasswordDisabled,
    CmsPasswordLoginOff,
    InvalidCredentials,
    InvalidMfaCode,
    MfaCodeThrottled,
    MfaTokenInvalid,
    NotConfigured,
    PasskeyRefused,
    SecondFactorRequired,
)
from .login_sessions import IssuedTokens, access_token_reauthenticated, login_session_start, refresh_token_rotate
from .models import AuthMethod, MfaChallenge, Outcome, Role
from .passkeys import passkey_assertion_verify, passkey_owner
from .step_up import admin_site_auth_time_stamp
from .tokens import refused_as_invalid

# The admin site's session key saying its login was a passkey with user verification: both factors.
ADMIN_SITE_PASSKEY_VERIFIED = "adbot_passkey_verified"
# The account CMS logins act as; the shared CMS password counts toward its lockout.
CMS_ADMIN_USERNAME = "cms-admin"
USERNAME_MAX = 150


@dataclass(frozen=True)
class SignIn:
    """A successful sign-in: its user and either the tokens of a new login session or a two-factor challenge."""

    user: object
    tokens: IssuedTokens | None = None
    # The password was right and the user has two-factor on: {mfa_required, mfa_token, expires_in}.
    mfa_challenge: dict | None = None


def _django_request(request):
    return getattr(request, "_request", request)


def _session_started(*, user, auth_method, request, detail=None, **session_options) -> SignIn:
    """Start `user`'s login session and audit the login; return the SignIn holding its tokens."""
    tokens = login_session_start(user=user, auth_method=auth_method, request=request, **session_options)
    username = user.get_username()
    record(request=request, action="login", auth_method=auth_method, actor=username, target=username, detail=detail)
    return SignIn(user=user, tokens=tokens)


@contextmanager
def _verified(*, request, account: str, verify: Callable, refused_audit: dict, budget=None, refusal=InvalidCredentials):
    """Run steps 1 to 3 for `account` and yield what `verify()` proved inside step 4's transaction.

    `budget` is spent and held while the check runs (default: the `login` budget
    and a password-check slot). `verify()` returns the user (or its proof), or
    None when refused; then the failure is counted and audited as a failed
    `refused_audit` (record's arguments), both committed, and `refusal` is raised.
    Raises AccountLocked while `account` is locked; an empty `account` (no one is
    known yet) is neither checked nor counted.
    """
    with budget or budgets.login_budget(request):
        if account:
            lockout.check(username=account)
        user = verify()
    if user is None:
        with transaction.atomic():
            if account:
                lockout.failed(username=account, request=request)
            record(request=request, outcome=Outcome.FAILURE, **refused_audit)
        raise refusal()
    with transaction.atomic():
        lockout.clear(username=account)
        yield user


def login_with_password(*, username, password, request, with_refresh=True, scope=None) -> SignIn:
    """Sign in with a username and password: the tokens of a new login session, or a two-factor challenge.

    Raises InvalidCredentials (an unknown username costs one hash, like a wrong
    password), AccountLocked, or the budget's refusals.
    """
    username = str(username)[:USERNAME_MAX]

    def verify():
        return authenticate(_django_request(request), username=username, password=password)

    refused_audit = {"action": "login", "auth_method": AuthMethod.PASSWORD, "target": username}
    with _verified(request=request, account=username, verify=verify, refused_audit=refused_audit) as user:
        if mfa.mfa_enabled(user):
            # The password was right; the login waits for its second factor.
            record(
                request=request, action="login_mfa_required", auth_method=AuthMethod.PASSWORD, actor="", target=username
            )
            return SignIn(user=user, mfa_challenge=mfa.login_challenge_start(user=user))
        return _session_started(
            user=user, auth_method=AuthMethod.PASSWORD, request=request, with_refresh=with_refresh, scope=scope
        )


def cms_login_available():
    """Raise unless the shared CMS password may sign in; the CMS login view asks before it reads the body.

    Raises CmsPasswordLoginOff (404) with CMS_PASSWORD_LOGIN off, CmsPasswordDisabled (403) under
    REQUIRE_ADMIN_2FA (a shared password proves no one in particular: no second factor can go with
    it), and NotConfigured without ADMIN_PASSWORD_HASH.
    """
    if not settings.CMS_PASSWORD_LOGIN:
        raise CmsPasswordLoginOff()
    if settings.REQUIRE_ADMIN_2FA:
        raise CmsPasswordDisabled()
    if not settings.ADMIN_PASSWORD_HASH:
        raise NotConfigured("CMS password login is not configured: set ADMIN_PASSWORD_HASH.")


def cms_password_matches(password):
    """Return True when `password` matches ADMIN_PASSWORD_HASH.

    A password past bcrypt's 72 bytes is a wrong password (bcrypt would
    otherwise compare only its first 72 bytes); it still costs one check.
    """
    candidate = password.encode("utf-8", "surrogatepass")
    stored = settings.ADMIN_PASSWORD_HASH.encode()
    if len(candidate) > hashers.BCRYPT_MAX_BYTES:
        hashers.checkpw(candidate[: hashers.BCRYPT_MAX_BYTES], stored)
        return False
    return hashers.checkpw(candidate, stored)


def cms_admin_user():
    """Return the user that CMS logins act as, made on first use as active staff."""
    user, created = get_user_model().objects.get_or_create(
        username=CMS_ADMIN_USERNAME, defaults={"is_staff": True, "is_active": True}
    )
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def login_with_cms_password(*, password, request, with_refresh=False) -> SignIn:
    """Sign in with the shared CMS password (ADMIN_PASSWORD_HASH) as the CMS admin account.

    Raises NotConfigured without ADMIN_PASSWORD_HASH, InvalidCredentials,
    AccountLocked, or AccountDisabled when that account is not an active admin.
    """
    cms_login_available()

    def verify():
        return cms_admin_user() if cms_password_matches(password) else None

    refused_audit = {"action": "cms_login", "auth_method": AuthMethod.CMS_PASSWORD, "actor": ""}
    with _verified(request=request, account=CMS_ADMIN_USERNAME, verify=verify, refused_audit=refused_audit) as user:
        if user.role != Role.ADMIN:
            record(
                request=request,
                action="cms_login",
                auth_method=AuthMethod.CMS_PASSWORD,
                actor=user.username,
                outcome=Outcome.DENIED,
            )
            signed_in = None
        else:
            tokens = login_session_start(
                user=user, auth_method=AuthMethod.CMS_PASSWORD, request=request, with_refresh=with_refresh
            )
            record(request=request, action="cms_login", auth_method=AuthMethod.CMS_PASSWORD, actor=user.username)
            signed_in = SignIn(user=user, tokens=tokens)
    if signed_in is None:
        raise AccountDisabled()
    return signed_in


def login_second_step(*, mfa_token, code=None, credential=None, request, scope=None) -> SignIn:
    """Finish a two-factor login with a TOTP or recovery code, or a passkey assertion: the tokens of a new login session.

    Raises MfaTokenInvalid (unknown, expired, used or dead mfa_token, or a user
    no longer active or without two-factor), InvalidMfaCode (a wrong code or
    passkey, counted: the fifth kills the token) or MfaCodeThrottled (not
    counted: no code was tried).
    """
    with budgets.login_budget(request):
        signed_in = None
        with transaction.atomic():
            found = mfa.live_challenge(mfa_token)
            if found is None or not mfa.mfa_enabled(found[1]):
                outcome = MfaTokenInvalid()
            else:
                challenge, user = found
                outcome = mfa.second_factor_check(user=user, code=code, credential=credential, request=request)
                if isinstance(outcome, InvalidMfaCode):  # a wrong code spends one of the challenge's tries
                    MfaChallenge.objects.filter(pk=challenge.pk).update(failures=challenge.failures + 1)
                elif not isinstance(outcome, mfa.MFA_ERRORS):
                    MfaChallenge.objects.filter(pk=challenge.pk).update(used=True)
                    signed_in = _session_started(user=user, auth_method=outcome, request=request, scope=scope)
    # Raised after the transaction, so the wrong code's audit row and the challenge's count are kept.
    if signed_in is None:
        raise outcome
    return signed_in


def refresh(*, raw, request) -> IssuedTokens:
    """Trade the refresh token `raw` for a new pair of its login session (login_sessions.refresh_token_rotate).

    Raises InvalidToken (401 token_not_valid) for any refused token.
    """
    with refused_as_invalid():
        return refresh_token_rotate(raw=raw, request=request)


def password_recheck(*, user, password, request, action):
    """Re-check the password of a signed-in `user` before `action` (an audit action), like a login.

    The check spends the login budget and counts toward the account's lockout.
    Raises InvalidCredentials (audited as a failed `action`) or AccountLocked.
    """
    username = user.get_username()

    def verify():
        # The request's user holds no password hash: the row as it is now decides.
        fresh = get_user_model().objects.filter(pk=user.pk).first()
        if fresh is None:
            get_user_model()().set_password(password)  # the same cost as a check
            return None
        return fresh if fresh.check_password(password) else None

    refused_audit = {"action": action, "detail": {"reason": "wrong_password"}}
    with _verified(request=request, account=username, verify=verify, refused_audit=refused_audit):
        pass


def mfa_setup(*, user, password, request) -> dict:
    """Re-check the password, then start TOTP enrolment (mfa.totp_setup)."""
    password_recheck(user=user, password=password, request=request, action="mfa_setup")
    return mfa.totp_setup(user=user, request=request)


def login_to_admin_site(*, request, username, checks_password, log_in):
    """Sign in to the admin site: `log_in()` runs Django's login view and returns (response, password_refused).

    The view verifies the password and the TOTP code and starts the Django
    session; this flow spends the budget, checks the lockout, counts or clears
    it and audits. Returns the view's response; raises AccountLocked or the
    budget's refusals.
    """
    username = str(username)[:USERNAME_MAX]
    with budgets.login_budget(request):
        if checks_password:
            lockout.check(username=username)
        response, password_refused = log_in()
    succeeded = response.status_code == 302
    if succeeded:
        admin_site_auth_time_stamp(request)
    with transaction.atomic():
        if checks_password and password_refused and not succeeded:
            lockout.failed(username=username, request=request)
        elif checks_password:  # signed in, or the password was right and a code or the account's state refused it
            lockout.clear(username=username)
        _admin_site_login_recorded(request=request, username=username, allowed=succeeded)
    return response


def _admin_site_login_recorded(*, request, username, allowed, refused=Outcome.FAILURE, detail=None):
    """Audit one admin site login: by `username` when `allowed`, else `refused` on its account."""
    record(
        request=request,
        action="admin_site_login",
        auth_method=AuthMethod.ADMIN_SITE,
        actor=username if allowed else "",
        target=username,
        outcome=Outcome.SUCCESS if allowed else refused,
        detail=detail,
    )


def _verified_passkey(*, request, credential, action, auth_method, user=None):
    """Run `_verified` for a passkey assertion: a context manager yielding its Passkey in step 4's transaction.

    A passkey checks no password: it spends the `login` budget but holds no
    bcrypt slot. The account is the credential's owner, known before the
    check; a failed assertion of a known credential counts toward its lockout.
    The challenge stays spent whatever the outcome. With `user`, the passkey
    must be that user's; a passkey alone always needs user verification.
    Raises AccountLocked or PasskeyRefused.
    """
    budgets.spend_once(request, budgets.PASSKEY)
    owner = user or passkey_owner(credential=credential)
    account = owner.get_username() if owner is not None else ""

    def verify():
        with transaction.atomic():
            try:
                return passkey_assertion_verify(credential=credential, user=user, require_user_verification=True)
            except PasskeyRefused:
                return None

    refused_audit = dict(action=action, auth_method=auth_method, actor="", target=account, detail={"via": "passkey"})
    return _verified(
        request=request,
        account=account,
        verify=verify,
        refused_audit=refused_audit,
        budget=nullcontext(),
        refusal=PasskeyRefused,
    )


def login_with_passkey(*, credential, request, scope=None) -> SignIn:
    """Sign in with a passkey alone (user verification required: both factors): the tokens of a new login session.

    Raises PasskeyRefused, AccountLocked, or the budget's refusals.
    """
    with _verified_passkey(
        request=request, credential=credential, action="login", auth_method=AuthMethod.PASSKEY
    ) as passkey:
        return _session_started(
            user=passkey.user,
            auth_method=AuthMethod.PASSKEY,
            request=request,
            scope=scope,
            detail={"passkey_id": passkey.pk},
        )


def login_to_admin_site_with_passkey(*, credential, request):
    """Sign in to the admin site with a staff user's passkey; the session remembers both factors and the time.

    Raises PasskeyRefused (a non-staff user's passkey too), AccountLocked, or the budget's refusals.
    """
    signed_in = None
    with _verified_passkey(
        request=request, credential=credential, action="admin_site_login", auth_method=AuthMethod.ADMIN_SITE
    ) as passkey:
        user = passkey.user
        username = user.get_username()
        staff = user.is_active and user.is_staff
        _admin_site_login_recorded(
            request=request, username=username, allowed=staff, refused=Outcome.DENIED, detail={"passkey_id": passkey.pk}
        )
        signed_in = user if staff else None
    if signed_in is None:
        raise PasskeyRefused()
    django_login(_django_request(request), signed_in, backend="django.contrib.auth.backends.ModelBackend")
    request.session[ADMIN_SITE_PASSKEY_VERIFIED] = True
    admin_site_auth_time_stamp(request)
    return signed_in


def reauthenticate(*, user, access_token, request, password=None, code=None, credential=None):
    """Check a fresh proof of `user`: a new access token of the same login session, its `auth_time` now.

    The proof is a passkey alone (user verification required), or the
    password plus, for a user with two-factor on, a TOTP or recovery code or a
    passkey. Counted by the account lockout like a login. Raises
    SecondFactorRequired, InvalidCredentials, InvalidMfaCode, MfaCodeThrottled,
    PasskeyRefused, AccountLocked, or the budget's refusals.
    """
    proofs = [name for name, value in (("password", password), ("code", code), ("passkey", credential)) if value]
    if password is None:
        with _verified_passkey(
            request=request, credential=credential, action="reauthenticate", auth_method=None, user=user
        ):
            record(request=request, action="reauthenticate", target=user.get_username(), detail={"proofs": proofs})
            return access_token_reauthenticated(user=user, access_token=access_token)
    if code is None and credential is None and mfa.mfa_enabled(user):
        raise SecondFactorRequired()
    password_recheck(user=user, password=password, request=request, action="reauthenticate")
    username = user.get_username()
    refused = None
    with transaction.atomic():
        if code is not None or credential is not None:
            outcome = mfa.second_factor_check(user=user, code=code, credential=credential, request=request)
            if isinstance(outcome, mfa.MFA_ERRORS):
                refused = outcome
        if refused is None:
            record(request=request, action="reauthenticate", target=username, detail={"proofs": proofs})
            token = access_token_reauthenticated(user=user, access_token=access_token)
        else:
            # A throttled code was never tried: nothing to count.
            if not isinstance(refused, MfaCodeThrottled):
                lockout.failed(username=username, request=request)
            record(
                request=request,
                action="reauthenticate",
                target=username,
                outcome=Outcome.FAILURE,
                detail={"proofs": proofs, "reason": refused.default_code},
            )
    if refused is not None:
        raise refused
    return token
