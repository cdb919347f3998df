#!/usr/bin/env python3
"""Worker RSS growth while GET /api/admin/audit/export streams a large audit log, and the JSONL's outside check.

    AUDIT_CHAIN_KEY=... .venv/bin/python bench/audit_export_memory.py --database-url URL

Run it on a database seeded by `bench/audit_chain.py verify` (1M chained rows)
with the same AUDIT_CHAIN_KEY. It starts gunicorn (one worker of 4 threads),
adds an admin, streams the JSONL and CSV exports to files, and prints for each:
rows, MiB, seconds, and the worker's peak RSS (VmHWM, reset through
/proc/PID/clear_refs first) minus its RSS before. The JSONL is then checked
with docs/verify_audit_export.py.
"""

import argparse
import os
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.security import live  # noqa: E402
from tests.system.servers import free_port, wait_until  # noqa: E402


def status_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    raise KeyError(field)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", required=True)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="adbot-export-"))
    env = live.private_env(
        work,
        SECRET_KEY=secrets.token_urlsafe(48),
        JWT_SECRET_KEY=secrets.token_urlsafe(48),
        AUDIT_CHAIN_KEY=os.environ["AUDIT_CHAIN_KEY"],
        DATABASE_URL=args.database_url,
        ENV_FILE="",
        LOG_LEVEL="WARNING",
        **live.GENEROUS_LIMITS,
    )
    username = f"export-admin-{secrets.token_hex(4)}"
    live.manage(
        env,
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model; "
        f"get_user_model().objects.create_user({username!r}, password={live.ADMIN_PASSWORD!r}, is_staff=True)",
    )
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
        cwd=ROOT,
        env={**os.environ, **env, "BIND": f"127.0.0.1:{port}", "WEB_CONCURRENCY": "1"},
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: requests.get(f"{url}/api/health", timeout=2).ok, what="gunicorn")
        (worker,) = Path(f"/proc/{process.pid}/task/{process.pid}/children").read_text().split()
        token = requests.post(
            f"{url}/api/auth/token", json={"username": username, "password": live.ADMIN_PASSWORD}, timeout=60
        ).json()["access"]
        print(f"{os.cpu_count()} cores, load {' '.join(Path('/proc/loadavg').read_text().split()[:3])}")
        for export_format in ("jsonl", "csv"):
            Path(f"/proc/{worker}/clear_refs").write_text("5")
            before = status_kib(worker, "VmRSS")
            path = work / f"export.{export_format}"
            began = time.perf_counter()
            with (
                requests.get(
                    f"{url}/api/admin/audit/export",
                    params={"format": export_format},
                    headers={"Authorization": f"Bearer {token}"},
                    stream=True,
                    timeout=600,
                ) as response,
                path.open("wb") as out,
            ):
                response.raise_for_status()
                for chunk in response.iter_content(1 << 20):
                    out.write(chunk)
            elapsed = time.perf_counter() - began
            growth = (status_kib(worker, "VmHWM") - before) / 1024
            lines = sum(1 for _ in path.open("rb"))
            print(
                f"| {export_format} | {lines} lines | {path.stat().st_size / 2**20:.0f} MiB | {elapsed:.1f} s "
                f"| worker RSS {before / 1024:.0f} MiB before, peak growth {growth:.1f} MiB |",
                flush=True,
            )
        began = time.perf_counter()
        check = subprocess.run(
            [sys.executable, str(ROOT / "docs" / "verify_audit_export.py"), str(work / "export.jsonl"), "--complete"],
            env={"AUDIT_CHAIN_KEY": os.environ["AUDIT_CHAIN_KEY"], "PATH": os.environ.get("PATH", "")},
            capture_output=True,
            text=True,
        )
        print(
            f"docs/verify_audit_export.py: {(check.stdout or check.stderr).strip()} "
            f"({time.perf_counter() - began:.1f} s)"
        )
    finally:
        process.terminate()
        process.wait(15)


if __name__ == "__main__":
    main()
