from django.contrib import admin
from django.contrib.admin.models import LogEntry
from django.contrib.auth.admin import UserAdmin
from django.db.models.signals import post_save
from django.dispatch import receiver

from .models import AuditEvent, AuthMethod, User


@admin.register(User)
class AdbotUserAdmin(UserAdmin):
    pass


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    """Read-only: audit events are never changed or removed, not even here."""

    list_display = ["created_at", "actor", "auth_method", "client_ip", "action", "target", "outcome"]
    list_filter = ["action", "outcome", "auth_method"]
    search_fields = ["actor", "target", "action"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False




@receiver(post_save, sender=LogEntry, dispatch_uid="audit-admin-site-writes")
def audit_admin_site_write(sender, instance, created, **kwargs):
    """Every write made through the admin site is audited, whatever the model."""
    from .audit import record

    if not created:
        return
    verb = {1: "created", 2: "changed", 3: "deleted"}.get(instance.action_flag, "changed")
    record(
        action=f"admin_site.{instance.content_type.model}.{verb}",
        actor=instance.user.get_username(),
        auth_method=AuthMethod.ADMIN_SITE,
        target=instance.object_repr,
    )
