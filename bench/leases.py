#!/usr/bin/env python3
"""Leases: lease-then-release latency and throughput, and a lease's cost at 100 and 100k sessions.

    .venv/bin/python bench/leases.py                    embedded defaults (a private SQLite file)
    .venv/bin/python bench/leases.py --database-url postgres://postgres@127.0.0.1:5432/adbot_engine \\
                                     --cache-url redis://127.0.0.1:6379/6

Two gunicorn processes (gunicorn.conf.py, 1 worker, 4 threads each) share the
database, as in the contention tests. `--clients` threads each loop
lease(count=1)-then-release for `--seconds`; then one client times `--samples`
leases (each released, untimed) at 100 sessions and again at 100k, `--rounds`
times alternating, and the query count of one lease is taken in-process at
both sizes. Prints a Markdown
table for bench/RESULTS.md. The database given is migrated and its sessions,
leases and service tokens are replaced.
"""

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.system.servers import AppServer  # noqa: E402

BATCH = 5000
SMALL = 100


def django_setup(env):
    os.environ.update(env)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adbot_admin.settings")
    import django

    django.setup()


def reset_and_seed(rows):
    from adbot_admin import service_tokens
    from adbot_admin.models import ServiceToken
    from sessions_admin.models import Lease, SessionFile

    Lease.objects.all().delete()
    ServiceToken.objects.all().delete()
    SessionFile.objects.all().delete()
    top_up(rows)
    return service_tokens.service_token_create(name="bench", scopes=["engine"]).secret


def top_up(rows):
    from django.utils import timezone

    from sessions_admin.models import SessionFile

    start = SessionFile.objects.count()
    now = timezone.now()
    for first in range(start, rows, BATCH):
        SessionFile.objects.bulk_create(
            SessionFile(
                filename=f"account-{n:06d}.session",
                library="telethon",
                layout="telethon-7",
                dc_id=1 + n % 5,
                size=28672,
                sha256="0" * 64,
                uploaded_at=now,
                uploaded_by="bench",
            )
            for n in range(first, min(rows, first + BATCH))
        )


def shrink_to(rows):
    """Delete every session row past the first `rows` (the leases only ever took the first ones)."""
    from django.db import connection

    from sessions_admin.models import SessionFile

    with connection.cursor() as cursor:
        cursor.execute(
            f"DELETE FROM {SessionFile._meta.db_table} WHERE filename >= %s", [f"account-{rows:06d}.session"]
        )


def settle():
    """Refresh the planner's statistics after a bulk load, as autovacuum would shortly (PostgreSQL)."""
    from django.db import connection

    from sessions_admin.models import SessionFile

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {SessionFile._meta.db_table}")


def lease_queries(secret):
    """Return the statements one lease (count 1) runs, in-process, after the token's once-a-minute write."""
    from django.db import connection
    from rest_framework.test import APIClient

    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    for _ in range(2):
        statements = []

        def count(execute, sql, *rest, statements=statements):
            statements.append(sql)
            return execute(sql, *rest)

        with connection.execute_wrapper(count):
            [lease] = client.post("/api/engine/leases", {"count": 1, "ttl": 60}, format="json").json()["leases"]
        client.post(f"/api/engine/leases/{lease['id']}/release", {}, format="json")
    return len(statements)


def session(secret):
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {secret}"
    return http


def cycle(http, url):
    """Lease one account and release it; return the seconds the pair took."""
    started = time.perf_counter()
    response = http.post(f"{url}/api/engine/leases", json={"count": 1, "ttl": 60}, timeout=60)
    response.raise_for_status()
    [lease] = response.json()["leases"]
    http.post(f"{url}/api/engine/leases/{lease['id']}/release", json={}, timeout=60).raise_for_status()
    return time.perf_counter() - started


def throughput(servers, secret, *, clients, seconds):
    """Return (p50 seconds of a lease-then-release, pairs per second) with `clients` looping at once."""
    samples, stop = [], time.monotonic() + seconds
    lock = threading.Lock()

    def loop(index):
        http, url = session(secret), servers[index % len(servers)].url
        while time.monotonic() < stop:
            elapsed = cycle(http, url)
            with lock:
                samples.append(elapsed)

    started = time.monotonic()
    threads = [threading.Thread(target=loop, args=(i,)) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statistics.median(samples), len(samples) / (time.monotonic() - started)


def lease_p50(server, secret, samples):
    """Return the p50 seconds of one lease (count 1) from a single client; each is released untimed."""
    http, times = session(secret), []
    for _ in range(samples):
        started = time.perf_counter()
        response = http.post(f"{server.url}/api/engine/leases", json={"count": 1, "ttl": 60}, timeout=60)
        times.append(time.perf_counter() - started)
        [lease] = response.json()["leases"]
        http.post(f"{server.url}/api/engine/leases/{lease['id']}/release", json={}, timeout=60)
    return statistics.median(times)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url")
    parser.add_argument("--cache-url")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--samples", type=int, default=300)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()

    directory = Path(tempfile.mkdtemp(prefix="adbot-bench-leases-"))
    env = {
        "DATABASE_URL": args.database_url or f"sqlite:///{directory / 'db.sqlite3'}",
        "CACHE_URL": args.cache_url or "locmemcache://bench",
        "SESSIONS_DIR": str(directory / "sessions"),
        "MEDIA_ROOT": str(directory / "media"),
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost,testserver",
        "LOG_LEVEL": "WARNING",
        "ENV_FILE": "",
        "SECRET_KEY": os.environ.get("SECRET_KEY", "bench-only-django-key-0123456789abcdefghijklmnop"),
        "JWT_SECRET_KEY": os.environ.get("JWT_SECRET_KEY", "bench-only-jwt-signing-key-0123456789abcdefghij"),
    }
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**os.environ, **env},
        check=True,
    )
    django_setup(env)
    secret = reset_and_seed(SMALL)
    servers = [AppServer(env), AppServer(env)]
    small, large, ratios = [], [], []
    try:
        p50_pair, rate = throughput(servers, secret, clients=args.clients, seconds=args.seconds)
        queries = {}
        # Sizes alternate, and each round's ratio is taken within the round: the machine is shared,
        # and its load drifts over minutes.
        for _ in range(args.rounds):
            shrink_to(SMALL)
            settle()
            small.append(lease_p50(servers[0], secret, args.samples))
            queries["small"] = lease_queries(secret)
            top_up(args.large)
            settle()
            large.append(lease_p50(servers[0], secret, args.samples))
            queries["large"] = lease_queries(secret)
            ratios.append(large[-1] / small[-1])
    finally:
        for server in servers:
            server.stop()
    small_p50, large_p50 = statistics.median(small), statistics.median(large)
    small_queries, large_queries = queries["small"], queries["large"]
    load = Path("/proc/loadavg").read_text().split()[:3]
    config = "PostgreSQL + Redis" if args.database_url else "embedded defaults (SQLite)"
    print(f"| {config} | {p50_pair * 1000:.1f} ms | {rate:.0f}/s ({args.clients} clients) ", end="")
    print(f"| {small_p50 * 1000:.1f} ms | {large_p50 * 1000:.1f} ms ", end="")
    print(f"(ratios {', '.join(f'{r:.2f}' for r in ratios)}; median {statistics.median(ratios):.2f}x) ", end="")
    print(f"| {small_queries} and {large_queries} | {' '.join(load)} |")


if __name__ == "__main__":
    main()
