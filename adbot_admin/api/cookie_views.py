"""Cookie mode for browsers: the refresh token lives in an httpOnly cookie that only these two views read.

A login with `"session": "cookie"` (api/views.py) answers with the access token
in the body and sets `__Host-adbot_refresh` (HttpOnly, Secure, SameSite=Strict;
api/refresh_cookie.py says why `__Host-`) and Django's readable `csrftoken` cookie. The page keeps
the access token in memory and trades the cookie for a new one on reload.

The cookie authenticates nothing else: every other view reads only the
Authorization header, so no other endpoint is exposed to CSRF. These two are
CSRF-checked by Django's own middleware logic (header equal to the cookie,
Origin this site or a trusted one).
"""

from django.conf import settings
from django.db import DatabaseError
from django.middleware.csrf import CsrfViewMiddleware
from django.utils.functional import cached_property
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from .. import logout, signin
from ..errors import CsrfFailed, LogoutNotRecorded, RefreshCookieMissing
from ..login_sessions import access_lifetime_seconds
from . import serializers
from .cache_control import no_store
from .refresh_cookie import REFRESH_COOKIE, refresh_cookie_clear, refresh_cookie_read, refresh_cookie_set
from .schema import error_response
from .views import PublicMixin

CSRF_REFUSED = error_response(
    "`csrf_failed`: a missing or wrong X-CSRFToken, or a foreign Origin.",
    CsrfFailed,
)


class RefreshCookieCsrfCheck(CsrfViewMiddleware):
    """Django's CSRF check with CORS_ALLOWED_ORIGINS trusted too; answers the failure reason instead of a page."""

    @cached_property
    def allowed_origins_exact(self):
        trusted = {origin for origin in settings.CSRF_TRUSTED_ORIGINS if "*" not in origin}
        return trusted | set(settings.CORS_ALLOWED_ORIGINS)

    def _reject(self, request, reason):
        return reason


def csrf_enforce(request):
    """Raise CsrfFailed unless `request` (a DRF Request) passes Django's CSRF check."""
    check = RefreshCookieCsrfCheck(lambda _request: None)
    django_request = request._request
    check.process_request(django_request)
    reason = check.process_view(django_request, None, (), {})
    if reason:
        raise CsrfFailed(f"CSRF verification failed: {reason}")


CSRF_HEADER = OpenApiParameter(
    "X-CSRFToken",
    str,
    OpenApiParameter.HEADER,
    required=True,
    description="The value of the `csrftoken` cookie set at login.",
)
REFRESH_COOKIE_PARAMETER = OpenApiParameter(
    REFRESH_COOKIE,
    str,
    OpenApiParameter.COOKIE,
    required=False,
    description='The refresh token, set httpOnly by a login with `"session": "cookie"`.',
)


class CookieRefreshView(PublicMixin, APIView):
    """Trades the refresh cookie for a new access token and a rotated cookie of the same login session.

    Needs `X-CSRFToken` equal to the `csrftoken` cookie and, when sent, an Origin
    of this site or of CORS_ALLOWED_ORIGINS (403 `csrf_failed`). A missing,
    expired, revoked or already rotated cookie answers 401 and clears the cookie;
    a rotated one presented again ends its login session (as /api/auth/token/refresh).
    """

    parser_classes = []  # takes no body: the cookie is the only input

    @extend_schema(
        summary="Get a new access token from the refresh cookie",
        request=None,
        parameters=[CSRF_HEADER, REFRESH_COOKIE_PARAMETER],
        responses={
            200: serializers.CookieAccessSerializer,
            401: OpenApiResponse(description="No refresh cookie, or an invalid, expired or revoked one (cleared)."),
            403: CSRF_REFUSED,
        },
    )
    @no_store
    def post(self, request):
        csrf_enforce(request)
        raw = refresh_cookie_read(request)
        if not raw:
            raise RefreshCookieMissing()
        issued = signin.refresh(raw=raw, request=request)
        response = Response({"access": str(issued.access), "expires_in": access_lifetime_seconds()})
        refresh_cookie_set(response, request=request, refresh=issued.refresh)
        return response

    def handle_exception(self, exc):
        response = super().handle_exception(exc)
        if response.status_code == status.HTTP_401_UNAUTHORIZED:
            refresh_cookie_clear(response)
        return response


class CookieLogoutView(PublicMixin, APIView):
    """Ends the login of the refresh cookie (its refresh token, its session, every access token of it) and clears it.

    CSRF-checked like the refresh; answers 204 whether or not a live cookie was
    sent, so "Log out" always leaves the browser logged out.
    """

    parser_classes = []

    @extend_schema(
        summary="Log out the refresh cookie's login and clear the cookie",
        request=None,
        parameters=[CSRF_HEADER, REFRESH_COOKIE_PARAMETER],
        responses={
            204: None,
            403: CSRF_REFUSED,
        },
    )
    def post(self, request):
        csrf_enforce(request)
        raw = refresh_cookie_read(request)
        if raw:
            try:
                logout.refresh_logout(raw=raw, request=request)
            except DatabaseError as exc:
                raise LogoutNotRecorded(retry_after=5) from exc
        response = Response(status=status.HTTP_204_NO_CONTENT)
        refresh_cookie_clear(response)
        return response
