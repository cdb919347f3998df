"""Session files and API pairs for admins: thin viewsets over sessions_admin.services and .imports."""

from contextlib import contextmanager

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, NotFound, ValidationError
from rest_framework.response import Response

from adbot_admin.api import ratelimits
from adbot_admin.api.exceptions import Conflict, PayloadTooLarge
from adbot_admin.api.parsers import JSONParser
from adbot_admin.api.ratelimits import RateLimitHeadersMixin, rate_limited

from .. import archives, imports, leases, services, strings
from ..models import ApiPair, SessionFile
from ..storage import NAME_REGEX
from . import serializers
from .filters import SessionFileFilterSet
from .parsers import SessionArchiveParser, SessionFileParser, client_file_name

SESSION_NOT_FOUND = OpenApiResponse(description="No session file with this name.")
API_PAIR_NOT_FOUND = OpenApiResponse(description="No API pair with this id.")

FILENAME_PARAMETER = OpenApiParameter(
    "filename",
    str,
    OpenApiParameter.PATH,
    pattern=f"^{NAME_REGEX}$",
    description="The session file's name: ASCII letters, digits, '.', '_', '-', ending in .session.",
)
OVERWRITE_PARAMETER = OpenApiParameter(
    "overwrite",
    OpenApiTypes.BOOL,
    OpenApiParameter.QUERY,
    default=False,
    description="Replace the file (and its metadata) when the name is taken; otherwise 409.",
)
ALLOW_DUPLICATE_KEY_PARAMETER = OpenApiParameter(
    "allow_duplicate_key",
    OpenApiTypes.BOOL,
    OpenApiParameter.QUERY,
    default=False,
    description="Store a file whose auth key another stored file holds (audited); otherwise 409.",
)
CONFLICTS = OpenApiResponse(
    description=(
        "The name is taken and overwrite was not asked for, the name differs from a stored one only in "
        "letter case, or another stored file holds the same auth key (`code` duplicate_key, the detail names it)."
    )
)
UPLOAD_SCHEMA = extend_schema(
    summary="Upload a session file",
    description=(
        "Multipart field `file`. The stored name is the uploaded file's name exactly as sent; a name "
        "that breaks the rule is refused (400), never rewritten. The file is inspected before "
        "anything is stored. Spends the `upload` budget."
    ),
    parameters=[OVERWRITE_PARAMETER, ALLOW_DUPLICATE_KEY_PARAMETER],
    request={"multipart/form-data": serializers.SessionFileUploadSerializer},
    responses={
        201: serializers.SessionFileSerializer,
        400: OpenApiResponse(description="Bad name, not an accepted session file, or no file (`errors.file`)."),
        409: CONFLICTS,
        413: OpenApiResponse(description="The file is larger than SESSION_MAX_BYTES."),
        415: OpenApiResponse(description="The body is not multipart/form-data."),
    },
)


class ArchiveRefusedError(APIException):
    """A zip archive refused as a whole (not a zip, corrupt, encrypted, too many entries, a bomb)."""

    status_code = status.HTTP_400_BAD_REQUEST
    default_detail = "The archive is refused."
    default_code = "invalid_archive"


@contextmanager
def refusals_as_errors(field):
    """Turn the store's refusals into the API's errors: 400 naming `field`, 413, or 409."""
    try:
        yield
    except services.SessionFileTooLarge as exc:
        raise PayloadTooLarge(str(exc)) from exc
    except services.SessionFileRejected as exc:
        raise ValidationError({field: [str(exc)]}, code="invalid_session_file") from exc
    except services.SessionFileExists as exc:
        raise Conflict(exc.message) from exc
    except services.DuplicateAuthKey as exc:
        raise Conflict(exc.message, code="duplicate_key") from exc


