"""The gallery API: admin CRUD and reorder, and the public listing."""

import hashlib
import logging
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.utils.http import http_date, quote_etag
from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from adbot_admin.api import ratelimits
from adbot_admin.api.exceptions import PayloadTooLarge
from adbot_admin.api.fast import CachedListMixin
from adbot_admin.api.ratelimits import RateLimitHeadersMixin, rate_limited
from adbot_admin.api.views import ERRORS, PublicMixin

from .. import services
from .exceptions import ImageBusy
from ..images import ImageRejected, _describe_bytes
from ..models import GalleryImage
from . import serializers

# Room for the multipart boundaries and the metadata fields around the file.
MULTIPART_OVERHEAD = 64 * 1024
# The public site shows the whole gallery on one page; this bounds the work of one request.
PUBLIC_GALLERY_LIMIT = 500
PUBLIC_BODY_TTL = 3600
# The public listing is public, read-only and revalidated on every use, so each
# process keeps its last answer for up to this many seconds and skips the shared
# cache's round trip meanwhile (on Redis, close to a small request's whole cost:
# bench/roundtrip.py). A change made through this process drops the copy at
# once; one made through another process shows here within this time.
PUBLIC_LOCAL_TTL = 1.0

logger = logging.getLogger(__name__)

NOT_FOUND = OpenApiResponse(description="No image with this id.")
TOO_LARGE = OpenApiResponse(description="The image is larger than IMAGE_MAX_BYTES.")
THROTTLED = OpenApiResponse(description="Past the rate limit; Retry-After says how many seconds to wait.")
LIMITER_DOWN = OpenApiResponse(description="The rate limiter's cache (or file storage) is down; nothing was kept.")
UPLOAD_UNAVAILABLE = OpenApiResponse(
    description="Every image decode slot stayed busy for IMAGE_DECODE_WAIT seconds (code image_busy, with "
    "Retry-After), or the rate limiter's cache or file storage is down; nothing was kept."
)
DISK_FULL = OpenApiResponse(description="File storage is full; nothing was kept.")
BAD_PAGE = OpenApiResponse(description="No such page.")


def refuse_oversized_body(request):
    """Raise PayloadTooLarge when the declared body cannot hold an image within IMAGE_MAX_BYTES.

    Runs before the body is parsed, so a huge upload is refused without being
    streamed to a temporary file first.
    """
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.IMAGE_MAX_BYTES + MULTIPART_OVERHEAD:
        raise PayloadTooLarge(f"image is larger than {_describe_bytes(settings.IMAGE_MAX_BYTES)}")


