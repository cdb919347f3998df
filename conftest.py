"""Fixtures shared by every app's tests."""

import os
import shutil
import tempfile
import time
import types

import django_ratelimit.core
import pytest
from django.core.cache import cache
from django.test import override_settings
from rest_framework.test import APIClient

from adbot_admin.tests.factories import UserFactory
from adbot_admin.tokens import AUTH_TIME_CLAIM, RefreshToken

# Every log record of the session is checked for the secrets tests make (tests/security/log_hygiene.py).
pytest_plugins = ["tests.security.log_hygiene"]


@pytest.fixture(autouse=True)
def _clear_cache():
    # Rate-limit counters and cached gallery listings must not leak from one test to the next.
    cache.clear()
    yield
    cache.clear()


@pytest.fixture(autouse=True)
def rate_clock(monkeypatch):
    """django-ratelimit's clock, standing still: a test that needs a window to pass moves `now` on.

    django-ratelimit ends each window at an offset hashed from the client's key, any second
    of the period: on the real clock, a test that counts requests could see its window close
    between two of them.
    """
    clock = types.SimpleNamespace(now=time.time())
    monkeypatch.setattr(django_ratelimit.core, "time", types.SimpleNamespace(time=lambda: clock.now))
    return clock


@pytest.fixture(autouse=True)
def _private_folders(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.SESSIONS_DIR = tmp_path / "sessions"


@pytest.fixture
def upload_tmp(settings, tmp_path):
    """A private FILE_UPLOAD_TEMP_DIR, so a test can see that nothing is left in it."""
    folder = tmp_path / "upload-tmp"
    folder.mkdir()
    settings.FILE_UPLOAD_TEMP_DIR = str(folder)
    return folder


@pytest.fixture
def roomy_login_budget(settings):
    """Let a test log in many times from one address; the budget itself is tested in test_ratelimits."""
    settings.RATELIMIT_LOGIN = "1000/m"


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def admin_user(db):
    # A superuser, as pytest-django's own `admin_user`: its `admin_client` needs the model permissions.
    return UserFactory(is_staff=True, is_superuser=True, username="alice")


@pytest.fixture
def plain_user(db):
    return UserFactory(is_staff=False, username="bob")


def bearer_client(user, *, auth_time=None):
    """Return an APIClient with a token of `user`; `auth_time` (a Unix time) marks when it last proved itself."""
    refresh = RefreshToken.for_user(user)
    refresh["role"] = user.role
    if auth_time is not None:
        refresh[AUTH_TIME_CLAIM] = int(auth_time)
    # `access_token` mints a new token (new jti) on every read: read it once.
    access = str(refresh.access_token)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    client.tokens = {"access": access, "refresh": str(refresh)}
    return client


@pytest.fixture
def admin_api_client(admin_user):
    return bearer_client(admin_user)


@pytest.fixture
def fresh_admin_api_client(admin_user):
    """An admin client whose token proved itself just now: sensitive actions (step-up) let it through."""
    return bearer_client(admin_user, auth_time=time.time())


@pytest.fixture
def user_api_client(plain_user):
    return bearer_client(plain_user)


def pytest_configure(config):
    # `dev.py serve` collects hashed static files and their manifest into
    # staticfiles/; the suite renders and serves from an empty folder of its
    # own instead, whatever ran before it in this checkout. The variable
    # reaches the servers that tests start as subprocesses.
    static_root = tempfile.mkdtemp(prefix="adbot-test-static-")
    config.add_cleanup(lambda: shutil.rmtree(static_root, ignore_errors=True))
    os.environ["STATIC_ROOT"] = static_root
    override_settings(STATIC_ROOT=static_root).enable()


def pytest_report_header(config):
    from django.conf import settings

    return f"database: {settings.DATABASES['default']['ENGINE']}, cache: {settings.CACHES['default']['BACKEND']}"


def pytest_sessionfinish(session, exitstatus):
    # A skipped test is a claim not tested: the run fails rather than pass quietly.
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None and reporter.stats.get("skipped") and exitstatus == 0:
        session.exitstatus = 1