@extend_schema_view(
    list=extend_schema(
        summary="List session files, newest first",
        responses={200: serializers.SessionFileSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="Show a session file's metadata",
        parameters=[FILENAME_PARAMETER],
        responses={200: serializers.SessionFileSerializer, 404: SESSION_NOT_FOUND},
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
    filterset_class = SessionFileFilterSet

    def get_parsers(self):
        # PATCH bodies are JSON; every other write here declares its own parser.
        request = getattr(self, "request", None)
        if request is not None and getattr(self, "action_map", {}).get(request.method.lower()) == "partial_update":
            return [JSONParser()]
        return super().get_parsers()

    def get_serializer_class(self):
        if self.action in ("create", "upload"):
            return serializers.SessionFileUploadSerializer
        if self.action == "import_archive":
            return serializers.SessionArchiveUploadSerializer
        if self.action == "import_string":
            return serializers.SessionStringImportSerializer
        if self.action == "partial_update":
            return serializers.SessionFileUpdateSerializer
        return super().get_serializer_class()

    def _query_options(self):
        query = serializers.OverwriteQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return query.validated_data

    def _metadata(self, session_file):
        return serializers.SessionFileSerializer(session_file, context=self.get_serializer_context()).data

    @UPLOAD_SCHEMA
    @rate_limited(ratelimits.UPLOAD)
    def create(self, request, *args, **kwargs):
        return self._store(request)

    @UPLOAD_SCHEMA
    @action(detail=False, methods=["post"], url_path="upload")
    @rate_limited(ratelimits.UPLOAD)
    def upload(self, request, *args, **kwargs):
        return self._store(request)

    def _store(self, request):
        options = self._query_options()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer, **options)
        return Response(self._metadata(serializer.instance), status=status.HTTP_201_CREATED)

    def perform_create(self, serializer, overwrite=False, allow_duplicate_key=False):
        upload = serializer.validated_data["file"]
        with refusals_as_errors("file"):
            serializer.instance = services.session_file_store(
                upload=upload,
                filename=client_file_name(upload),
                overwrite=overwrite,
                allow_duplicate_key=allow_duplicate_key,
                uploaded_by=self.request.user.get_username(),
                request=self.request,
            )

    @extend_schema(
        summary="Import the session files of a zip archive",
        description=(
            "Multipart field `archive`. Each `.session` entry goes through the same checks and storage as a "
            "single upload and stands on its own; an entry inside folders is stored under its last path "
            "component. Entries with an unsafe path (absolute, `..`, a backslash, control characters), "
            "symbolic links, and names repeated in the archive are refused by name; folders, other files "
            "and OS junk are skipped. Limits, read from the central directory before anything is extracted: "
            "SESSION_IMPORT_MAX_FILES entries (400), SESSION_IMPORT_MAX_BYTES uncompressed in all (413), "
            "SESSION_MAX_BYTES per entry (413), a compression ratio of 100:1 (400). One archive spends one "
            "unit of the `upload` budget."
        ),
        parameters=[OVERWRITE_PARAMETER, ALLOW_DUPLICATE_KEY_PARAMETER],
        request={"multipart/form-data": serializers.SessionArchiveUploadSerializer},
        responses={
            200: serializers.SessionImportResultSerializer,
            400: OpenApiResponse(
                description="Not a zip, corrupt, encrypted, too many entries, a zip bomb, or no archive."
            ),
            413: OpenApiResponse(description="The archive, or an entry, is past its size limit."),
            415: OpenApiResponse(description="The body is not multipart/form-data."),
        },
    )
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[SessionArchiveParser])
    @rate_limited(ratelimits.UPLOAD)
    def import_archive(self, request, *args, **kwargs):
        options = self._query_options()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        archive = serializer.validated_data["archive"]
        try:
            result = imports.session_files_import_archive(
                path=archive.temporary_file_path(),
                uploaded_by=request.user.get_username(),
                request=request,
                **options,
            )
        except archives.ArchiveRefused as exc:
            raise (PayloadTooLarge if exc.status == 413 else ArchiveRefusedError)(str(exc), code=exc.code) from exc
        return Response(
            {
                "imported": [self._metadata(session_file) for session_file in result.imported],
                "refused": result.refused,
                "skipped": result.skipped,
            }
        )

    @extend_schema(
        summary="Write a session string as a session file",
        description=(
            "JSON `{filename, library, session_string}`. The library itself decodes the string and writes a "
            "file of its current layout (Telethon 1.45.0 for `telethon`, Kurigram 2.2.26 for `pyrogram`), "
            "which is then inspected and stored like any upload. The string is never logged, echoed or "
            "stored anywhere but the file. Spends the `upload` budget."
        ),
        parameters=[OVERWRITE_PARAMETER, ALLOW_DUPLICATE_KEY_PARAMETER],
        request=serializers.SessionStringImportSerializer,
        responses={
            201: serializers.SessionFileSerializer,
            400: OpenApiResponse(
                description="A malformed string, an unknown library, a bad name, or a key that is not 256 bytes."
            ),
            409: CONFLICTS,
            415: OpenApiResponse(description="The body is not JSON."),
        },
    )
    @action(detail=False, methods=["post"], url_path="import-string", parser_classes=[JSONParser])
    @rate_limited(ratelimits.UPLOAD)
    def import_string(self, request, *args, **kwargs):
        options = self._query_options()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with refusals_as_errors("session_string"):
            try:
                session_file = imports.session_file_import_string(
                    **serializer.validated_data,
                    uploaded_by=request.user.get_username(),
                    request=request,
                    **options,
                )
            except strings.InvalidSessionString as exc:
                raise ValidationError({"session_string": [str(exc)]}, code="invalid_session_string") from exc
        return Response(self._metadata(session_file), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Set a session file's api_id",
        description=(
            'JSON `{"api_id": <int> | null}`. Allowed where the file does not record its api_id (Telethon '
            "files); where it does (Pyrogram family), a different value is refused with 400. Audited."
        ),
        parameters=[FILENAME_PARAMETER],
        request=serializers.SessionFileUpdateSerializer,
        responses={
            200: serializers.SessionFileSerializer,
            404: SESSION_NOT_FOUND,
            415: OpenApiResponse(description="The body is not JSON."),
        },
    )
    def partial_update(self, request, *args, **kwargs):
        session_file = self.get_object()
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        if "api_id" in serializer.validated_data:
            try:
                services.session_file_set_api_id(
                    session_file=session_file,
                    api_id=serializer.validated_data["api_id"],
                    request=request,
                )
            except services.ApiIdRecordedInFile as exc:
                raise ValidationError({"api_id": [str(exc)]}, code="api_id_in_file") from exc
        return Response(self._metadata(self.get_queryset().get(pk=session_file.pk)))

    @extend_schema(
        summary="Delete a session file (and its -journal/-wal/-shm companions)",
        description=(
            "Spends the `delete` budget. A session an engine holds (a live lease) is 409 `session_leased` "
            "unless `?force=true`, which breaks the lease first (audited)."
        ),
        parameters=[
            FILENAME_PARAMETER,
            OpenApiParameter(
                "force",
                OpenApiTypes.BOOL,
                OpenApiParameter.QUERY,
                default=False,
                description="Break a live lease and delete anyway.",
            ),
        ],
        responses={
            204: None,
            404: SESSION_NOT_FOUND,
            409: OpenApiResponse(description="`session_leased`: an engine holds the session."),
        },
    )
    @rate_limited(ratelimits.DELETE)
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        query = serializers.ForceQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        try:
            leases.leased_session_file_delete(
                session_file=instance, force=query.validated_data["force"], request=self.request
            )
        except SessionFile.DoesNotExist as exc:
            raise NotFound() from exc
        except leases.SessionLeased as exc:
            raise Conflict(
                f"An engine ({exc.lease.holder}) holds this session until {exc.lease.expires_at.isoformat()}; "
                "add ?force=true to break its lease and delete it.",
                code="session_leased",
            ) from exc


@extend_schema_view(
    list=extend_schema(
        summary="List API pairs (hash masked)",
        responses={200: serializers.ApiPairSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="Show an API pair with its whole hash (audited)",
        responses={200: serializers.ApiPairRevealSerializer, 404: API_PAIR_NOT_FOUND},
    ),
    partial_update=extend_schema(
        summary="Change an API pair's label or is_active",
        description="`api_id` and `api_hash` cannot be changed (400); unknown keys are refused (400).",
        request=serializers.ApiPairUpdateSerializer,
        responses={
            200: serializers.ApiPairSerializer,
            404: API_PAIR_NOT_FOUND,
            415: OpenApiResponse(description="The body is not JSON."),
        },
    ),
    destroy=extend_schema(
        summary="Delete an API pair",
        description="Spends the `delete` budget. A pair that session files use is 409 unless `?force=true`.",
        parameters=[
            OpenApiParameter(
                "force",
                OpenApiTypes.BOOL,
                OpenApiParameter.QUERY,
                default=False,
                description="Delete the pair even though session files have its api_id (they keep it).",
            )
        ],
        responses={
            204: None,
            404: API_PAIR_NOT_FOUND,
            409: OpenApiResponse(description="Session files use this api_id; the detail says how many."),
        },
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
        query = serializers.ForceQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        try:
            services.api_pair_delete(api_pair=instance, force=query.validated_data["force"], request=self.request)
        except services.ApiPairInUse as exc:
            raise Conflict(
                f"{exc.sessions_count} session file(s) use this api_id; add ?force=true to delete the pair anyway.",
                code="api_pair_in_use",
            ) from exc
