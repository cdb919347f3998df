"""Session files and API pairs for admins: thin viewsets over sessions_admin.services."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.parsers import JSONParser
from rest_framework.response import Response

from adbot_admin.api import ratelimits
from adbot_admin.api.exceptions import Conflict, PayloadTooLarge
from adbot_admin.api.ratelimits import RateLimitHeadersMixin, rate_limited
from adbot_admin.api.views import ERRORS

from .. import services
from ..models import ApiPair, SessionFile
from ..storage import NAME_REGEX
from . import serializers
from .parsers import SessionFileParser, client_file_name

UNAUTHENTICATED = {401: ERRORS[401], 403: ERRORS[403]}
BAD_QUERY = OpenApiResponse(description="Invalid filter or page size.")
BAD_PAGE = OpenApiResponse(description="No such page.")
THROTTLED = OpenApiResponse(description="Past the rate limit; Retry-After says how many seconds to wait.")
LIMITER_DOWN = OpenApiResponse(description="The rate limiter's cache is down; the action is refused.")
SESSION_NOT_FOUND = OpenApiResponse(description="No session file with this name.")
API_PAIR_NOT_FOUND = OpenApiResponse(description="No API pair with this id.")

FILENAME_PARAMETER = OpenApiParameter(
    "filename", str, OpenApiParameter.PATH, pattern=f"^{NAME_REGEX}$",
    description="The session file's name: ASCII letters, digits, '.', '_', '-', ending in .session.",
)
OVERWRITE_PARAMETER = OpenApiParameter(
    "overwrite", OpenApiTypes.BOOL, OpenApiParameter.QUERY, default=False,
    description="Replace the file (and its metadata) when the name is taken; otherwise 409.",
)
UPLOAD_SCHEMA = extend_schema(
    summary="Upload a session file",
    description=(
        "Multipart field `file`. The stored name is the uploaded file's name exactly as sent; a name "
        "that breaks the rule is refused (400), never rewritten. The file is inspected before "
        "anything is stored. Spends the `upload` budget."
    ),
    parameters=[OVERWRITE_PARAMETER],
    request={"multipart/form-data": serializers.SessionFileUploadSerializer},
    responses={
        201: serializers.SessionFileSerializer,
        400: OpenApiResponse(description="Bad name, not an accepted session file, or no file (`errors.file`)."),
        **UNAUTHENTICATED,
        409: OpenApiResponse(description="The name is taken and overwrite was not asked for."),
        413: OpenApiResponse(description="The file is larger than SESSION_MAX_BYTES."),
        415: OpenApiResponse(description="The body is not multipart/form-data."),
        429: THROTTLED,
        503: LIMITER_DOWN,
    },
)


@extend_schema_view(
    list=extend_schema(
        summary="List session files, newest first",
        responses={200: serializers.SessionFileSerializer(many=True), 400: BAD_QUERY, **UNAUTHENTICATED, 404: BAD_PAGE},
    ),
    retrieve=extend_schema(
        summary="Show a session file's metadata",
        parameters=[FILENAME_PARAMETER],
        responses={200: serializers.SessionFileSerializer, **UNAUTHENTICATED, 404: SESSION_NOT_FOUND},
    ),
)
class SessionFileViewSet(
    RateLimitHeadersMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Session files for admins: upload, list, show metadata and delete; never download."""

    queryset = SessionFile.objects.with_api_pair()
    serializer_class = serializers.SessionFileSerializer
    lookup_field = "filename"
    lookup_value_regex = NAME_REGEX
    parser_classes = [SessionFileParser]
    filterset_fields = ["library", "dc_id"]

    def get_serializer_class(self):
        if self.action in ("create", "upload"):
            return serializers.SessionFileUploadSerializer
        return super().get_serializer_class()

    @UPLOAD_SCHEMA
    @rate_limited(ratelimits.UPLOAD)
    def create(self, request, *args, **kwargs):
        query = serializers.OverwriteQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer, overwrite=query.validated_data["overwrite"])
        output = serializers.SessionFileSerializer(serializer.instance, context=self.get_serializer_context())
        return Response(output.data, status=status.HTTP_201_CREATED)

    @UPLOAD_SCHEMA
    @action(detail=False, methods=["post"], url_path="upload")
    def upload(self, request, *args, **kwargs):
        return self.create(request, *args, **kwargs)

    def perform_create(self, serializer, overwrite=False):
        upload = serializer.validated_data["file"]
        try:
            serializer.instance = services.session_file_store(
                upload=upload, filename=client_file_name(upload), overwrite=overwrite,
                uploaded_by=self.request.user.get_username(), request=self.request,
            )
        except services.SessionFileTooLarge as exc:
            raise PayloadTooLarge(str(exc)) from exc
        except services.SessionFileRejected as exc:
            raise ValidationError({"file": [str(exc)]}, code="invalid_session_file") from exc
        except services.SessionFileExists as exc:
            raise Conflict("A session file with this name exists; add ?overwrite=true to replace it.") from exc

    @extend_schema(
        summary="Delete a session file (and its -journal/-wal/-shm companions)",
        description="Spends the `delete` budget.",
        parameters=[FILENAME_PARAMETER],
        responses={204: None, **UNAUTHENTICATED, 404: SESSION_NOT_FOUND, 429: THROTTLED, 503: LIMITER_DOWN},
    )
    @rate_limited(ratelimits.DELETE)
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        try:
            services.session_file_delete(session_file=instance, request=self.request)
        except SessionFile.DoesNotExist as exc:
            raise NotFound() from exc


