"""Every API route, found by walking Django's URL resolver, with the methods its view allows."""

import re
from dataclasses import dataclass

from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from adbot_admin.api.permissions import RecentAuthentication

# Routes whose credential is the refresh cookie (CSRF-checked), never a bearer token
# (adbot_admin/api/cookie_views.py): without the cookie the refresh answers 401.
COOKIE_ROUTES = ("/api/auth/cookie/refresh", "/api/auth/cookie/logout")

# The only routes open without a token. Entries ending in `/*` cover every route under them.
# Anything else under /api/ must answer 401 without a token and 403 to a non-admin one.
PUBLIC_ROUTES = (
    "/api/health",
    "/api/auth/token",
    "/api/auth/token/refresh",
    "/api/auth/token/verify",
    *COOKIE_ROUTES,
    "/api/auth/token/2fa",
    "/api/auth/passkey/begin",
    "/api/auth/passkey/complete",
    "/api/cms/login",
    "/api/public/*",
    "/api/schema",
    "/api/docs",
)

# Routes outside /api/ for operators, with a guard of their own (METRICS_TOKEN, METRICS_ALLOWED_IPS):
# no user token of any kind opens them, and no address outside the list (test_routes.py).
OPERATOR_ROUTES = ("/metrics",)

# What a token from the CMS password (scope `cms`) may use; every other guarded route answers it 403
# `insufficient_scope`. Entries ending in `/*` cover every route under them.
CMS_SCOPE_ROUTES = (
    "/api/cms/*",
    "/api/auth/me",
    "/api/auth/logout",
    "/api/auth/sessions",
    "/api/auth/sessions/*",
    "/api/auth/logout-all",
)

# Sensitive actions (step-up, issue 24): they answer 403 `reauthentication_required` to a token whose
# `auth_time` is older than REAUTH_MAX_AGE. The matrix finds them from the views' permissions
# (`sensitive_cases`); these must be among them.
SENSITIVE_AT_LEAST = (
    ("get", "/api/admin/api-pairs/1"),
    ("post", "/api/auth/2fa/disable"),
    ("delete", "/api/auth/passkeys/1"),
    ("post", "/api/admin/users/no-such-user/logout-all"),
)

# Routes that also need a recent login (RecentAuthentication, step-up): a token without a fresh `auth_time`
# (a frontend token, an old login) answers 403 `reauthentication_required`. Regular expressions over the path.
STEP_UP_ROUTES = (r"/api/admin/sessions/[^/]+/secrets", r"/api/admin/sessions/export")

# Values for path parameters, by name; other names get the first candidate their pattern accepts.
PARAMETER_SAMPLES = {
    "pk": "1",
    "id": "1",
    "filename": "no-such-file.session",
    "session_id": "00000000-0000-4000-8000-000000000000",
    "username": "no-such-user",
}
FALLBACK_SAMPLES = ("1", "no-such-file.session", "example", "a", "example.png")
# Methods tried on a plain Django view, whose allowed methods cannot be read from a class.
PLAIN_VIEW_METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Route:
    regex: str
    path: str | None  # a concrete path that resolves to this route, None when none could be made
    callback: object
    methods: tuple

    @property
    def id(self):
        return self.path or self.regex

    @property
    def public(self):
        return self.path is not None and is_public(self.path)


def is_public(path):
    return _listed(path, PUBLIC_ROUTES)


def is_step_up(path):
    return any(re.fullmatch(pattern, path.rstrip("/")) for pattern in STEP_UP_ROUTES)


def in_cms_scope(path):
    return _listed(path, CMS_SCOPE_ROUTES)


def _listed(path, entries):
    path = path.rstrip("/")
    for entry in entries:
        if entry.endswith("/*"):
            if path.startswith(entry[:-1]):
                return True
        elif path == entry:
            return True
    return False


def _walk(patterns, prefix=""):
    for pattern in patterns:
        regex = pattern.pattern.regex.pattern.lstrip("^")
        if isinstance(pattern, URLResolver):
            yield from _walk(pattern.url_patterns, prefix + regex.rstrip("$"))
        elif isinstance(pattern, URLPattern):
            yield prefix + regex, pattern.callback


def _group_end(regex, start):
    """Return the index just past the group opening at `start` (escapes and classes respected)."""
    depth, index, in_class = 0, start, False
    while index < len(regex):
        char = regex[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        elif char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                return index + 1
        index += 1
    raise ValueError(f"unbalanced group in {regex}")


def sample_path(regex):
    """Return a concrete path matching `regex` (named groups filled with samples), or None."""
    text = regex
    while (start := text.find("(?P<")) != -1:
        name = text[start + 4 : text.index(">", start)]
        end = _group_end(text, start)
        group = re.compile(text[start:end])
        candidates = [PARAMETER_SAMPLES[name]] if name in PARAMETER_SAMPLES else []
        value = next((c for c in [*candidates, *FALLBACK_SAMPLES] if group.fullmatch(c)), None)
        if value is None:
            return None
        text = text[:start] + value + text[end:]
    text = re.sub(r"(\\Z|\$)$", "", text.replace("/?", ""))
    text = re.sub(r"\\(.)", r"\1", text)
    if re.search(r"[][()*+?{}|^$]", text):
        return None
    path = "/" + text.rstrip("/")
    return path if re.fullmatch(regex, path.lstrip("/")) else None


def allowed_methods(callback):
    """Return the methods the route's view answers, HEAD and OPTIONS included (DRF's rules)."""
    view_class = getattr(callback, "cls", None)
    if view_class is None:
        return PLAIN_VIEW_METHODS
    names = view_class.http_method_names
    actions = getattr(callback, "actions", None)
    if actions:  # a ViewSet route: the router's method -> action map
        methods = {method for method in actions if method in names}
    else:
        methods = {method for method in names if hasattr(view_class, method)}
    if "get" in methods and "head" in names:
        methods.add("head")  # Django's View.setup answers HEAD with GET
    if "options" in names:
        methods.add("options")
    return tuple(sorted(methods))


def api_routes():
    """Return every route whose path starts with /api/."""
    routes = []
    for regex, callback in _walk(get_resolver().url_patterns):
        if not regex.startswith("api/"):
            continue
        path = sample_path(regex)
        if path is not None:
            try:
                if resolve(path).func is not callback:
                    path = None
            except Resolver404:
                path = None
        routes.append(Route(regex=regex, path=path, callback=callback, methods=allowed_methods(callback)))
    return routes


def guarded_cases():
    """Return (route, method) for every method of every non-public API route."""
    return [(route, method) for route in api_routes() if not route.public for method in route.methods]


def is_sensitive(route, method):
    """Return True when the view answering `method` on `route` asks for a recent authentication (step-up)."""
    view_class = getattr(route.callback, "cls", None)
    if view_class is None or method == "options":
        return False
    view = view_class(**getattr(route.callback, "initkwargs", {}))
    answered_as = "get" if method == "head" else method  # DRF answers HEAD with the GET handler
    view.action = (getattr(route.callback, "actions", None) or {}).get(answered_as, answered_as)
    return any(isinstance(permission, RecentAuthentication) for permission in view.get_permissions())


def sensitive_cases():
    """Return (route, method) for every guarded operation that needs a recent authentication (HEAD included)."""
    return [(route, method) for route, method in guarded_cases() if is_sensitive(route, method)]
