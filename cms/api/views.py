"""The gallery API: admin CRUD and reorder, and the public listing."""

import hashlib
import logging
import secrets

import orjson
from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse
from django.views.decorators.http import condition
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from adbot_admin.api import ratelimits
from adbot_admin.api.ratelimits import RateLimitHeadersMixin, rate_limited
from adbot_admin.api.renderers import OrjsonRenderer
from adbot_admin.api.schema import error_response
from adbot_admin.api.views import PublicMixin
from adbot_admin.errors import PayloadTooLarge, PreconditionFailed
from adbot_admin.metrics import CACHE_ERRORS
from adbot_admin.models import Scope
from adbot_admin.request_limits import declared_length, multipart_limit
from adbot_admin.sizes import describe_bytes

from .. import services
from ..images import ImageRejected
from ..models import GalleryImage
from . import serializers
from .exceptions import ImageBusy

# The public site shows the whole gallery on one page; this bounds the work of one request.
PUBLIC_GALLERY_LIMIT = 500
PUBLIC_LISTING_TTL = 3600

logger = logging.getLogger(__name__)

NOT_FOUND = OpenApiResponse(description="No image with this id.")
TOO_LARGE = OpenApiResponse(description="The image is larger than IMAGE_MAX_BYTES.")
UPLOAD_UNAVAILABLE = OpenApiResponse(
    description="Every image decode slot stayed busy for IMAGE_DECODE_WAIT seconds (code image_busy, with "
    "Retry-After), or the database, the cache or the file storage is unavailable; nothing was kept."
)
DISK_FULL = OpenApiResponse(description="File storage is full; nothing was kept.")


