"""OpenAPI descriptions of the project's own authentication classes."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.plumbing import build_mock_request
from drf_spectacular.utils import OpenApiExample, OpenApiResponse
from rest_framework import serializers

from ..errors import Conflict, InsufficientStorage, PayloadTooLarge
from .permissions import RecentAuthentication


class BearerJWTScheme(OpenApiAuthenticationExtension):
    """A bearer JWT scheme; subclasses name their authentication class and say where its tokens come from."""

    description = ""

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT", "description": self.description}


class AdminJWTScheme(BearerJWTScheme):
    target_class = "adbot_admin.api.authentication.AdminJWTAuthentication"
    name = "backendToken"
    description = "Access token from POST /api/auth/token or /api/cms/login (HS256, `role` claim)."


class FrontendJWTScheme(BearerJWTScheme):
    target_class = "adbot_admin.api.authentication.FrontendJWTAuthentication"
    name = "frontendToken"
    description = "Token minted by the Next.js frontend with JWT_SECRET (HS256, `exp` and `role`)."


# The error body every 4xx and 5xx carries (exceptions.py).
ERROR_COMPONENT = "Error"
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "detail": {"type": "string"},
        "code": {"type": "string"},
        "errors": {"type": "object", "additionalProperties": True, "description": "Validation errors by field."},
    },
    "required": ["detail", "code"],
}
ERROR_DESCRIPTIONS = {
    "400": "Invalid input; `errors` names each field.",
    "401": "Missing, invalid, expired or revoked token.",
    "403": "The token's role is not admin.",
    "404": "Not found.",
    "413": "The request body is larger than this server accepts.",
    "415": "The body's content type is not accepted.",
    "429": "Past the rate limit; Retry-After says how many seconds to wait.",
    "503": "The database, the cache or the file storage is unavailable; try again shortly.",
}
# One example body per error status, shown where a view names no more precise one.
ERROR_EXAMPLES = {
    "400": {
        "detail": "This field is required.",
        "code": "invalid",
        "errors": {"username": ["This field is required."]},
    },
    "401": {"detail": "Given token not valid for any token type", "code": "token_not_valid"},
    "403": {"detail": "You do not have permission to perform this action.", "code": "permission_denied"},
    "404": {"detail": "Not found.", "code": "not_found"},
    "405": {"detail": 'Method "PUT" not allowed.', "code": "method_not_allowed"},
    "409": {"detail": Conflict.default_detail, "code": Conflict.default_code},
    "413": {"detail": PayloadTooLarge.default_detail, "code": PayloadTooLarge.default_code},
    "415": {"detail": 'Unsupported media type "text/plain" in request.', "code": "unsupported_media_type"},
    "428": {"detail": "Send the lease's fence in the Lease-Fence header.", "code": "fence_required"},
    "429": {"detail": "Request was throttled. Expected available in 42 seconds.", "code": "throttled"},
    "503": {"detail": "The database is unavailable; try again shortly.", "code": "database_unavailable"},
    "507": {"detail": InsufficientStorage.default_detail, "code": InsufficientStorage.default_code},
}
RETRY_AFTER = {
    "required": True,
    "description": "Seconds to wait before trying again.",
    "schema": {"type": "string", "pattern": "^[0-9]+$"},
}
HTTP_METHODS = ("get", "put", "post", "patch", "delete", "head", "options", "trace")


class ErrorSerializer(serializers.Serializer):
    """The one error body (component `Error`), for views that show an error's example."""

    detail = serializers.CharField()
    code = serializers.CharField()
    errors = serializers.DictField(required=False, help_text="Validation errors by field.")


def error_example(status, code, detail, *, errors=None, name=None):
    """Return an OpenApiExample of the error body `status` answers with `code`."""
    value = {"detail": detail, "code": code}
    if errors is not None:
        value["errors"] = errors
    return OpenApiExample(name or code, value=value, response_only=True, status_codes=[str(status)])


def error_response(description, *examples):
    """Return an error response of the one error body, showing `examples`.

    Each is an `error_example`, or an error class, shown with its own status, code and detail.
    """
    shown = [
        example
        if isinstance(example, OpenApiExample)
        else error_example(example.status_code, example.default_code, str(example.default_detail))
        for example in examples
    ]
    return OpenApiResponse(response=ErrorSerializer, description=description, examples=shown)


def is_public(operation):
    """Return True when the operation asks for no credential (`security: [{}]` or none)."""
    return all(not requirement for requirement in operation.get("security") or [{}])


def _operations(result):
    """Yield (path, lower-case method, operation) of each operation of the schema `result`."""
    for path, operations in result.get("paths", {}).items():
        for method, operation in operations.items():
            if method in HTTP_METHODS:
                yield path, method, operation


def _endpoints(generator):
    """Yield (path, lower-case method, view) of each operation, the view carrying a mock request."""
    for path, _regex, method, view in generator._get_paths_and_endpoints():
        if view.request is None:
            # A view may choose its permissions by method, as a request would carry it.
            view.request = build_mock_request(method, path, view, None)
        yield path, method.lower(), view


def statuses_for(operation, *, rate_limited):
    """Return the error statuses `operation` can answer with, whatever its view declared."""
    parameters = operation.get("parameters", [])
    statuses = {"503"}  # a database or cache outage reaches every operation
    if not is_public(operation):
        statuses |= {"401", "403"}
    if any(parameter["in"] == "path" for parameter in parameters):
        statuses.add("404")
    if any(parameter["in"] == "query" and parameter["name"] in ("page", "cursor") for parameter in parameters):
        statuses.add("404")  # DRF's pagination answers an unknown page or cursor with 404
    if "requestBody" in operation:
        statuses |= {"400", "413", "415"}
    elif any(parameter["in"] == "query" for parameter in parameters):
        statuses.add("400")
    if rate_limited:
        statuses.add("429")
    return statuses


