"""Authentication endpoints, health and the audit log."""

from datetime import UTC, datetime

from django.core.cache import cache
from django.db import DatabaseError
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiResponse,
    PolymorphicProxySerializer,
    extend_schema,
    extend_schema_view,
)
from rest_framework import generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import InvalidToken
from rest_framework_simplejwt.settings import api_settings

from .. import auth_state, logout, signin, statements
from ..errors import AccountLocked, InvalidCredentials, LogoutNotRecorded
from ..http_errors import error_body
from ..login_sessions import access_lifetime_seconds, refresh_token_live
from ..models import AuditEvent, Scope
from ..tokens import AccessToken, RefreshToken, UntypedToken, refused_as_invalid
from . import ratelimits, serializers
from .authentication import AdminJWTAuthentication
from .cache_control import no_store
from .filters import AuditEventFilter
from .pagination import AuditCursorPagination
from .ratelimits import RateLimitHeadersMixin, rate_limited
from .refresh_cookie import cookie_mode_requested, refresh_cookie_set
from .schema import error_example, error_response

# The outcome of the public auth views themselves; the schema hook adds 401 only where a bearer token is asked.
REFUSED_CREDENTIALS = error_response(
    "Wrong credentials, or an invalid, expired or revoked token.",
    error_example(401, "token_not_valid", "Token is invalid or expired"),
)
THROTTLED = error_example(429, "throttled", "Request was throttled. Expected available in 42 seconds.")
# Request examples show placeholders, never a real token or password.
EXAMPLE_TOKEN = "eyJhbGciOiJIUzI1NiIsImtpZCI6IjNmMmE5YzFkMGI4ZTRhNzYiLCJ0eXAiOiJKV1QifQ.eyJ0b2tlbl90eXBlIjoi..."


class PublicMixin:
    """Open to anyone; a refused credential still answers 401, not 403."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        # Without a challenge DRF turns AuthenticationFailed into a 403.
        return AdminJWTAuthentication().authenticate_header(request)


class TokenObtainView(RateLimitHeadersMixin, PublicMixin, APIView):
    """Trades a username and password for an access and refresh token of a new login session.

    With `"session": "cookie"` the refresh token is set as the `__Host-adbot_refresh` cookie instead of returned.
    A user with two-factor on gets an `mfa_token` instead, for `POST /api/auth/token/2fa` (which takes
    `"session": "cookie"` too).
    """

    @extend_schema(
        summary="Log in with a username and password",
        request=serializers.TokenObtainSerializer,
        responses={
            200: PolymorphicProxySerializer(
                component_name="TokenObtainResult",
                serializers=[serializers.TokenObtainResponseSerializer, serializers.MfaChallengeSerializer],
                resource_type_field_name=None,
            ),
            401: error_response(
                "Wrong username or password (an unknown username gets the same answer).", InvalidCredentials
            ),
            429: error_response(
                "Past the `login` budget, or the account is locked; Retry-After says for how long.",
                THROTTLED,
                error_example(
                    429, AccountLocked.default_code, f"{AccountLocked.default_detail} Try again in 900 seconds."
                ),
            ),
        },
        examples=[
            OpenApiExample("Password login", value={"username": "admin", "password": "<password>"}, request_only=True),
            OpenApiExample(
                "Browser: refresh token as a cookie",
                value={"username": "admin", "password": "<password>", "session": "cookie"},
                request_only=True,
            ),
            OpenApiExample(
                "Tokens",
                value={"access": EXAMPLE_TOKEN, "refresh": EXAMPLE_TOKEN, "token_type": "Bearer", "expires_in": 3600},
                response_only=True,
                status_codes=["200"],
            ),
            OpenApiExample(
                "Two-factor on: an MFA challenge for POST /api/auth/token/2fa",
                value={"mfa_required": True, "mfa_token": "q3J0bVf6mVtq0Yb6kq3c0E2Q8Z7u1w", "expires_in": 300},
                response_only=True,
                status_codes=["200"],
            ),
        ],
    )
    @rate_limited(ratelimits.LOGIN)
    @no_store
    def post(self, request):
        serializer = serializers.TokenObtainSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        signed_in = signin.login_with_password(
            username=serializer.validated_data["username"],
            password=serializer.validated_data["password"],
            request=request,
            scope=requested_scope(serializer.validated_data),
        )
        if signed_in.mfa_challenge is not None:
            return Response(signed_in.mfa_challenge)
        return token_pair_response(signed_in.tokens, request=request)


def requested_scope(data):
    """Return the Scope a login body asks its tokens to be narrowed to (`"scope": "cms"`), or None."""
    return Scope(data["scope"]) if data.get("scope") else None


def token_pair_response(tokens, *, request):
    """Return the token endpoints' answer: the pair, or with cookie mode the access token and the refresh cookie."""
    response = Response(tokens.pair())
    if cookie_mode_requested(request):
        refresh_cookie_set(response, request=request, refresh=response.data.pop("refresh"))
    return response


