"""Passkeys (WebAuthn, with py_webauthn): registration, and the one function that verifies an assertion.

A ceremony is two requests. `begin` makes a random challenge, keeps its SHA-256
in a WebAuthnChallenge row (expiring after CHALLENGE_LIFETIME) and returns the
browser's options. `complete` reads the challenge back from the signed
clientDataJSON and deletes its row in the same transaction that checks the
response: a challenge is good for one response, whether that response passes
or not, so a replayed assertion or a second use of a challenge finds no row.

The relying-party ID and the accepted origins come from WEBAUTHN_RP_ID and
WEBAUTHN_ORIGINS (checked at start-up, checks.py). py_webauthn checks the
challenge, origin, RP ID hash, user presence, the signature and that the sign
count went up (a cloned authenticator shows a count that does not).

Each refusal is one domain error carrying its HTTP status and code. Public
keys, challenges and assertions go to no log, audit detail or error body.
"""

import hashlib
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    base64url_to_bytes,
    bytes_to_base64url,
    options_to_json_dict,
    parse_client_data_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from .audit import record
from .errors import LastSecondFactor, PasskeyExists, PasskeyRefused, PasskeyRegistrationRefused, TooManyPasskeys
from .models import Outcome, Passkey, WebAuthnChallenge, WebAuthnChallengePurpose

CHALLENGE_LIFETIME = timedelta(seconds=300)
USER_HANDLE_BYTES = 32
PASSKEYS_PER_USER = 20  # errors.TooManyPasskeys says so
TRANSPORTS = frozenset(transport.value for transport in AuthenticatorTransport)


def _digest(challenge):
    return hashlib.sha256(challenge).hexdigest()


def _challenge_store(*, purpose, user, challenge, user_handle=""):
    now = timezone.now()
    with transaction.atomic():
        # Expired challenges can never be answered: the table holds live ones only.
        WebAuthnChallenge.objects.filter(expires_at__lte=now).delete()
        WebAuthnChallenge.objects.create(
            purpose=purpose,
            user=user,
            challenge_hash=_digest(challenge),
            user_handle=user_handle,
            expires_at=now + CHALLENGE_LIFETIME,
        )


def _challenge_spend(credential, *, purpose):
    """Return the live challenge row `credential` answers, deleted (must run in a transaction); None when none.

    The challenge is read from the response's clientDataJSON; its signature is
    checked later, by py_webauthn, against this very challenge.
    """
    try:
        client_data = parse_client_data_json(base64url_to_bytes(credential["response"]["clientDataJSON"]))
    except (WebAuthnException, KeyError, TypeError, ValueError):
        return None
    row = (
        WebAuthnChallenge.objects.select_for_update()
        .filter(challenge_hash=_digest(client_data.challenge), purpose=purpose, expires_at__gt=timezone.now())
        .first()
    )
    if row is not None:
        WebAuthnChallenge.objects.filter(pk=row.pk).delete()
        row.challenge = client_data.challenge
    return row


def _descriptors(passkeys):
    return [
        PublicKeyCredentialDescriptor(
            id=base64url_to_bytes(passkey.credential_id),
            transports=[AuthenticatorTransport(t) for t in passkey.transports if t in TRANSPORTS],
        )
        for passkey in passkeys
    ]


def passkey_registration_begin(*, user):
    """Return the creation options (JSON) for a new passkey of `user`; its challenge is stored for one answer."""
    passkeys = list(Passkey.objects.filter(user=user))
    # One user handle per account: a discoverable credential names its account by it.
    user_handle = passkeys[0].user_handle if passkeys else bytes_to_base64url(secrets.token_bytes(USER_HANDLE_BYTES))
    options = generate_registration_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        rp_name=settings.WEBAUTHN_RP_NAME,
        user_name=user.get_username(),
        user_id=base64url_to_bytes(user_handle),
        exclude_credentials=_descriptors(passkeys),
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        timeout=int(CHALLENGE_LIFETIME.total_seconds() * 1000),
    )
    _challenge_store(
        purpose=WebAuthnChallengePurpose.REGISTER, user=user, challenge=options.challenge, user_handle=user_handle
    )
    return options_to_json_dict(options)


def _transports(credential):
    listed = credential.get("response", {}).get("transports") if isinstance(credential, dict) else None
    return sorted({t for t in listed if isinstance(t, str) and t in TRANSPORTS}) if isinstance(listed, list) else []


def passkey_registration_complete(*, user, credential, name, request=None) -> Passkey:
    """Verify the authenticator's answer to `passkey_registration_begin` and keep the new passkey, audited.

    Raises PasskeyRegistrationRefused (unknown, spent or expired challenge, or
    a response that does not verify), PasskeyExists or TooManyPasskeys.
    """
    refused = None
    with transaction.atomic():
        challenge = _challenge_spend(credential, purpose=WebAuthnChallengePurpose.REGISTER)
        if challenge is None or challenge.user_id != user.pk:
            refused = PasskeyRegistrationRefused()
        else:
            try:
                verified = verify_registration_response(
                    credential=credential,
                    expected_challenge=challenge.challenge,
                    expected_rp_id=settings.WEBAUTHN_RP_ID,
                    expected_origin=settings.WEBAUTHN_ORIGINS,
                )
            except (WebAuthnException, KeyError, TypeError, ValueError):
                refused = PasskeyRegistrationRefused()
        if refused is None and Passkey.objects.select_for_update().filter(user=user).count() >= PASSKEYS_PER_USER:
            refused = TooManyPasskeys()
        if refused is None:
            try:
                with transaction.atomic():
                    passkey = Passkey.objects.create(
                        user=user,
                        credential_id=bytes_to_base64url(verified.credential_id),
                        public_key=verified.credential_public_key,
                        sign_count=verified.sign_count,
                        transports=_transports(credential),
                        user_handle=challenge.user_handle,
                        name=name,
                    )
            except IntegrityError:
                refused = PasskeyExists()
        record(
            request=request,
            action="passkey_register",
            outcome=Outcome.SUCCESS if refused is None else Outcome.FAILURE,
            target=user.get_username(),
            detail=_described(passkey) if refused is None else {"reason": refused.default_code},
        )
    # Raised after the transaction: the spent challenge and the audit row are kept.
    if refused is not None:
        raise refused
    return passkey


