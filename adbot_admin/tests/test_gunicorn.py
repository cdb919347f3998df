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
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=30,
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


# Runs gunicorn.conf.py's tune_malloc (or not), then measures how much of a
# freed 20 MiB block the process keeps. The 24 MiB block first makes glibc raise
# its mmap threshold, as a decoded image's blocks do in a worker.
MALLOC_PROBE = """
import logging, runpy, sys
from pathlib import Path

def rss_kib():
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])

conf = runpy.run_path(sys.argv[1])
if sys.argv[2] == "tuned":
    conf["tune_malloc"](logging.getLogger("probe"))
block = b"x" * (24 << 20)
del block
before = rss_kib()
block = b"x" * (20 << 20)
del block
print((rss_kib() - before) // 1024)
"""


def kept_mib(tuning, **env):
    environment = {name: value for name, value in os.environ.items() if not name.startswith("MALLOC_")}
    result = subprocess.run(
        [sys.executable, "-c", MALLOC_PROBE, str(ROOT / "gunicorn.conf.py"), tuning],
        cwd=ROOT,
        env={**environment, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "mallopt refused" not in result.stderr
    return int(result.stdout.strip())


def test_a_tuned_worker_gives_freed_buffers_back():
    assert kept_mib("untuned") >= 16  # what glibc's defaults keep, and why the tuning exists
    assert kept_mib("tuned") <= 2


def test_glibc_s_own_variables_leave_malloc_alone():
    assert kept_mib("tuned", MALLOC_ARENA_MAX="16") >= 16