def postprocess_error_responses(result, generator, request, public):
    """Document every error status each operation can return, with the one error body and an example of it.

    Views describe their own outcomes; this hook adds what the shared
    machinery answers everywhere (401/403 on guarded operations, 404 on
    lookups, 400/413/415 on bodies, 429 with Retry-After on rate-limited
    handlers, 503 on outages), so no view can forget one.
    """
    result.setdefault("components", {}).setdefault("schemas", {})[ERROR_COMPONENT] = ERROR_SCHEMA
    limited = {  # the operations whose handler spends a rate-limit budget
        (path, method)
        for path, method, view in _endpoints(generator)
        if getattr(getattr(view, getattr(view, "action", None) or method, None), "rate_limit_budget", None) is not None
    }
    for path, method, operation in _operations(result):
        responses = operation.setdefault("responses", {})
        for status in statuses_for(operation, rate_limited=(path, method) in limited):
            responses.setdefault(status, {"description": ERROR_DESCRIPTIONS[status]})
        for status, response in responses.items():
            if not status.startswith(("4", "5")):
                continue
            if response.get("description", "") in ("", "No response body"):
                response["description"] = ERROR_DESCRIPTIONS.get(status, "Error.")
            content = response.setdefault(
                "content", {"application/json": {"schema": {"$ref": f"#/components/schemas/{ERROR_COMPONENT}"}}}
            )
            body = content.get("application/json")
            if body is not None and not body.get("examples") and status in ERROR_EXAMPLES:
                value = ERROR_EXAMPLES[status]
                body["examples"] = {value["code"]: {"value": value, "summary": value["code"]}}
            if status == "429":
                response.setdefault("headers", {})["Retry-After"] = RETRY_AFTER
        operation["responses"] = dict(sorted(responses.items()))
    return result


def _filter_names(view):
    """Return the query parameter names of the view's django-filter FilterSet (none without one)."""
    if not (getattr(view, "filterset_class", None) or getattr(view, "filterset_fields", None)):
        return set()
    filterset_class = DjangoFilterBackend().get_filterset_class(view, view.get_queryset())
    return set(filterset_class.base_filters) if filterset_class else set()


def postprocess_empty_filters(result, generator, request, public):
    """Mark filter parameters `allowEmptyValue`: django-filter reads `?actor=` as no filter at all."""
    names = {(path, method): _filter_names(view) for path, method, view in _endpoints(generator)}
    for path, method, operation in _operations(result):
        filters = names.get((path, method), set())
        for parameter in operation.get("parameters", []):
            if parameter["in"] == "query" and parameter["name"] in filters:
                parameter["allowEmptyValue"] = True
    return result


FORM_MEDIA_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def postprocess_json_bodies(result, generator, request, public):
    """Document JSON alone where an operation takes JSON: forms are for uploads.

    DRF's default parsers let every view read forms as well, which would put
    untyped form fields (every value a string) into the contract of JSON endpoints.
    """
    for _path, _method, operation in _operations(result):
        content = operation.get("requestBody", {}).get("content", {})
        if "application/json" in content:
            for media_type in FORM_MEDIA_TYPES:
                content.pop(media_type, None)
    return result


def postprocess_closed_bodies(result, generator, request, public):
    """Write `additionalProperties: false` for request bodies whose serializer refuses unknown keys.

    A serializer says so with `reject_unknown_fields = True`; DRF's default is to
    ignore unknown keys, which the open schema already describes.
    """
    schemas = result.get("components", {}).get("schemas", {})
    for component in generator.registry._components.values():
        closed = component.type == "schemas" and getattr(component.object, "reject_unknown_fields", False)
        if closed and component.name in schemas and component.name.endswith("Request"):
            schemas[component.name]["additionalProperties"] = False
    return result


def postprocess_strip_trailing_slash(result, generator, request, public):
    """Write paths without their trailing slash: routes match both, the contract has none."""
    result["paths"] = {(path.rstrip("/") or "/"): operations for path, operations in result.get("paths", {}).items()}
    return result


# The mark of a sensitive operation (step-up), for clients and docs alike.
REAUTHENTICATION_EXTENSION = "x-reauthentication-required"
REAUTHENTICATION_NOTE = (
    "**Sensitive action (step-up):** needs an access token whose `auth_time` is within REAUTH_MAX_AGE "
    "seconds (a fresh login or `POST /api/auth/reauthenticate`); otherwise 403 `reauthentication_required`. "
    "A refresh never renews `auth_time`."
)


def postprocess_sensitive_operations(result, generator, request, public):
    """Mark each operation a recent authentication guards: `x-reauthentication-required`, a note, its 403.

    The mark is read from the view's permissions, so no sensitive view can go undocumented.
    """
    sensitive = {
        (path, method)
        for path, method, view in _endpoints(generator)
        if any(isinstance(permission, RecentAuthentication) for permission in view.get_permissions())
    }
    for path, method, operation in _operations(result):
        if (path, method) not in sensitive:
            continue
        operation[REAUTHENTICATION_EXTENSION] = True
        description = operation.get("description", "")
        operation["description"] = f"{description}\n\n{REAUTHENTICATION_NOTE}".strip()
        forbidden = operation.setdefault("responses", {}).setdefault("403", {})
        forbidden["description"] = (
            f"{forbidden.get('description') or ERROR_DESCRIPTIONS['403']} Or `reauthentication_required`: "
            "the token's `auth_time` is older than REAUTH_MAX_AGE."
        )
    return result
