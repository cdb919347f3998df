"""GET /metrics: Prometheus text for operators, guarded by its own token or address list, never a user login."""

import hmac
import time

from django.conf import settings
from django.core.cache import cache
from django.db import DatabaseError
from django.http import HttpResponse
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, generate_latest, multiprocess
from prometheus_client.core import GaugeMetricFamily
from rest_framework.exceptions import MethodNotAllowed

from sessions_admin.ledger import sessions_summary

from .. import audit_chain
from ..client_ip import client_ip
from ..errors import MetricsNotAllowed, MetricsTokenInvalid
from ..http_errors import api_exception_response
from ..ip_allowlist import address_allowed, parse_entry
from ..metrics import CACHE_ERRORS, DATABASE_ERRORS, PREFIX


class DatabaseCollector:
    """Gauges read from the database at each scrape: sessions by status, the audit head, whether each store answers."""

    def collect(self):
        sessions = GaugeMetricFamily(f"{PREFIX}_sessions", "Stored session files by status.", labels=["status"])
        head = GaugeMetricFamily(f"{PREFIX}_audit_head_seq", "The audit chain head's seq.")
        database_up = GaugeMetricFamily(f"{PREFIX}_database_up", "1 when the scrape's database queries succeeded.")
        cache_up = GaugeMetricFamily(f"{PREFIX}_cache_up", "1 when the scrape's cache probe succeeded.")
        began = time.monotonic()
        try:
            # The trigger-kept counts: a few rows, whatever the number of sessions.
            for status, count in sessions_summary()["by_status"].items():
                sessions.add_metric([status], count)
            head.add_metric([], audit_chain.sealed_head()[0])
            database_up.add_metric([], 1)
        except DatabaseError:
            DATABASE_ERRORS.inc()
            database_up.add_metric([], 0)
        try:
            cache.get("adbot:metrics-probe")
            cache_up.add_metric([], 1)
        except Exception:  # the cache backend's own errors (Redis down) vary by client
            CACHE_ERRORS.inc()
            cache_up.add_metric([], 0)
        scrape = GaugeMetricFamily(f"{PREFIX}_scrape_database_seconds", "Time the scrape spent on its own queries.")
        scrape.add_metric([], time.monotonic() - began)
        yield from (sessions, head, database_up, cache_up, scrape)


class Scrape:
    """What one scrape shows: every process's counters (multiprocess mode) or this process's, and the database gauges."""

    def __init__(self):
        if settings.PROMETHEUS_MULTIPROC_DIR:
            self.source = multiprocess.MultiProcessCollector(None, path=settings.PROMETHEUS_MULTIPROC_DIR)
        else:
            self.source = REGISTRY

    def collect(self):
        yield from self.source.collect()
        yield from DatabaseCollector().collect()


def metrics_refusal(request):
    """Return the error response for a scrape that may not see the metrics, or None when it may.

    A bearer token must be METRICS_TOKEN (401 otherwise, whatever the address);
    without one, the client address must be in METRICS_ALLOWED_IPS (403 otherwise).
    """
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if header:
        scheme, _, token = header.partition(" ")
        expected = settings.METRICS_TOKEN
        if expected and scheme.lower() == "bearer" and hmac.compare_digest(token.strip().encode(), expected.encode()):
            return None
        response = api_exception_response(MetricsTokenInvalid())
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    networks = [parse_entry(entry) for entry in settings.METRICS_ALLOWED_IPS if entry.strip()]
    if address_allowed(client_ip(request), networks):
        return None
    return api_exception_response(MetricsNotAllowed())


def metrics_view(request):
    """Return the metrics in the Prometheus text format, or the refusal."""
    if request.method not in ("GET", "HEAD"):
        response = api_exception_response(MethodNotAllowed(request.method[:16]))
        response["Allow"] = "GET, HEAD"
        return response
    refusal = metrics_refusal(request)
    if refusal is not None:
        return refusal
    response = HttpResponse(generate_latest(Scrape()), content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
