"""The refresh cookie of cookie mode: its name, its flags, and asking for it at login."""

from django.conf import settings
from django.middleware.csrf import rotate_token
from rest_framework_simplejwt.settings import api_settings

REFRESH_COOKIE = "adbot_refresh"
# Sent back only to the two cookie views (api/cookie_views.py), never to the rest of the API.
REFRESH_COOKIE_PATH = "/api/auth/cookie"
SESSION_COOKIE_MODE = "cookie"


def cookie_mode_requested(request):
    """Return True when the login body asks for `"session": "cookie"` (the serializers refuse other values)."""
    return hasattr(request.data, "get") and request.data.get("session") == SESSION_COOKIE_MODE


def _set(response, value, max_age):
    response.set_cookie(
        REFRESH_COOKIE,
        value,
        max_age=max_age,
        path=REFRESH_COOKIE_PATH,
        # Browsers keep Secure cookies on http://localhost and http://127.0.0.1 too.
        secure=not settings.DEBUG,
        httponly=True,
        samesite="Strict",
    )


def refresh_cookie_set(response, *, request, refresh):
    """Put `refresh` in the refresh cookie of `response` and give the page a new CSRF token cookie."""
    _set(response, str(refresh), int(api_settings.REFRESH_TOKEN_LIFETIME.total_seconds()))
    # A new CSRF secret with each cookie, as Django's own login() rotates it;
    # CsrfViewMiddleware writes the readable `csrftoken` cookie on the way out.
    rotate_token(request._request if hasattr(request, "_request") else request)


def refresh_cookie_clear(response):
    """Expire the refresh cookie on `response` (same name, path and flags, Max-Age=0)."""
    _set(response, "", 0)
