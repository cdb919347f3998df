"""Refuse a request body from its declared size, before anything reads it."""

from django.conf import settings

from .exceptions import json_error

# Room for the multipart boundaries and part headers around the largest file.
MULTIPART_OVERHEAD = 64 * 1024


def body_limit(content_type):
    """Return the largest body, in bytes, accepted with `content_type`.

    Multipart bodies carry one file (a session file or an image, each app
    checks its own limit); every other body is parsed in memory, so it gets
    DATA_UPLOAD_MAX_MEMORY_SIZE, which Django applies to forms but DRF's JSON
    parser never reads.
    """
    if content_type.lower().startswith("multipart/"):
        return max(settings.SESSION_MAX_BYTES, settings.IMAGE_MAX_BYTES) + MULTIPART_OVERHEAD
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class RequestBodyLimitMiddleware:
    """Answers 413 to a request whose Content-Length is past the limit for its content type."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return json_error(400, "Invalid Content-Length.", "bad_request")
        if length > body_limit(request.META.get("CONTENT_TYPE", "")):
            return json_error(413, "The request body is too large.", "payload_too_large")
        return self.get_response(request)
