"""What one Redis round trip costs this machine, layer by layer, against the floor's own work.

    BENCH_FLOOR=true CACHE_URL=redis://127.0.0.1:6379/14 python manage.py shell < bench/roundtrip.py

Prints CPU and wall microseconds per operation (median of 5 runs of 5,000): a
bare socket PING, redis-py's PING, and Django's cache `get_many` of the five
keys a cached admin list reads (revocation marker and entry, user state,
change token, page of ~7 KB), next to a whole floor request handled in-process
(Django's WSGI handler and middleware, no server). Only the client's CPU is
counted; Redis spends about as much again serving it.
"""

import io
import json
import os
import socket
import statistics
import time
from urllib.parse import urlsplit

from django.conf import settings
from django.core.cache import cache
from django.core.wsgi import get_wsgi_application

RUNS, N = 5, 5000


def measure(operation):
    cpu, wall = [], []
    for _ in range(RUNS):
        started_cpu, started_wall = time.process_time(), time.perf_counter()
        for _ in range(N):
            operation()
        cpu.append((time.process_time() - started_cpu) / N * 1e6)
        wall.append((time.perf_counter() - started_wall) / N * 1e6)
    return {"cpu_us": round(statistics.median(cpu), 1), "wall_us": round(statistics.median(wall), 1)}


location = urlsplit(settings.CACHES["default"]["LOCATION"] if isinstance(settings.CACHES["default"]["LOCATION"], str)
                    else settings.CACHES["default"]["LOCATION"][0])
bare = socket.create_connection((location.hostname or "127.0.0.1", location.port or 6379))
bare.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


def bare_ping():
    bare.sendall(b"*1\r\n$4\r\nPING\r\n")
    bare.recv(64)


client = cache._cache.get_client()
# Keys of its own, shaped like the real ones (which it must never overwrite).
keys = [f"bench-roundtrip:{name}" for name in ("marker", "absent", "user", "revision", "page")]
cache.set_many({keys[0]: True, keys[2]: ("pk", "name", True, True, False), keys[3]: "token",
                keys[4]: ("token", b"x" * 7000)}, 600)
application = get_wsgi_application()


def floor_request():
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/bench/floor", "SERVER_NAME": "127.0.0.1",
               "SERVER_PORT": "8000", "HTTP_HOST": "127.0.0.1", "wsgi.url_scheme": "http",
               "wsgi.input": io.BytesIO(), "SERVER_PROTOCOL": "HTTP/1.1"}
    assert b"".join(application(environ, lambda status, headers: None)) == b'{"ok": true}'

results = {
    "floor request in-process": measure(floor_request),
    "bare socket PING": measure(bare_ping),
    "redis-py PING": measure(client.ping),
    "Django cache get_many, 5 keys": measure(lambda: cache.get_many(keys)),
    "cores": os.cpu_count(),
}
print(json.dumps(results, indent=2))
