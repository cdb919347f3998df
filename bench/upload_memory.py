#!/usr/bin/env python3
"""Peak worker RSS growth and time per upload: a 10 MiB session file, 36 MP JPEGs and a 36 MP PNG.

    BENCH_TOKEN=... python bench/upload_memory.py URL MASTER_PID   against a running server; one JSON line
                                                                   (bench/run.py calls this)
    .venv/bin/python bench/upload_memory.py --malloc [--rounds N]  the image cases on a server of its own
                                                                   for each malloc configuration; prints a
                                                                   table, writes bench/out/upload_memory.*

Growth is the worker's peak RSS (VmHWM, reset through /proc/PID/clear_refs
before each case) minus its RSS just before the case, the largest over the
workers and over the rounds. The images are made with Pillow when the bench
runs: a 7360x4912 camera-sized JPEG (36.2 MP, about 8 MiB) with fine detail and grain, and a PNG of the
same size. `--malloc` runs one gunicorn worker with 4 threads (the worst case:
four uploads sent at once all land in the same process) on the embedded
defaults (SQLite), once per configuration in CONFIGURATIONS.
"""

import argparse
import io
import json
import os
import random
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import requests
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from cms.tests import image_files  # noqa: E402
from sessions_admin.tests import session_files  # noqa: E402

MIB = 1024 * 1024
CAMERA = (7360, 4912)  # a 36 MP full-frame camera's photo, under the 40 MP IMAGE_MAX_PIXELS default
GALLERY = "/api/cms/gallery-images"

# name -> (environment of the server, what it means). gunicorn.conf.py tunes
# malloc in each worker unless glibc's own variables are set; setting
# MALLOC_ARENA_MAX to glibc's default (8 per core) leaves glibc as it comes.
CONFIGURATIONS = {
    "glibc defaults": (
        {"MALLOC_ARENA_MAX": str(8 * (os.cpu_count() or 1))},
        "no tuning: 8 arenas per core, dynamic mmap threshold",
    ),
    "MALLOC_ARENA_MAX=2": ({"MALLOC_ARENA_MAX": "2"}, "two arenas, dynamic mmap threshold"),
    "MALLOC_MMAP_THRESHOLD_=131072": ({"MALLOC_MMAP_THRESHOLD_": "131072"}, "8 arenas per core, fixed mmap threshold"),
    "gunicorn.conf.py (both)": ({}, "as shipped: mallopt in each worker, 2 arenas and a fixed 128 KiB mmap threshold"),
}


# --- measuring ------------------------------------------------------------------------


def workers(master_pid):
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children").read_text().split()
    return [int(pid) for pid in children]


def status_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


def peak_growth(master_pid, send, base=None):
    """Return (largest growth of any worker's peak RSS in MiB across `send()`, seconds it took, its result).

    Growth is counted from each worker's RSS just before, or from `base`
    ({pid: KiB}) when given.
    """
    before = {}
    for pid in workers(master_pid):
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # reset the peak (VmHWM) to the current RSS
        before[pid] = status_kib(pid, "VmRSS") if base is None else base[pid]
    started = time.perf_counter()
    result = send()
    elapsed = time.perf_counter() - started
    growth = max(status_kib(pid, "VmHWM") - rss for pid, rss in before.items()) / 1024
    return growth, elapsed, result


def worker_rss_mib(master_pid):
    return max(status_kib(pid, "VmRSS") for pid in workers(master_pid)) / 1024


