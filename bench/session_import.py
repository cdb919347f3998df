"""Session file benchmarks: inspecting one file, and importing a zip of 1,000 real session files.

    .venv/bin/python bench/session_import.py [--files 1000] [--rounds 300] [--sidecars] [--skip-inspection]

Prints a Markdown table and, last, one JSON line. Targets (issue 12):
inspecting one session file p50 <= 5 ms; a 1,000-file zip import through HTTP
with the worker's peak RSS growth <= 32 MiB (its total time is reported).

1. Inspection runs in-process on every committed library-made fixture
   (sessions_admin/tests/fixtures/), `--rounds` times each.
2. The zip holds `--files` files written by the installed libraries, half by
   Telethon 1.45.0 (SQLiteSession), half by Kurigram 2.2.26 (SQLiteStorage),
   each with its own random test-only key. It is posted to a gunicorn server
   (one worker, private SQLite database, tests/security/live.py) after a small
   warm-up import; the worker's VmHWM is reset first (/proc/PID/clear_refs),
   so the growth is the peak during that one request.
3. With `--sidecars` each file comes as a pair: `<name>.json` beside it in the
   zip, a seller-style sidecar (api_*/device_model aliases, a 2FA password, a
   proxy URL with credentials, unknown keys; issue 22). Every account is then
   checked, linked to its API pair, encrypted and written back as a canonical
   `<name>.json` beside its file.
"""

import argparse
import asyncio
import base64
import io
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "adbot_admin.settings")

from sessions_admin.inspection import inspect_session_file  # noqa: E402
from sessions_admin.tests.fixtures.make_fixtures import FIXTURES, fixture_path  # noqa: E402
from tests.security import live  # noqa: E402

MIB = 1024 * 1024
# A throwaway server: fresh keys each run, plain HTTP on loopback.
SERVER_ENV = {
    "ENV_FILE": "",
    "SECRET_KEY": secrets.token_urlsafe(48),
    "JWT_SECRET_KEY": secrets.token_urlsafe(48),
    "AUDIT_CHAIN_KEY": secrets.token_urlsafe(48),
    "JWT_SECRET": secrets.token_urlsafe(48),
    "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(os.urandom(32)).rstrip(b"=").decode(),
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "LOG_LEVEL": "WARNING",
}
INSPECT_TARGET_MS = 5.0
RSS_TARGET_MIB = 32.0


def measure_inspection(rounds):
    """Return {fixture name: (p50 ms, p99 ms)} and the p50 over every call."""
    per_fixture, every = {}, []
    for fixture in FIXTURES:
        path = fixture_path(fixture.name)
        inspect_session_file(path)  # warm: the layouts' reference schemas are built once per process
        times = []
        for _ in range(rounds):
            start = time.perf_counter()
            inspect_session_file(path)
            times.append((time.perf_counter() - start) * 1000)
        times.sort()
        per_fixture[fixture.name] = (statistics.median(times), times[int(len(times) * 0.99) - 1])
        every.extend(times)
    return per_fixture, statistics.median(every)


def telethon_file(folder, stem, dc_id):
    from telethon.crypto import AuthKey
    from telethon.sessions import SQLiteSession

    session = SQLiteSession(str(folder / stem))
    session.set_dc(dc_id, "149.154.167.51", 443)
    session.auth_key = AuthKey(os.urandom(256))  # random, test-only
    session.save()
    session.close()


def kurigram_file(folder, stem, dc_id, n):
    from pyrogram.storage import SQLiteStorage

    async def write():
        storage = SQLiteStorage(stem, folder)
        await storage.open()
        for name, value in (
            ("dc_id", dc_id),
            ("api_id", 2040),
            ("test_mode", False),
            ("auth_key", os.urandom(256)),
            ("user_id", 6_000_000_000 + n),
            ("is_bot", False),
        ):
            await getattr(storage, name)(value)
        await storage.save()
        await storage.close()

    asyncio.run(write())


def sidecar(n):
    """Return a seller-style sidecar for account `n` (fake values; the hash is Telegram Desktop's public one)."""
    return {
        "api_id": 2040,
        "api_hash": "b18441a1ff607e10a989891a5462e627",
        "device_model": "Desktop",
        "system_version": "Windows 10 x64",
        "app_version": "5.2.3 x64",
        "user_id": 6_000_000_000 + n,
        "phone": f"+1555{n:07d}",
        "username": f"bench_{n:05d}",
        "first_name": "Bench",
        "twofa": f"bench-2fa-{secrets.token_hex(4)}",
        "proxy": f"socks5://u{n}:{secrets.token_hex(6)}@10.0.{n // 250}.{n % 250 + 1}:1080",
        "register_time": 1_700_000_000 + n,
        "stats_spam": "clean",
    }


