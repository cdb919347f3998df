"""A flood of distinct Host headers cannot grow a worker's memory (issue: one cached answer per host)."""

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from tests.security import live
from tests.system.servers import AppServer

MIB = 1024 * 1024


def _worker_rss(master_pid):
    """Return the RSS, in bytes, of the server's one worker process."""
    (worker,) = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    for line in Path(f"/proc/{worker}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def _gallery(server, host):
    return requests.get(f"{server.url}/api/public/gallery", headers={"Host": host}, timeout=30)


def test_500_long_hosts_leave_worker_memory_flat(tmp_path):
    env = live.private_env(tmp_path, ALLOWED_HOSTS="localhost,127.0.0.1")
    live.prepare_database(env)
    live.manage(
        env, "shell", "-c", "from cms.tests.factories import GalleryImageFactory; GalleryImageFactory.create_batch(9)"
    )
    server = AppServer(env)
    try:
        assert len(_gallery(server, "localhost").json()) == 9
        for _ in range(20):  # warm the worker's allocator before measuring
            _gallery(server, "localhost:8000")
        before = _worker_rss(server.process.pid)

        long_hosts = [f"localhost:{n}{'9' * 29_990}" for n in range(500)]
        ported_hosts = [f"localhost:{port}" for port in range(1000, 1500)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            long_answers = list(pool.map(lambda host: _gallery(server, host).status_code, long_hosts))
            ported_answers = list(pool.map(lambda host: _gallery(server, host), ported_hosts))

        growth = _worker_rss(server.process.pid) - before
    finally:
        server.stop()
    assert set(long_answers) == {400}
    assert {answer.status_code for answer in ported_answers} == {200}
    # Each in-range port gets its own absolute URLs, from the one cached listing.
    assert ported_answers[7].json()[0]["url"].startswith("http://localhost:1007/media/gallery/")
    assert growth <= 16 * MIB, f"worker grew by {growth / MIB:.1f} MiB"
