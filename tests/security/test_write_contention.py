"""Concurrent admin writes on the embedded SQLite default wait their turn instead of failing with 503.

A live gunicorn (one worker, eight threads) on its own SQLite file takes eight
overwrites of one session file name at once, three rounds over: each answers
2xx or 409, never 503 ("database is locked"), and the row left matches the file.
"""

import hashlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from sessions_admin.tests import session_files

from . import live

PARALLEL = 8
ROUNDS = 3
NAME = "contended.session"


@pytest.fixture(scope="module")
def sqlite_server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("contention")
    server = live.start(directory, GUNICORN_THREADS=str(PARALLEL), **live.GENEROUS_LIMITS)
    server.directory = directory
    yield server
    server.stop()


def test_parallel_overwrites_of_one_name_all_succeed_or_conflict(sqlite_server, tmp_path):
    headers = {"Authorization": f"Bearer {live.login(sqlite_server)['access']}"}
    sources = [session_files.telethon_session(tmp_path, name=f"source{i}.session") for i in range(PARALLEL)]
    start = threading.Barrier(PARALLEL)

    def overwrite(source):
        content = source.read_bytes()
        start.wait()
        return requests.post(
            f"{sqlite_server.url}/api/admin/sessions/upload?overwrite=true",
            headers=headers,
            files={"file": (NAME, content, "application/octet-stream")},
            timeout=60,
        )

    statuses = []
    with ThreadPoolExecutor(max_workers=PARALLEL) as pool:
        for _ in range(ROUNDS):
            statuses += [(r.status_code, r.json().get("code")) for r in pool.map(overwrite, sources)]

    assert all(status in (200, 201, 409) for status, _ in statuses), statuses
    assert sum(status in (200, 201) for status, _ in statuses) >= ROUNDS
    row = requests.get(f"{sqlite_server.url}/api/admin/sessions/{NAME}", headers=headers, timeout=10).json()
    stored = (sqlite_server.directory / "sessions" / NAME).read_bytes()
    assert row["sha256"] == hashlib.sha256(stored).hexdigest()
    assert stored in {source.read_bytes() for source in sources}


def test_the_embedded_database_runs_in_wal_mode(sqlite_server):
    import sqlite3

    with sqlite3.connect(sqlite_server.directory / "db.sqlite3") as connection:
        assert connection.execute("PRAGMA journal_mode").fetchone() == ("wal",)