@extend_schema_view(
    list=extend_schema(
        summary="List API pairs (hash masked)",
        responses={200: serializers.ApiPairSerializer(many=True), 400: BAD_QUERY, **UNAUTHENTICATED, 404: BAD_PAGE},
    ),
    retrieve=extend_schema(
        summary="Show an API pair with its whole hash (audited)",
        responses={200: serializers.ApiPairRevealSerializer, **UNAUTHENTICATED, 404: API_PAIR_NOT_FOUND},
    ),
    partial_update=extend_schema(
        summary="Change an API pair's label or is_active",
        description="`api_id` and `api_hash` cannot be changed (400); unknown keys are refused (400).",
        request=serializers.ApiPairUpdateSerializer,
        responses={
            200: serializers.ApiPairSerializer, 400: ERRORS[400], **UNAUTHENTICATED, 404: API_PAIR_NOT_FOUND,
            415: OpenApiResponse(description="The body is not JSON."),
        },
    ),
    destroy=extend_schema(
        summary="Delete an API pair",
        description="Spends the `delete` budget.",
        responses={204: None, **UNAUTHENTICATED, 404: API_PAIR_NOT_FOUND, 429: THROTTLED, 503: LIMITER_DOWN},
    ),
)
class ApiPairViewSet(
    RateLimitHeadersMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """Telegram API pairs for admins: the hash is masked everywhere but the audited detail view."""

    queryset = ApiPair.objects.with_sessions_count()
    serializer_class = serializers.ApiPairSerializer
    lookup_value_regex = r"\d+"
    parser_classes = [JSONParser]
    filterset_fields = ["is_active"]
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_serializer_class(self):
        if self.action in ("create", "add"):
            return serializers.ApiPairCreateSerializer
        if self.action == "partial_update":
            return serializers.ApiPairUpdateSerializer
        if self.action == "retrieve":
            return serializers.ApiPairRevealSerializer
        return super().get_serializer_class()

    @extend_schema(
        summary="Add an API pair",
        request=serializers.ApiPairCreateSerializer,
        responses={
            201: serializers.ApiPairSerializer,
            400: OpenApiResponse(description="A bad value; `errors` names the field."),
            **UNAUTHENTICATED,
            409: OpenApiResponse(description="An API pair with this api_id exists."),
            415: OpenApiResponse(description="The body is not JSON."),
        },
    )
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(serializers.ApiPairSerializer(serializer.instance).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Add an API pair",
        request=serializers.ApiPairCreateSerializer,
        responses={
            201: serializers.ApiPairSerializer,
            400: OpenApiResponse(description="A bad value; `errors` names the field."),
            **UNAUTHENTICATED,
            409: OpenApiResponse(description="An API pair with this api_id exists."),
            415: OpenApiResponse(description="The body is not JSON."),
        },
    )
    @action(detail=False, methods=["post"], url_path="add")
    def add(self, request, *args, **kwargs):
        return self.create(request, *args, **kwargs)

    def perform_create(self, serializer):
        try:
            serializer.instance = services.api_pair_create(**serializer.validated_data, request=self.request)
        except services.ApiPairExists as exc:
            raise Conflict("An API pair with this api_id exists.") from exc

    def retrieve(self, request, *args, **kwargs):
        api_pair = services.api_pair_reveal(api_pair=self.get_object(), request=request)
        return Response(self.get_serializer(api_pair).data)

    def partial_update(self, request, *args, **kwargs):
        api_pair = self.get_object()
        serializer = self.get_serializer(api_pair, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        self.perform_update(serializer)
        return Response(serializers.ApiPairSerializer(api_pair).data)

    def perform_update(self, serializer):
        services.api_pair_update(api_pair=serializer.instance, data=serializer.validated_data, request=self.request)

    @rate_limited(ratelimits.DELETE)
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        services.api_pair_delete(api_pair=instance, request=self.request)