def build_archive(folder, count, prefix="account", sidecars=False):
    """Write `count` library-made session files (and sidecars) and return (zip bytes, uncompressed bytes)."""
    files = folder / "files"
    files.mkdir()
    for n in range(count):
        stem = f"{prefix}-{n:05d}"
        if n % 2:
            kurigram_file(files, stem, 1 + n % 5, n)
        else:
            telethon_file(files, stem, 1 + n % 5)
    buffer, total = io.BytesIO(), 0
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for path in sorted(files.glob("*.session")):
            total += path.stat().st_size
            archive.write(path, f"export/{path.name}")
            if sidecars:
                n = int(path.stem.rsplit("-", 1)[1])
                document = json.dumps(sidecar(n)).encode()
                total += len(document)
                archive.writestr(f"export/{path.stem}.json", document)
    return buffer.getvalue(), total


def worker_pid(master_pid):
    (pid,) = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return int(pid)


def status_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def post_archive(server, token, content, name):
    return requests.post(
        f"{server.url}/api/admin/sessions/import",
        headers={"Authorization": f"Bearer {token}"},
        files={"archive": (name, content, "application/zip")},
        timeout=600,
    )


def measure_import(count, sidecars=False):
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        started = time.perf_counter()
        content, uncompressed = build_archive(scratch, count, sidecars=sidecars)
        built_in = time.perf_counter() - started
        warm_folder = scratch / "warm"
        warm_folder.mkdir()
        warm, _ = build_archive(warm_folder, 10, prefix="warm-up", sidecars=sidecars)
        (scratch / "server").mkdir()
        # A pair is two entries, and SESSION_IMPORT_MAX_FILES counts entries.
        entries = {"SESSION_IMPORT_MAX_FILES": str(2 * count)} if sidecars else {}
        server = live.start(scratch / "server", **SERVER_ENV, **live.GENEROUS_LIMITS, **entries)
        try:
            token = live.login(server)["access"]
            warm_response = post_archive(server, token, warm, "warm.zip")
            assert warm_response.status_code == 200 and len(warm_response.json()["imported"]) == 10, warm_response.text
            pid = worker_pid(server.process.pid)
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
            before = status_kib(pid, "VmRSS")
            start = time.perf_counter()
            response = post_archive(server, token, content, "sessions.zip")
            seconds = time.perf_counter() - start
            peak = status_kib(pid, "VmHWM")
            body = response.json()
            assert response.status_code == 200, response.text
            assert len(body["imported"]) == count, body["refused"][:3]
        finally:
            server.stop()
    return {
        "files": count,
        "archive_bytes": len(content),
        "uncompressed_bytes": uncompressed,
        "imported": len(body["imported"]),
        "refused": len(body["refused"]),
        "seconds": seconds,
        "files_per_second": count / seconds,
        "rss_growth_mib": (peak - before) / 1024,
        "worker_rss_before_mib": before / 1024,
        "build_seconds": built_in,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--sidecars", action="store_true", help="import pairs: <name>.json beside each file")
    parser.add_argument("--skip-inspection", action="store_true", help="measure the import only")
    args = parser.parse_args()
    per_fixture, p50 = measure_inspection(1 if args.skip_inspection else args.rounds)
    imported = measure_import(args.files, sidecars=args.sidecars)
    imported["sidecars"] = args.sidecars
    print("| fixture | inspect p50 ms | p99 ms |\n|---|---|---|")
    for name, (median, p99) in per_fixture.items():
        print(f"| {name} | {median:.2f} | {p99:.2f} |")
    print("\n| measure | value | target | met |\n|---|---|---|---|")
    print(
        f"| inspect one session file, p50 over all fixtures | {p50:.2f} ms | <= {INSPECT_TARGET_MS:g} ms | "
        f"{'yes' if p50 <= INSPECT_TARGET_MS else 'NO'} |"
    )
    print(
        f"| import a zip of {imported['files']} files ({imported['archive_bytes'] / MIB:.1f} MiB zipped, "
        f"{imported['uncompressed_bytes'] / MIB:.1f} MiB of files) | {imported['seconds']:.1f} s "
        f"({imported['files_per_second']:.0f} files/s) | reported | - |"
    )
    print(
        f"| worker peak RSS growth during that import | {imported['rss_growth_mib']:.1f} MiB | "
        f"<= {RSS_TARGET_MIB:g} MiB | {'yes' if imported['rss_growth_mib'] <= RSS_TARGET_MIB else 'NO'} |"
    )
    print(json.dumps({"inspect_p50_ms": p50, "inspect": per_fixture, "import": imported}))


if __name__ == "__main__":
    main()
