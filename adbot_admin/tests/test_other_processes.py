"""On the embedded defaults (SQLite, local-memory cache), a change made by another process counts at once.

A live gunicorn serves a private SQLite database; the changes come from other
processes, as an operator's would: `manage.py shell` and the sqlite3 client
library writing the same file.
"""

import sqlite3
from concurrent.futures import ThreadPoolExecutor

import pytest
import requests

from tests.security import live
from tests.system.servers import AppServer


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("other-processes")
    env = live.private_env(directory, GUNICORN_THREADS="8", **live.GENEROUS_LIMITS)
    live.prepare_database(env)
    app = AppServer(env)
    app.env, app.database = env, directory / "db.sqlite3"
    yield app
    app.stop()


def _me(server, access):
    return requests.get(f"{server.url}/api/admin/audit", headers={"Authorization": f"Bearer {access}"}, timeout=10)


def _set_user(server, **fields):
    assignments = ", ".join(f"{name}={value!r}" for name, value in fields.items())
    live.manage(
        server.env,
        "shell",
        "-c",
        (
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.filter(username={live.ADMIN_USERNAME!r}).update({assignments})"
        ),
    )


def test_a_deactivation_by_manage_py_shell_counts_on_the_next_request(server):
    access = live.login(server)["access"]
    assert _me(server, access).status_code == 200
    try:
        _set_user(server, is_active=False)
        assert _me(server, access).status_code == 401
    finally:
        _set_user(server, is_active=True)


def test_a_demotion_by_raw_sql_from_another_process_counts_on_the_next_request(server):
    access = live.login(server)["access"]
    assert _me(server, access).status_code == 200
    try:
        with sqlite3.connect(server.database, timeout=10) as db:
            db.execute("UPDATE adbot_admin_user SET is_staff = 0 WHERE username = ?", [live.ADMIN_USERNAME])
        assert _me(server, access).status_code == 403
    finally:
        _set_user(server, is_staff=True)


def test_concurrent_refreshes_of_one_token_have_exactly_one_winner(server):
    refresh = live.login(server)["refresh"]

    def attempt(_):
        return requests.post(f"{server.url}/api/auth/token/refresh", json={"refresh": refresh}, timeout=30)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(attempt, range(8)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] + [401] * 7, [response.text for response in responses]
    assert "Traceback" not in server.output()
