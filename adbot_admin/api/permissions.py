from django.conf import settings
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from ..models import AuthMethod, Role, Scope
from ..step_up import recently_authenticated
from ..tokens import AUTH_TIME_CLAIM


class MfaEnrollmentRequired(PermissionDenied):
    default_detail = (
        "This server requires two-factor authentication for admins: turn it on with "
        "POST /api/auth/2fa/setup and POST /api/auth/2fa/confirm first."
    )
    default_code = "mfa_enrollment_required"


def mfa_enrollment_missing(user):
    """Return True when REQUIRE_ADMIN_2FA is on and `user`, logged in here, has no confirmed TOTP device.

    Frontend tokens are left to the frontend, whose login this server does not run.
    """
    return (
        settings.REQUIRE_ADMIN_2FA
        and getattr(user, "auth_method", None) == AuthMethod.BACKEND_TOKEN
        and not getattr(user, "mfa_enabled", False)
    )


class IsAdminRole(BasePermission):
    """Allows access only to bearer tokens whose `role` is `admin`, held by a user who still is one.

    A token of a narrower scope (a CMS login) is refused everywhere except on
    views that name its scope in `allowed_scopes`: a new view that says nothing
    is closed to it.

    With REQUIRE_ADMIN_2FA on, an admin without two-factor is refused (403
    mfa_enrollment_required) except by views marked `allowed_before_mfa_enrollment`.
    """

    message = "This endpoint needs the admin role."

    def has_permission(self, request, view):
        token = request.auth
        user = request.user
        if token is None or not getattr(user, "is_authenticated", False):
            return False
        claimed = token.get("role")
        if not (isinstance(claimed, str) and claimed == Role.ADMIN and getattr(user, "role", None) == Role.ADMIN):
            return False
        scope = getattr(user, "scope", Scope.ALL)
        if scope != Scope.ALL and scope not in getattr(view, "allowed_scopes", ()):
            # DRF reads both from the permission that refused.
            self.message = f"A token of scope '{scope}' may not use this endpoint."
            self.code = "insufficient_scope"
            return False
        if mfa_enrollment_missing(user) and not getattr(view, "allowed_before_mfa_enrollment", False):
            raise MfaEnrollmentRequired()
        return True


class ReauthenticationRequired(PermissionDenied):
    default_detail = (
        "This action needs a recent proof of identity: sign in again or POST /api/auth/reauthenticate, "
        "then retry with the new access token."
    )
    default_code = "reauthentication_required"


class RecentAuthentication(BasePermission):
    """Allows a sensitive action only to a token whose `auth_time` is within REAUTH_MAX_AGE seconds.

    Step-up reads a time, not a flag: the token's `auth_time` is the last login or
    re-authentication, and a refresh never moves it. Only this server's own tokens can
    carry a proof it saw; a frontend token, or a token without `auth_time`, is refused.
    """

    def has_permission(self, request, view):
        if request.method == "OPTIONS" or getattr(view, request.method.lower(), None) is None:
            return True  # describes the route, or answers 405: acts on nothing
        token = request.auth
        backend = getattr(request.user, "auth_method", None) == AuthMethod.BACKEND_TOKEN
        auth_time = token.get(AUTH_TIME_CLAIM) if backend and token is not None else None
        if not recently_authenticated(auth_time):
            raise ReauthenticationRequired()
        return True
