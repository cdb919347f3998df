"""Counts every request and its latency by route template, method and status (metrics.py)."""

import functools
import re
import time

from django.urls import Resolver404, resolve

from .metrics import REQUEST_SECONDS, REQUESTS

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "unmatched"
_NAMED_GROUP = re.compile(r"\(\?P<(\w+)>(?:[^()]|\([^()]*\))*\)")
_CONVERTER = re.compile(r"<(?:\w+:)?(\w+)>")


@functools.lru_cache(maxsize=1024)
def template_of(route):
    """Return a resolver's route as a path template: `^api/auth/sessions/(?P<session_id>...)/?$` -> `/api/auth/sessions/{session_id}`."""
    text = _CONVERTER.sub(r"{\1}", _NAMED_GROUP.sub(r"{\1}", route))
    text = text.replace("^", "").replace("$", "").replace("\\Z", "").replace("/?", "")
    return "/" + text.strip("/")


def route_label(request):
    """Return the template of the route `request` resolved to, or `unmatched`: never the raw path."""
    match = getattr(request, "resolver_match", None)
    if match is None:  # answered before URL resolution (an earlier middleware refused it)
        try:
            match = resolve(request.path_info)
        except Resolver404:
            return UNMATCHED
    return template_of(match.route)


class RequestMetricsMiddleware:
    """Observes each response's status and the time to produce it; a label never holds a client's raw value."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        began = time.perf_counter()
        response = self.get_response(request)
        route = route_label(request)
        method = request.method if request.method in METHODS else "other"
        REQUEST_SECONDS.labels(route, method).observe(time.perf_counter() - began)
        REQUESTS.labels(route, method, str(response.status_code)).inc()
        return response
