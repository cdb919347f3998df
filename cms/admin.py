from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError
from django.utils.html import format_html

from adbot_admin.file_storage import media_storage

from . import services
from .images import ImageRejected
from .models import GalleryImage


class GalleryImageAddForm(forms.ModelForm):
    """The add form: an image file plus its metadata; the file is checked while the form is cleaned."""

    image = forms.FileField(help_text="JPEG, PNG, WebP or GIF.")
    position = forms.IntegerField(min_value=0, required=False, help_text="Empty: after the last image.")

    class Meta:
        model = GalleryImage
        fields = ["image", "title", "alt_text", "position", "published"]

    def clean_image(self):
        upload = self.cleaned_data["image"]
        try:
            self.processed = services.gallery_image_check(upload=upload)
        except ImageRejected as exc:
            raise ValidationError(str(exc), code="invalid_image") from exc
        except services.DecodeBusy as exc:
            raise ValidationError(
                f"The server is busy with other images; nothing was stored. Try again in {exc.retry_after} s.",
                code="image_busy",
            ) from exc
        return upload


@admin.register(GalleryImage)
class GalleryImageAdmin(admin.ModelAdmin):
    """Gallery images; every add, change and delete goes through cms.services, as the API's do."""

    class Media:
        css = {"all": ["cms/admin.css"]}

    list_display = ["thumbnail", "title", "format", "dimensions", "size", "position", "published", "created_at"]
    list_display_links = ["thumbnail", "title"]
    list_editable = ["position", "published"]
    list_filter = ["published", "format"]
    search_fields = ["title", "alt_text"]
    readonly_fields = [
        "preview",
        "file_name",
        "thumbnail_name",
        "format",
        "dimensions",
        "size",
        "created_at",
        "updated_at",
    ]
    # The preview, what may be edited, then what the server stored.
    fields = ["preview", *services.EDITABLE_FIELDS, *readonly_fields[1:]]

    def get_form(self, request, obj=None, change=False, **kwargs):
        if obj is None:
            kwargs["form"] = GalleryImageAddForm
            kwargs["fields"] = GalleryImageAddForm.Meta.fields
        return super().get_form(request, obj, change=change, **kwargs)

    def get_fields(self, request, obj=None):
        return GalleryImageAddForm.Meta.fields if obj is None else self.fields

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else self.readonly_fields

    @admin.display(description="Thumbnail")
    def thumbnail(self, obj):
        return format_html(
            '<img class="gallery-thumbnail" src="{}" alt="{}">',
            media_storage().url(obj.thumbnail_name),
            obj.alt_text,
        )

    @admin.display(description="Image")
    def preview(self, obj):
        return format_html(
            '<a href="{}"><img class="gallery-preview" src="{}" alt="{}"></a>',
            media_storage().url(obj.file_name),
            media_storage().url(obj.thumbnail_name),
            obj.alt_text,
        )

    @admin.display(description="Size (px)")
    def dimensions(self, obj):
        stored = f"{obj.width}×{obj.height}"
        if (obj.original_width, obj.original_height) == (obj.width, obj.height):
            return stored
        return f"{stored} (uploaded {obj.original_width}×{obj.original_height})"

    def save_model(self, request, obj, form, change):
        if not change:
            image = services.gallery_image_create(
                upload=form.cleaned_data["image"],
                processed=getattr(form, "processed", None),
                title=obj.title,
                alt_text=obj.alt_text,
                position=form.cleaned_data.get("position"),
                published=obj.published,
                request=request,
            )
            # The admin goes on with `obj` (log entry, redirect): make it the stored row.
            for field in GalleryImage._meta.concrete_fields:
                setattr(obj, field.attname, getattr(image, field.attname))
            obj._state.adding = False
            obj._state.db = image._state.db
            return
        data = {name: getattr(obj, name) for name in form.changed_data if name in services.EDITABLE_FIELDS}
        services.gallery_image_update(image=obj, data=data, request=request)

    def delete_model(self, request, obj):
        services.gallery_image_delete(image=obj, request=request)

    def delete_queryset(self, request, queryset):
        services.gallery_images_delete(images=list(queryset), request=request)
