"""Passkeys over HTTP: registering and removing them, signing in with one, and re-authentication (step-up)."""

from django.contrib.auth import get_user_model
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import passkeys, signin
from ..login_sessions import access_lifetime_seconds
from . import ratelimits, serializers
from .cache_control import no_store
from .mfa_views import _account_user
from .parsers import JSONParser
from .permissions import IsAdminRole, RecentAuthentication
from .ratelimits import RateLimitHeadersMixin, rate_limited
from .views import PublicMixin, requested_scope, token_pair_response

OPTIONS = OpenApiResponse(
    response=OpenApiTypes.OBJECT,
    description="The options for the browser's WebAuthn call, in their JSON form (binary values base64url); "
    "the challenge is good for one answer within `timeout` milliseconds.",
)
# A browser's answer to navigator.credentials.get(), as the sign-in and step-up examples show it.
ASSERTION = {
    "id": "q8b3...",
    "rawId": "q8b3...",
    "type": "public-key",
    "response": {"clientDataJSON": "eyJ0...", "authenticatorData": "SZYN...", "signature": "MEUC..."},
}
PASSKEY_REFUSED = OpenApiResponse(
    description="`invalid_passkey`: the assertion does not verify, its challenge is unknown, used or expired, "
    "or the passkey is not the account's."
)


class PasskeyEnrollmentView(APIView):
    """Open to an admin with no second factor yet, even while REQUIRE_ADMIN_2FA is on: a passkey is one."""

    allowed_before_mfa_enrollment = True
    parser_classes = [JSONParser]


class PasskeyListView(PasskeyEnrollmentView):
    """Lists the caller's passkeys: name, created and last used (never a key)."""

    @extend_schema(summary="List your passkeys", responses={200: serializers.PasskeySerializer(many=True)})
    def get(self, request):
        user = _account_user(request)
        return Response(serializers.PasskeySerializer(user.passkeys.all(), many=True).data)


class PasskeyRegisterBeginView(PasskeyEnrollmentView):
    """Starts registering a passkey: returns the options for navigator.credentials.create()."""

    @extend_schema(
        summary="Start registering a passkey", request=serializers.NoFieldsSerializer, responses={200: OPTIONS}
    )
    def post(self, request):
        serializers.NoFieldsSerializer(data=request.data).is_valid(raise_exception=True)
        return Response(passkeys.passkey_registration_begin(user=_account_user(request)))


class PasskeyRegisterCompleteView(PasskeyEnrollmentView):
    """Finishes registering a passkey with the authenticator's answer; audited."""

    @extend_schema(
        summary="Register a passkey",
        request=serializers.PasskeyRegisterSerializer,
        examples=[
            OpenApiExample(
                "The browser's credential and a name",
                value={
                    "credential": {
                        "id": "q8b3...",
                        "rawId": "q8b3...",
                        "type": "public-key",
                        "response": {"clientDataJSON": "eyJ0...", "attestationObject": "o2Nm..."},
                    },
                    "name": "YubiKey 5",
                },
                request_only=True,
            ),
        ],
        responses={
            201: serializers.PasskeySerializer,
            400: OpenApiResponse(
                description="`invalid_passkey_registration`: the answer does not verify, or its challenge is "
                "unknown, used or expired."
            ),
            409: OpenApiResponse(description="`passkey_exists` or `too_many_passkeys`."),
        },
    )
    def post(self, request):
        serializer = serializers.PasskeyRegisterSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        passkey = passkeys.passkey_registration_complete(
            user=_account_user(request), request=request, **serializer.validated_data
        )
        return Response(serializers.PasskeySerializer(passkey).data, status=status.HTTP_201_CREATED)


class PasskeyDetailView(APIView):
    """Removes one of the caller's passkeys (a sensitive action: it needs a recent `auth_time`)."""

    permission_classes = [IsAdminRole, RecentAuthentication]

    @extend_schema(
        summary="Remove a passkey",
        parameters=[OpenApiParameter("passkey_id", OpenApiTypes.INT, OpenApiParameter.PATH)],
        responses={
            204: None,
            404: OpenApiResponse(description="The caller has no passkey with this id."),
            409: OpenApiResponse(
                description="`last_second_factor`: REQUIRE_ADMIN_2FA is on and it is the admin's last second factor."
            ),
        },
    )
    def delete(self, request, passkey_id):
        user = _account_user(request)
        if not passkeys.passkey_delete(user=user, passkey_id=int(passkey_id), request=request):
            raise NotFound("You have no passkey with this id.")
        return Response(status=status.HTTP_204_NO_CONTENT)


