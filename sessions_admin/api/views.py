"""Session files and API pairs for admins: thin viewsets over sessions_admin.services and .imports."""

from contextlib import contextmanager

from django.conf import settings
from django.db import transaction
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import NotFound, PermissionDenied, ValidationError
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from adbot_admin.api import ratelimits
from adbot_admin.api.cache_control import no_store
from adbot_admin.api.pagination import StandardPagination
from adbot_admin.api.parsers import JSONParser
from adbot_admin.api.permissions import IsAdminRole, ReauthenticationRequired, RecentAuthentication
from adbot_admin.api.ratelimits import RateLimitHeadersMixin, rate_limited
from adbot_admin.api.schema import error_example, error_response
from adbot_admin.request_limits import accepts_file_up_to

from .. import export, imports, leases, ledger, services
from ..errors import Refused, SidecarInvalid
from ..models import ApiPair, SessionFile, SessionStatusChange
from ..names import NAME_REGEX, shown_name
from . import serializers
from .errors import api_error
from .filters import ApiPairFilterSet, SessionFileFilterSet
from .pagination import SessionFilePagination
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
CONFLICTS = error_response(
    "The name is taken and overwrite was not asked for, the name differs from a stored one only in "
    "letter case, or another stored file holds the same auth key (`code` duplicate_key, the detail names it).",
    error_example(409, "conflict", "A session file with this name exists; add ?overwrite=true to replace it."),
    error_example(
        409,
        "duplicate_key",
        "beta.session already holds this auth key; Telegram ends sessions whose key is used on two "
        "connections at once. Add ?allow_duplicate_key=true to store it anyway.",
    ),
)
# A multipart body's example names the file part; Swagger UI offers a file picker for it.
MULTIPART = "multipart/form-data"
UPLOAD_EXAMPLE = OpenApiExample(
    "A session file", value={"file": "alpha.session"}, request_only=True, media_type=MULTIPART
)
API_PAIR_CREATE_SCHEMA = extend_schema(
    summary="Add an API pair",
    request=serializers.ApiPairCreateSerializer,
    examples=[
        OpenApiExample(
            "An API pair",
            value={"api_id": 2040, "api_hash": "b18441a1ff607e10a989891a5462e627", "label": "Telegram Desktop"},
            request_only=True,
        )
    ],
    responses={
        201: serializers.ApiPairSerializer,
        400: OpenApiResponse(description="A bad value; `errors` names the field."),
        409: OpenApiResponse(description="An API pair with this api_id exists."),
        415: OpenApiResponse(description="The body is not JSON."),
    },
)
UPLOAD_SCHEMA = extend_schema(
    summary="Upload a session file",
    description=(
        "Multipart field `file`, and optionally `sidecar`: the account's JSON (docs/sidecar.md). The stored "
        "name is the uploaded file's name exactly as sent; a name that breaks the rule is refused (400), never "
        "rewritten. The file and the sidecar are checked before anything is stored: a refused sidecar value is "
        "400 naming the key (`errors.sidecar`), a stored API pair with the sidecar's app_id and another hash is "
        "409 `api_pair_mismatch`. Spends the `upload` budget."
    ),
    parameters=[OVERWRITE_PARAMETER, ALLOW_DUPLICATE_KEY_PARAMETER],
    request={"multipart/form-data": serializers.SessionFileUploadSerializer},
    responses={
        201: serializers.SessionFileSerializer,
        400: error_response(
            "Bad name, not an accepted session file, or no file (`errors.file`). `code` says why, the same "
            "as for the file inside a zip: invalid_name, not_sqlite, corrupt_database, inspection_timeout, "
            "unknown_layout, newer_version, invalid_session_data, no_auth_key; or a refused sidecar "
            "(`errors.sidecar`, `invalid_sidecar`).",
            error_example(
                400,
                "not_sqlite",
                "not an SQLite database (the SQLite header is missing)",
                errors={"file": ["not an SQLite database (the SQLite header is missing)"]},
            ),
        ),
        409: CONFLICTS,
        413: OpenApiResponse(description="The file is larger than SESSION_MAX_BYTES (`file_too_large`)."),
        415: OpenApiResponse(description="The body is not multipart/form-data."),
    },
    examples=[UPLOAD_EXAMPLE],
)


