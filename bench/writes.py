#!/usr/bin/env python3
"""Concurrent admin writes: how far the embedded SQLite goes, next to PostgreSQL.

    .venv/bin/python bench/writes.py                       SQLite (a fresh file, the default options)
    .venv/bin/python bench/writes.py --database-url URL    any other database, e.g. PostgreSQL
    .venv/bin/python bench/writes.py --seconds 3           shorter runs

It starts gunicorn (gunicorn.conf.py, 2 workers of 4 threads, as bench/run.py)
on a migrated database with one admin, then has N clients write for a while
each: API pair creations (a row and its audit row) and overwrites of one
session-file name (inspection, file, row and audit row). It prints, per
workload and N, the writes per second, p50 and p99 latency, and every status
that was neither 2xx nor 409 (a 503 "database is locked" would show here).
"""

import argparse
import itertools
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sessions_admin.tests import session_files  # noqa: E402
from tests.security import live  # noqa: E402
from tests.system.servers import free_port, wait_until  # noqa: E402

CLIENTS = (1, 8, 32)


def start_server(env):
    """Return (process, url) of gunicorn serving with `env`."""
    port = free_port()
    env = {
        **os.environ,
        **env,
        "BIND": f"127.0.0.1:{port}",
        "WEB_CONCURRENCY": "2",
        "GUNICORN_ALLOW_PROCESS_LOCAL_CACHE": "true",
    }
    log = open(Path(env["MEDIA_ROOT"]).parent / "gunicorn.log", "w")
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    wait_until(lambda: requests.get(f"{url}/api/health", timeout=2).ok, what="gunicorn")
    return process, url


def drive(clients, seconds, write):
    """Run `write(session, n)` from `clients` threads for `seconds`; return (latencies, statuses)."""
    latencies, statuses, lock = [], Counter(), threading.Lock()
    counter = itertools.count()
    deadline = time.monotonic() + seconds

    def client():
        with requests.Session() as session:
            while time.monotonic() < deadline:
                began = time.perf_counter()
                status = write(session, next(counter))
                elapsed = time.perf_counter() - began
                with lock:
                    latencies.append(elapsed)
                    statuses[status] += 1

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return latencies, statuses


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--seconds", type=float, default=8)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="adbot-writes-"))
    env = live.private_env(
        work,
        **live.GENEROUS_LIMITS,
        SECRET_KEY=secrets.token_urlsafe(48),
        JWT_SECRET_KEY=secrets.token_urlsafe(48),
        AUDIT_CHAIN_KEY=secrets.token_urlsafe(48),
        ENV_FILE="",
        LOG_LEVEL="WARNING",
    )
    if args.database_url:
        env["DATABASE_URL"] = args.database_url
    live.prepare_database(env)
    process, url = start_server(env)
    try:
        token = requests.post(
            f"{url}/api/auth/token", timeout=30, json={"username": live.ADMIN_USERNAME, "password": live.ADMIN_PASSWORD}
        ).json()["access"]
        headers = {"Authorization": f"Bearer {token}"}
        sources = [session_files.telethon_session(work, name=f"source{i}.session").read_bytes() for i in range(8)]
        api_ids = itertools.count(1)

        def create_api_pair(session, n):
            body = {"api_id": next(api_ids), "api_hash": secrets.token_hex(16), "label": "bench"}
            return session.post(f"{url}/api/admin/api-pairs", json=body, headers=headers, timeout=60).status_code

        def overwrite_session(session, n):
            files = {"file": ("contended.session", sources[n % len(sources)], "application/octet-stream")}
            return session.post(
                f"{url}/api/admin/sessions/upload?overwrite=true", files=files, headers=headers, timeout=60
            ).status_code

        engine = "PostgreSQL" if (args.database_url or "").startswith("postgres") else "SQLite"
        print(f"{engine}, gunicorn 2 workers x 4 threads, {args.seconds:g} s per row, {os.cpu_count()} cores")
        print("| workload | clients | writes/s | p50 ms | p99 ms | neither 2xx nor 409 |")
        print("|---|---|---|---|---|---|")
        for name, write in (("API pair create", create_api_pair), ("session overwrite, one name", overwrite_session)):
            for clients in CLIENTS:
                latencies, statuses = drive(clients, args.seconds, write)
                failures = {
                    status: count for status, count in statuses.items() if not (200 <= status < 300 or status == 409)
                }
                print(
                    f"| {name} | {clients} | {len(latencies) / args.seconds:.0f} | "
                    f"{statistics.median(latencies) * 1000:.0f} | {percentile(latencies, 0.99) * 1000:.0f} | "
                    f"{failures or 'none'} |",
                    flush=True,
                )
    finally:
        process.terminate()
        process.wait(15)


if __name__ == "__main__":
    main()
