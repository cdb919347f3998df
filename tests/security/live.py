"""A live gunicorn server on a private SQLite database, for tests that need real sockets."""

import os
import subprocess
import sys
from pathlib import Path

import requests

from tests.system.servers import ROOT, AppServer

ADMIN_USERNAME = "fuzz-admin"
ADMIN_PASSWORD = "fuzz admin password, not a real one"

# Rate limits a fuzzer cannot exhaust in its budget (the defaults would answer 429 within a minute).
GENEROUS_LIMITS = {
    "RATELIMIT_LOGIN": "100000/m",
    "RATELIMIT_PASSWORD_CHECKS": "100000/m",
    "RATELIMIT_UPLOAD": "100000/m",
    "RATELIMIT_DELETE": "100000/m",
}


def private_env(directory, **extra):
    """Return the env of a server whose database, files and temp files live under `directory`."""
    directory = Path(directory)
    for name in ("sessions", "media", "upload-tmp"):
        (directory / name).mkdir(exist_ok=True)
    return {
        "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
        "CACHE_URL": "locmemcache://live",
        "SESSIONS_DIR": str(directory / "sessions"),
        "MEDIA_ROOT": str(directory / "media"),
        "FILE_UPLOAD_TEMP_DIR": str(directory / "upload-tmp"),
        "DEBUG": "false",
        "SECURE_SSL_REDIRECT": "false",
        "LOG_LEVEL": "INFO",
        **extra,
    }


def manage(env, *args, stdin=None):
    """Run `manage.py *args` in a subprocess with `env`; return its stdout, raise with its output on failure."""
    result = subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env={**os.environ, **env},
        input=stdin,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if result.returncode != 0:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def prepare_database(env):
    """Migrate the private database and add an admin (active staff) user to it."""
    manage(env, "migrate", "--no-input", "-v", "0")
    manage(
        env,
        "shell",
        "-c",
        (
            "from django.contrib.auth import get_user_model; "
            f"get_user_model().objects.create_user({ADMIN_USERNAME!r}, password={ADMIN_PASSWORD!r}, is_staff=True)"
        ),
    )


def login(server):
    """Return the token pair the live server issues to the admin user."""
    response = requests.post(
        f"{server.url}/api/auth/token", json={"username": ADMIN_USERNAME, "password": ADMIN_PASSWORD}, timeout=30
    )
    response.raise_for_status()
    return response.json()


def start(directory, **extra):
    """Return a running AppServer on a freshly migrated private database."""
    env = private_env(directory, **extra)
    prepare_database(env)
    return AppServer(env)
