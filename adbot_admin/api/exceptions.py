"""The one error format: `{"detail", "code"}`, plus `"errors"` for validation.

DRF's own handler does the status codes and headers; this module reshapes its
output and maps the few exceptions DRF does not know. Answers outside DRF
(Django's handlers, CSRF failures, middlewares) take the same shape from
http_errors.py.
"""

import errno
import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import DatabaseError
from django.http import Http404, UnreadablePostError
from django_ratelimit.exceptions import Ratelimited
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from ..errors import CodedValidationError, InsufficientStorage, PayloadTooLarge, ServiceUnavailable
from ..http_errors import error_body

logger = logging.getLogger(__name__)

INVALID_TOKEN_CHALLENGE = 'Bearer realm="api", error="invalid_token"'


def _as_drf_exception(exc):
    """Map exceptions DRF does not know to the APIException they mean."""
    if isinstance(exc, Ratelimited):
        # A PermissionDenied subclass: without this it would become a 403.
        return exceptions.Throttled()
    # DRF converts these two itself, but the reshaping below needs an APIException.
    if isinstance(exc, Http404):
        return exceptions.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        return exceptions.PermissionDenied()
    if isinstance(exc, DjangoValidationError):
        return exceptions.ValidationError(as_serializer_error(exc))
    if isinstance(exc, (RequestDataTooBig,)):
        return PayloadTooLarge()
    if isinstance(exc, (TooManyFieldsSent, TooManyFilesSent)):
        return exceptions.ParseError("The request has too many fields or files.")
    if isinstance(exc, UnreadablePostError):
        # The client stopped sending (disconnected, or stalled past the socket timeout):
        # its request is incomplete, not our storage broken.
        return exceptions.ParseError("The request body ended early or arrived too slowly.", "incomplete_body")
    if isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT):
        logger.error("storage full: %s", type(exc).__name__)
        return InsufficientStorage()
    if isinstance(exc, OSError):
        logger.error("storage error: %s", exc.strerror or type(exc).__name__)
        return ServiceUnavailable("File storage failed; nothing was kept. Try again shortly.", "storage_error")
    if isinstance(exc, DatabaseError):
        logger.error("database error: %s", type(exc).__name__)
        return ServiceUnavailable("The database is unavailable; try again shortly.", "database_unavailable")
    return exc


def _flatten(detail):
    """Return the first human message found in a nested DRF error detail."""
    if isinstance(detail, dict):
        for value in detail.values():
            return _flatten(value)
        return ""
    if isinstance(detail, list):
        return _flatten(detail[0]) if detail else ""
    return str(detail)


def exception_handler(exc, context):
    """Return the error response for `exc`, or None for an unhandled one (a 500)."""
    exc = _as_drf_exception(exc)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None

    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    if isinstance(exc, exceptions.ValidationError):
        errors = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        first = _flatten(errors)
        code = exc.code if isinstance(exc, CodedValidationError) else "invalid"
        response.data = error_body(first or "Invalid input.", code, errors)
    elif isinstance(detail, dict):
        # SimpleJWT's errors already carry detail and code; drop its token messages.
        response.data = error_body(detail.get("detail", exc.default_detail), detail.get("code", exc.default_code))
    else:
        code = detail.code if isinstance(detail, exceptions.ErrorDetail) else None
        response.data = error_body(detail, code or exc.default_code)

    if response.status_code == status.HTTP_401_UNAUTHORIZED and response.data["code"] not in ("not_authenticated",):
        response["WWW-Authenticate"] = INVALID_TOKEN_CHALLENGE
    retry_after = getattr(exc, "retry_after", None)
    if retry_after is not None:
        response["Retry-After"] = str(int(retry_after))
    return response
