"""/metrics under gunicorn with 2 worker processes: one scrape sums both, and a dead worker's counts stay."""

import json
import os
import signal
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from prometheus_client.mmap_dict import MmapedDict
from prometheus_client.parser import text_string_to_metric_families

from tests.security import live
from tests.system.servers import ROOT, free_port, wait_until

TOKEN = "metrics-token-for-tests-0123456789abcdefghijkl"
HEALTH = {"route": "/api/health", "method": "GET", "status": "200"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    directory = tmp_path_factory.mktemp("metrics-gunicorn")
    metrics_dir = directory / "metrics"
    metrics_dir.mkdir()
    (metrics_dir / "counter_1.db").write_bytes(b"stale")  # an earlier run's file: gunicorn must empty the folder
    env = live.private_env(
        directory,
        METRICS_TOKEN=TOKEN,
        # Loopback is not listed: only the token opens /metrics to this test.
        METRICS_ALLOWED_IPS="192.0.2.1",
        PROMETHEUS_MULTIPROC_DIR=str(metrics_dir),
        GUNICORN_ALLOW_PROCESS_LOCAL_CACHE="true",
    )
    live.prepare_database(env)
    port = free_port()
    log = open(directory / "gunicorn.log", "w")  # noqa: SIM115 (closed below)
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
        cwd=ROOT,
        env={**os.environ, **env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "2"},
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(f"{url}/api/health", timeout=2).status_code == 200, what="gunicorn")
        yield url, metrics_dir
    finally:
        process.terminate()
        process.wait(15)
        log.close()


def scrape(url):
    response = requests.get(f"{url}/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=10)
    assert response.status_code == 200, response.text[:300]
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "adbot_http_requests_total" and sample.labels == HEALTH:
                return sample.value
    return 0


def health_counts_by_pid(metrics_dir):
    """Return {pid: health requests} from each worker's own counter file."""
    counts = {}
    for path in metrics_dir.glob("counter_*.db"):
        for key, value, _timestamp, _pos in MmapedDict.read_all_values_from_file(str(path)):
            name, _sample, labels, _help = json.loads(key)
            if name == "adbot_http_requests" and labels == HEALTH:
                counts[int(path.stem.split("_")[1])] = value
    return counts


def test_without_the_token_metrics_answer_401_and_from_an_unlisted_address_403(server):
    url, _ = server
    assert requests.get(f"{url}/metrics", timeout=10).status_code == 403
    wrong = requests.get(f"{url}/metrics", headers={"Authorization": "Bearer not-the-token"}, timeout=10)
    assert wrong.status_code == 401 and wrong.json()["code"] == "invalid_metrics_token"


def test_one_scrape_sums_both_workers_and_keeps_a_dead_workers_counts(server):
    url, metrics_dir = server
    assert not (metrics_dir / "counter_1.db").exists()
    sent = 1  # the fixture's readiness check
    with ThreadPoolExecutor(8) as pool:
        for _ in range(50):
            statuses = list(pool.map(lambda _: requests.get(f"{url}/api/health", timeout=10).status_code, range(16)))
            assert statuses == [200] * 16
            sent += 16
            if len([pid for pid, count in health_counts_by_pid(metrics_dir).items() if count]) >= 2:
                break
    by_pid = health_counts_by_pid(metrics_dir)
    assert len([count for count in by_pid.values() if count]) == 2, by_pid
    assert sum(by_pid.values()) == sent
    assert scrape(url) == sent

    busiest = max(by_pid, key=by_pid.get)
    os.kill(busiest, signal.SIGKILL)
    wait_until(lambda: requests.get(f"{url}/api/health", timeout=2).status_code == 200, what="a new worker")
    sent += 1
    assert scrape(url) >= sent  # the killed worker's count is still in the sum
    assert Path(metrics_dir / f"counter_{busiest}.db").exists()