class SessionExportDisabled(PermissionDenied):
    default_detail = "Session exports are turned off on this server (SESSION_EXPORT=false)."
    default_code = "export_disabled"


class SessionExportEnabled(BasePermission):
    """Allows session exports only while SESSION_EXPORT is on."""

    def has_permission(self, request, view):
        if not settings.SESSION_EXPORT:
            raise SessionExportDisabled()
        return True


@contextmanager
def refusals_as_errors(field=None):
    """Turn sessions_admin's refusals into the API's errors, with each one's own status and code."""
    try:
        yield
    except Refused as exc:
        # A sidecar's refusal names the sidecar, whichever import path brought it.
        raise api_error(exc, field="sidecar" if isinstance(exc, SidecarInvalid) else field) from exc


@extend_schema_view(
    list=extend_schema(
        summary="List session files, newest first",
        responses={200: serializers.SessionFileSerializer(many=True)},
    ),
    retrieve=extend_schema(
        summary="Show a session file's metadata and account (secrets only as has_2fa_password and has_credentials)",
        parameters=[FILENAME_PARAMETER],
        responses={200: serializers.SessionFileDetailSerializer, 404: SESSION_NOT_FOUND},
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
    pagination_class = SessionFilePagination

    def get_queryset(self):
        if self.action == "list":
            # The page's API pairs are looked up once for the whole page (list), not per row.
            return SessionFile.objects.all()
        return super().get_queryset()

    def list(self, request, *args, **kwargs):
        rows = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        api_ids = {row.api_id for row in rows if row.api_id is not None}
        # api_id is unique among pairs. Building the query costs more than an empty page: skip it then.
        pairs = (
            dict(ApiPair.objects.filter(api_id__in=api_ids).order_by().values_list("api_id", "pk")) if api_ids else {}
        )
        for row in rows:
            row.api_pair_id = pairs.get(row.api_id)
        return self.get_paginated_response(self.get_serializer(rows, many=True).data)

    def get_parsers(self):
        # PATCH bodies are JSON; every other write here declares its own parser.
        request = getattr(self, "request", None)
        if request is not None and getattr(self, "action_map", {}).get(request.method.lower()) == "partial_update":
            return [JSONParser()]
        return super().get_parsers()

    def get_permissions(self):
        if self.action == "secrets":
            # Step-up: a token from a recent login, not only an admin's.
            return [IsAdminRole(), RecentAuthentication()]
        if self.action == "export_sessions":
            # Off by SESSION_EXPORT before anything else is judged; then step-up, as for secrets.
            return [IsAdminRole(), SessionExportEnabled(), RecentAuthentication()]
        return super().get_permissions()

    serializer_classes = {
        "create": serializers.SessionFileUploadSerializer,
        "upload": serializers.SessionFileUploadSerializer,
        "import_archive": serializers.SessionArchiveUploadSerializer,
        "import_string": serializers.SessionStringImportSerializer,
        "partial_update": serializers.SessionFileUpdateSerializer,
        "export_sessions": serializers.SessionExportSerializer,
        "retrieve": serializers.SessionFileDetailSerializer,
        "set_status": serializers.SessionStatusSerializer,
    }

    def get_serializer_class(self):
        return self.serializer_classes.get(self.action) or super().get_serializer_class()

    def _query_options(self):
        query = serializers.OverwriteQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        return query.validated_data

    def _metadata(self, session_file, *, detail=False):
        serializer = serializers.SessionFileDetailSerializer if detail else serializers.SessionFileSerializer
        return serializer(session_file, context=self.get_serializer_context()).data

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
        sidecar = serializer.validated_data.get("sidecar")
        with refusals_as_errors("file"):
            serializer.instance = services.session_file_store(
                upload=upload,
                filename=client_file_name(upload),
                # Bounded by the parser (MAX_SIDECAR_BYTES).
                sidecar=sidecar.read() if sidecar is not None else None,
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
            "component. A `<name>.json` beside `<name>.session` (same folder) is that entry's sidecar "
            "(docs/sidecar.md): a refused sidecar refuses its entry (`invalid_sidecar`, the detail names the "
            "key; `api_pair_mismatch`). Entries with an unsafe path (absolute, `..`, a backslash, NUL or control characters, "
            "a name zipfile would read differently from its raw bytes), symbolic links, names repeated in the "
            "archive and entries declaring more than SESSION_MAX_BYTES are refused by name, with the same "
            "`code` a single upload of that file would get; folders, other files and OS junk are skipped. "
            "The archive is refused whole, before anything is inflated, past SESSION_IMPORT_MAX_FILES entries "
            "(400), SESSION_IMPORT_MAX_BYTES compressed or declared (413), declared sizes over 100 times the "
            "archive's bytes (400 `compression_ratio`), or entries sharing bytes (400 `overlapping_entries`). "
            "The body may be as large as SESSION_IMPORT_MAX_BYTES whatever the general body limit. One "
            "archive spends one unit of the `upload` budget. A Telegram Desktop `tdata` folder (or a bare tdata "
            "zip) is read offline (opentele2 and TGConvertor) and each of its accounts stored as a Telethon session "
            "named `<user id>.session`, with Telegram Desktop's app in its sidecar; form field `tdata_passcode` "
            "opens a passcode-protected one. A tdata that cannot be read (damaged, hostile, wrong or missing "
            "passcode, more than 6 accounts) is refused by its folder's name in `refused`."
        ),
        parameters=[OVERWRITE_PARAMETER, ALLOW_DUPLICATE_KEY_PARAMETER],
        request={"multipart/form-data": serializers.SessionArchiveUploadSerializer},
        responses={
            200: serializers.SessionImportResultSerializer,
            400: OpenApiResponse(
                description="Not a zip, corrupt, encrypted, too many entries, a zip bomb, overlapping entries, "
                "or no archive."
            ),
            413: OpenApiResponse(description="The archive is past SESSION_IMPORT_MAX_BYTES."),
            415: OpenApiResponse(description="The body is not multipart/form-data."),
        },
        examples=[
            OpenApiExample(
                "A zip of session files", value={"archive": "accounts.zip"}, request_only=True, media_type=MULTIPART
            )
        ],
    )
    @accepts_file_up_to("SESSION_IMPORT_MAX_BYTES")
    @action(detail=False, methods=["post"], url_path="import", parser_classes=[SessionArchiveParser])
    @rate_limited(ratelimits.UPLOAD)
    def import_archive(self, request, *args, **kwargs):
        options = self._query_options()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        archive = serializer.validated_data["archive"]
        with refusals_as_errors():
            result = imports.session_files_import_archive(
                path=archive.temporary_file_path(),
                tdata_passcode=serializer.validated_data.get("tdata_passcode", ""),
                uploaded_by=request.user.get_username(),
                request=request,
                **options,
            )
        return Response(
            {
                "imported": [self._metadata(session_file) for session_file in result.imported],
                "refused": result.refused,
                "skipped": result.skipped,
            }
        )

    @extend_schema(
        summary="Export sessions as a zip of session files (or strings) and sidecars",
        description=(
            'JSON `{"names": [...] | "filter": {...}, "format", "include_secrets"}`. Streams a zip of '
            "`<name>.session` + `<name>.json` per account (`<name>.txt` + `<name>.json` for `string`), in name "
            "order; conversions are TGConvertor's, offline. The sidecars carry the 2FA password and the proxy's "
            "credentials only with `include_secrets`. Needs a login within REAUTH_MAX_AGE (403 "
            "`reauthentication_required`), is audited with every name, spends the `export` budget, holds at most "
            "SESSION_IMPORT_MAX_FILES accounts, and answers 403 `export_disabled` with SESSION_EXPORT=false."
        ),
        request=serializers.SessionExportSerializer,
        examples=[
            OpenApiExample(
                "Two accounts as Telethon files",
                value={"names": ["alpha.session", "beta.session"], "format": "telethon"},
                request_only=True,
            ),
            OpenApiExample(
                "Every active account, as stored, with secrets",
                value={"filter": {"status": "active"}, "format": "as_stored", "include_secrets": True},
                request_only=True,
            ),
        ],
        responses={
            (200, "application/zip"): OpenApiTypes.BINARY,
            400: OpenApiResponse(
                description=(
                    "A bad body (`invalid`), unknown names (`unknown_sessions`), nothing matching "
                    "(`nothing_to_export`), more than SESSION_IMPORT_MAX_FILES (`too_many_sessions`), sessions "
                    "without their file (`missing_files`), or a Pyrogram target for sessions without user id or "
                    "api_id (`missing_account_data`); the detail names the sessions concerned."
                )
            ),
            403: OpenApiResponse(description="`reauthentication_required` or `export_disabled`."),
            415: OpenApiResponse(description="The body is not JSON."),
        },
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="export",
        parser_classes=[JSONParser],
    )
    @rate_limited(ratelimits.EXPORT)
    def export_sessions(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with refusals_as_errors():
            prepared = export.sessions_export_prepare(
                session_files=self._export_rows(data),
                export_format=data["format"],
                include_secrets=data["include_secrets"],
                request=request,
            )
        response = StreamingHttpResponse(export.sessions_export_stream(prepared), content_type="application/zip")
        response["Content-Disposition"] = 'attachment; filename="sessions-export.zip"'
        response["Cache-Control"] = "no-store"
        return response

    def _export_rows(self, data):
        if "names" in data:
            names = list(dict.fromkeys(data["names"]))
            rows = list(SessionFile.objects.filter(filename__in=names))
            unknown = sorted(set(names) - {row.filename for row in rows})
            if unknown:
                raise export.ExportRefused("no session files have these names", code="unknown_sessions", names=unknown)
            return rows
        filterset = SessionFileFilterSet(data=data["filter"], queryset=SessionFile.objects.all(), request=self.request)
        unknown = sorted(set(data["filter"]) - set(filterset.filters))
        if unknown:
            raise ValidationError({"filter": [f"unknown filter {shown_name(key)}" for key in unknown]}, code="invalid")
        if not filterset.is_valid():
            raise ValidationError({"filter": filterset.errors}, code="invalid")
        return filterset.qs

    @extend_schema(
        summary="Write a session string as a session file",
        description=(
            "JSON `{filename, library, session_string, sidecar?}` (`sidecar`: the account's object, "
            "docs/sidecar.md). The library itself decodes the string and writes a "
            "file of its current layout (Telethon 1.45.0 for `telethon`, Kurigram 2.2.26 for `pyrogram`), "
            "which is then inspected and stored like any upload. The string is never logged, echoed or "
            "stored anywhere but the file. Spends the `upload` budget."
        ),
        parameters=[OVERWRITE_PARAMETER, ALLOW_DUPLICATE_KEY_PARAMETER],
        request=serializers.SessionStringImportSerializer,
        examples=[
            OpenApiExample(
                "A Telethon string session",
                value={"filename": "alpha.session", "library": "telethon", "session_string": "1BVtsOK8Bu..."},
                request_only=True,
            )
        ],
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
            session_file = imports.session_file_import_string(
                **serializer.validated_data,
                uploaded_by=request.user.get_username(),
                request=request,
                **options,
            )
        return Response(self._metadata(session_file), status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Edit a session's api_id, account, device, app, proxy or 2FA password",
        description=(
            'JSON, any of `{"api_id", "account": {...}, "device": {...}, "app": {"api_id", "app_version"}, '
            '"proxy": {...} | null, "twofa_password": "..." | null}`. Values get the sidecar\'s checks '
            "(docs/sidecar.md); a refused one is 400 `invalid_sidecar` naming the field. api_id is allowed "
            "where the file does not record it (Telethon files); where it does (Pyrogram family), a different "
            "value is 400 `api_id_in_file`. Audited (the keys, never the values); the <name>.json is rewritten."
        ),
        parameters=[FILENAME_PARAMETER],
        request=serializers.SessionFileUpdateSerializer,
        examples=[
            OpenApiExample("Set the api_id", value={"api_id": 2040}, request_only=True),
            OpenApiExample("Clear it", value={"api_id": None}, request_only=True),
        ],
        responses={
            200: serializers.SessionFileDetailSerializer,
            400: OpenApiResponse(description="A value is refused; `errors` names the field."),
            404: SESSION_NOT_FOUND,
            415: OpenApiResponse(description="The body is not JSON."),
        },
    )
    def partial_update(self, request, *args, **kwargs):
        session_file = self.get_object()
        serializer = self.get_serializer(data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        set_api_id, api_id = serializer.api_id_change()
        with transaction.atomic():
            if set_api_id:
                with refusals_as_errors("api_id"):
                    services.session_file_set_api_id(session_file=session_file, api_id=api_id, request=request)
            try:
                services.session_account_update(
                    session_file=session_file, changes=serializer.sidecar_changes(), request=request
                )
            except SidecarInvalid as exc:
                raise api_error(exc, field=serializers.API_NAME_OF_KEY.get(exc.key, exc.key)) from exc
        return Response(self._metadata(self.get_queryset().get(pk=session_file.pk), detail=True))

    @extend_schema(
        summary="Show a session's secrets: its 2FA password and proxy credentials",
        description=(
            "Needs a recent login (step-up): a token whose `auth_time` is within REAUTH_MAX_AGE, else 403 "
            "`reauthentication_required`. Audited."
        ),
        parameters=[FILENAME_PARAMETER],
        responses={
            200: serializers.SessionSecretsSerializer,
            403: error_response(
                "The login is older than REAUTH_MAX_AGE: sign in again, then retry.", ReauthenticationRequired
            ),
            404: SESSION_NOT_FOUND,
        },
    )
    @action(detail=True, methods=["get"], url_path="secrets")
    def secrets(self, request, *args, **kwargs):
        return Response(services.session_secrets_reveal(session_file=self.get_object(), request=request))

    @extend_schema(
        summary="Set a session's status",
        description=(
            '`{"status", "reason", "until"}`: status is one of unknown, active, limited, frozen, banned, revoked, '
            "deactivated; `until` (a future time) only with limited or frozen. Appends to the history; audited."
        ),
        parameters=[FILENAME_PARAMETER],
        request=serializers.SessionStatusSerializer,
        examples=[
            OpenApiExample(
                "Limited until a date",
                value={"status": "limited", "reason": "spamblock", "until": "2027-01-15T00:00:00Z"},
                request_only=True,
            ),
            OpenApiExample("Banned", value={"status": "banned", "reason": "USER_DEACTIVATED_BAN"}, request_only=True),
        ],
        responses={
            200: serializers.SessionFileDetailSerializer,
            400: OpenApiResponse(description="A bad value."),
            404: SESSION_NOT_FOUND,
        },
    )
    @action(detail=True, methods=["post"], url_path="status", parser_classes=[JSONParser])
    def set_status(self, request, *args, **kwargs):
        session_file = self.get_object()
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        try:
            ledger.session_status_set(
                session=session_file, **serializer.validated_data, source="admin", request=request
            )
        except ledger.InvalidStatus as exc:
            raise api_error(exc, field=exc.field) from exc
        except SessionFile.DoesNotExist as exc:
            raise NotFound() from exc
        return Response(self._metadata(self.get_queryset().get(pk=session_file.pk), detail=True))

    @extend_schema(
        summary="List a session's status changes, newest first",
        parameters=[FILENAME_PARAMETER],
        responses={200: serializers.SessionStatusChangeSerializer(many=True), 404: SESSION_NOT_FOUND},
    )
    # Numbered pages of its own rows: the session list's keyset pagination seeks on the session table's keys.
    @action(
        detail=True,
        methods=["get"],
        url_path="status-history",
        filterset_class=None,
        pagination_class=StandardPagination,
    )
    def status_history(self, request, *args, **kwargs):
        session_file = self.get_object()
        changes = SessionStatusChange.objects.filter(session_file=session_file).order_by("-changed_at", "-id")
        page = self.paginate_queryset(changes)
        serializer = serializers.SessionStatusChangeSerializer(page if page is not None else changes, many=True)
        return self.get_paginated_response(serializer.data) if page is not None else Response(serializer.data)

    @extend_schema(
        summary="Count sessions by status, library, dc_id and api_id",
        description="Read from counts the database keeps: one query, whatever the number of sessions.",
        responses={200: serializers.SessionSummarySerializer},
    )
    @action(detail=False, methods=["get"], url_path="summary", filterset_class=None, pagination_class=None)
    def summary(self, request, *args, **kwargs):
        return Response(ledger.sessions_summary())

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
            with refusals_as_errors():
                leases.leased_session_file_delete(
                    session_file=instance, force=query.validated_data["force"], request=self.request
                )
        except SessionFile.DoesNotExist as exc:
            raise NotFound() from exc


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
        examples=[
            OpenApiExample("Deactivate", value={"is_active": False}, request_only=True),
            OpenApiExample("Relabel", value={"label": "Telegram Desktop"}, request_only=True),
        ],
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
    fixed_list_statement = True
    fixed_page_sql = staticmethod(ApiPair.objects.page_sql)
    serializer_class = serializers.ApiPairSerializer
    lookup_value_regex = r"\d+"
    parser_classes = [JSONParser]
    filterset_class = ApiPairFilterSet
    http_method_names = ["get", "post", "patch", "delete", "head", "options"]

    def get_serializer_class(self):
        if self.action in ("create", "add"):
            return serializers.ApiPairCreateSerializer
        if self.action == "partial_update":
            return serializers.ApiPairUpdateSerializer
        if self.action == "retrieve":
            return serializers.ApiPairRevealSerializer
        return super().get_serializer_class()

    @API_PAIR_CREATE_SCHEMA
    def create(self, request, *args, **kwargs):
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        self.perform_create(serializer)
        return Response(serializers.ApiPairSerializer(serializer.instance).data, status=status.HTTP_201_CREATED)

    @API_PAIR_CREATE_SCHEMA
    @action(detail=False, methods=["post"], url_path="add")
    def add(self, request, *args, **kwargs):
        return self.create(request, *args, **kwargs)

    def perform_create(self, serializer):
        with refusals_as_errors():
            serializer.instance = services.api_pair_create(**serializer.validated_data, request=self.request)

    def get_permissions(self):
        if self.action == "retrieve":
            # The whole hash: a sensitive read, which needs a recent `auth_time`.
            return [IsAdminRole(), RecentAuthentication()]
        return super().get_permissions()

    @no_store
    def retrieve(self, request, *args, **kwargs):
        api_pair = services.api_pair_reveal(api_pair=self.get_object(), request=request)
        return Response(self.get_serializer(api_pair).data)

    def partial_update(self, request, *args, **kwargs):
        api_pair = self.get_object()
        serializer = self.get_serializer(api_pair, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        services.api_pair_update(api_pair=api_pair, data=serializer.validated_data, request=request)
        return Response(serializers.ApiPairSerializer(api_pair).data)

    @rate_limited(ratelimits.DELETE)
    def destroy(self, request, *args, **kwargs):
        return super().destroy(request, *args, **kwargs)

    def perform_destroy(self, instance):
        query = serializers.ForceQuerySerializer(data=self.request.query_params)
        query.is_valid(raise_exception=True)
        with refusals_as_errors():
            services.api_pair_delete(api_pair=instance, force=query.validated_data["force"], request=self.request)
