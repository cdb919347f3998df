"""The admin site's middleware, skipped on the JSON API.

Sessions, `request.user`, the OTP check, messages, X-Frame-Options and the
Content-Security-Policy serve HTML pages: the admin site, /cms and the API
docs. The JSON API authenticates each request from its Authorization header
(DRF), keeps no session and is never rendered as a document, so on its paths
these layers only cost time. Each class here is Django's own (so the admin
site's system checks still find them) with a first step that hands API
requests straight on. Everything the API needs stays in MIDDLEWARE for every
path: the size limits, SecurityMiddleware's headers (HSTS, nosniff,
Referrer-Policy), CORS when origins are configured, the IP allowlist, the Host
check (CommonMiddleware) and CSRF (the cookie endpoints).
"""

from django.contrib.auth.middleware import AuthenticationMiddleware
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.clickjacking import XFrameOptionsMiddleware
from django_otp.middleware import OTPMiddleware

from .content_security_policy import ContentSecurityPolicyMiddleware

API_PREFIX = "/api/"
# HTML under /api/: Swagger UI (and its script); it keeps the page headers.
API_PAGES = ("/api/docs",)


def is_json_api(request):
    """Return True for a request to the JSON API, which needs no session, user, messages or page headers."""
    path = request.path_info
    return path.startswith(API_PREFIX) and not path.startswith(API_PAGES)


class SiteOnlyMixin:
    def __call__(self, request):
        if is_json_api(request):
            return self.get_response(request)
        return super().__call__(request)


class SiteSessionMiddleware(SiteOnlyMixin, SessionMiddleware):
    """Django's sessions, for the admin site and pages only."""


class SiteAuthenticationMiddleware(SiteOnlyMixin, AuthenticationMiddleware):
    """`request.user` from the session, for the admin site and pages only (DRF authenticates the API)."""


class SiteOTPMiddleware(SiteOnlyMixin, OTPMiddleware):
    """The admin site's TOTP verification state, for the admin site and pages only."""


class SiteMessageMiddleware(SiteOnlyMixin, MessageMiddleware):
    """The admin site's messages, for the admin site and pages only."""


class SiteXFrameOptionsMiddleware(SiteOnlyMixin, XFrameOptionsMiddleware):
    """X-Frame-Options on pages; a JSON answer is never framed as a document."""


class SiteContentSecurityPolicyMiddleware(SiteOnlyMixin, ContentSecurityPolicyMiddleware):
    """The pages' Content-Security-Policy; JSON answers carry none (it governs documents)."""