def _described(passkey):
    return {"passkey_id": passkey.pk, "name": passkey.name}


def passkey_authentication_begin(*, user=None):
    """Return the request options (JSON) of a passkey assertion; its challenge is stored for one answer.

    With `user`, the options list that user's passkeys; without (or for a user
    with none), the browser offers the discoverable credentials it holds for
    this RP ID.
    """
    passkeys = list(Passkey.objects.filter(user=user)) if user is not None else []
    options = generate_authentication_options(
        rp_id=settings.WEBAUTHN_RP_ID,
        allow_credentials=_descriptors(passkeys),
        user_verification=UserVerificationRequirement.PREFERRED,
        timeout=int(CHALLENGE_LIFETIME.total_seconds() * 1000),
    )
    _challenge_store(purpose=WebAuthnChallengePurpose.AUTHENTICATE, user=user, challenge=options.challenge)
    return options_to_json_dict(options)


def _credential_id(credential):
    value = credential.get("id") if isinstance(credential, dict) else None
    fits = isinstance(value, str) and 0 < len(value) <= Passkey._meta.get_field("credential_id").max_length
    return value if fits else None


def passkey_owner(*, credential):
    """Return the active user whose passkey `credential` names (no check of the assertion itself), else None."""
    credential_id = _credential_id(credential)
    if credential_id is None:
        return None
    passkey = Passkey.objects.select_related("user").filter(credential_id=credential_id).first()
    return passkey.user if passkey is not None and passkey.user.is_active else None


def passkey_assertion_verify(*, credential, user=None, require_user_verification) -> Passkey:
    """Return the Passkey that signed `credential` (an assertion as the browser returns it), its count moved on.

    Must run inside a transaction; the challenge is spent either way. With
    `user`, the passkey must be that user's. `require_user_verification` (a
    passkey as the only proof) refuses an authenticator that did not verify
    its user (PIN, biometrics). Raises PasskeyRefused.
    """
    challenge = _challenge_spend(credential, purpose=WebAuthnChallengePurpose.AUTHENTICATE)
    credential_id = _credential_id(credential)
    if challenge is None or credential_id is None:
        raise PasskeyRefused()
    passkey = Passkey.objects.select_for_update().select_related("user").filter(credential_id=credential_id).first()
    if passkey is None or not passkey.user.is_active:
        raise PasskeyRefused()
    if (challenge.user_id is not None and challenge.user_id != passkey.user_id) or (
        user is not None and user.pk != passkey.user_id
    ):
        raise PasskeyRefused()  # another user's credential
    if not _user_handle_matches(credential, passkey):
        raise PasskeyRefused()
    try:
        verified = verify_authentication_response(
            credential=credential,
            expected_challenge=challenge.challenge,
            expected_rp_id=settings.WEBAUTHN_RP_ID,
            expected_origin=settings.WEBAUTHN_ORIGINS,
            credential_public_key=bytes(passkey.public_key),
            credential_current_sign_count=passkey.sign_count,
            require_user_verification=require_user_verification,
        )
    except (WebAuthnException, KeyError, TypeError, ValueError) as exc:
        raise PasskeyRefused() from exc
    Passkey.objects.filter(pk=passkey.pk).update(sign_count=verified.new_sign_count, last_used_at=timezone.now())
    return passkey


def _user_handle_matches(credential, passkey):
    """Return False when the assertion names an account (userHandle) other than the passkey's."""
    sent = credential.get("response", {}).get("userHandle") if isinstance(credential.get("response"), dict) else None
    if not sent:
        return True
    try:
        return base64url_to_bytes(sent) == base64url_to_bytes(passkey.user_handle)
    except (TypeError, ValueError):
        return False


def passkey_delete(*, user, passkey_id, request=None) -> bool:
    """Delete `user`'s passkey `passkey_id`, audited; return False when the user has no such passkey.

    Raises LastSecondFactor when REQUIRE_ADMIN_2FA is on, the user is an admin,
    and this is their last second factor (no TOTP device, no other passkey).
    """
    with transaction.atomic():
        passkeys = list(Passkey.objects.select_for_update().filter(user=user))
        passkey = next((p for p in passkeys if p.pk == passkey_id), None)
        if passkey is None:
            return False
        last = (
            settings.REQUIRE_ADMIN_2FA
            and user.is_staff
            and len(passkeys) == 1
            and not TOTPDevice.objects.filter(user_id=user.pk, confirmed=True).exists()
        )
        if not last:
            passkey.delete()
            record(request=request, action="passkey_delete", target=user.get_username(), detail=_described(passkey))
            return True
    record(
        request=request,
        action="passkey_delete",
        outcome=Outcome.DENIED,
        target=user.get_username(),
        detail={**_described(passkey), "reason": LastSecondFactor.default_code},
    )
    raise LastSecondFactor()


def has_passkey(user):
    return Passkey.objects.filter(user_id=user.pk).exists()
