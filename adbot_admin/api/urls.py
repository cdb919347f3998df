from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from . import audit_views, cookie_views, metrics_views, mfa_views, passkey_views, session_views, views
from .routing import route

urlpatterns = [
    route("api/auth/token", views.TokenObtainView.as_view(), "token-obtain"),
    route("api/auth/token/refresh", views.TokenRefreshView.as_view(), "token-refresh"),
    route("api/auth/token/verify", views.TokenVerifyView.as_view(), "token-verify"),
    route("api/auth/token/2fa", mfa_views.TokenMfaView.as_view(), "token-2fa"),
    route("api/auth/2fa/setup", mfa_views.MfaSetupView.as_view(), "2fa-setup"),
    route("api/auth/2fa/confirm", mfa_views.MfaConfirmView.as_view(), "2fa-confirm"),
    route("api/auth/2fa/disable", mfa_views.MfaDisableView.as_view(), "2fa-disable"),
    route("api/auth/passkeys", passkey_views.PasskeyListView.as_view(), "passkey-list"),
    route(
        "api/auth/passkeys/register/begin", passkey_views.PasskeyRegisterBeginView.as_view(), "passkey-register-begin"
    ),
    route(
        "api/auth/passkeys/register/complete",
        passkey_views.PasskeyRegisterCompleteView.as_view(),
        "passkey-register-complete",
    ),
    route("api/auth/passkeys/(?P<passkey_id>[0-9]{1,18})", passkey_views.PasskeyDetailView.as_view(), "passkey-detail"),
    route("api/auth/passkey/begin", passkey_views.PasskeyLoginBeginView.as_view(), "passkey-login-begin"),
    route("api/auth/passkey/complete", passkey_views.PasskeyLoginCompleteView.as_view(), "passkey-login-complete"),
    route("api/auth/reauthenticate", passkey_views.ReauthenticateView.as_view(), "reauthenticate"),
    route("api/auth/logout", views.LogoutView.as_view(), "logout"),
    route("api/auth/me", views.MeView.as_view(), "me"),
    route("api/auth/sessions", session_views.LoginSessionList.as_view(), "login-session-list"),
    route(
        "api/auth/sessions/(?P<session_id>[0-9a-fA-F-]{32,36})",
        session_views.LoginSessionDetail.as_view(),
        "login-session-detail",
    ),
    route("api/auth/logout-all", session_views.LogoutAllView.as_view(), "logout-all"),
    route(
        "api/admin/users/(?P<username>[\\w.@+-]{1,150})/logout-all",
        session_views.UserLogoutAllView.as_view(),
        "user-logout-all",
    ),
    route("api/auth/cookie/refresh", cookie_views.CookieRefreshView.as_view(), "cookie-refresh"),
    route("api/auth/cookie/logout", cookie_views.CookieLogoutView.as_view(), "cookie-logout"),
    route("api/cms/login", views.CmsLoginView.as_view(), "cms-login"),
    route("api/health", views.HealthView.as_view(), "health"),
    route("api/admin/audit", views.AuditEventList.as_view(), "audit-list"),
    route("api/admin/audit/export", audit_views.AuditEventExport.as_view(), "audit-export"),
    route("api/schema", SpectacularAPIView.as_view(), "schema"),
    route("metrics", metrics_views.metrics_view, "metrics"),
    # Swagger UI from the app's own static files, its init script a file of its own (`?script`):
    # the page needs no third-party origin and no inline code.
    route(
        "api/docs",
        SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="adbot_admin/swagger_ui.html"),
        "docs",
    ),
]
