from django.conf import settings
from rest_framework import serializers

from adbot_admin.api.fields import StrictBooleanField, StrictCharField, StrictIntegerField
from adbot_admin.file_storage import media_storage

from ..models import GalleryImage


def public_origin(request):
    """Return what absolute URLs begin with: PUBLIC_BASE_URL when set, else the request's scheme and host."""
    return settings.PUBLIC_BASE_URL or f"{request.scheme}://{request.get_host()}"


def absolute_url(origin, url):
    """Return `url` with `origin` in front when it is a path (object storage gives absolute URLs already)."""
    return f"{origin}{url}" if url.startswith("/") else url


def absolute_media_url(request, name):
    """Return the public URL of the media file `name`, absolute when a request is known."""
    url = media_storage().url(name)
    return absolute_url(public_origin(request), url) if request is not None else url


class ImageUrlsMixin(serializers.Serializer):
    """The image's and its thumbnail's public URLs, absolute when the request is known."""

    url = serializers.SerializerMethodField()
    thumbnail_url = serializers.SerializerMethodField()

    def get_url(self, image) -> str:
        return absolute_media_url(self.context.get("request"), image.file_name)

    def get_thumbnail_url(self, image) -> str:
        return absolute_media_url(self.context.get("request"), image.thumbnail_name)


class GalleryImageSerializer(ImageUrlsMixin, serializers.ModelSerializer):
    """An image as the admin API shows it; only title, alt_text, position and published are writable."""

    class Meta:
        model = GalleryImage
        fields = [
            "id",
            "url",
            "thumbnail_url",
            "width",
            "height",
            "original_width",
            "original_height",
            "format",
            "size",
            "title",
            "alt_text",
            "position",
            "published",
            "created_at",
        ]
        # No read_only_fields: the model's non-editable fields are read-only here already.


class GalleryImageUploadSerializer(GalleryImageSerializer):
    """A multipart upload: the image file plus optional metadata; answers with the stored image."""

    # A plain FileField: the content is judged by cms.images alone, never by
    # ImageField's own Pillow check (which would open any format Pillow knows).
    image = serializers.FileField(write_only=True, help_text="JPEG, PNG, WebP or GIF, recognised from its content.")
    position = serializers.IntegerField(
        min_value=0, max_value=2_147_483_647, required=False, help_text="Default: after the last image."
    )
    published = serializers.BooleanField(default=True)

    class Meta(GalleryImageSerializer.Meta):
        fields = [*GalleryImageSerializer.Meta.fields, "image"]


class GalleryImageUpdateSerializer(GalleryImageSerializer):
    """PATCH (JSON): title, alt_text, position, published, each of its own JSON type; any other key is ignored."""

    title = StrictCharField(max_length=200, required=False, allow_blank=True)
    alt_text = StrictCharField(max_length=500, required=False, allow_blank=True)
    position = StrictIntegerField(min_value=0, max_value=2_147_483_647, required=False)
    published = StrictBooleanField(required=False)


class GalleryReorderSerializer(serializers.Serializer):
    ids = serializers.ListField(
        child=serializers.IntegerField(min_value=1),
        allow_empty=False,
        max_length=10_000,
        help_text="Image ids in their new order; images not listed keep their order after these.",
    )


class GalleryOrderSerializer(serializers.Serializer):
    ids = serializers.ListField(child=serializers.IntegerField(), help_text="Every image id, in gallery order.")


class PublicGalleryImageSerializer(ImageUrlsMixin, serializers.ModelSerializer):
    """A published image as the public site shows it."""

    class Meta:
        model = GalleryImage
        fields = [
            "id",
            "url",
            "thumbnail_url",
            "width",
            "height",
            "original_width",
            "original_height",
            "title",
            "alt_text",
            "position",
        ]
        read_only_fields = fields