class TokenRefreshView(PublicMixin, APIView):
    """Trades a refresh token for a new pair of the same login session; the old refresh token is spent.

    Presenting a spent refresh token again ends the whole login session.
    """

    @extend_schema(
        summary="Trade a refresh token for a new pair",
        request=serializers.TokenRefreshSerializer,
        responses={200: serializers.TokenPairSerializer, 401: REFUSED_CREDENTIALS},
        examples=[OpenApiExample("Refresh token", value={"refresh": EXAMPLE_TOKEN}, request_only=True)],
    )
    @no_store
    def post(self, request):
        serializer = serializers.TokenRefreshSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response(signin.refresh(raw=serializer.validated_data["refresh"], request=request).pair())


class TokenVerifyView(PublicMixin, APIView):
    """Answers 200 for a live backend token (access or refresh), 401 otherwise."""

    @extend_schema(
        summary="Check whether a token is live",
        request=serializers.TokenVerifySerializer,
        responses={200: None, 401: REFUSED_CREDENTIALS},
        examples=[OpenApiExample("Access or refresh token", value={"token": EXAMPLE_TOKEN}, request_only=True)],
    )
    def post(self, request):
        serializer = serializers.TokenVerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with refused_as_invalid():
            token = UntypedToken(serializer.validated_data["token"])
        kind = token.get(api_settings.TOKEN_TYPE_CLAIM)
        if kind == RefreshToken.token_type:
            live = refresh_token_live(token)
        elif kind == AccessToken.token_type:
            live = auth_state.read(token, token.get(api_settings.USER_ID_CLAIM)).refusal() is None
        else:
            # Signed with JWT_SECRET_KEY but not a token this server issues (RFC 8725, 3.11).
            raise InvalidToken("Token has wrong type")
        if not live:
            raise InvalidToken("Token has been revoked.")
        return Response({})


class LogoutView(APIView):
    """Ends the caller's login: the access token, its login session and, when sent, the refresh token."""

    allowed_scopes = (Scope.CMS,)
    allowed_before_mfa_enrollment = True

    @extend_schema(
        summary="Log out: end this login session",
        request=serializers.LogoutSerializer,
        responses={
            204: None,
            503: error_response("The database could not record the logout; nothing was logged out.", LogoutNotRecorded),
        },
        examples=[
            OpenApiExample("With the refresh token", value={"refresh": EXAMPLE_TOKEN}, request_only=True),
            OpenApiExample("Access token alone", value={}, request_only=True),
        ],
    )
    def post(self, request):
        serializer = serializers.LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            with refused_as_invalid():
                logout.token_logout(
                    access_token=request.auth,
                    refresh=serializer.validated_data.get("refresh"),
                    user=request.user,
                    request=request,
                )
        except DatabaseError as exc:
            raise LogoutNotRecorded(retry_after=5) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """Says who the token belongs to, its role, its scope, when it expires and whether two-factor is on."""

    allowed_scopes = (Scope.CMS,)
    allowed_before_mfa_enrollment = True

    @extend_schema(summary="Show who the token belongs to", responses={200: serializers.MeSerializer})
    def get(self, request):
        expires_at = datetime.fromtimestamp(int(request.auth["exp"]), tz=UTC)
        body = {
            "username": request.user.get_username(),
            "role": request.user.role,
            "auth_method": request.user.auth_method,
            "scope": request.user.scope,
            "expires_at": expires_at,
            "expires_in": max(0, int((expires_at - datetime.now(UTC)).total_seconds())),
            "mfa_enabled": request.user.mfa_enabled,
        }
        return Response(serializers.MeSerializer(body).data)


