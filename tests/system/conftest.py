"""System tests: several real processes sharing PostgreSQL and Redis.

They run in the `--services` suite (`python3 scripts/dev.py test --services`),
where the test process itself uses PostgreSQL and Redis; elsewhere they fail
rather than skip.
"""

import pytest
from django.conf import settings
from django.db import connection

from .servers import AppServer

HERE = str(__import__("pathlib").Path(__file__).parent)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if str(item.path).startswith(HERE):
            item.add_marker(pytest.mark.services)


@pytest.fixture
def shared_services(transactional_db):
    """Return the env that points app servers at the test's own database and cache."""
    cache_backend = settings.CACHES["default"]["BACKEND"]
    if connection.vendor != "postgresql" or not cache_backend.endswith("RedisCache"):
        pytest.fail("system tests need PostgreSQL and Redis: run `python3 scripts/dev.py test --services`")
    db = settings.DATABASES["default"]
    return {
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CACHE_URL": settings.CACHES["default"]["LOCATION"],
        "SESSIONS_DIR": str(settings.SESSIONS_DIR),
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
    }


@pytest.fixture
def app_servers(shared_services):
    """Two app servers on different ports sharing the test's PostgreSQL and Redis."""
    servers = []
    try:
        for _ in range(2):
            servers.append(AppServer(shared_services))
        yield servers
    finally:
        for server in servers:
            server.stop()
