"""Session export benchmark: a 1,000-account export streamed through HTTP, and the worker's RSS growth.

    .venv/bin/python bench/session_export.py [--files 1000]

Prints a Markdown table and, last, one JSON line. Target (issue 22): a
1,000-account export with the worker's peak RSS growth <= 32 MiB.

The server (gunicorn, one worker, private SQLite database, tests/security/live.py)
first imports a zip of `--files` library-made files (bench/session_import.py:
half Telethon 1.45.0, half Kurigram 2.2.26, random test-only keys). Then each
export format is fetched in turn with a streaming client that counts the bytes
and drops them: the worker's VmHWM is reset before each (/proc/PID/clear_refs),
so each growth is the peak during that one request. `as_stored` sends the
files as stored; `telethon` converts the Kurigram half through TGConvertor.
"""

import argparse
import io
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adbot_admin.settings")

from adbot_admin.field_encryption import generate_key  # noqa: E402
from bench.session_import import (  # noqa: E402
    MIB,
    RSS_TARGET_MIB,
    SERVER_ENV,
    build_archive,
    post_archive,
    status_kib,
    worker_pid,
)
from tests.security import live  # noqa: E402

EXPORT_ENV = {
    "RATELIMIT_EXPORT": "100000/m",
    "REAUTH_MAX_AGE": "86400",
    "FIELD_ENCRYPTION_KEYS": generate_key(),
}
FORMATS = ("as_stored", "telethon")


def export(server, token, export_format):
    """Stream one export of every session; return (bytes, seconds, the zip's entry count)."""
    start = time.perf_counter()
    received, tail = 0, io.BytesIO()
    with requests.post(
        f"{server.url}/api/admin/sessions/export",
        headers={"Authorization": f"Bearer {token}"},
        json={"filter": {}, "format": export_format},
        stream=True,
        timeout=1800,
    ) as response:
        assert response.status_code == 200, response.text[:500]
        for chunk in response.iter_content(64 * 1024):
            received += len(chunk)
            # Keep the archive only to count its entries below (the client's memory, not the worker's).
            tail.write(chunk)
    seconds = time.perf_counter() - start
    entries = len(zipfile.ZipFile(tail).namelist())
    return received, seconds, entries


def measure(count):
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        content, _ = build_archive(scratch, count)
        (scratch / "server").mkdir()
        server = live.start(scratch / "server", **SERVER_ENV, **live.GENEROUS_LIMITS, **EXPORT_ENV)
        results = {}
        try:
            token = live.login(server)["access"]
            imported = post_archive(server, token, content, "sessions.zip")
            assert imported.status_code == 200 and len(imported.json()["imported"]) == count, imported.text[:500]
            pid = worker_pid(server.process.pid)
            export(server, token, "as_stored")  # warm-up: imports, first conversions, the zip writer
            for export_format in FORMATS:
                Path(f"/proc/{pid}/clear_refs").write_text("5")
                before = status_kib(pid, "VmRSS")
                size, seconds, entries = export(server, token, export_format)
                peak = status_kib(pid, "VmHWM")
                results[export_format] = {
                    "accounts": count,
                    "entries": entries,
                    "zip_bytes": size,
                    "seconds": seconds,
                    "rss_growth_mib": (peak - before) / 1024,
                    "worker_rss_before_mib": before / 1024,
                }
        finally:
            server.stop()
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    args = parser.parse_args()
    load_before = Path("/proc/loadavg").read_text().split()[:3]
    results = measure(args.files)
    load_after = Path("/proc/loadavg").read_text().split()[:3]
    print("| export | zip | time | worker peak RSS growth | target | met |\n|---|---|---|---|---|---|")
    for export_format, result in results.items():
        met = "yes" if result["rss_growth_mib"] <= RSS_TARGET_MIB else "NO"
        print(
            f"| {result['accounts']} accounts, `{export_format}` ({result['entries']} entries) | "
            f"{result['zip_bytes'] / MIB:.1f} MiB | {result['seconds']:.1f} s | {result['rss_growth_mib']:.1f} MiB | "
            f"<= {RSS_TARGET_MIB:g} MiB | {met} |"
        )
    print(f"\nload average before {' '.join(load_before)}, after {' '.join(load_after)}")
    print(json.dumps({"export": results, "loadavg_before": load_before, "loadavg_after": load_after}))


if __name__ == "__main__":
    main()