class PasskeyLoginBeginView(RateLimitHeadersMixin, PublicMixin, APIView):
    """Starts a passkey sign-in: returns the options for navigator.credentials.get().

    With a `username` the options list that account's passkeys (and the answer must be one of them);
    without, the browser offers the discoverable passkeys it holds for this site.
    """

    parser_classes = [JSONParser]

    @extend_schema(
        summary="Start signing in with a passkey",
        request=serializers.PasskeyLoginBeginSerializer,
        examples=[
            OpenApiExample("Discoverable credentials", value={}, request_only=True),
            OpenApiExample("For one username", value={"username": "admin"}, request_only=True),
        ],
        responses={200: OPTIONS},
    )
    @rate_limited(ratelimits.PASSKEY)
    def post(self, request):
        serializer = serializers.PasskeyLoginBeginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        username = serializer.validated_data.get("username")
        user = get_user_model().objects.filter(username=username, is_active=True).first() if username else None
        return Response(passkeys.passkey_authentication_begin(user=user))


class PasskeyLoginCompleteView(RateLimitHeadersMixin, PublicMixin, APIView):
    """Trades a passkey assertion for the access and refresh token of a new login session, as a password login does.

    The authenticator must have verified its user (PIN, biometrics): a passkey is both factors at once,
    so it meets REQUIRE_ADMIN_2FA. With `"session": "cookie"` the refresh token is set as a cookie instead.
    """

    parser_classes = [JSONParser]

    @extend_schema(
        summary="Sign in with a passkey",
        request=serializers.PasskeyLoginSerializer,
        examples=[OpenApiExample("The browser's assertion", value={"credential": ASSERTION}, request_only=True)],
        responses={200: serializers.TokenObtainResponseSerializer, 401: PASSKEY_REFUSED},
    )
    @rate_limited(ratelimits.PASSKEY)
    @no_store
    def post(self, request):
        serializer = serializers.PasskeyLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        signed_in = signin.login_with_passkey(
            credential=serializer.validated_data["credential"],
            request=request,
            scope=requested_scope(serializer.validated_data),
        )
        return token_pair_response(signed_in.tokens, request=request)


class ReauthenticateView(RateLimitHeadersMixin, APIView):
    """Proves again who the caller is; returns a new access token of the same login session, its `auth_time` now.

    The proof is a passkey assertion alone, or the password plus, with two-factor on, a TOTP or recovery
    `code` or a passkey `credential`. Counted by the account lockout like a login. Sensitive actions need an
    `auth_time` within REAUTH_MAX_AGE seconds; a refresh never renews it.
    """

    parser_classes = [JSONParser]

    @extend_schema(
        summary="Re-authenticate (step-up)",
        request=serializers.ReauthenticateSerializer,
        examples=[
            OpenApiExample(
                "Password and a TOTP code", value={"password": "<password>", "code": "492039"}, request_only=True
            ),
            OpenApiExample("A passkey alone", value={"credential": ASSERTION}, request_only=True),
        ],
        responses={
            200: serializers.ReauthenticatedSerializer,
            401: OpenApiResponse(
                description="A wrong password, code (`invalid_mfa_code`) or passkey (`invalid_passkey`), or "
                "`second_factor_required`."
            ),
        },
    )
    @rate_limited(ratelimits.LOGIN)  # may check a password: the login budget bounds guessing and bcrypt time
    @no_store
    def post(self, request):
        serializer = serializers.ReauthenticateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        access = signin.reauthenticate(
            user=_account_user(request), access_token=request.auth, request=request, **serializer.validated_data
        )
        return Response({"access": str(access), "token_type": "Bearer", "expires_in": access_lifetime_seconds()})
