from django.conf import settings
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import BasePermission

from ..models import AuthMethod, Role


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
        if mfa_enrollment_missing(user) and not getattr(view, "allowed_before_mfa_enrollment", False):
            raise MfaEnrollmentRequired()
        return True
