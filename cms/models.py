from django.db import models


class ImageFormat(models.TextChoices):
    JPEG = "jpeg", "JPEG"
    PNG = "png", "PNG"
    WEBP = "webp", "WebP"
    GIF = "gif", "GIF"

    @property
    def content_type(self):
        return f"image/{self.value}"


class GalleryImage(models.Model):
    """One picture of the public gallery: a re-encoded image and its thumbnail under MEDIA_ROOT.

    The file names are generated (`gallery/<uuid4 hex>.<ext>`), never the uploaded
    name; the files are written once and never changed, so they can be cached for good.
    """

    file_name = models.CharField(max_length=255, unique=True, editable=False)
    thumbnail_name = models.CharField(max_length=255, unique=True, editable=False)
    width = models.PositiveIntegerField(editable=False, help_text="Stored width in pixels, at most IMAGE_MAX_SIDE.")
    height = models.PositiveIntegerField(editable=False, help_text="Stored height in pixels, at most IMAGE_MAX_SIDE.")
    original_width = models.PositiveIntegerField(editable=False, help_text="Width of the upload, upright.")
    original_height = models.PositiveIntegerField(editable=False, help_text="Height of the upload, upright.")
    format = models.CharField(max_length=8, choices=ImageFormat.choices, editable=False)
    size = models.PositiveBigIntegerField(editable=False, help_text="Bytes of the stored image.")
    title = models.CharField(max_length=200, blank=True)
    alt_text = models.CharField(max_length=500, blank=True)
    position = models.PositiveIntegerField(default=0)
    published = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["position", "id"]
        indexes = [
            models.Index(fields=["published", "position", "id"], name="cms_gallery_published_pos"),
            # The admin list's order, so a page is read off the index at any table size.
            models.Index(fields=["position", "id"], name="cms_gallery_list_order"),
        ]

    def __str__(self):
        return self.title or self.file_name

    @property
    def content_type(self):
        return ImageFormat(self.format).content_type


class GalleryRevision(models.Model):
    """The gallery's change counter: one row, bumped by every gallery write in its transaction.

    The public listing answers conditional requests from this row alone, so a
    revalidation costs one primary-key read and never builds the list.
    """

    number = models.PositiveBigIntegerField(default=0)
    changed_at = models.DateTimeField(null=True)

    class Meta:
        ordering = ["id"]

    def __str__(self):
        return f"gallery revision {self.number}"
