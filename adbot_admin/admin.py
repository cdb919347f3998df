from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from . import audit_chain
from .audit import record
from .models import AuditEvent, AuthMethod, LoginSession, User


class AuditedModelAdmin(admin.ModelAdmin):
    """Audits each write of a model that has no service of its own, once, with the client's address.

    Models whose writes go through a service (session files, API pairs,
    gallery images) are audited by that service instead.
    """

    def _audit(self, request, obj, verb):
        record(
            request=request,
            action=f"admin_site.{self.opts.model_name}.{verb}",
            target=str(obj),
            auth_method=AuthMethod.ADMIN_SITE,
        )

    def log_addition(self, request, obj, message):
        self._audit(request, obj, "created")
        return super().log_addition(request, obj, message)

    def log_change(self, request, obj, message):
        self._audit(request, obj, "changed")
        return super().log_change(request, obj, message)

    def log_deletions(self, request, queryset):
        for obj in queryset:
            self._audit(request, obj, "deleted")
        return super().log_deletions(request, queryset)


@admin.register(User)
class AdbotUserAdmin(AuditedModelAdmin, UserAdmin):
    pass


admin.site.unregister(Group)

# django-otp registers its own; ours audits each write (deleting a device turns two-factor off).
admin.site.unregister(TOTPDevice)


# SimpleJWT's bookkeeping of refresh tokens, not something to manage by hand: deleting a blacklist row
# would revive a spent or logged-out refresh token. Login sessions (below) are what admins end.
admin.site.unregister(OutstandingToken)
admin.site.unregister(BlacklistedToken)


@admin.register(TOTPDevice)
class AuditedTOTPDeviceAdmin(AuditedModelAdmin, TOTPDeviceAdmin):
    """django-otp's TOTP device admin, keys hidden (OTP_ADMIN_HIDE_SENSITIVE_DATA), every write audited."""


@admin.register(Group)
class AdbotGroupAdmin(AuditedModelAdmin, GroupAdmin):
    pass


class NoAddOrChangeAdmin(admin.ModelAdmin):
    """Rows that services write (from the API, commands): shown here, never added or changed."""

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class ReadOnlyAdmin(NoAddOrChangeAdmin):
    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin):
    """Read-only: audit events are never changed or removed, not even here."""

    list_display = ["seq", "created_at", "actor", "auth_method", "client_ip", "action", "target", "outcome"]
    list_filter = ["action", "outcome", "auth_method"]
    search_fields = ["actor", "target", "action"]
    date_hierarchy = "created_at"

    # Both pages show seq: what is pending is sealed first.
    def changelist_view(self, request, extra_context=None):
        audit_chain.seal_pending()
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        audit_chain.seal_pending()
        return super().change_view(request, object_id, form_url, extra_context)


@admin.register(LoginSession)
class LoginSessionAdmin(ReadOnlyAdmin):
    """Read-only list of logins; sessions are ended through the API or `manage.py`."""

    list_display = ["user", "auth_method", "created_at", "last_used_at", "ip", "ended_at", "end_reason"]
    list_filter = ["auth_method", "end_reason"]
    search_fields = ["user__username", "ip"]
