from rest_framework.permissions import BasePermission

from ..models import Role, Scope


class IsAdminRole(BasePermission):
    """Allows access only to bearer tokens whose `role` is `admin`, held by a user who still is one.

    A token of a narrower scope (a CMS login) is refused everywhere except on
    views that name its scope in `allowed_scopes`: a new view that says nothing
    is closed to it.
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
        return True