class Uploader:
    """Sends gallery uploads to one server with one bearer token."""

    def __init__(self, url, token):
        self.url = url
        self.headers = {"Authorization": f"Bearer {token}"}

    def image(self, data, name, content_type):
        """Upload `data`; return (the seconds it took, the status code)."""
        started = time.perf_counter()
        response = requests.post(
            f"{self.url}{GALLERY}",
            headers=self.headers,
            files={"image": (name, io.BytesIO(data), content_type)},
            timeout=300,
        )
        if response.status_code != 201:
            print(f"upload answered {response.status_code}: {response.text[:200]}", file=sys.stderr)
        return time.perf_counter() - started, response.status_code

    def images_at_once(self, data, name, content_type, count):
        """Upload `data` `count` times at once, from as many threads; return each upload's (seconds, status)."""
        times, errors = [None] * count, []
        start = threading.Barrier(count)

        def one(index):
            start.wait()
            try:
                times[index] = self.image(data, name, content_type)
            except Exception as exc:  # reported after the join
                errors.append(exc)

        threads = [threading.Thread(target=one, args=(index,)) for index in range(count)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        return times


def camera_jpeg():
    """Return a camera-sized JPEG of about 8 MiB, as a 36 MP camera writes at high quality."""
    photo = Image.open(io.BytesIO(image_files.photo_jpeg_bytes(*CAMERA))).convert("RGB")
    # Grain, as a sensor gives: without it the file is a quarter of a camera's.
    rng = random.Random(3)
    small = (CAMERA[0] // 4, CAMERA[1] // 4)
    grain = Image.frombytes("L", small, rng.randbytes(small[0] * small[1]))
    grain = grain.resize(CAMERA, Image.Resampling.BICUBIC).convert("RGB")
    buffer = io.BytesIO()
    Image.blend(photo, grain, 0.2).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def camera_png():
    # Smooth, so the 36 MP PNG stays under the 10 MiB IMAGE_MAX_BYTES default.
    gradient = Image.linear_gradient("L").resize(CAMERA)
    image = Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient))
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=9)
    return buffer.getvalue()


def image_cases(uploader, master_pid, rounds):
    """Return {case: {"growth_mib", "seconds"}} for the 36 MP cases, each run `rounds` times."""
    jpeg, png = camera_jpeg(), camera_png()
    for data in (jpeg, png):
        assert len(data) <= 10 * MIB, len(data)
    assert uploader.image(image_files.jpeg_bytes(64, 48), "warm.jpg", "image/jpeg")[1] == 201  # loads Pillow's plugins
    cases = {
        "one 36 MP JPEG": lambda: [uploader.image(jpeg, "camera.jpg", "image/jpeg")],
        "four 36 MP JPEGs at once": lambda: uploader.images_at_once(jpeg, "camera.jpg", "image/jpeg", 4),
        "one 36 MP PNG": lambda: [uploader.image(png, "camera.png", "image/png")],
    }
    # The worker as it is once warm: what the later cases keep of their memory shows against it.
    idle = {pid: status_kib(pid, "VmRSS") for pid in workers(master_pid)}
    results = {"worker_rss_mib_warm": max(idle.values()) / 1024}
    for name, send in cases.items():
        growths, seconds, statuses = [], [], Counter()
        for _ in range(rounds):
            growth, _, answers = peak_growth(master_pid, send)
            growths.append(growth)
            seconds.extend(elapsed for elapsed, _ in answers)
            statuses.update(status for _, status in answers)
        over_idle, _, answers = peak_growth(master_pid, send, base=idle)
        statuses.update(status for _, status in answers)
        results[name] = {
            "growth_mib": max(growths),
            "growth_by_round": growths,
            "peak_over_warm_mib": over_idle,
            "seconds_median": statistics.median(seconds),
            "seconds_max": max(seconds),
            "statuses": dict(statuses),
        }
    results["sizes"] = {"jpeg_bytes": len(jpeg), "png_bytes": len(png), "megapixels": CAMERA[0] * CAMERA[1] / 1e6}
    results["worker_rss_mib_after"] = worker_rss_mib(master_pid)
    return results


# --- bench/run.py's call: a running server ----------------------------------------------


def against_running_server(url, master_pid, token):
    headers = {"Authorization": f"Bearer {token}"}
    probe = session_files.large_session(Path(tempfile.mkdtemp()), name="probe.session", rows=20_000)
    rows = int(20_000 * (10 * MIB - 640 * 1024) / probe.stat().st_size)
    session = session_files.large_session(Path(tempfile.mkdtemp()), name="bench-10mib.session", rows=rows)

    def upload_session():
        with session.open("rb") as handle:
            response = requests.post(
                f"{url}/api/admin/sessions?overwrite=true",
                headers=headers,
                files={"file": (session.name, handle)},
                timeout=120,
            )
        assert response.status_code == 201, response.text

    upload_session()
    session_mib, _, _ = peak_growth(master_pid, upload_session)
    images = image_cases(Uploader(url, token), master_pid, rounds=1)
    print(
        json.dumps(
            {
                "session_bytes": session.stat().st_size,
                "session_mib": session_mib,
                "images": images,
            }
        )
    )


