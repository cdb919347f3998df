"""A credential-stuffing flood at a fixed rate, every attempt from a new address.

    python bench/flood.py URL RATE SECONDS      prints the status counts as one JSON line

Each address stays far within its own login budget (TRUSTED_PROXY_COUNT=1 on
the server); only the server-wide password-check budget can bound the work.
At 40 attempts a second, unbounded bcrypt checks would need ten cores.
"""

import json
import sys
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import requests


def main():
    url, rate, seconds = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
    statuses = Counter()
    lock = threading.Lock()
    local = threading.local()

    def attempt(n):
        session = getattr(local, "session", None) or requests.Session()
        local.session = session
        address = f"100.{(n >> 16) % 256}.{(n >> 8) % 256}.{n % 256}"
        try:
            status = session.post(
                f"{url}/api/auth/token",
                json={"username": "bench-admin", "password": f"guess-{n}"},
                headers={"X-Forwarded-For": address},
                timeout=30,
            ).status_code
        except requests.RequestException:
            status = "error"
        with lock:
            statuses[str(status)] += 1

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=64) as pool:
        n = 0
        while (elapsed := time.monotonic() - started) < seconds:
            due = int(elapsed * rate)
            while n < due:
                n += 1
                pool.submit(attempt, n)
            time.sleep(0.005)
    print(json.dumps(dict(statuses)))


if __name__ == "__main__":
    main()
