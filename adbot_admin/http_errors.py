"""The API's error body, `{"detail", "code"}`, for answers that DRF does not write.

Django's 400, 403, 404 and 500 handlers, CSRF failures, the middlewares'
refusals and the 405 of plain Django views (the CMS page, the admin site) all
answer here, rendered by the API's own renderer: byte for byte the body a DRF
view gives for the same mistake.
"""

from django.http import HttpResponse
from rest_framework import exceptions
from rest_framework.settings import api_settings

from .errors import BadRequest, CsrfFailed, ServerError


def error_body(detail, code, errors=None):
    """Return the error body as a dict."""
    body = {"detail": str(detail), "code": str(code)}
    if errors is not None:
        body["errors"] = errors
    return body


def json_error(status_code, detail, code, *, headers=None):
    """Return an HttpResponse holding the error body, rendered as DRF renders it."""
    renderer = api_settings.DEFAULT_RENDERER_CLASSES[0]()
    content = renderer.render(error_body(detail, code))
    return HttpResponse(content, status=status_code, content_type=renderer.media_type, headers=headers)


def api_exception_response(exc):
    """Return the error response of a DRF APIException raised outside DRF (the admin site, a middleware)."""
    wait = getattr(exc, "wait", None) or getattr(exc, "retry_after", None)
    headers = {"Retry-After": str(int(wait))} if wait else {}
    return json_error(exc.status_code, exc.detail, exc.get_codes(), headers=headers)


def bad_request(request, exception=None):
    return api_exception_response(BadRequest())


def permission_denied(request, exception=None):
    return api_exception_response(exceptions.PermissionDenied())


def not_found(request, exception=None):
    return api_exception_response(exceptions.NotFound())


def server_error(request):
    return api_exception_response(ServerError())


def csrf_failure(request, reason=""):
    return api_exception_response(CsrfFailed())


class MethodNotAllowedBodyMiddleware:
    """Gives the bodiless 405 of a plain Django view (require_http_methods, the admin's logout) the API's body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if response.status_code == 405 and not response.get("Content-Type", "").startswith("application/json"):
            allowed = response.get("Allow")
            response = api_exception_response(exceptions.MethodNotAllowed(request.method))
            if allowed:
                response["Allow"] = allowed
        return response