# --- --malloc: a server of its own per configuration ---------------------------------------


def each_configuration(rounds, names):
    from bench.run import ADMIN_PASSWORD, Bench  # the same server set-up as the other benchmarks

    class ImageBench(Bench):
        """A server with only the admin user: the image cases need no other rows."""

        def seed(self, rows):
            self.shell(
                "from django.contrib.auth import get_user_model; "
                f"get_user_model().objects.create_user('bench-admin', password={ADMIN_PASSWORD!r}, is_staff=True)"
            )

    results = {}
    for name in names:
        variables, meaning = CONFIGURATIONS[name]
        bench = ImageBench(services=False, quick=True, label="upload-memory", rows=0)
        bench.env.update({"WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "4", **variables})
        for variable in ("MALLOC_ARENA_MAX", "MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_"):
            if variable not in variables:
                bench.env.pop(variable, None)
        bench.prepare()
        bench.start()
        try:
            master = bench.server.pid
            results[name] = {"meaning": meaning, **image_cases(Uploader(bench.url, bench.token), master, rounds)}
        finally:
            bench.stop()
            shutil.rmtree(bench.work, ignore_errors=True)
        print(f"{name}: {json.dumps(results[name])}", flush=True)
    return results


def markdown(results, rounds):
    cases = ["one 36 MP JPEG", "four 36 MP JPEGs at once", "one 36 MP PNG"]
    targets = {"one 36 MP JPEG": 64, "four 36 MP JPEGs at once": 96, "one 36 MP PNG": None}
    lines = [
        "| malloc configuration | "
        + " | ".join(f"{case}: growth" for case in cases)
        + " | worker RSS warm → after all | time per upload (median; JPEG · 4 at once · PNG) |",
        "|---|" + "---|" * (len(cases) + 2),
    ]
    for name, result in results.items():
        growths = []
        for case in cases:
            growth = result[case]["growth_mib"]
            target = targets[case]
            verdict = "" if target is None else (" ✓" if growth <= target else " ✗")
            refused = {status: count for status, count in result[case]["statuses"].items() if status != 201}
            answers = f", answers {refused} besides 201" if refused else ""
            growths.append(f"{growth:.1f} MiB{verdict} ({result[case]['peak_over_warm_mib']:.0f}){answers}")
        seconds = " · ".join(f"{result[case]['seconds_median']:.2f} s" for case in cases)
        lines.append(
            f"| {name} | "
            + " | ".join(growths)
            + f" | {result['worker_rss_mib_warm']:.0f} → {result['worker_rss_mib_after']:.0f} MiB | {seconds} |"
        )
    sizes = next(iter(results.values()))["sizes"]
    lines.append("")
    lines.append(
        f"Growth: the largest of {rounds} rounds per case, from the worker's RSS just before; in brackets, one "
        f"more round counted from the warm worker's RSS, so memory kept from earlier cases shows. "
        f"One gunicorn worker × 4 threads; "
        f"JPEG {sizes['jpeg_bytes'] / MIB:.1f} MiB, PNG {sizes['png_bytes'] / MIB:.1f} MiB, "
        f"{sizes['megapixels']:.1f} MP each; targets: one JPEG ≤ 64 MiB, four at once ≤ 96 MiB."
    )
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("url", nargs="?")
    parser.add_argument("master_pid", nargs="?", type=int)
    parser.add_argument("--malloc", action="store_true", help="compare the malloc configurations")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--configuration",
        action="append",
        choices=list(CONFIGURATIONS),
        help="only this malloc configuration (repeatable; default: all)",
    )
    args = parser.parse_args()
    if not args.malloc:
        if args.url is None or args.master_pid is None:
            parser.error("give URL and MASTER_PID, or --malloc")
        against_running_server(args.url, args.master_pid, os.environ["BENCH_TOKEN"])
        return
    results = each_configuration(args.rounds, args.configuration or list(CONFIGURATIONS))
    table = markdown(results, args.rounds)
    print(table)
    out = ROOT / "bench" / "out"
    out.mkdir(exist_ok=True)
    (out / "upload_memory.md").write_text(table + "\n")
    (out / "upload_memory.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
