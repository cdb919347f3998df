"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py`.

Environment: BIND (default 127.0.0.1:8000), WEB_CONCURRENCY (workers, default 1; more need
CACHE_URL=redis://..., see when_ready),
GUNICORN_THREADS (threads per worker, default 4), GUNICORN_TIMEOUT (seconds, default 30: a worker
silent that long is restarted, and a request body stalled that long is cut short). Each worker
tunes glibc's malloc (tune_malloc) unless MALLOC_ARENA_MAX or MALLOC_MMAP_THRESHOLD_ is set.
PROMETHEUS_MULTIPROC_DIR (default: a private temporary folder): where workers write the counters
that GET /metrics sums.
"""

import os
import shutil
import tempfile
from pathlib import Path

from gunicorn.glogging import Logger, SafeAtoms

from adbot_admin.logs import EscapingFormatter, JsonFormatter, escape

wsgi_app = "adbot_admin.wsgi:application"
bind = os.environ.get("BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "1"))
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
worker_class = "gthread"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = 10
# Load the app once in the master so a refused start-up (weak keys) stops here
# with its message instead of in every worker.
preload_app = True
# A 16 KB bearer token must reach Django's 401, not gunicorn's bare 400.
limit_request_field_size = 32768
accesslog = "-"
errorlog = "-"
# The path without its query string: a query string may carry a token or a secret.
access_log_format = '%(h)s "%(m)s %(U)s %(H)s" %(s)s %(B)s %(M)sms'


class EscapedAtoms(SafeAtoms):
    """Access-log values escaped and capped as in the app log (adbot_admin/logs.py), quotes included.

    gunicorn decodes the path (`%0a` becomes a newline), so an unescaped `%(U)s`
    could end the line and forge the next one.
    """

    def __init__(self, atoms):
        dict.__init__(self, atoms)

    def __getitem__(self, key):
        value = super().__getitem__(key)
        return escape(value, quotes=True) if isinstance(value, str) else value


class EscapingLogger(Logger):
    """gunicorn's logger whose access and error lines a request cannot forge."""

    atoms_wrapper_class = EscapedAtoms

    def setup(self, cfg):
        super().setup(cfg)
        # errorlog is the one stream handler here (no syslog): gunicorn's layout, escaped values;
        # with LOG_FORMAT=json (as the app reads it) every line of both logs is a JSON object.
        if os.environ.get("LOG_FORMAT") == "json":
            for handler in (*self.error_log.handlers, *self.access_log.handlers):
                handler.setFormatter(JsonFormatter())
            return
        for handler in self.error_log.handlers:
            handler.setFormatter(EscapingFormatter(self.error_fmt, self.datefmt))


logger_class = EscapingLogger
# Django alone reads X-Forwarded-* (TRUSTED_PROXY_COUNT, SECURE_PROXY_SSL_HEADER).
forwarded_allow_ips = ""

# prometheus-client's multiprocess mode (adbot_admin/metrics.py): each worker writes its counters
# to files in this folder and GET /metrics sums them. It must be set before the app, and with it
# prometheus-client, is loaded; this file is read first. An operator's folder is emptied here: an
# earlier run's counters must not be summed into this one's.
METRICS_DIR_IS_OURS = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
if METRICS_DIR_IS_OURS:
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="adbot-metrics-")
else:
    for stale in Path(os.environ["PROMETHEUS_MULTIPROC_DIR"]).glob("*.db"):
        stale.unlink()


def child_exit(server, worker):
    # A dead worker's live gauges go; its counters stay, so that totals never go back.
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def on_exit(server):
    if METRICS_DIR_IS_OURS:
        shutil.rmtree(os.environ["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def when_ready(server):
    # Rate-limit counters and the revoked-token copy live in the cache: worker
    # processes with a cache each of their own would each grant the whole login
    # budget and could miss a logout made in another.
    import sys

    from django.conf import settings

    local = settings.CACHES["default"]["BACKEND"].endswith("LocMemCache")
    allowed = os.environ.get("GUNICORN_ALLOW_PROCESS_LOCAL_CACHE") == "true"
    if server.cfg.workers > 1 and local and not allowed:
        server.log.error(
            "adbot-admin refuses to start: %d workers with the local-memory cache would not share "
            "rate limits or logouts. Set CACHE_URL=redis://... or WEB_CONCURRENCY=1.",
            server.cfg.workers,
        )
        sys.exit(1)


# glibc's own malloc variables: when the operator sets one, glibc has read it at
# start-up and the worker leaves malloc as configured (see tune_malloc).
MALLOC_VARIABLES = ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_")
# mallopt parameter numbers, from glibc's <malloc.h>.
M_MMAP_THRESHOLD = -3
M_ARENA_MAX = -8


def tune_malloc(log):
    """Keep a worker's freed image buffers from staying in its RSS (glibc only).

    glibc gives each thread an arena of its own and raises its mmap threshold
    past every large block freed, so the buffers of one decode stay in the
    process for the next, one set per thread: measured (bench/upload_memory.py,
    bench/RESULTS.md), a worker that has decoded a few 36 MP images keeps about
    125 MiB more than it started with, 3 MiB once tuned. A fixed threshold sends
    large blocks to mmap, which gives them back on free; two arenas bound what
    small allocations can scatter.
    """
    import ctypes
    import platform

    if platform.libc_ver()[0] != "glibc" or any(os.environ.get(name) for name in MALLOC_VARIABLES):
        return
    mallopt = ctypes.CDLL(None).mallopt
    mallopt.argtypes = (ctypes.c_int, ctypes.c_int)
    if not (mallopt(M_ARENA_MAX, 2) and mallopt(M_MMAP_THRESHOLD, 128 * 1024)):
        log.warning("mallopt refused the malloc settings; freed image memory may stay in the worker")


def post_fork(server, worker):
    # A connection opened while preloading must not be shared by forked workers.
    from django.db import connections

    connections.close_all()
    tune_malloc(server.log)


def pre_request(worker, req):
    # gthread reads a request body on a blocking socket with no timeout: a client
    # that stalls mid-body would hold a thread for ever. Each read (and write) now
    # gives up after `timeout` seconds without progress, as nginx's
    # client_body_timeout does; the app answers the cut-short body with a 400.
    sock = getattr(req.unreader, "sock", None)
    if sock is not None:
        sock.settimeout(worker.cfg.timeout)
