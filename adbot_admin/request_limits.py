"""The limits on a request's size, judged from its headers before anything reads the body.

Every body-size constant lives here: the middleware's general limits and the
per-upload checks (session files, images) both use them. A view that takes a
larger file than the general multipart limit (the zip import) says so with
`accepts_file_up_to`; the middleware looks for that mark only on a request
already past the general limit, so every other request pays nothing for it.
"""

from django.conf import settings
from django.urls import Resolver404, resolve

from .errors import BadRequest, PayloadTooLarge
from .http_errors import api_exception_response

# Room for the multipart boundaries and part headers around the largest file.
MULTIPART_OVERHEAD = 64 * 1024
# A DNS name is at most 253 characters; with a port, a real Host header stays under this.
HOST_MAX_LENGTH = 255


def declared_length(request):
    """Return the request's Content-Length as an int (0 when absent); raise ValueError for a malformed one."""
    return int(request.META.get("CONTENT_LENGTH") or 0)


def multipart_limit(max_file_bytes):
    """Return the largest multipart body that can carry one file of `max_file_bytes`."""
    return max_file_bytes + MULTIPART_OVERHEAD


def body_limit(content_type):
    """Return the largest body, in bytes, accepted with `content_type`.

    Multipart bodies carry one file (a session file or an image, each app
    checks its own limit); every other body is parsed in memory, so it gets
    DATA_UPLOAD_MAX_MEMORY_SIZE, which Django applies to forms but DRF's JSON
    parser never reads.
    """
    if content_type.lower().startswith("multipart/"):
        return multipart_limit(max(settings.SESSION_MAX_BYTES, settings.IMAGE_MAX_BYTES))
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


def accepts_file_up_to(setting_name):
    """Mark a view, or a viewset's action, as taking a multipart body of one file of `settings.<setting_name>` bytes."""

    def mark(view):
        view.max_file_bytes_setting = setting_name
        return view

    return mark


def view_multipart_limit(request):
    """Return the multipart limit the view at the request's path declares for its method, or None."""
    try:
        view = resolve(request.path_info, urlconf=getattr(request, "urlconf", None)).func
    except Resolver404:
        return None
    # A viewset's route maps each method to one action of its class.
    actions = getattr(view, "actions", None)
    handler = getattr(view.cls, actions.get(request.method.lower(), ""), None) if actions else view
    setting_name = getattr(handler, "max_file_bytes_setting", None)
    return multipart_limit(getattr(settings, setting_name)) if setting_name else None


class RequestLimitMiddleware:
    """Answers 400 to an overlong Host header and 413 to a Content-Length past the limit for its content type."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if len(request.META.get("HTTP_HOST", "")) > HOST_MAX_LENGTH:
            return api_exception_response(BadRequest())
        try:
            length = declared_length(request)
        except ValueError:
            return api_exception_response(BadRequest("Invalid Content-Length."))
        content_type = request.META.get("CONTENT_TYPE", "")
        if length > body_limit(content_type) and not (
            content_type.lower().startswith("multipart/") and length <= (view_multipart_limit(request) or 0)
        ):
            return api_exception_response(PayloadTooLarge())
        return self.get_response(request)
