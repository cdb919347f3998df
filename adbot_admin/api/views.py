"""Authentication endpoints, health and the audit log."""

from datetime import datetime, timezone

from django.core.cache import cache
from django.db import connection
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, generics, status
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView
from rest_framework_simplejwt.exceptions import AuthenticationFailed, InvalidToken, TokenError
from rest_framework_simplejwt.settings import api_settings
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken
from rest_framework_simplejwt.views import TokenViewBase

from .. import revocation, services
from ..audit import record
from ..models import AuditEvent, AuthMethod, Outcome
from . import ratelimits, serializers
from .authentication import AccessToken, AdminJWTAuthentication, RefreshToken, UntypedToken
from .exceptions import NotConfigured, error_body
from .filters import AuditEventFilter
from .ratelimits import RateLimitHeadersMixin, rate_limited

ERRORS = {
    400: OpenApiResponse(description="Invalid input."),
    401: OpenApiResponse(description="Missing, invalid, expired or revoked token."),
    403: OpenApiResponse(description="The token's role is not admin."),
}


class PublicMixin:
    """Open to anyone; a refused credential still answers 401, not 403."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get_authenticate_header(self, request):
        # Without a challenge DRF turns AuthenticationFailed into a 403.
        return AdminJWTAuthentication().authenticate_header(request)


class TokenObtainView(RateLimitHeadersMixin, PublicMixin, TokenViewBase):
    """Trades a username and password for an access and refresh token."""

    serializer_class = serializers.TokenObtainSerializer

    @extend_schema(
        responses={200: serializers.TokenPairSerializer, 401: ERRORS[401], 429: None, 503: None}
    )
    @rate_limited(ratelimits.LOGIN)
    def post(self, request, *args, **kwargs):
        username = str(request.data.get("username", ""))[:150] if hasattr(request.data, "get") else ""
        try:
            response = super().post(request, *args, **kwargs)
        except exceptions.AuthenticationFailed:  # SimpleJWT's serializer raises DRF's own class
            record(request=request, action="login", outcome=Outcome.FAILURE, target=username,
                   auth_method=AuthMethod.PASSWORD)
            raise
        record(request=request, action="login", actor=username, target=username,
               auth_method=AuthMethod.PASSWORD)
        return response


class TokenRefreshView(PublicMixin, TokenViewBase):
    """Trades a refresh token for a new pair; the old refresh token stops working."""

    serializer_class = serializers.TokenRefreshSerializer

    @extend_schema(responses={200: serializers.TokenPairSerializer, 401: ERRORS[401]})
    def post(self, request, *args, **kwargs):
        return super().post(request, *args, **kwargs)


class TokenVerifyView(PublicMixin, APIView):
    """Answers 200 for a live backend token (access or refresh), 401 otherwise."""

    @extend_schema(request=serializers.TokenVerifySerializer, responses={200: None, 400: ERRORS[400], 401: ERRORS[401]})
    def post(self, request):
        serializer = serializers.TokenVerifySerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            token = UntypedToken(serializer.validated_data["token"])
        except TokenError as exc:
            raise InvalidToken(str(exc.args[0])) from exc
        kind = token.get(api_settings.TOKEN_TYPE_CLAIM)
        if kind not in (AccessToken.token_type, RefreshToken.token_type):
            # Signed with JWT_SECRET_KEY but not a token this server issues (RFC 8725, 3.11).
            raise InvalidToken("Token has wrong type")
        if kind == RefreshToken.token_type:
            if BlacklistedToken.objects.filter(token__jti=token.get(api_settings.JTI_CLAIM)).exists():
                raise InvalidToken("Token is blacklisted")
        elif revocation.is_revoked(token):
            raise InvalidToken("Token has been revoked.")
        return Response({})


class LogoutView(APIView):
    """Revokes the presented access token and, when sent, the refresh token."""

    @extend_schema(request=serializers.LogoutSerializer, responses={204: None, **ERRORS})
    def post(self, request):
        serializer = serializers.LogoutSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            services.token_logout(
                access_token=request.auth,
                refresh=serializer.validated_data.get("refresh"),
                user=request.user,
            )
        except TokenError as exc:
            raise InvalidToken(str(exc.args[0])) from exc
        record(request=request, action="logout")
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    """Says who the token belongs to, its role and when it expires."""

    @extend_schema(responses={200: serializers.MeSerializer, **ERRORS})
    def get(self, request):
        expires_at = datetime.fromtimestamp(int(request.auth["exp"]), tz=timezone.utc)
        body = {
            "username": request.user.get_username(),
            "role": request.user.role,
            "auth_method": request.user.auth_method,
            "expires_at": expires_at,
            "expires_in": max(0, int((expires_at - datetime.now(timezone.utc)).total_seconds())),
        }
        return Response(serializers.MeSerializer(body).data)


class CmsLoginView(RateLimitHeadersMixin, PublicMixin, APIView):
    """Trades the CMS admin password (bcrypt, ADMIN_PASSWORD_HASH) for an admin access token."""

    @extend_schema(
        request=serializers.CmsLoginSerializer,
        responses={200: serializers.CmsTokenSerializer, 400: ERRORS[400], 401: ERRORS[401], 429: None, 503: None},
    )
    @rate_limited(ratelimits.LOGIN)
    def post(self, request):
        if not services.cms_login_configured():
            raise NotConfigured("CMS password login is not configured: set ADMIN_PASSWORD_HASH.", "not_configured")
        serializer = serializers.CmsLoginSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        if not services.cms_password_matches(serializer.validated_data["password"]):
            record(request=request, action="cms_login", outcome=Outcome.FAILURE, auth_method=AuthMethod.CMS_PASSWORD)
            raise AuthenticationFailed("Incorrect password.", "invalid_credentials")
        user = services.cms_admin_user()
        if user.role != "admin":
            record(request=request, action="cms_login", outcome=Outcome.DENIED, actor=user.username,
                   auth_method=AuthMethod.CMS_PASSWORD)
            raise AuthenticationFailed("The CMS admin account is disabled.", "account_disabled")
        access = serializers.stamp_role(AccessToken.for_user(user), user)
        record(request=request, action="cms_login", actor=user.username, auth_method=AuthMethod.CMS_PASSWORD)
        return Response(
            {"access_token": str(access), "token_type": "bearer", "expires_in": serializers.token_lifetime_seconds()}
        )


def _probe(check):
    try:
        check()
    except Exception:
        return "unavailable"
    return "ok"


def _database_ok():
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache_ok():
    cache.get("health-probe")


class HealthView(PublicMixin, APIView):
    """Reports whether the database and the cache answer."""

    @extend_schema(responses={200: serializers.HealthSerializer, 503: serializers.HealthSerializer})
    def get(self, request):
        parts = {"database": _probe(_database_ok), "cache": _probe(_cache_ok)}
        down = [name for name, state in parts.items() if state != "ok"]
        if not down:
            return Response({"status": "ok", **parts})
        body = {
            **error_body(f"Unavailable: {', '.join(down)}.", "service_unavailable"),
            "status": "degraded",
            **parts,
        }
        return Response(body, status=status.HTTP_503_SERVICE_UNAVAILABLE)


class AuditEventList(generics.ListAPIView):
    """Lists audit events, newest first, filterable by action, actor, outcome and time."""

    queryset = AuditEvent.objects.all()
    serializer_class = serializers.AuditEventSerializer
    filterset_class = AuditEventFilter

    @extend_schema(responses={200: serializers.AuditEventSerializer(many=True), **ERRORS})
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)
