from contextlib import suppress

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.actions import delete_selected
from django.core.exceptions import PermissionDenied
from django.template.defaultfilters import filesizeformat
from django.utils import formats

from adbot_admin.admin import NoAddOrChangeAdmin, ReadOnlyAdmin
from adbot_admin.step_up import admin_site_recently_authenticated

from . import leases, services
from .models import ApiPair, Lease, SessionFile


@admin.register(SessionFile)
class SessionFileAdmin(NoAddOrChangeAdmin):
    """Session files' metadata, read-only; deletes go through the service. Upload through the API.

    The admin offers no upload: Django's form parsing strips directories from a
    file name before anything sees it, and the API refuses such a name instead.
    """

    # Seven columns that fit 1,280 px (the layout names the library; "bot" follows the user id).
    list_display = ["filename", "layout", "dc", "account", "api_id", "file_size", "uploaded"]
    list_filter = ["status", "library", "dc_id", "is_bot"]
    search_fields = ["filename", "phone", "username"]
    date_hierarchy = "uploaded_at"
    # Never the encrypted columns: the secrets are shown only by the API's audited, step-up view.
    fields = [
        "filename",
        "library",
        "layout",
        "dc_id",
        "user_id",
        "is_bot",
        "api_id",
        "phone",
        "username",
        "first_name",
        "last_name",
        "device",
        "proxy",
        "status",
        "status_reason",
        "status_until",
        "status_changed_at",
        "size",
        "uploaded_at",
        "uploaded_by",
        "sha256",
    ]
    readonly_fields = fields

    class Media:
        css = {"all": ["sessions_admin/session_files.css"]}

    @admin.display(description="DC", ordering="dc_id")
    def dc(self, obj):
        return obj.dc_id

    @admin.display(description="User ID", ordering="user_id")
    def account(self, obj):
        if obj.user_id is None:
            return "-"
        return f"{obj.user_id} (bot)" if obj.is_bot else obj.user_id

    @admin.display(description="Size", ordering="size")
    def file_size(self, obj):
        return filesizeformat(obj.size)

    @admin.display(description="Uploaded", ordering="uploaded_at")
    def uploaded(self, obj):
        return f"{formats.date_format(obj.uploaded_at, 'SHORT_DATETIME_FORMAT')} by {obj.uploaded_by}"

    def delete_model(self, request, obj):
        # The confirmation page is the "force": a live lease is broken (audited) with the session.
        with suppress(SessionFile.DoesNotExist):
            leases.leased_session_file_delete(session_file=obj, force=True, request=request)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            _, name, description = actions["delete_selected"]
            actions[name] = (delete_selected_after_a_recent_login, name, description)
        return actions

    def delete_queryset(self, request, queryset):
        # Deleting many at once is a sensitive action (step-up), however it is reached.
        if len(queryset) > 1 and not admin_site_recently_authenticated(request):
            raise PermissionDenied(RECENT_LOGIN_NEEDED)
        # The bulk action skips delete_model: each file still goes through the service.
        for session_file in queryset:
            self.delete_model(request, session_file)

    def get_deleted_objects(self, objs, request):
        deleted, model_count, perms_needed, protected = super().get_deleted_objects(objs, request)
        # Leases go with their session (a live one is broken, audited); nobody deletes them on their own.
        perms_needed.discard(Lease._meta.verbose_name)
        return deleted, model_count, perms_needed, protected


RECENT_LOGIN_NEEDED = (
    "Deleting more than one session file at once needs a recent login: log out, log in again, then retry "
    "within a few minutes."
)


def delete_selected_after_a_recent_login(modeladmin, request, queryset):
    """Django's "delete selected" action, refused with a message for more than one file after an old login."""
    if queryset.count() > 1 and not admin_site_recently_authenticated(request):
        modeladmin.message_user(request, RECENT_LOGIN_NEEDED, messages.ERROR)
        return None
    return delete_selected(modeladmin, request, queryset)


class ApiPairAddForm(forms.ModelForm):
    """Adds a pair; the hash field never renders a stored value back."""

    api_hash = forms.CharField(
        min_length=32,
        max_length=32,
        strip=True,
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="32 hexadecimal characters; stored in lower case and shown masked from then on.",
    )

    class Meta:
        model = ApiPair
        fields = ["api_id", "api_hash", "label", "is_active"]

    def clean_api_hash(self):
        return self.cleaned_data["api_hash"].lower()


@admin.register(ApiPair)
class ApiPairAdmin(admin.ModelAdmin):
    """API pairs with the hash masked everywhere (list and change form); writes go through the services."""

    list_display = ["api_id", "label", "masked_hash", "is_active", "sessions_count", "created_at"]
    list_filter = ["is_active"]
    search_fields = ["label", "=api_id"]
    actions = ["activate", "deactivate"]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = ApiPairAddForm
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["api_id", "api_hash", "label", "is_active"]
        return ["api_id", "masked_hash", "label", "is_active", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["api_id", "masked_hash", "created_at", "updated_at"]

    def get_queryset(self, request):
        return super().get_queryset(request).with_sessions_count()

    @admin.display(description="API hash")
    def masked_hash(self, obj):
        return obj.masked_hash

    @admin.display(description="Sessions")
    def sessions_count(self, obj):
        return obj.count_sessions()

    def save_model(self, request, obj, form, change):
        if change:
            data = {
                name: form.cleaned_data[name] for name in form.changed_data if name in services.API_PAIR_EDITABLE_FIELDS
            }
            services.api_pair_update(api_pair=obj, data=data, request=request)
        else:
            created = services.api_pair_create(
                api_id=obj.api_id, api_hash=obj.api_hash, label=obj.label, is_active=obj.is_active, request=request
            )
            obj.pk = created.pk
            obj.created_at, obj.updated_at = created.created_at, created.updated_at

    def delete_model(self, request, obj):
        # The admin site's confirmation page is the "force": the audit records how many sessions used it.
        services.api_pair_delete(api_pair=obj, force=True, request=request)

    def delete_queryset(self, request, queryset):
        for api_pair in queryset:
            services.api_pair_delete(api_pair=api_pair, force=True, request=request)

    @admin.action(description="Activate the selected API pairs")
    def activate(self, request, queryset):
        changed = services.api_pairs_set_active(api_pairs=queryset, is_active=True, request=request)
        self.message_user(request, f"{changed} API pair(s) activated.", messages.SUCCESS)

    @admin.action(description="Deactivate the selected API pairs")
    def deactivate(self, request, queryset):
        changed = services.api_pairs_set_active(api_pairs=queryset, is_active=False, request=request)
        self.message_user(request, f"{changed} API pair(s) deactivated.", messages.SUCCESS)


@admin.register(Lease)
class LeaseAdmin(ReadOnlyAdmin):
    """Engines' leases, read-only: who holds which account, since when, until when, with which fence.

    Breaking a lease is audited: DELETE /api/admin/leases/{id}.
    """

    list_display = ["id", "session", "holder", "fence", "granted_at", "expires_at", "ended_at", "end_reason"]
    list_filter = ["end_reason", "holder"]
    search_fields = ["session__filename", "holder"]
    list_select_related = ["session"]
    fields = list_display
    readonly_fields = fields