@extend_schema_view(
    list=extend_schema(
        summary="List gallery images (admin)",
        responses={200: serializers.GalleryImageSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="Show one gallery image", responses={200: serializers.GalleryImageSerializer, 404: NOT_FOUND}
    ),
    partial_update=extend_schema(
        summary="Edit title, alt text, position or published",
        request=serializers.GalleryImageUpdateSerializer,
        examples=[
            OpenApiExample(
                "Retitle and unpublish",
                value={"title": "Spring sale", "alt_text": "A red banner", "published": False},
                request_only=True,
            )
        ],
        responses={200: serializers.GalleryImageSerializer, 404: NOT_FOUND},
    ),
)
class GalleryImageViewSet(
    RateLimitHeadersMixin,
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Gallery images for admins: list (by position, then id), upload, edit, reorder and delete."""

    # The one part of the admin API a CMS-password token may use.
    allowed_scopes = (Scope.CMS,)

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
        examples=[
            OpenApiExample(
                "An image with a title",
                value={"image": "banner.jpg", "title": "Spring sale", "alt_text": "A red banner", "published": True},
                request_only=True,
                media_type="multipart/form-data",
            )
        ],
        responses={201: serializers.GalleryImageSerializer, 413: TOO_LARGE, 503: UPLOAD_UNAVAILABLE, 507: DISK_FULL},
    )
    @rate_limited(ratelimits.UPLOAD)
    def create(self, request, *args, **kwargs):
        # Before the body is parsed, so a huge upload is refused without being streamed to a temporary file first.
        if declared_length(request) > multipart_limit(settings.IMAGE_MAX_BYTES):
            raise PayloadTooLarge(f"image is larger than {describe_bytes(settings.IMAGE_MAX_BYTES)}")
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
        responses={204: None, 404: NOT_FOUND},
    )
    @rate_limited(ratelimits.DELETE)
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.gallery_image_delete(image=instance, request=self.request)

    @extend_schema(
        summary="Reorder the gallery",
        request=serializers.GalleryReorderSerializer,
        examples=[OpenApiExample("These three first", value={"ids": [7, 3, 12]}, request_only=True)],
        responses={200: serializers.GalleryOrderSerializer},
    )
    @action(detail=False, methods=["post"])
    def reorder(self, request):
        serializer = serializers.GalleryReorderSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        order = services.gallery_images_reorder(ids=serializer.validated_data["ids"], request=request)
        return Response({"ids": order})


def _revision(request):
    """Return the gallery's (revision number, changed at), read once per request."""
    if not hasattr(request, "_gallery_revision"):
        request._gallery_revision = services.gallery_revision()
    return request._gallery_revision


def _etag(request):
    # The origin is part of the tag: the body carries absolute URLs built on it.
    origin = hashlib.sha256(serializers.public_origin(request).encode()).hexdigest()[:12]
    return f"g{_revision(request)[0]}-{origin}"


def _last_modified(request):
    return _revision(request)[1]


JSON_ACCEPTED = frozenset(("", "*/*", "application/*", "application/json"))


def _plain_read(request):
    """Return True for a read with no query string whose Accept takes JSON (else DRF negotiates: 404, 406)."""
    if request.META.get("QUERY_STRING"):
        return False
    accepted = request.META.get("HTTP_ACCEPT", "")
    return any(part.split(";", 1)[0].strip() in JSON_ACCEPTED for part in accepted.split(","))


class PublicGalleryView(PublicMixin, APIView):
    """Published images in gallery order, for anyone; answers revalidations from the revision row alone.

    The rendered list (with paths, not absolute URLs) is cached once per
    revision, so the cache holds one copy whatever Host headers arrive; each
    answer puts its own origin in front of the paths.
    """

    def dispatch(self, request, *args, **kwargs):
        # A plain read decides nothing DRF could add to (no credential, no body, one JSON type): it is answered
        # as a Django view, with the headers DRF would set. Anything else, a failure included, goes DRF's way,
        # which answers in the API's error format (a GET is safe to run again).
        if request.method in ("GET", "HEAD") and _plain_read(request):
            try:
                response = self.get(request)
            except Exception:
                pass
            else:
                for name, value in self._drf_headers().items():
                    response[name] = value
                return response
        return super().dispatch(request, *args, **kwargs)

    # The cached copy is the answer's bytes, with a marker where each URL's
    # origin goes (`_body`), kept for the latest revision in each process and in
    # the cache for the others: a 200 costs the revision read and a join.
    @extend_schema(
        summary="The public gallery",
        responses={
            200: serializers.PublicGalleryImageSerializer(many=True),
            304: OpenApiResponse(description="Unchanged since the ETag or Last-Modified the client holds."),
            412: error_response(
                "Changed since the If-Match or If-Unmodified-Since the client sent.", PreconditionFailed
            ),
        },
    )
    def get(self, request):
        response = _conditional_listing(request)
        if response.status_code == 412:
            raise PreconditionFailed
        # Stored, but checked on every use: a revalidation is one cheap query. A 304 repeats the header, as
        # a 200 would carry it (RFC 9110, 15.4.5).
        response["Cache-Control"] = "public, no-cache"
        return response

    def _drf_headers(self):
        """Return the headers DRF sets on every answer (Allow, Vary): facts of the class, so worked out once."""
        view_class = type(self)
        if "_drf_header_values" not in view_class.__dict__:
            view_class._drf_header_values = self.default_response_headers
        return view_class._drf_header_values


def _listing(request):
    origin = orjson.dumps(serializers.public_origin(request))[1:-1]
    return HttpResponse(origin.join(_body(_revision(request))), content_type="application/json")


# Decorated once, here: on a method, method_decorator would build the decorator again on every request.
_conditional_listing = condition(etag_func=_etag, last_modified_func=_last_modified)(_listing)


# Where an origin goes while a body is rendered: a NUL (which no stored title
# or alt text can hold: DRF and Django refuse it) around a random word, so no
# content can spell it; the stored parts no longer contain it.
ORIGIN_MARKER = f"\x00{secrets.token_hex(8)}\x00"
ORIGIN_MARKER_JSON = orjson.dumps(ORIGIN_MARKER)[1:-1]
# This process's copy: (revision, body parts) of the latest revision it answered.
_latest = (None, None)


def _body(revision):
    """Return the public gallery's JSON at `revision` as parts to join with an origin."""
    global _latest
    number, changed_at = revision
    # The time makes a key unique even where a restored database counts from an old number again.
    key = f"public-gallery-body:{number}:{changed_at.isoformat() if changed_at else ''}"
    if _latest[0] == key:
        return _latest[1]
    parts = _quietly(cache.get, key)
    if parts is None:
        parts = _render_listing()
        _quietly(cache.set, key, parts, PUBLIC_LISTING_TTL)
    _latest = (key, parts)
    return parts


def _render_listing():
    """Return the published images, rendered as JSON split at every URL's origin."""
    images = GalleryImage.objects.filter(published=True).order_by("position", "id")[:PUBLIC_GALLERY_LIMIT]
    items = serializers.PublicGalleryImageSerializer(images, many=True).data
    for item in items:
        for name in ("url", "thumbnail_url"):
            # Object storage gives absolute URLs already; only a path takes the origin.
            if item[name].startswith("/"):
                item[name] = ORIGIN_MARKER + item[name]
    return OrjsonRenderer().render(items).split(ORIGIN_MARKER_JSON)


def _quietly(operation, *args):
    try:
        return operation(*args)
    except Exception:  # the listing works without a cache, only slower
        CACHE_ERRORS.inc()
        logger.warning("cache unavailable for the public gallery")
        return None
