"""Fixtures for the foundation's tests."""

import bcrypt
import pytest
from django.core.cache import caches

CMS_PASSWORD = "open sesame, cms"


@pytest.fixture
def admin(admin_user):
    return admin_user


@pytest.fixture
def cms_password(settings):
    """Configure ADMIN_PASSWORD_HASH (bcrypt cost 4, fast) and return its password."""
    settings.ADMIN_PASSWORD_HASH = bcrypt.hashpw(CMS_PASSWORD.encode(), bcrypt.gensalt(4)).decode()
    return CMS_PASSWORD


@pytest.fixture
def broken_cache(settings):
    """Point the default cache at a Redis port where nothing listens."""
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:1/0",
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    caches["default"]  # the setting_changed signal already dropped the old connections
    yield
    caches["default"].close()


@pytest.fixture
def hash_calls(monkeypatch):
    """Count bcrypt calls, whoever makes them (Django's hashers and the CMS login alike)."""
    calls = []
    for name in ("hashpw", "checkpw"):
        original = getattr(bcrypt, name)

        def spy(*args, _original=original, _name=name, **kwargs):
            calls.append(_name)
            return _original(*args, **kwargs)

        monkeypatch.setattr(bcrypt, name, spy)
    return calls
