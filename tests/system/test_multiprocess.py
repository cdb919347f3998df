"""Several app processes share one login budget, one revocation list and one folder."""

import hashlib
import itertools
from concurrent.futures import ThreadPoolExecutor

import requests

from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory
from sessions_admin.tests import session_files


def login(server, password):
    return requests.post(f"{server.url}/api/auth/token", json={"username": "alice", "password": password}, timeout=10)


def test_login_budget_is_shared_across_processes(shared_services):
    from .servers import AppServer

    UserFactory(username="alice", is_staff=True)
    # A day's window: eight slow bcrypt checks never straddle the window's edge, as they could a minute's.
    servers = [AppServer({**shared_services, "RATELIMIT_LOGIN": "5/d"}) for _ in range(2)]
    try:
        statuses = [
            login(server, "wrong password").status_code for server in itertools.islice(itertools.cycle(servers), 8)
        ]
    finally:
        for server in servers:
            server.stop()
    assert statuses == [401] * 5 + [429] * 3


def test_logout_on_one_process_is_honoured_by_the_other_at_once(app_servers):
    UserFactory(username="alice", is_staff=True)
    first, second = app_servers
    tokens = login(first, TEST_PASSWORD).json()
    headers = {"Authorization": f"Bearer {tokens['access']}"}
    assert requests.get(f"{second.url}/api/auth/me", headers=headers, timeout=5).status_code == 200

    response = requests.post(
        f"{first.url}/api/auth/logout", json={"refresh": tokens["refresh"]}, headers=headers, timeout=5
    )
    assert response.status_code == 204

    me = requests.get(f"{second.url}/api/auth/me", headers=headers, timeout=5)
    assert me.status_code == 401
    assert me.json()["code"] == "token_not_valid"
    refresh = requests.post(f"{second.url}/api/auth/token/refresh", json={"refresh": tokens["refresh"]}, timeout=5)
    assert refresh.status_code == 401


def _upload(server, headers, path, name):
    with open(path, "rb") as handle:
        return requests.post(
            f"{server.url}/api/admin/sessions",
            headers=headers,
            files={"file": (name, handle, "application/octet-stream")},
            timeout=30,
        )


def test_concurrent_uploads_through_both_processes_all_land_intact(app_servers, admin_api_client, tmp_path, settings):
    settings_headers = {"Authorization": f"Bearer {admin_api_client.tokens['access']}"}
    sources = [session_files.telethon_session(tmp_path, name=f"acct{i}.session") for i in range(8)]
    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(
            pool.map(
                lambda item: _upload(app_servers[item[0] % 2], settings_headers, item[1], item[1].name),
                enumerate(sources),
            )
        )
    assert [r.status_code for r in responses] == [201] * 8, [r.text for r in responses]
    listing = requests.get(
        f"{app_servers[0].url}/api/admin/sessions?page_size=50", headers=settings_headers, timeout=5
    ).json()
    by_name = {row["filename"]: row for row in listing["results"]}
    for source in sources:
        stored = settings.SESSIONS_DIR / source.name
        digest = hashlib.sha256(source.read_bytes()).hexdigest()
        assert stored.read_bytes() == source.read_bytes()
        assert by_name[source.name]["sha256"] == digest


def test_concurrent_uploads_of_one_name_have_one_winner(app_servers, admin_api_client, tmp_path, settings):
    headers = {"Authorization": f"Bearer {admin_api_client.tokens['access']}"}
    sources = []
    for i in range(6):
        folder = tmp_path / f"v{i}"
        folder.mkdir()
        sources.append(session_files.telethon_session(folder, name="same.session"))
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(
            pool.map(
                lambda item: _upload(app_servers[item[0] % 2], headers, item[1], "same.session"),
                enumerate(sources),
            )
        )
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * 5, [r.text for r in responses]
    winner = sources[[r.status_code for r in responses].index(201)]
    assert (settings.SESSIONS_DIR / "same.session").read_bytes() == winner.read_bytes()
    assert sorted(p.name for p in settings.SESSIONS_DIR.iterdir()) == ["same.json", "same.session"]  # with its sidecar


def test_a_deactivation_from_a_shell_is_refused_by_every_process_at_once(app_servers, shared_services):
    from tests.security.live import manage

    UserFactory(username="alice", is_staff=True)
    tokens = login(app_servers[0], TEST_PASSWORD).json()
    headers = {"Authorization": f"Bearer {tokens['access']}"}
    assert all(
        requests.get(f"{s.url}/api/admin/audit", headers=headers, timeout=5).status_code == 200 for s in app_servers
    )

    manage(
        shared_services,
        "shell",
        "-c",
        (
            "from django.contrib.auth import get_user_model; "
            "get_user_model().objects.filter(username='alice').update(is_staff=False)"
        ),
    )

    assert [requests.get(f"{s.url}/api/admin/audit", headers=headers, timeout=5).status_code for s in app_servers] == [
        403,
        403,
    ]


def test_concurrent_refreshes_through_both_processes_have_exactly_one_winner(app_servers):
    UserFactory(username="alice", is_staff=True)
    refresh = login(app_servers[0], TEST_PASSWORD).json()["refresh"]

    def attempt(index):
        server = app_servers[index % 2]
        return requests.post(f"{server.url}/api/auth/token/refresh", json={"refresh": refresh}, timeout=30)

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(attempt, range(8)))

    assert sorted(r.status_code for r in responses) == [200] + [401] * 7, [r.text for r in responses]