class CmsLoginView(RateLimitHeadersMixin, PublicMixin, APIView):
    """Trades the CMS admin password (bcrypt, ADMIN_PASSWORD_HASH) for an admin access token.

    With `"session": "cookie"` the login also gets a refresh token, set as the `__Host-adbot_refresh` cookie.
    With CMS_PASSWORD_LOGIN off it answers 404; under REQUIRE_ADMIN_2FA, 403 `cms_password_disabled`.
    """

    @extend_schema(
        summary="Log in to the CMS with the CMS password",
        request=serializers.CmsLoginSerializer,
        responses={
            200: serializers.CmsTokenSerializer,
            401: error_response("A wrong CMS password.", InvalidCredentials),
            403: OpenApiResponse(description="`cms_password_disabled`: REQUIRE_ADMIN_2FA is on."),
            404: OpenApiResponse(description="CMS_PASSWORD_LOGIN is off."),
            503: error_response(
                "ADMIN_PASSWORD_HASH is not set, or the database or cache is unavailable.",
                error_example(503, "not_configured", "CMS password login is not configured: set ADMIN_PASSWORD_HASH."),
            ),
        },
        examples=[
            OpenApiExample("CMS password", value={"password": "<CMS password>"}, request_only=True),
            OpenApiExample(
                "Browser: refresh token as a cookie",
                value={"password": "<CMS password>", "session": "cookie"},
                request_only=True,
            ),
        ],
    )
    @rate_limited(ratelimits.LOGIN)
    @no_store
    def post(self, request):
        signin.cms_login_available()
        serializer = serializers.CmsLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        cookie_mode = cookie_mode_requested(request)
        signed_in = signin.login_with_cms_password(
            password=serializer.validated_data["password"], request=request, with_refresh=cookie_mode
        )
        tokens = signed_in.tokens
        response = Response(
            {"access_token": str(tokens.access), "token_type": "bearer", "expires_in": access_lifetime_seconds()}
        )
        if cookie_mode:
            refresh_cookie_set(response, request=request, refresh=tokens.refresh)
        return response


def _probe(check):
    try:
        check()
    except Exception:
        return "unavailable"
    return "ok"


def _database_ok():
    statements.fetchone("SELECT 1", [])


class HealthView(PublicMixin, APIView):
    """Reports whether the database and the cache answer."""

    @extend_schema(
        summary="Report whether the database and the cache answer",
        responses={200: serializers.HealthSerializer, 503: serializers.HealthSerializer},
    )
    def get(self, request):
        parts = {"database": _probe(_database_ok), "cache": _probe(lambda: cache.get("health-probe"))}
        down = [name for name, state in parts.items() if state != "ok"]
        if not down:
            return Response({"status": "ok", **parts})
        body = {
            **error_body(f"Unavailable: {', '.join(down)}.", "service_unavailable"),
            "status": "degraded",
            **parts,
        }
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)


@extend_schema_view(get=extend_schema(summary="List audit events, newest first"))
class AuditEventList(generics.ListAPIView):
    """Lists audit events, newest first, a cursor page at a time; filterable by action, actor, outcome and time."""

    queryset = AuditEvent.objects.all()
    serializer_class = serializers.AuditEventSerializer
    filterset_class = AuditEventFilter
    pagination_class = AuditCursorPagination
