"""Two-factor endpoints: enrolment, turning it off, and the second step of a login (adbot_admin/mfa.py)."""

from contextlib import contextmanager

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.serializers import TokenObtainSerializer

from .. import mfa
from . import ratelimits, serializers
from .exceptions import Conflict
from .ratelimits import RateLimitHeadersMixin, rate_limited
from .refresh_cookie import cookie_mode_requested, refresh_cookie_set
from .schema import error_example, error_response
from .views import PublicMixin


class InvalidMfaCode(exceptions.AuthenticationFailed):
    default_detail = "The code is wrong or was already used."
    default_code = "invalid_mfa_code"


class MfaTokenInvalid(exceptions.AuthenticationFailed):
    default_detail = "The mfa_token is unknown, expired, used or spent by wrong codes: log in again."
    default_code = "mfa_token_invalid"


class MfaCodeThrottled(exceptions.Throttled):
    default_detail = "Too many wrong codes for this account: wait before the next one."
    default_code = "mfa_code_throttled"


MFA_CONFLICTS = {
    mfa.AlreadyEnabled: ("Two-factor authentication is already on; turn it off first.", "mfa_already_enabled"),
    mfa.NotEnabled: ("Two-factor authentication is not on, or no enrolment awaits confirmation.", "mfa_not_enabled"),
}


@contextmanager
def mfa_errors():
    """Raise each refusal of the two-factor service as its HTTP answer."""
    try:
        yield
    except mfa.PasswordMismatch as exc:
        # The very answer of a wrong password at POST /api/auth/token.
        raise exceptions.AuthenticationFailed(
            TokenObtainSerializer.default_error_messages["no_active_account"], "no_active_account"
        ) from exc
    except mfa.InvalidCode as exc:
        raise InvalidMfaCode() from exc
    except mfa.ChallengeInvalid as exc:
        raise MfaTokenInvalid() from exc
    except mfa.CodeThrottled as exc:
        raise MfaCodeThrottled(wait=exc.wait) from exc
    except tuple(MFA_CONFLICTS) as exc:
        raise Conflict(*MFA_CONFLICTS[type(exc)]) from exc


def _account_user(request):
    """Return the caller as a user of this server; refuse a frontend token, which has no account here."""
    if getattr(request.user, "pk", None) is None:
        raise Conflict(
            "Two-factor authentication is for accounts of this server, not frontend logins.", "mfa_not_available"
        )
    return request.user


class MfaEnrollmentView(APIView):
    """Open to an admin who has not turned two-factor on yet, even while REQUIRE_ADMIN_2FA is on."""

    allowed_before_mfa_enrollment = True


class MfaSetupView(RateLimitHeadersMixin, MfaEnrollmentView):
    """Re-checks the password, then starts enrolment: a new TOTP secret, its otpauth URI and QR code.

    Replaces an enrolment not yet confirmed; refused (409) once two-factor is on.
    """

    @extend_schema(
        summary="Start two-factor enrolment (a new TOTP secret)",
        request=serializers.MfaSetupSerializer,
        responses={
            200: serializers.MfaSecretSerializer,
            409: error_response(
                "Two-factor is already on.",
                error_example(409, "mfa_already_enabled", MFA_CONFLICTS[mfa.AlreadyEnabled][0]),
            ),
        },
        examples=[OpenApiExample("Your password", value={"password": "<password>"}, request_only=True)],
    )
    @rate_limited(ratelimits.LOGIN)  # a password check: the login budget bounds guessing and bcrypt time
    def post(self, request):
        serializer = serializers.MfaSetupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = _account_user(request)
        with mfa_errors():
            body = mfa.totp_setup(user=user, password=serializer.validated_data["password"], request=request)
        return Response(body)


class MfaConfirmView(MfaEnrollmentView):
    """Confirms enrolment with the app's current code; two-factor is on from then. Returns the recovery codes, once."""

    @extend_schema(
        summary="Confirm two-factor enrolment with the app's current code",
        request=serializers.MfaConfirmSerializer,
        examples=[OpenApiExample("The app's current code", value={"code": "492039"}, request_only=True)],
        responses={
            200: serializers.RecoveryCodesSerializer,
            409: OpenApiResponse(description="No enrolment awaits confirmation, or two-factor is already on."),
        },
    )
    def post(self, request):
        serializer = serializers.MfaConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = _account_user(request)
        with mfa_errors():
            codes = mfa.totp_confirm(user=user, code=serializer.validated_data["code"], request=request)
        return Response({"recovery_codes": codes})


class MfaDisableView(RateLimitHeadersMixin, MfaEnrollmentView):
    """Turns two-factor off, given the password and a TOTP or recovery code."""

    @extend_schema(
        summary="Turn two-factor off",
        request=serializers.MfaDisableSerializer,
        responses={
            204: None,
            409: error_response(
                "Two-factor is not on.", error_example(409, "mfa_not_enabled", MFA_CONFLICTS[mfa.NotEnabled][0])
            ),
        },
        examples=[
            OpenApiExample(
                "Password and a TOTP code", value={"password": "<password>", "code": "492039"}, request_only=True
            ),
            OpenApiExample(
                "Password and a recovery code",
                value={"password": "<password>", "code": "k3f9-2mx8-qq7d-v0a1-h6tz-p4ne"},
                request_only=True,
            ),
        ],
    )
    @rate_limited(ratelimits.LOGIN)
    def post(self, request):
        serializer = serializers.MfaDisableSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = _account_user(request)
        with mfa_errors():
            mfa.totp_disable(user=user, request=request, **serializer.validated_data)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenMfaView(RateLimitHeadersMixin, PublicMixin, APIView):
    """Trades an `mfa_token` and a TOTP (or recovery) code for the access and refresh token of a new login session.

    A wrong code is a 401 `invalid_mfa_code`; the fifth kills the mfa_token (401 `mfa_token_invalid`).
    With `"session": "cookie"` the refresh token is set as the `adbot_refresh` cookie instead of returned.
    """

    @extend_schema(
        summary="Finish a two-factor login with a TOTP or recovery code",
        request=serializers.MfaLoginSerializer,
        responses={
            200: serializers.TokenObtainResponseSerializer,
            401: error_response(
                "A wrong code (invalid_mfa_code), or an mfa_token that is unknown, "
                "expired, used or spent by five wrong codes (mfa_token_invalid).",
                error_example(401, InvalidMfaCode.default_code, InvalidMfaCode.default_detail),
                error_example(401, MfaTokenInvalid.default_code, MfaTokenInvalid.default_detail),
            ),
            429: error_response(
                "Past the `login` budget, or the account's device backs off after a wrong code.",
                error_example(429, "throttled", "Request was throttled. Expected available in 42 seconds."),
                error_example(429, MfaCodeThrottled.default_code, MfaCodeThrottled.default_detail),
            ),
        },
        examples=[
            OpenApiExample(
                "mfa_token from POST /api/auth/token, and a code",
                value={"mfa_token": "q3J0bVf6mVtq0Yb6kq3c0E2Q8Z7u1w", "code": "492039"},
                request_only=True,
            )
        ],
    )
    @rate_limited(ratelimits.LOGIN)
    def post(self, request):
        serializer = serializers.MfaLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with mfa_errors():
            issued = mfa.login_challenge_complete(
                raw=serializer.validated_data["mfa_token"], code=serializer.validated_data["code"], request=request
            )
        response = Response(issued.pair())
        if cookie_mode_requested(request):
            refresh_cookie_set(response, request=request, refresh=response.data.pop("refresh"))
        return response
