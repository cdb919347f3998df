"""sessions_admin's refusals as DRF errors: the status and code come from the exception, never from here."""

from rest_framework.exceptions import APIException

from adbot_admin.errors import CodedValidationError

from ..errors import Refused


def api_error(exc: Refused, *, field=None) -> APIException:
    """Return the DRF error for `exc`: a 400 names `field` under `errors` when given; any status keeps its code."""
    if field is not None and exc.status_code == 400:
        return CodedValidationError({field: [str(exc)]}, exc.code)
    error = APIException(str(exc), exc.code)
    error.status_code = exc.status_code
    return error
