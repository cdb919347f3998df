"""`manage.py unlock_user`, run in its own process, unlocks an account for a running server on PostgreSQL + Redis."""

import requests

from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory
from tests.security import live

from .servers import AppServer


def login(server, password):
    return requests.post(f"{server.url}/api/auth/token", json={"username": "locked", "password": password}, timeout=30)


def test_unlock_user_from_another_process_unlocks_the_running_server(shared_services):
    UserFactory(username="locked", is_staff=True)
    env = {**shared_services, **live.GENEROUS_LIMITS, "LOGIN_ACCOUNT_FAILURES": "3"}
    server = AppServer(env)
    try:
        assert [login(server, "wrong password").status_code for _ in range(3)] == [401] * 3
        assert login(server, TEST_PASSWORD).status_code == 429

        assert "locked" in live.manage(env, "unlock_user", "locked")

        assert login(server, TEST_PASSWORD).status_code == 200
    finally:
        server.stop()
