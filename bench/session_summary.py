"""GET /api/admin/sessions/summary at 100 and at 100,000 sessions: its p50 must stay within 1.5x.

    .venv/bin/python bench/session_summary.py [--small 100] [--large 100000] [--requests 400]
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/adbot_<name> .venv/bin/python bench/session_summary.py

Each size gets its own gunicorn server (one worker, tests/security/live.py) on a
fresh database: a private SQLite file, or the PostgreSQL database DATABASE_URL
names (emptied by migrating it back to zero first). Sessions are seeded with
bulk inserts, so the database triggers keep the counts exactly as every other
write does; each status, library, dc_id and twenty api_ids appear. The
summary is then read `--requests` times after a warm-up, one request at a
time. On SQLite both servers run at once and are read in turn, so a
shared machine's load drift falls on both sizes alike. Prints a Markdown table and, last, one JSON line.
"""

import argparse
import base64
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlsplit

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.security import live  # noqa: E402
from tests.system.servers import AppServer  # noqa: E402

RATIO_TARGET = 1.5
SERVER_ENV = {
    "ENV_FILE": "",
    "SECRET_KEY": secrets.token_urlsafe(48),
    "JWT_SECRET_KEY": secrets.token_urlsafe(48),
    "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode(),
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "LOG_LEVEL": "WARNING",
}
SEED = """
import secrets
from django.utils import timezone
from sessions_admin.models import SessionFile, SessionStatus
statuses = SessionStatus.values
now = timezone.now()
for first in range(0, {rows}, 5000):
    SessionFile.objects.bulk_create([
        SessionFile(filename=f"bench-{{n:06d}}.session", library="telethon" if n % 2 else "pyrogram",
                    layout="telethon-8", dc_id=1 + n % 5, api_id=None if n % 21 == 0 else 100000 + n % 20,
                    size=28672, sha256=secrets.token_hex(32), uploaded_at=now, uploaded_by="bench",
                    status=statuses[n % len(statuses)])
        for n in range(first, min({rows}, first + 5000))
    ])
print(SessionFile.objects.count())
"""


def psql(database_url, statement, database=None):
    url = urlsplit(database_url)
    name = database or url.path.lstrip("/")
    command = ["psql", "-h", url.hostname, "-p", str(url.port or 5432), "-U", url.username, "-d", name, "-c"]
    subprocess.run([*command, statement], check=True, capture_output=True)


def recreate(database_url):
    """Drop and create the PostgreSQL database `database_url` names (a private benchmark database)."""
    name = urlsplit(database_url).path.lstrip("/")
    for statement in (f'DROP DATABASE IF EXISTS "{name}"', f'CREATE DATABASE "{name}"'):
        psql(database_url, statement, database="postgres")


@contextmanager
def seeded_server(rows, database_url):
    """Yield (server, env) of a gunicorn serving a fresh database holding `rows` sessions."""
    with tempfile.TemporaryDirectory() as scratch:
        env = dict(SERVER_ENV)
        if database_url:
            env["DATABASE_URL"] = database_url
            recreate(database_url)
        env = live.private_env(scratch, **env, **live.GENEROUS_LIMITS)
        live.prepare_database(env)
        seeded = int(live.manage(env, "shell", "-c", SEED.format(rows=rows)).split()[-1])
        assert seeded == rows, seeded
        if database_url:
            # The seed inserts 5,000 rows per statement, so each count row gets 5,000 versions in one
            # transaction, which no HOT pruning can reclaim; autovacuum would, later. Real writes change
            # a session per transaction.
            psql(database_url, "VACUUM ANALYZE sessions_admin_sessioncount")
        server = AppServer(env)
        try:
            yield server
        finally:
            server.stop()


def client(server):
    http = requests.Session()
    http.headers["Authorization"] = f"Bearer {live.login(server)['access']}"
    return http, f"{server.url}/api/admin/sessions/summary"


def timed(http, url):
    start = time.perf_counter()
    response = http.get(url, timeout=30)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, response.text
    return elapsed, response.json()


def measure(sizes, count, database_url):
    """Return {rows: sorted times}: both servers run at once and are read in turn, so load drift hits both."""
    if database_url:
        # One PostgreSQL database: the sizes are measured one after the other.
        return {rows: _one(rows, count, database_url) for rows in sizes}
    with seeded_server(sizes[0], "") as small, seeded_server(sizes[1], "") as large:
        clients = {sizes[0]: client(small), sizes[1]: client(large)}
        times = {rows: [] for rows in sizes}
        for rows, (http, url) in clients.items():
            for _ in range(30):
                _, body = timed(http, url)
            assert body["total"] == rows, body
        for _ in range(count):
            for rows, (http, url) in clients.items():
                times[rows].append(timed(http, url)[0])
    return {rows: sorted(values) for rows, values in times.items()}


def _one(rows, count, database_url):
    with seeded_server(rows, database_url) as server:
        http, url = client(server)
        for _ in range(30):
            _, body = timed(http, url)
        assert body["total"] == rows, body
        return sorted(timed(http, url)[0] for _ in range(count))


def summary(rows, times):
    return {"rows": rows, "p50_ms": statistics.median(times), "p90_ms": times[int(len(times) * 0.9) - 1]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--small", type=int, default=100)
    parser.add_argument("--large", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=400)
    args = parser.parse_args()
    database_url = os.environ.get("DATABASE_URL", "")
    times = measure([args.small, args.large], args.requests, database_url)
    small, large = (summary(rows, times[rows]) for rows in (args.small, args.large))
    ratio = large["p50_ms"] / small["p50_ms"]
    database = "PostgreSQL" if database_url.startswith("postgres") else "SQLite"
    print(f"| sessions ({database}) | summary p50 ms | p90 ms |\n|---|---|---|")
    for result in (small, large):
        print(f"| {result['rows']:,} | {result['p50_ms']:.2f} | {result['p90_ms']:.2f} |")
    print(
        f"\np50 at {args.large:,} / p50 at {args.small:,}: {ratio:.2f} (target <= {RATIO_TARGET:g}: "
        f"{'met' if ratio <= RATIO_TARGET else 'NOT met'})"
    )
    print(
        json.dumps(
            {
                "database": database,
                "small": small,
                "large": large,
                "ratio": ratio,
                "loadavg": Path("/proc/loadavg").read_text().split()[:3],
            }
        )
    )


if __name__ == "__main__":
    main()
