"""Multipart parsing for session uploads: one file, streamed to a private temporary file, with its name as sent."""

from django.conf import settings
from django.core.files.uploadedfile import TemporaryUploadedFile
from django.core.files.uploadhandler import FileUploadHandler
from django.http.multipartparser import MultiPartParser as DjangoMultiPartParser
from django.http.multipartparser import MultiPartParserError
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.parsers import DataAndFiles, MultiPartParser

from adbot_admin.request_limits import multipart_limit

from ..errors import ArchiveRefused, SessionFileTooLarge, SidecarInvalid, describe_bytes
from ..sidecar import MAX_SIDECAR_BYTES
from .errors import api_error

# Stands in for a name Django would drop ("..", "dir/"), so the part still
# reaches the view and its name is refused there, by the name rule.
UNNAMED = "unnamed"


class SessionFileUploadHandler(FileUploadHandler):
    """Streams the request's one file to a private temporary file; refuses it past SESSION_MAX_BYTES.

    Every upload goes to disk (never memory), because inspection needs a
    path. The body is refused from its Content-Length before anything is
    read, and the file as soon as its bytes pass the limit. Besides the file,
    a single upload may carry the account's JSON as the part `sidecar`
    (MAX_SIDECAR_BYTES at most).
    """

    max_bytes_setting = "SESSION_MAX_BYTES"
    # Parts besides the one file, and the most bytes each may carry.
    extra_parts = {"sidecar": MAX_SIDECAR_BYTES}

    def too_large(self):
        """Return the 413 for a body, or a part, past its limit."""
        return api_error(SessionFileTooLarge.over(self.limit))

    def __init__(self, request=None):
        super().__init__(request)
        self.max_bytes = getattr(settings, self.max_bytes_setting)
        self.client_file_name = None
        self.files_seen = 0
        self.fields_seen = set()
        self.received = 0
        self.limit = self.max_bytes

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        if content_length > multipart_limit(self.max_bytes):
            raise self.too_large()

    def new_file(self, *args, **kwargs):
        super().new_file(*args, **kwargs)
        extra = self.field_name in self.extra_parts
        if not extra:
            self.files_seen += 1
        if self.files_seen > 1 or self.field_name in self.fields_seen:
            raise ValidationError({self.field_name: ["Send exactly one file."]}, code="too_many_files")
        self.fields_seen.add(self.field_name)
        self.received = 0
        self.limit = self.extra_parts[self.field_name] if extra else self.max_bytes
        self.file = TemporaryUploadedFile(self.file_name, self.content_type, 0, self.charset, self.content_type_extra)
        # The name exactly as the Content-Disposition header gave it, before Django's clean-up.
        self.file.client_name = self.client_file_name

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.file.close()  # deletes the temporary file
            if self.field_name in self.extra_parts:
                raise api_error(
                    SidecarInvalid(self.field_name, f"is larger than {describe_bytes(self.limit)}"),
                    field=self.field_name,
                )
            raise self.too_large()
        self.file.write(raw_data)

    def file_complete(self, file_size):
        self.file.seek(0)
        self.file.size = file_size
        return self.file

    def upload_interrupted(self):
        if getattr(self, "file", None) is not None:
            self.file.close()


class SessionArchiveUploadHandler(SessionFileUploadHandler):
    """Streams the request's one zip archive to a private temporary file; refuses it past SESSION_IMPORT_MAX_BYTES.

    The compressed archive is never larger than what it holds plus its
    headers, so the uncompressed limit bounds it too.
    """

    max_bytes_setting = "SESSION_IMPORT_MAX_BYTES"
    extra_parts = {}

    def too_large(self):
        return api_error(
            ArchiveRefused(
                f"the archive is larger than {describe_bytes(self.max_bytes)} (SESSION_IMPORT_MAX_BYTES)",
                code="archive_too_large",
                status_code=413,
            )
        )


class _ClientNameMultiPartParser(DjangoMultiPartParser):
    """Django's parser, telling the session handler each file's name before sanitising it."""

    def sanitize_file_name(self, file_name):
        for handler in self._upload_handlers:
            if isinstance(handler, SessionFileUploadHandler):
                handler.client_file_name = file_name
        return super().sanitize_file_name(file_name) or UNNAMED


class SessionFileParser(MultiPartParser):
    """multipart/form-data for session uploads: SessionFileUploadHandler only, raw names kept."""

    handler_class = SessionFileUploadHandler

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context["request"]
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        meta = request.META.copy()
        meta["CONTENT_TYPE"] = media_type
        handlers = [self.handler_class(request._request)]
        try:
            data, files = _ClientNameMultiPartParser(meta, stream, handlers, encoding).parse()
        except MultiPartParserError as exc:
            raise ParseError(f"Multipart form parse error - {exc}") from exc
        return DataAndFiles(data, files)


class SessionArchiveParser(SessionFileParser):
    """multipart/form-data for zip imports: one archive, streamed to disk, SESSION_IMPORT_MAX_BYTES."""

    handler_class = SessionArchiveUploadHandler


def client_file_name(upload):
    """Return the name the client sent for `upload` (its sanitised name if none was recorded)."""
    return getattr(upload, "client_name", None) or upload.name
