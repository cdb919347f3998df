"""Service-token authentication, and the permission that opens the engine's routes to it alone.

The order of checks is the contract: the token is found by its hash (401
when unknown); its `allowed_ips` come first (403 ip_not_allowed), then
revocation and expiry (401), then the route (403 insufficient_scope on every
view that does not name a service scope). So a stolen token is useless away
from its addresses, and a new admin, auth or CMS view is closed to service
tokens without anyone having to remember it.
"""

from django.utils import timezone
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import BasePermission

from .. import service_tokens
from ..client_ip import client_ip
from ..errors import InsufficientScope, ServiceTokenIpNotAllowed
from ..models import AuthMethod, Role, ServiceTokenScope

SCHEME = b"bearer"


class ServicePrincipal:
    """The engine process behind a service token: named by the token, not a user row."""

    is_authenticated = True
    is_anonymous = False
    is_active = True
    is_staff = False
    is_superuser = False
    pk = None
    id = None
    role = Role.USER
    auth_method = AuthMethod.SERVICE_TOKEN
    mfa_enabled = False

    def __init__(self, state: service_tokens.TokenState):
        self.token_id = state.id
        self.username = state.name
        self.scopes = frozenset(state.scopes)

    def get_username(self):
        return self.username

    def has_scope(self, scope):
        return scope in self.scopes

    def __str__(self):
        return self.username


class ServiceTokenAuthentication(BaseAuthentication):
    """Authenticates `Bearer adbot_svc_…` tokens against the database; passes any other token on."""

    www_authenticate_realm = "api"

    def authenticate(self, request):
        parts = get_authorization_header(request).split()
        if len(parts) != 2 or parts[0].lower() != SCHEME or not parts[1].startswith(service_tokens.PREFIX.encode()):
            return None
        state = service_tokens.read(parts[1].decode("ascii", "replace"))
        if state is None:
            raise AuthenticationFailed("Service token is not valid.", code="token_not_valid")
        if not state.address_allowed(client_ip(request)):
            raise ServiceTokenIpNotAllowed()
        now = timezone.now()
        if state.revoked:
            raise AuthenticationFailed("Service token has been revoked.", code="token_not_valid")
        if state.expired(now):
            raise AuthenticationFailed("Service token has expired.", code="token_not_valid")
        view = request.parser_context.get("view") if request.parser_context else None
        if getattr(view, "service_scope", None) is None:
            raise InsufficientScope("A service token opens /api/engine/* only.")
        service_tokens.touch(state, now)
        return ServicePrincipal(state), state

    def authenticate_header(self, request):
        return f'Bearer realm="{self.www_authenticate_realm}"'


class HasServiceScope(BasePermission):
    """Allows access only to a service token holding the view's `service_scope`; users' tokens are refused."""

    def has_permission(self, request, view):
        user = request.user
        if not getattr(user, "is_authenticated", False):
            return False  # DRF answers 401 not_authenticated
        if not isinstance(user, ServicePrincipal):
            raise InsufficientScope("This endpoint needs a service token of scope 'engine'.")
        if not user.has_scope(view.service_scope):
            raise InsufficientScope(f"This endpoint needs a service token of scope '{view.service_scope}'.")
        return True


def has_secrets_scope(request):
    """Return True when the request's service token carries `engine:secrets`."""
    user = request.user
    return isinstance(user, ServicePrincipal) and user.has_scope(ServiceTokenScope.ENGINE_SECRETS)
