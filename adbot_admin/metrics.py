"""Every Prometheus series of adbot-admin, declared once; served at GET /metrics (metrics_endpoint.py).

Counters live in each process; under gunicorn, prometheus-client's multiprocess
mode writes them to files in PROMETHEUS_MULTIPROC_DIR (gunicorn.conf.py sets it
up) and a scrape sums every worker's. What is a fact of the database (sessions
by status, the audit head) is read at scrape time instead, in one query each.

Where a count comes from:
- requests and their latency: RequestMetricsMiddleware, by route template;
- logins, lockouts, imports: the audit writer, once the event commits
  (`audit_observed`), so they agree with the audit log;
- refused addresses: the IP allowlist, on every refusal;
- leases: the engine's lease service increments LEASES_GRANTED, LEASES_LOST
  and LEASES_STALE_FENCE itself;
- database errors: failed statements and connections (`database_error`);
- cache errors: the rate limiter and the public gallery's body cache where a
  cache operation fails, and the scrape's own probe.

Label values are bounded: route templates, methods, status codes, and the
choices of the models; never a raw path, a username or an address.
"""

import sys

from django.core.signals import got_request_exception
from django.db import DatabaseError, IntegrityError
from django.db.backends.signals import connection_created
from prometheus_client import Counter, Histogram, disable_created_metrics

PREFIX = "adbot"
# A `_created` series per counter doubles what is scraped, and multiprocess mode has none.
disable_created_metrics()

REQUESTS = Counter(
    f"{PREFIX}_http_requests",
    "HTTP requests answered, by route template, method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    f"{PREFIX}_http_request_duration_seconds",
    "Time to the response (its headers, for a streamed one), by route template and method.",
    ["route", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
LOGINS = Counter(
    f"{PREFIX}_logins",
    "Login attempts by method and outcome (success, failure, locked, throttled, mfa_failure), as audited.",
    ["method", "outcome"],
)
LOCKOUTS = Counter(f"{PREFIX}_lockouts", "Usernames locked after too many failed password checks.")
REFUSED_ADDRESSES = Counter(
    f"{PREFIX}_refused_addresses", "Requests refused because their address is outside ADMIN_ALLOWED_IPS."
)
IMPORTS = Counter(f"{PREFIX}_session_imports", "Session files in zip imports, by result.", ["result"])
# Issue 23's lease service increments these three.
LEASES_GRANTED = Counter(f"{PREFIX}_leases_granted", "Session leases granted to engines.")
LEASES_LOST = Counter(f"{PREFIX}_leases_lost", "Session leases that expired or were taken back before release.")
LEASES_STALE_FENCE = Counter(
    f"{PREFIX}_lease_stale_fence", "Writes refused because they carried a fence token older than the lease's."
)
DATABASE_ERRORS = Counter(f"{PREFIX}_database_errors", "Failed database connections and statements (not conflicts).")
CACHE_ERRORS = Counter(f"{PREFIX}_cache_errors", "Cache (Redis) operations that failed.")

LOGIN_ACTIONS = {"login", "cms_login", "admin_site_login"}
LOGIN_OUTCOMES = {"success": "success", "failure": "failure", "denied": "failure"}
# The budgets whose refusal is a refused login (adbot_admin/api/ratelimits.py).
LOGIN_BUDGETS = {"login", "password_checks"}
IMPORT_RESULTS = ("imported", "refused", "skipped")


def audit_observed(event):
    """Count what a committed audit event says about logins, lockouts, imports and leases."""
    action, method = event.action, event.auth_method
    if action in LOGIN_ACTIONS:
        LOGINS.labels(method, LOGIN_OUTCOMES.get(event.outcome, "failure")).inc()
    elif action == "mfa_code_failed":
        LOGINS.labels(method, "mfa_failure").inc()
    elif action == "account_locked":
        LOCKOUTS.inc()
        LOGINS.labels(method, "locked").inc()
    elif action == "rate_limited" and event.target in LOGIN_BUDGETS:
        LOGINS.labels(method, "throttled").inc()
    elif action == "session_file.import" and event.outcome == "success":
        for result in IMPORT_RESULTS:
            IMPORTS.labels(result).inc(int(event.detail.get(result, 0)))
    elif action == "lease.grant":
        LEASES_GRANTED.inc()
    elif action == "lease.write" and event.outcome == "failure" and event.detail.get("reason") == "stale_fence":
        LEASES_STALE_FENCE.inc()


# -- database errors ------------------------------------------------------------------------------------------------


def _count_failed_statements(execute, sql, params, many, context):
    try:
        return execute(sql, params, many, context)
    except IntegrityError:  # a conflict the caller expects and answers (409), not a database fault
        raise
    except DatabaseError as exc:
        exc.adbot_counted = True
        DATABASE_ERRORS.inc()
        raise


def _wrap_connection(sender, connection, **kwargs):
    # Sent on every connect, to the same DatabaseWrapper each time (its wrappers outlive its connections).
    if _count_failed_statements not in connection.execute_wrappers:
        connection.execute_wrappers.append(_count_failed_statements)


def _count_request_exception(sender, request=None, **kwargs):
    # A connection that could not be made fails before any statement, so no wrapper saw it.
    exc = sys.exc_info()[1]
    if isinstance(exc, DatabaseError) and not getattr(exc, "adbot_counted", False):
        DATABASE_ERRORS.inc()


connection_created.connect(_wrap_connection, dispatch_uid="adbot_metrics_database_errors")
got_request_exception.connect(_count_request_exception, dispatch_uid="adbot_metrics_request_exceptions")
