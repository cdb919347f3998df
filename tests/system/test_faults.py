"""What the app does while Redis or PostgreSQL is down, and that it heals by itself."""

from datetime import UTC, datetime, timedelta

import jwt
import pytest
import requests

from adbot_admin.tests.factories import TEST_PASSWORD, UserFactory

from .servers import AppServer, PostgresCluster, RedisServer


@pytest.fixture
def private_redis():
    server = RedisServer()
    yield server
    server.stop()


@pytest.fixture
def private_postgres():
    cluster = PostgresCluster()
    yield cluster
    cluster.destroy()


def frontend_token(settings):
    claims = {"sub": 7, "email": "ops@example.com", "role": "admin", "exp": datetime.now(UTC) + timedelta(minutes=10)}
    return jwt.encode(claims, settings.JWT_SECRET, algorithm="HS256")


def test_redis_down_login_fails_closed_reads_go_on_and_service_heals(shared_services, private_redis, admin_api_client):
    UserFactory(username="alice", is_staff=True)
    server = AppServer({**shared_services, "CACHE_URL": private_redis.url})
    try:
        headers = {"Authorization": f"Bearer {admin_api_client.tokens['access']}"}
        credentials = {"username": "alice", "password": TEST_PASSWORD}
        assert requests.post(f"{server.url}/api/auth/token", json=credentials, timeout=10).status_code == 200

        private_redis.stop()
        refused = requests.post(f"{server.url}/api/auth/token", json=credentials, timeout=10)
        assert refused.status_code == 503
        assert refused.json()["code"] == "rate_limiter_unavailable"
        assert "Retry-After" in refused.headers
        cms = requests.post(f"{server.url}/api/cms/login", json={"password": "x"}, timeout=10)
        assert cms.status_code == 503
        health = requests.get(f"{server.url}/api/health", timeout=10)
        assert health.status_code == 503
        assert health.json()["cache"] == "unavailable" and health.json()["database"] == "ok"
        # Reads need no cache: revocation is checked in the database meanwhile.
        assert requests.get(f"{server.url}/api/admin/audit", headers=headers, timeout=10).status_code == 200

        private_redis.start()
        assert requests.post(f"{server.url}/api/auth/token", json=credentials, timeout=10).status_code == 200
        assert requests.get(f"{server.url}/api/health", timeout=10).status_code == 200
    finally:
        server.stop()
    assert "Traceback" not in server.output()


def test_logout_made_while_redis_was_down_still_holds_after_it_returns(
    shared_services, private_redis, admin_api_client
):
    server = AppServer({**shared_services, "CACHE_URL": private_redis.url})
    try:
        headers = {"Authorization": f"Bearer {admin_api_client.tokens['access']}"}
        private_redis.stop()
        assert requests.post(f"{server.url}/api/auth/logout", json={}, headers=headers, timeout=10).status_code == 204
        assert requests.get(f"{server.url}/api/auth/me", headers=headers, timeout=10).status_code == 401
        private_redis.start()
        assert requests.get(f"{server.url}/api/auth/me", headers=headers, timeout=10).status_code == 401
    finally:
        server.stop()


def test_a_logout_while_redis_refuses_writes_still_refuses_the_token(shared_services, admin_api_client):
    """Redis at maxmemory under noeviction (docs/deploy.md's policy): every write fails, reads work."""
    import redis

    full = RedisServer("--maxmemory", "2mb", "--maxmemory-policy", "noeviction")
    server = AppServer({**shared_services, "CACHE_URL": full.url})
    try:
        headers = {"Authorization": f"Bearer {admin_api_client.tokens['access']}"}
        assert requests.get(f"{server.url}/api/auth/me", headers=headers, timeout=10).status_code == 200
        client = redis.Redis.from_url(full.url)
        with pytest.raises(redis.exceptions.OutOfMemoryError):
            for n in range(100_000):
                client.set(f"filler:{n}", b"x" * 1024)

        logout = requests.post(f"{server.url}/api/auth/logout", json={}, headers=headers, timeout=10)
        me = requests.get(f"{server.url}/api/auth/me", headers=headers, timeout=10)

        # Either the logout happened and the token is refused, or it says it did not.
        assert (logout.status_code == 204 and me.status_code == 401) or logout.status_code >= 400
        assert logout.status_code == 204  # the database alone records a logout
    finally:
        server.stop()
        full.stop()


def test_postgres_down_answers_503_and_heals_without_restart(shared_services, private_postgres, settings):
    import subprocess
    import sys

    from .servers import ROOT

    env = {**shared_services, "DATABASE_URL": private_postgres.url}
    subprocess.run(
        [sys.executable, "manage.py", "migrate", "--no-input", "-v", "0"],
        cwd=ROOT,
        env={**__import__("os").environ, **env},
        check=True,
    )
    server = AppServer(env)
    try:
        headers = {"Authorization": f"Bearer {frontend_token(settings)}"}
        assert requests.get(f"{server.url}/api/admin/audit", headers=headers, timeout=10).status_code == 200

        private_postgres.stop()
        down = requests.get(f"{server.url}/api/admin/audit", headers=headers, timeout=10)
        assert down.status_code == 503
        assert down.json() == {"detail": down.json()["detail"], "code": "database_unavailable"}
        health = requests.get(f"{server.url}/api/health", timeout=10)
        assert health.status_code == 503
        assert health.json()["database"] == "unavailable" and health.json()["cache"] == "ok"

        private_postgres.start()
        assert requests.get(f"{server.url}/api/health", timeout=10).json()["database"] == "ok"
        assert requests.get(f"{server.url}/api/admin/audit", headers=headers, timeout=10).status_code == 200
    finally:
        server.stop()
    assert "Traceback" not in server.output()


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KiB tmpfs: a session file larger than that fills it mid-write."""
    import subprocess

    mount_point = tmp_path / "tiny"
    mount_point.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k,mode=0700", "tmpfs", str(mount_point)], check=True)
    yield mount_point
    subprocess.run(["umount", str(mount_point)], check=True)


def test_full_disk_during_upload_keeps_no_file_and_no_row(shared_services, tiny_disk, admin_api_client, tmp_path):
    from sessions_admin.models import SessionFile
    from sessions_admin.tests import session_files

    server = AppServer({**shared_services, "SESSIONS_DIR": str(tiny_disk)})
    try:
        source = session_files.large_session(tmp_path, name="big.session", rows=20000)
        assert source.stat().st_size > 256 * 1024
        headers = {"Authorization": f"Bearer {admin_api_client.tokens['access']}"}
        with source.open("rb") as handle:
            response = requests.post(
                f"{server.url}/api/admin/sessions", headers=headers, files={"file": ("big.session", handle)}, timeout=30
            )
        assert response.status_code == 507
        assert response.json()["code"] == "insufficient_storage"
        assert list(tiny_disk.iterdir()) == []
        assert not SessionFile.objects.exists()
    finally:
        server.stop()
