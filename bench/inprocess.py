"""Microseconds per request of the hot paths, in-process (no HTTP, no wrk): compares two versions of the code.

    python manage.py shell -c "import bench.inprocess as b; b.main()"   (with the bench's DATABASE_URL / CACHE_URL)

Needs a database seeded by bench/seed.py. Prints the median over 7 batches of 300 requests of each path, in CPU time of this process
(time.process_time), so that other processes on a shared machine count less; a database server's
own CPU (PostgreSQL) is not in it.
With PROFILE=1 it also writes a pyinstrument profile of each path under bench/profiles/.
"""

import os
import statistics
import time
from pathlib import Path

from django.conf import settings
from django.contrib.auth import get_user_model
from django.test import Client

from adbot_admin.tokens import AccessToken

BATCHES = 7
PER_BATCH = 300


def paths(auth):
    etag = Client(HTTP_HOST="127.0.0.1").get("/api/public/gallery")["ETag"]
    return [
        ("floor", "/bench/floor", {}),
        ("admin sessions list", "/api/admin/sessions", auth),
        ("admin api-pairs list", "/api/admin/api-pairs", auth),
        ("admin sessions list, filtered", "/api/admin/sessions?library=telethon&dc_id=2", auth),
        ("public gallery", "/api/public/gallery", {}),
        ("public gallery 304", "/api/public/gallery", {"HTTP_IF_NONE_MATCH": etag}),
    ]


def bench_auth():
    """Return the Authorization header of bench/seed.py's admin."""
    user = get_user_model().objects.get(username="bench-admin")
    token = AccessToken.for_user(user)
    token["role"] = user.role
    return {"HTTP_AUTHORIZATION": f"Bearer {token}"}


def main():
    client = Client(HTTP_HOST="127.0.0.1")
    for name, path, headers in paths(bench_auth()):
        status = client.get(path, **headers).status_code
        for _ in range(50):
            client.get(path, **headers)
        batches = []
        for _ in range(BATCHES):
            started = time.process_time()
            for _ in range(PER_BATCH):
                client.get(path, **headers)
            batches.append((time.process_time() - started) / PER_BATCH * 1e6)
        print(f"{name:32s} {status}  {statistics.median(batches):8.0f} µs  (min {min(batches):.0f})")
        if os.environ.get("PROFILE"):
            profile(client, path, headers, name=name.replace(" ", "-").replace(",", ""))


def profile(client, path, headers, *, name):
    """Write a pyinstrument profile of 1,000 requests of `path` to bench/profiles/<name>.txt; return the profiler."""
    from pyinstrument import Profiler

    out = Path(settings.BASE_DIR) / "bench" / "profiles"
    out.mkdir(exist_ok=True)
    profiler = Profiler(interval=0.0002)
    profiler.start()
    for _ in range(1000):
        client.get(path, **headers)
    profiler.stop()
    (out / f"{name}.txt").write_text(profiler.output_text(unicode=False, color=False, show_all=False))
    return profiler
