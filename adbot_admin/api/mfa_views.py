"""Two-factor endpoints: enrolment, turning it off, and the second step of a login (mfa.py, signin.py)."""

from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import mfa, signin
from ..errors import (
    InvalidMfaCode,
    MfaAlreadyEnabled,
    MfaCodeThrottled,
    MfaNotAvailable,
    MfaNotEnabled,
    MfaTokenInvalid,
)
from . import ratelimits, serializers
from .cache_control import no_store
from .permissions import IsAdminRole, RecentAuthentication
from .ratelimits import RateLimitHeadersMixin, rate_limited
from .schema import error_response
from .views import THROTTLED, PublicMixin, requested_scope, token_pair_response

MFA_TOKEN = "q3J0bVf6mVtq0Yb6kq3c0E2Q8Z7u1w"


def _account_user(request):
    """Return the caller as a user of this server; refuse a frontend token, which has no account here."""
    if getattr(request.user, "pk", None) is None:
        raise MfaNotAvailable()
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
            409: error_response("Two-factor is already on.", MfaAlreadyEnabled),
        },
        examples=[OpenApiExample("Your password", value={"password": "<password>"}, request_only=True)],
    )
    @rate_limited(ratelimits.LOGIN)  # a password check: the login budget bounds guessing and bcrypt time
    @no_store
    def post(self, request):
        serializer = serializers.MfaSetupSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        user = _account_user(request)
        return Response(signin.mfa_setup(user=user, password=serializer.validated_data["password"], request=request))


class MfaConfirmView(MfaEnrollmentView):
    """Confirms enrolment with the app's current code; two-factor is on from then. Returns the recovery codes, once."""

    @extend_schema(
        summary="Confirm two-factor enrolment with the app's current code",
        request=serializers.MfaConfirmSerializer,
        responses={
            200: serializers.RecoveryCodesSerializer,
            409: error_response(
                "No enrolment awaits confirmation, or two-factor is already on.", MfaNotEnabled, MfaAlreadyEnabled
            ),
        },
        examples=[OpenApiExample("The app's current code", value={"code": "492039"}, request_only=True)],
    )
    @no_store
    def post(self, request):
        serializer = serializers.MfaConfirmSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        codes = mfa.totp_confirm(user=_account_user(request), code=serializer.validated_data["code"], request=request)
        return Response({"recovery_codes": codes})


class MfaDisableView(MfaEnrollmentView):
    """Turns two-factor by TOTP off. A sensitive action: it needs a recent `auth_time` (POST /api/auth/reauthenticate)."""

    permission_classes = [IsAdminRole, RecentAuthentication]

    @extend_schema(
        summary="Turn two-factor (TOTP) off",
        request=serializers.NoFieldsSerializer,
        responses={
            204: None,
            409: error_response("Two-factor by TOTP is not on.", MfaNotEnabled),
        },
    )
    def post(self, request):
        serializers.NoFieldsSerializer(data=request.data).is_valid(raise_exception=True)
        mfa.totp_disable(user=_account_user(request), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class TokenMfaView(RateLimitHeadersMixin, PublicMixin, APIView):
    """Trades an `mfa_token` and a TOTP (or recovery) code, or a passkey assertion (`credential`, its options from
    POST /api/auth/passkey/begin with the username), for the access and refresh token of a new login session.

    A wrong code or passkey is a 401 `invalid_mfa_code`; the fifth kills the mfa_token (401 `mfa_token_invalid`).
    With `"session": "cookie"` the refresh token is set as the `__Host-adbot_refresh` cookie instead of returned.
    """

    @extend_schema(
        summary="Finish a two-factor login with a TOTP or recovery code",
        request=serializers.MfaLoginSerializer,
        responses={
            200: serializers.TokenObtainResponseSerializer,
            401: error_response(
                "A wrong code (invalid_mfa_code), or an mfa_token that is unknown, "
                "expired, used or spent by five wrong codes (mfa_token_invalid).",
                InvalidMfaCode,
                MfaTokenInvalid,
            ),
            429: error_response(
                "Past the `login` budget, or the account's device backs off after a wrong code.",
                THROTTLED,
                MfaCodeThrottled,
            ),
        },
        examples=[
            OpenApiExample(
                "mfa_token from POST /api/auth/token, and a code",
                value={"mfa_token": MFA_TOKEN, "code": "492039"},
                request_only=True,
            )
        ],
    )
    @rate_limited(ratelimits.LOGIN)
    @no_store
    def post(self, request):
        serializer = serializers.MfaLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        signed_in = signin.login_second_step(
            mfa_token=data["mfa_token"],
            code=data.get("code"),
            credential=data.get("credential"),
            scope=requested_scope(data),
            request=request,
        )
        return token_pair_response(signed_in.tokens, request=request)
