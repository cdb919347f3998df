"""The production entry point refuses configurations that would not share state."""

import os
import subprocess
import sys
from pathlib import Path

from tests.system.servers import free_port

ROOT = Path(__file__).resolve().parents[2]


def start_gunicorn(tmp_path, **env):
    full_env = {
        **os.environ,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "CACHE_URL": "locmemcache://gunicorn-test",
        "BIND": f"127.0.0.1:{free_port()}",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
        cwd=ROOT, env=full_env, capture_output=True, text=True, timeout=30,
    )


def test_several_workers_on_the_local_memory_cache_refuse_to_start(tmp_path):
    result = start_gunicorn(tmp_path, WEB_CONCURRENCY="2")
    assert result.returncode != 0
    assert "refuses to start" in result.stderr
    assert "CACHE_URL=redis://" in result.stderr


def test_a_weak_key_stops_gunicorn_before_it_serves(tmp_path):
    result = start_gunicorn(tmp_path, WEB_CONCURRENCY="1", JWT_SECRET_KEY="short")
    assert result.returncode != 0
    assert "JWT_SECRET_KEY is shorter than 32 bytes" in result.stderr
