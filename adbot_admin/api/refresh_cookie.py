"""The refresh cookie of cookie mode: its name, its flags, and asking for it at login.

The cookie is `__Host-adbot_refresh`: Secure, no Domain, `Path=/`. The prefix
makes the browser refuse any `adbot_refresh` cookie that this exact host did
not set over HTTPS, so neither a sibling subdomain (`Domain=example.com`) nor a
plain-HTTP attacker can plant one (login fixation into the attacker's
account) or shadow ours with a more specific path, which `__Secure-` with the
old `Path=/api/auth/cookie` would still allow. `__Host-` needs `Path=/`: the
cookie now travels with every request to this host, but a path never was an
isolation boundary between pages of one origin (RFC 6265, 8.5), and the reach
is kept narrow by the server instead: only the two cookie views read it
(api/cookie_views.py), CSRF-checked, and every other view reads the
Authorization header alone. HttpOnly and SameSite=Strict stay.

With DEBUG on (a plain-HTTP local run) the cookie cannot be Secure, so it
cannot carry the prefix either: it is then plain `adbot_refresh`.
"""

from django.conf import settings
from django.middleware.csrf import rotate_token
from rest_framework_simplejwt.settings import api_settings

REFRESH_COOKIE = "__Host-adbot_refresh"
# The name without Secure (DEBUG): browsers refuse a `__Host-` cookie that is not Secure.
PLAIN_REFRESH_COOKIE = "adbot_refresh"
# `__Host-` requires it.
REFRESH_COOKIE_PATH = "/"
SESSION_COOKIE_MODE = "cookie"


def refresh_cookie_name():
    """Return the refresh cookie's name as configured now: `__Host-adbot_refresh` unless DEBUG is on."""
    return PLAIN_REFRESH_COOKIE if settings.DEBUG else REFRESH_COOKIE


def refresh_cookie_read(request):
    """Return the refresh token the request's cookie holds, or None."""
    return request.COOKIES.get(refresh_cookie_name())


def cookie_mode_requested(request):
    """Return True when the login body asks for `"session": "cookie"` (the serializers refuse other values)."""
    return hasattr(request.data, "get") and request.data.get("session") == SESSION_COOKIE_MODE


def _set(response, value, max_age):
    response.set_cookie(
        refresh_cookie_name(),
        value,
        max_age=max_age,
        path=REFRESH_COOKIE_PATH,
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
