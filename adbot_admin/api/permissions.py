from rest_framework.permissions import BasePermission

from ..models import Role


class IsAdminRole(BasePermission):
    """Allows access only to bearer tokens whose `role` is `admin`, held by a user who still is one."""

    message = "This endpoint needs the admin role."

    def has_permission(self, request, view):
        token = request.auth
        user = request.user
        if token is None or not getattr(user, "is_authenticated", False):
            return False
        claimed = token.get("role")
        return (
            isinstance(claimed, str)
            and claimed == Role.ADMIN
            and getattr(user, "role", None) == Role.ADMIN
        )