@extend_schema_view(
    list=extend_schema(
        summary="List gallery images (admin)",
        responses={200: serializers.GalleryImageSerializer(many=True), 401: ERRORS[401], 403: ERRORS[403], 404: BAD_PAGE},
    ),
    retrieve=extend_schema(summary="Show one gallery image", responses={200: serializers.GalleryImageSerializer, 401: ERRORS[401], 403: ERRORS[403], 404: NOT_FOUND}),
    partial_update=extend_schema(
        summary="Edit title, alt text, position or published",
        request=serializers.GalleryImageUpdateSerializer,
        responses={200: serializers.GalleryImageSerializer, 400: ERRORS[400], 401: ERRORS[401], 403: ERRORS[403], 404: NOT_FOUND},
    ),
)
class GalleryImageViewSet(
    RateLimitHeadersMixin,
    CachedListMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Gallery images for admins: list (by position, then id), upload, edit, reorder and delete."""

    queryset = GalleryImage.objects.all()
    serializer_class = serializers.GalleryImageSerializer
    lookup_value_regex = r"\d+"
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_serializer_class(self):
        if self.action == "create":
            return serializers.GalleryImageUploadSerializer
        if self.action == "partial_update":
            return serializers.GalleryImageUpdateSerializer
        return super().get_serializer_class()

    @extend_schema(
        summary="Upload an image",
        request={"multipart/form-data": serializers.GalleryImageUploadSerializer},
        responses={
            201: serializers.GalleryImageSerializer, 400: ERRORS[400], 401: ERRORS[401], 403: ERRORS[403],
            413: TOO_LARGE, 429: THROTTLED, 503: UPLOAD_UNAVAILABLE, 507: DISK_FULL,
        },
    )
    @rate_limited(ratelimits.UPLOAD)
    def create(self, request, *args, **kwargs):
        refuse_oversized_body(request)
        return super().create(request, *args, **kwargs)

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        upload = data.pop("image")
        try:
            serializer.instance = services.gallery_image_create(upload=upload, request=self.request, **data)
        except services.ImageTooLarge as exc:
            raise PayloadTooLarge(str(exc)) from exc
        except services.DecodeBusy as exc:
            raise ImageBusy(retry_after=exc.retry_after) from exc
        except ImageRejected as exc:
            raise ValidationError({"image": [str(exc)]}, code="invalid_image") from exc

    def perform_update(self, serializer):
        data = {name: value for name, value in serializer.validated_data.items() if name in services.EDITABLE_FIELDS}
        services.gallery_image_update(image=serializer.instance, data=data, request=self.request)

    @extend_schema(
        summary="Delete an image and its files",
        responses={204: None, 401: ERRORS[401], 403: ERRORS[403], 404: NOT_FOUND, 429: THROTTLED, 503: LIMITER_DOWN},
    )
    @rate_limited(ratelimits.DELETE)
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.gallery_image_delete(image=instance, request=self.request)

    @extend_schema(
        summary="Reorder the gallery",
        request=serializers.GalleryReorderSerializer,
        responses={200: serializers.GalleryOrderSerializer, 400: ERRORS[400], 401: ERRORS[401], 403: ERRORS[403]},
    )
    @action(detail=False, methods=["post"])
    def reorder(self, request):
        serializer = serializers.GalleryReorderSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.gallery_images_reorder(ids=serializer.validated_data["ids"], request=request)
        return Response({"ids": order})


class PublicGalleryView(PublicMixin, APIView):
    """Published images in gallery order, for anyone; answers revalidations from the revision row alone."""

    def dispatch(self, request, *args, **kwargs):
        # The public site's hot path: a GET needs nothing of DRF's request
        # handling (no auth, no body, no negotiation), so it skips it. Anything
        # else, and any failure, goes the whole DRF way (405s, the error format).
        if request.method in ("GET", "HEAD") and not args and not kwargs:
            try:
                return self.get(request)
            except Exception:
                pass
        return super().dispatch(request, *args, **kwargs)

    @extend_schema(
        summary="The public gallery",
        responses={
            200: serializers.PublicGalleryImageSerializer(many=True),
            304: OpenApiResponse(description="Unchanged since the ETag or Last-Modified the client holds."),
        },
    )
    def get(self, request):
        # The media base is part of the tag and of the cache key: the body carries absolute URLs.
        origin = _short_hash(serializers.absolute_media_url(request, ""))
        body_key = f"public-gallery:{origin}"
        etag, last_modified, body = _recent_answer(body_key) or self._current_answer(origin, body_key)
        response = get_conditional_response(request, etag=etag, last_modified=last_modified)
        if response is None:
            if body is None:
                body = self._render(request, etag, body_key)
            response = HttpResponse(body, content_type="application/json")
        response["ETag"] = etag
        if last_modified is not None:
            response["Last-Modified"] = http_date(last_modified)
        # Stored, but checked on every use: a revalidation is one cheap query.
        patch_cache_control(response, public=True, no_cache=True)
        return response

    @staticmethod
    def _current_answer(origin, body_key):
        """Return (etag, last modified, body or None) from the shared cache (or the database)."""
        changes = services.local_changes()
        (number, changed_at), cached = services.gallery_revision_and(body_key)
        etag = quote_etag(f"g{number}-{origin}")
        last_modified = int(changed_at.timestamp()) if changed_at is not None else None
        body = cached[1] if cached is not None and cached[0] == etag else None
        if body is not None:
            _recent[body_key] = (_clock() + PUBLIC_LOCAL_TTL, changes, etag, last_modified, body)
        return etag, last_modified, body

    @staticmethod
    def _render(request, etag, body_key):
        """Return the rendered list, cached with the tag it was built under (never served for another)."""
        images = GalleryImage.objects.filter(published=True).order_by("position", "id")[:PUBLIC_GALLERY_LIMIT]
        data = serializers.PublicGalleryImageSerializer(images, many=True, context={"request": request}).data
        body = JSONRenderer().render(data)
        _cache_set(body_key, (etag, body), PUBLIC_BODY_TTL)
        return body


# body key -> (expires at, services.local_changes() when read, etag, last modified, body);
# one entry per media origin, so it stays as small as ALLOWED_HOSTS.
_recent = {}
_clock = time.monotonic


def forget_recent():
    """Drop this process's copies of the public listing (tests start each from nothing)."""
    _recent.clear()


def _recent_answer(body_key):
    """Return the answer this process read less than PUBLIC_LOCAL_TTL ago, unless it changed the gallery since."""
    recent = _recent.get(body_key)
    if recent is None or recent[0] < _clock() or recent[1] != services.local_changes():
        return None
    return recent[2:]


def _cache_set(key, value, timeout):
    try:
        cache.set(key, value, timeout)
    except Exception:  # the listing works without a cache, only slower
        logger.warning("cache unavailable for the public gallery")


def _short_hash(text):
    return hashlib.sha256(text.encode()).hexdigest()[:12]
