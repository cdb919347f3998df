#!/usr/bin/env python3
"""Where a request's CPU goes: microseconds per request in the server, the database, the cache and wrk.

    .venv/bin/python bench/cpu.py              embedded defaults (SQLite, local-memory cache)
    .venv/bin/python bench/cpu.py --services   PostgreSQL + Redis on 127.0.0.1

bench/run.py's ratios are requests per second on two shared cores, which move
with everything else the machine does. This counts what each request costs
instead: the CPU time (user and system, from /proc) that the gunicorn processes,
every PostgreSQL backend and Redis spent while wrk drove one path, divided by
the requests wrk completed. The same seeded server as bench/run.py's goals
(100 sessions, API pairs and gallery images; the empty list on its own empty
server), rounds interleaved. On a 2-core machine where every process competes
for the cores, a path's rate against the floor's is about the inverse of their
total CPU per request.
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.run import Bench, ensure_wrk, parse_wrk  # noqa: E402

TICK = os.sysconf("SC_CLK_TCK")
GROUPS = ("server", "server (system)", "postgres", "redis", "wrk")


def process_times(server_pid):
    """Return {group: CPU seconds so far} of the server's processes, PostgreSQL's and Redis's."""
    times = dict.fromkeys(GROUPS[:-1], 0.0)
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:  # ended since the listing
            continue
        name = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        user, system = int(fields[11]) / TICK, int(fields[12]) / TICK
        if server_pid in (int(pid), int(fields[1])):
            times["server"] += user + system
            times["server (system)"] += system
        elif name.startswith("postgres"):
            times["postgres"] += user + system
        elif name.startswith("redis"):
            times["redis"] += user + system
    return times


def measure(site, path, headers, duration):
    """Return (requests per second, {group: CPU µs per request}) of one wrk run of `path`."""
    args = ["wrk", "-t2", "-c8", f"-d{duration}s", "--latency"]
    for name, value in (headers or {}).items():
        args += ["-H", f"{name}: {value}"]
    before, wrk_before = process_times(site.server.pid), os.times()
    output = subprocess.run([*args, site.url + path], capture_output=True, text=True, check=True).stdout
    after, wrk_after = process_times(site.server.pid), os.times()
    result = parse_wrk(output)
    count = result["rps"] * duration
    cost = {group: (after[group] - before[group]) / count * 1e6 for group in before}
    wrk = (wrk_after.children_user - wrk_before.children_user) + (
        wrk_after.children_system - wrk_before.children_system
    )
    cost["wrk"] = wrk / count * 1e6
    return result["rps"], cost


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", action="store_true", help="PostgreSQL + Redis on 127.0.0.1")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=5, help="seconds of each wrk run")
    args = parser.parse_args()
    ensure_wrk()
    empty = Bench(args.services, True, label="cpu_empty", rows=0, redis_db=10)
    seeded = Bench(args.services, True, label="cpu", rows=100, redis_db=11)
    samples = {}
    try:
        for site in (empty, seeded):
            site.prepare()
        for site, paths in ((empty, empty_paths), (seeded, seeded_paths)):
            site.start()
            try:
                for _ in range(args.rounds):
                    for name, path, headers in paths(site):
                        samples.setdefault((site.label, name), []).append(measure(site, path, headers, args.duration))
            finally:
                site.stop()
    finally:
        for site in (empty, seeded):
            shutil.rmtree(site.work, ignore_errors=True)
    print(report(samples, args))


def empty_paths(site):
    return [("floor", "/bench/floor", None), ("empty admin list", "/api/admin/sessions", site.auth())]


def seeded_paths(site):
    etag = requests.get(f"{site.url}/api/public/gallery", timeout=5).headers["ETag"]
    return [
        ("floor", "/bench/floor", None),
        ("25-row sessions page", "/api/admin/sessions", site.auth()),
        ("25-row API-pairs page", "/api/admin/api-pairs", site.auth()),
        ("public gallery, 200", "/api/public/gallery", None),
        ("public gallery, 304", "/api/public/gallery", {"If-None-Match": etag}),
    ]


def report(samples, args):
    """Return a markdown table of the medians over rounds: rate, CPU µs per request of each group, and in all."""
    mode = "PostgreSQL + Redis" if args.services else "embedded defaults"
    load = os.getloadavg()[0]
    lines = [
        f"{mode}, {args.rounds} rounds of {args.duration} s, median; load average (1 min) at the end {load:.2f}",
        "",
        "| server: path | requests/s | " + " | ".join(f"{group} µs" for group in GROUPS) + " | in all µs |",
        "|---" * (len(GROUPS) + 3) + "|",
    ]
    for (label, name), runs in samples.items():
        costs = [cost for _, cost in runs]
        medians = [statistics.median(cost[group] for cost in costs) for group in GROUPS]
        total = statistics.median(sum(cost[group] for group in GROUPS if group != "server (system)") for cost in costs)
        rate = statistics.median(rps for rps, _ in runs)
        lines.append(
            f"| {label}: {name} | {rate:,.0f} | " + " | ".join(f"{v:,.0f}" for v in medians) + f" | {total:,.0f} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    main()
