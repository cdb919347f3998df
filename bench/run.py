#!/usr/bin/env python3
"""Benchmarks of the hot paths, each as a ratio to a floor served by the same server.

    .venv/bin/python bench/run.py              embedded defaults (SQLite, local-memory cache)
    .venv/bin/python bench/run.py --services   PostgreSQL + Redis on 127.0.0.1
    .venv/bin/python bench/run.py --quick      shorter runs, for a smoke test
    .venv/bin/python bench/run.py --goals      issue 25's goals only (no login flood, no upload memory)

Every run ends with the goals of issue 25 for its configuration, each "met" or
"not met", and the machine's load average while it ran (sampled before every
wrk run): ratios taken on a loaded machine say less than they seem to.

It starts the production server (gunicorn, gunicorn.conf.py, 2 workers) on
127.0.0.1, seeds data, drives load with wrk (Debian's package; installed when
missing and run as root), prints a table and writes it to bench/out/ (bench/RESULTS.md
keeps the runs worth keeping, with what was measured around them).
The floor is /bench/floor: plain Django returning a small JSON body, no DRF,
no auth (mounted only with BENCH_FLOOR=true).
"""

import argparse
import base64
import json
import os
import platform
import re
import secrets
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

import requests

EMBEDDED = "embedded defaults"
SERVICES = "PostgreSQL + Redis"
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.system.servers import free_port, wait_until  # noqa: E402

PYTHON = sys.executable
ADMIN_PASSWORD = "bench-admin-password-" + secrets.token_hex(8)
FLOOD_RATE = 40  # login attempts per second, each from a new address


def sh(*args, env=None, capture=False):
    result = subprocess.run(
        [str(a) for a in args], cwd=ROOT, env=env, check=True, stdout=subprocess.PIPE if capture else None, text=True
    )
    return result.stdout if capture else None


def ensure_wrk():
    if shutil.which("wrk"):
        return
    if os.geteuid() != 0:
        sys.exit("bench needs wrk: apt-get install wrk")
    sh("apt-get", "update", "-qq")
    sh("apt-get", "install", "-y", "-qq", "wrk")


class Bench:
    """One seeded server: `rows` session, gallery rows each (100 API pairs)."""

    def __init__(self, services, quick, *, label="small", rows=100, audit_rows=0, redis_db=14, loads=None):
        self.services = services
        self.label = label
        self.rows = rows
        self.audit_rows = audit_rows
        self.duration = 3 if quick else 8
        self.rounds = 3
        self.read_rounds = 5
        self.work = Path(tempfile.mkdtemp(prefix="adbot-bench-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {
            **os.environ,
            "ENV_FILE": "",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
            "AUDIT_CHAIN_KEY": secrets.token_urlsafe(48),
            "FIELD_ENCRYPTION_KEYS": base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode(),
            "DEBUG": "false",
            "SECURE_SSL_REDIRECT": "false",
            "ALLOWED_HOSTS": "127.0.0.1,localhost",
            "BENCH_FLOOR": "true",
            "TRUSTED_PROXY_COUNT": "1",
            "SESSIONS_DIR": str(self.work / "sessions"),
            "MEDIA_ROOT": str(self.work / "media"),
            "LOG_LEVEL": "WARNING",
            "BIND": f"127.0.0.1:{self.port}",
            "WEB_CONCURRENCY": "2",
            "RATELIMIT_UPLOAD": "1000/h",
        }
        # BENCH_DATABASE_PREFIX and BENCH_REDIS_DB let runs on a shared machine keep to their own.
        self.database = f"{os.environ.get('BENCH_DATABASE_PREFIX', 'adbot_bench')}_{label}"
        self.redis_db = int(os.environ.get("BENCH_REDIS_DB", redis_db))
        if services:
            self.env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{self.database}"
            self.env["CACHE_URL"] = f"redis://127.0.0.1:6379/{self.redis_db}?key_prefix={label}"
        else:
            self.env["DATABASE_URL"] = f"sqlite:///{self.work / 'bench.sqlite3'}"
            self.env["CACHE_URL"] = "locmemcache://bench"
            # Two workers as the issue asks. Each keeps its own counters here, so each
            # gets half of the documented 4/s server-wide password-check budget.
            self.env["GUNICORN_ALLOW_PROCESS_LOCAL_CACHE"] = "true"
            self.env["RATELIMIT_PASSWORD_CHECKS"] = "2/s"
        self.server = None
        self.token = None
        self.results = {}
        # 1-minute load averages, one before each wrk run of every server of this run.
        self.loads = [] if loads is None else loads

    # --- set-up ---------------------------------------------------------------
    def prepare(self):
        if self.services:
            sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"DROP DATABASE IF EXISTS {self.database}")
            sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-qc", f"CREATE DATABASE {self.database}")
            keys = sh("redis-cli", "-n", str(self.redis_db), "--scan", "--pattern", f"{self.label}:*", capture=True)
            for key in keys.split():
                sh("redis-cli", "-n", str(self.redis_db), "del", key, capture=True)
        sh(PYTHON, "manage.py", "migrate", "--no-input", "-v", "0", env=self.env)
        self.seed(self.rows)
        if self.audit_rows:
            self.shell(f"import bench.seed as s; s.seed_audit({self.audit_rows})")
        if self.services:
            # As a long-lived table would be; otherwise autovacuum wakes up on the
            # fresh rows in the middle of a measurement and takes a core.
            sh("psql", "-h", "127.0.0.1", "-U", "postgres", "-d", self.database, "-qc", "VACUUM ANALYZE")

    def shell(self, code):
        """Run `code` in `manage.py shell` against this bench's database."""
        sh(PYTHON, "manage.py", "shell", "-c", code, env=self.env)

    def seed(self, rows):
        self.shell(f"import bench.seed as s; s.seed(rows={rows}, password={ADMIN_PASSWORD!r})")

    def start(self):
        try:
            self._start()
        except BaseException:
            self.stop()  # a server that never answered is not left running
            raise

    def _start(self):
        self.log = open(self.work / "gunicorn.log", "w")
        self.server = subprocess.Popen(
            [PYTHON, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
            cwd=ROOT,
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        wait_until(lambda: requests.get(f"{self.url}/bench/floor", timeout=2).ok, what="gunicorn")
        self.token = self.login("10.1.0.1").json()["access"]

    def stop(self):
        if self.server is not None:
            self.server.terminate()
            self.server.wait(15)
            self.server = None

    def restart(self):
        self.stop()
        self.start()

    def login(self, client_ip, password=ADMIN_PASSWORD):
        return requests.post(
            f"{self.url}/api/auth/token",
            json={"username": "bench-admin", "password": password},
            headers={"X-Forwarded-For": client_ip},
            # bcrypt runs at nice 19: on a loaded machine a login can wait long for a core.
            timeout=120,
        )

    # --- load -------------------------------------------------------------------
    def wrk(self, path, *, headers=None, connections=8, duration=None, script=None):
        # A 30 s timeout: wrk's default (2 s) leaves a slower path with no latency at all.
        args = [
            "wrk",
            f"-t{min(2, connections)}",
            f"-c{connections}",
            f"-d{duration or self.duration}s",
            "--timeout",
            "30s",
            "--latency",
        ]
        for name, value in (headers or {}).items():
            args += ["-H", f"{name}: {value}"]
        if script:
            args += ["-s", str(script)]
        self.loads.append(os.getloadavg()[0])
        output = sh(*args, f"{self.url}{path}", capture=True)
        return parse_wrk(output)

    def auth(self):
        return {"Authorization": f"Bearer {self.token}"}

    def interleaved(self, paths, rounds=None):
        """Return {name: median of rounds} for each (name, path, headers), run round-robin.

        Each result also carries `ratio`: the median over rounds of its rps over
        the first path's rps in the same round, so drift of the shared machine
        between rounds cancels out; `ratios`, that ratio in each round; and
        `rounds`, every round's rps.
        """
        samples = {name: [] for name, _, _ in paths}
        for _ in range(rounds or self.rounds):
            for name, path, headers in paths:
                samples[name].append(self.wrk(path, headers=headers))
        first = samples[paths[0][0]]
        results = {}
        for name, runs in samples.items():
            ratios = [run["rps"] / base["rps"] for run, base in zip(runs, first, strict=True)]
            results[name] = {
                **median_result(runs),
                "ratio": statistics.median(ratios),
                "ratios": ratios,
                "rounds": [run["rps"] for run in runs],
            }
        return results

    # --- the five measurements ----------------------------------------------------------
    def measure_reads(self):
        # wrk sends the same Host as requests does, so this ETag is the one its clients would hold.
        etag = requests.get(f"{self.url}/api/public/gallery", timeout=5).headers.get("ETag")
        results = self.interleaved(
            rounds=self.read_rounds,
            paths=[
                ("floor", "/bench/floor", None),
                ("admin sessions list", "/api/admin/sessions", self.auth()),
                ("admin api-pairs list", "/api/admin/api-pairs", self.auth()),
                ("public gallery", "/api/public/gallery", None),
                ("public gallery 304", "/api/public/gallery", {"If-None-Match": etag}),
            ],
        )
        self.results["reads"] = results
        self.results["revalidation"] = {
            "etag": etag,
            "status": requests.get(
                f"{self.url}/api/public/gallery", headers={"If-None-Match": etag}, timeout=5
            ).status_code,
            "queries": self.count_queries("/api/public/gallery", {}, auth=False, revalidate=True),
        }

    def measure_login(self):
        successes = []
        for n in range(5):
            time.sleep(1.1)  # a fresh one-second window of the server-wide password-check budget
            started = time.perf_counter()
            assert self.login(f"10.2.0.{n}").status_code == 200
            successes.append(time.perf_counter() - started)
        # One address past its budget: every further attempt is a 429.
        for _ in range(6):
            self.login("10.3.0.1", "wrong")
        # One connection: the latency of a refusal itself, not of a queue.
        refused = self.wrk(
            "/api/auth/token",
            headers={"X-Forwarded-For": "10.3.0.1"},
            connections=1,
            script=ROOT / "bench" / "login.lua",
        )
        # Rounds alternate a quiet read and a read under the flood; p99s are the median of the rounds.
        baselines, floods, flood_answers = [], [], Counter()
        for _ in range(self.rounds):
            baselines.append(self.wrk("/api/admin/sessions", headers=self.auth(), connections=4))
            flood_process = subprocess.Popen(
                [PYTHON, str(ROOT / "bench" / "flood.py"), self.url, str(FLOOD_RATE), str(self.duration + 2)],
                stdout=subprocess.PIPE,
                text=True,
            )
            time.sleep(1)
            floods.append(self.wrk("/api/admin/sessions", headers=self.auth(), connections=4))
            flood_output, _ = flood_process.communicate(timeout=120)
            flood_answers.update(json.loads(flood_output.strip().splitlines()[-1]))
            time.sleep(1.1)  # the flood's password-check windows close before the next quiet read
        baseline = {"p99_ms": statistics.median(r["p99_ms"] for r in baselines)}
        during = {key: statistics.median(r[key] for r in floods) for key in ("p99_ms", "rps")}
        self.results["login"] = {
            "success_median_ms": statistics.median(successes) * 1000,
            "refused_p50_ms": refused["p50_ms"],
            "logins_per_second_per_core": 1 / statistics.median(successes),
            "read_p99_ms_without_flood": baseline["p99_ms"],
            "read_p99_ms_during_flood": during["p99_ms"],
            "read_rps_during_flood": during["rps"],
            "flood": dict(flood_answers),
        }

    def measure_overhead(self, empty):
        """The admin sessions list with no rows, against the floor of the same (empty) server."""
        self.results["overhead"] = empty.interleaved(
            rounds=self.read_rounds,
            paths=[
                ("floor", "/bench/floor", None),
                ("admin sessions list (empty)", "/api/admin/sessions", empty.auth()),
            ],
        )
        self.results["overhead_queries"] = empty.count_queries("/api/admin/sessions", {})

    def scale_paths(self):
        """Return [(name, path)] of first and deep pages: sessions always, the audit log when it was seeded."""
        deep_page = max(1, self.rows // 25 // 2)
        paths = [
            ("sessions first page", "/api/admin/sessions"),
            # Page 2,000 as a client paging with `next` reaches it: the cursor of the link on page 1,999.
            ("sessions deep page", self.cursor_of_page(deep_page)),
            # The same page by number: a deferred join from the nearest anchor above it once the list is still.
            ("sessions deep page jump", f"/api/admin/sessions?page={deep_page}"),
            ("gallery first page", "/api/cms/gallery-images"),
        ]
        if self.audit_rows:
            # A cursor halfway down the log: the position is an id (AuditCursorPagination).
            cursor = base64.b64encode(f"p={self.audit_rows // 2}".encode()).decode()
            paths += [
                ("audit first page", "/api/admin/audit"),
                ("audit deep page", f"/api/admin/audit?cursor={cursor}"),
            ]
        return paths

    def cursor_of_page(self, number):
        """Return the path of page `number` of the sessions list by its cursor (the list itself for page 1)."""
        if number == 1:
            return "/api/admin/sessions"
        link = requests.get(
            f"{self.url}/api/admin/sessions?page={number - 1}", headers=self.auth(), timeout=120
        ).json()["next"]
        return link[link.index("/api/") :]

    def measure_growth(self, large):
        """Compare this server with `large` (same code, 100k rows, 1M audit events on PostgreSQL), interleaved."""
        small_paths, large_paths = dict(self.scale_paths()), dict(large.scale_paths())
        samples = {(site.label, name): [] for site in (self, large) for name in large_paths}
        for _ in range(self.rounds):
            for name in large_paths:
                for site, paths in ((self, small_paths), (large, large_paths)):
                    # The small server's deep pages are its first pages: it has 100 rows (and 100 events).
                    path = paths.get(name) or paths[name.replace("deep", "first").removesuffix(" jump")]
                    samples[(site.label, name)].append(site.wrk(path, headers=site.auth()))
        growth = {}
        for name, path in large_paths.items():
            small = median_result(samples[("small", name)])
            big = median_result(samples[("large", name)])
            small_path = small_paths.get(name) or small_paths[name.replace("deep", "first").removesuffix(" jump")]
            growth[name] = {
                "p50_ms_small": small["p50_ms"],
                "p50_ms_large": big["p50_ms"],
                "rps_small": small["rps"],
                "rps_large": big["rps"],
                "queries_small": self.count_queries(small_path, {})["queries"],
                "queries_large": large.count_queries(path, {})["queries"],
            }
        self.results["growth"] = growth

    def measure_upload_memory(self):
        out = sh(
            PYTHON,
            "bench/upload_memory.py",
            self.url,
            str(self.server.pid),
            env={**self.env, "BENCH_TOKEN": self.token},
            capture=True,
        )
        self.results["upload_memory"] = json.loads(out.strip().splitlines()[-1])

    def count_queries(self, path, extra, auth=True, revalidate=False):
        code = (
            "import json, bench.seed as s; "
            f"print(json.dumps(s.count_queries({path!r}, {extra!r}, auth={auth!r}, revalidate={revalidate!r})))"
        )
        out = sh(PYTHON, "manage.py", "shell", "-c", code, env={**self.env, "LOG_LEVEL": "ERROR"}, capture=True)
        return json.loads(out.strip().splitlines()[-1])

    def run(self, goals_only=False):
        ensure_wrk()
        quick = self.duration == 3
        empty = Bench(self.services, quick, label="empty", rows=0, redis_db=12, loads=self.loads)
        large = Bench(
            self.services, quick, label="large", rows=100_000, audit_rows=1_000_000, redis_db=13, loads=self.loads
        )
        self.audit_rows = 100
        for site in (empty, self, large):
            site.prepare()
        try:
            empty.start()
            try:
                self.measure_overhead(empty)
            finally:
                empty.stop()
            self.start()
            try:
                self.measure_reads()
                if not goals_only:
                    self.measure_login()
                    self.measure_upload_memory()
                large.start()
                try:
                    self.measure_growth(large)
                finally:
                    large.stop()
            finally:
                self.stop()
        finally:
            for site in (empty, large):
                shutil.rmtree(site.work, ignore_errors=True)
        self.results["load"] = {
            "min": min(self.loads),
            "median": statistics.median(self.loads),
            "max": max(self.loads),
            "cores": os.cpu_count(),
        }
        return self.results


# Issue 25's goals: (name, result key, comparison, embedded defaults, PostgreSQL + Redis).
GOALS = [
    ("empty admin list, every decision from the database / floor", "empty list", ">=", 0.5, 0.4),
    ("25-row sessions page / floor", "sessions page", ">=", 0.3, 0.25),
    ("25-row API-pairs page / floor", "api-pairs page", ">=", 0.3, 0.25),
    ("public gallery, 100 images, 200 / floor", "public gallery", ">=", 0.8, 0.7),
    ("public gallery 304 / floor", "public gallery 304", ">=", 1.0, 0.9),
    (
        "sessions list page 2,000 of 100k rows (by its `next` cursor), p50 / page 1",
        "sessions deep page",
        "<=",
        1.5,
        1.5,
    ),
    (
        "sessions list page 2,000 of 100k rows (`?page=2000`, a jump), p50 / page 1",
        "sessions deep page jump",
        "<=",
        1.5,
        1.5,
    ),
    ("audit deep page (half of 1M events), p50 / first page", "audit deep page", "<=", 1.5, 1.5),
]


def goal_values(results):
    """Return {result key: value} of every goal that the results hold."""
    reads, growth = results["reads"], results["growth"]
    values = {
        "empty list": results["overhead"]["admin sessions list (empty)"]["ratio"],
        "sessions page": reads["admin sessions list"]["ratio"],
        "api-pairs page": reads["admin api-pairs list"]["ratio"],
        "public gallery": reads["public gallery"]["ratio"],
        "public gallery 304": reads["public gallery 304"]["ratio"],
    }
    for name, deep_name in (
        ("sessions", "sessions deep page"),
        ("sessions", "sessions deep page jump"),
        ("audit", "audit deep page"),
    ):
        if deep_name in growth:
            deep, first = growth[deep_name], growth[f"{name} first page"]
            # No latency means no request finished within wrk's timeout.
            values[deep_name] = deep["p50_ms_large"] / first["p50_ms_large"] if deep["p50_ms_large"] else float("inf")
    return values


def meets(value, comparison, target):
    return value >= target if comparison == ">=" else value <= target


def ratio_text(value, comparison, target):
    """Return `value` as `0.80x`, with a decimal more where two would read as the other side of `target`."""
    for digits in (2, 3, 4):
        text = f"{value:.{digits}f}"
        if meets(float(text), comparison, target) == meets(value, comparison, target):
            break
    return f"{text}x"


def goals_table(results_by_mode):
    """Return the markdown table of every goal for each configuration measured, each met or not met."""
    modes = list(results_by_mode)
    header = ["goal (issue 25)"] + [f"{mode}: value" for mode in modes] + [f"{mode}: target, met" for mode in modes]
    rows = [header]
    for name, key, comparison, embedded, services in GOALS:
        values, verdicts = [], []
        for mode, results in results_by_mode.items():
            target = services if mode == SERVICES else embedded
            value = goal_values(results).get(key)
            if value is None:
                values.append("not measured")
                verdicts.append(f"{comparison} {target}x, not measured")
                continue
            met = meets(value, comparison, target)
            values.append(ratio_text(value, comparison, target))
            verdicts.append(f"{comparison} {target}x, {'met' if met else 'not met'}")
        rows.append([name, *values, *verdicts])
    loads = [
        f"{mode}: load average (1 min) while it ran {r['load']['min']:.2f} to {r['load']['max']:.2f}, "
        f"median {r['load']['median']:.2f}, on {r['load']['cores']} cores"
        for mode, r in results_by_mode.items()
    ]
    return markdown(rows) + "\n\n" + "\n".join(f"- {line}" for line in loads)


def parse_wrk(output):
    def latency(label):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s)\s*$", output, re.M)
        value, unit = float(match.group(1)), match.group(2)
        return value / 1000 if unit == "us" else value * 1000 if unit == "s" else value

    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": latency("50"),
        "p99_ms": latency("99"),
        "non2xx": int(m.group(1)) if (m := re.search(r"Non-2xx or 3xx responses: (\d+)", output)) else 0,
    }


def median_result(runs):
    return {key: statistics.median(run[key] for run in runs) for key in runs[0]}


def table(results, cores):
    reads = results["reads"]
    rows = [("measure", "value", "target", "met")]

    def add(name, value, target, met):
        rows.append((name, value, target, "yes" if met else "NO"))

    overhead = results["overhead"]["admin sessions list (empty)"]["ratio"]
    add(
        "1. admin sessions list (empty), every check from the database / floor (rps)",
        f"{overhead:.2f}x ({results['overhead_queries']['queries']} queries)",
        ">= 0.50x",
        overhead >= 0.5,
    )
    for name in ("admin sessions list", "admin api-pairs list"):
        add(f"1. {name}, 100 rows / floor (rps)", f"{reads[name]['ratio']:.2f}x", "reported", True)
    login = results.get("login")
    if login:
        ratio = login["refused_p50_ms"] / login["success_median_ms"]
        add("2. refused login / successful login (time)", f"1/{1 / ratio:.0f}", "<= 1/100", ratio <= 0.01)
        flood = login["read_p99_ms_during_flood"] / max(login["read_p99_ms_without_flood"], 0.001)
        add("2. admin read p99 during flood / without", f"{flood:.2f}x", "<= 3x", flood <= 3)
    for name, g in results["growth"].items():
        factor = g["p50_ms_large"] / g["p50_ms_small"]
        rows_large = "1M events" if name.startswith("audit") else "100k rows"
        add(
            f"3. {name} p50 at {rows_large} / at 100",
            f"{factor:.2f}x ({g['p50_ms_large']:.2f} ms)",
            "<= 1.5x",
            factor <= 1.5,
        )
        add(
            f"3. {name}: SQL queries, 100 / {rows_large}",
            f"{g['queries_small']} / {g['queries_large']}",
            "equal",
            g["queries_small"] == g["queries_large"],
        )
    memory = results.get("upload_memory")
    if memory:
        add(
            "4. worker RSS growth, 10 MiB session upload",
            f"{memory['session_mib']:.1f} MiB",
            "<= 16 MiB",
            memory["session_mib"] <= 16,
        )
        images = memory["images"]
        jpeg, four, png = images["one 36 MP JPEG"], images["four 36 MP JPEGs at once"], images["one 36 MP PNG"]
        add(
            "4. worker RSS growth, one 36 MP JPEG upload",
            f"{jpeg['growth_mib']:.1f} MiB",
            "<= 64 MiB",
            jpeg["growth_mib"] <= 64,
        )
        # Two workers may share the four; bench/upload_memory.py --malloc sends them all to one.
        add(
            "4. worker RSS growth, four 36 MP JPEGs at once",
            f"{four['growth_mib']:.1f} MiB",
            "<= 96 MiB",
            four["growth_mib"] <= 96,
        )
        add("4. worker RSS growth, one 36 MP PNG upload", f"{png['growth_mib']:.1f} MiB", "measured", True)
    public = reads["public gallery"]["ratio"]
    add("5. public gallery / floor (rps)", ratio_text(public, ">=", 0.8), ">= 0.80x", public >= 0.8)
    reval = results["revalidation"]
    add(
        "5. revalidation: status, SQL queries",
        f"{reval['status']}, {reval['queries']['queries']}",
        "304, no list query",
        reval["status"] == 304 and reval["queries"]["queries"] <= 1,
    )

    measured = {**results["overhead"], **reads}
    absolute = [("path", "rps (median)", "rps by round", "ratio to the floor by round", "p50 ms", "p99 ms")] + [
        (
            name,
            f"{r['rps']:.0f}",
            " · ".join(f"{rps:.0f}" for rps in r["rounds"]),
            "" if name == "floor" else " · ".join(f"{ratio:.2f}" for ratio in r["ratios"]),
            f"{r['p50_ms']:.2f}",
            f"{r['p99_ms']:.2f}",
        )
        for name, r in measured.items()
    ]
    extra = []
    if login:
        extra += [
            f"- successful login (bcrypt): median {login['success_median_ms']:.0f} ms, "
            f"{login['logins_per_second_per_core']:.1f} logins/s per core; "
            f"refused login p50 {login['refused_p50_ms']:.2f} ms",
            f"- admin read during a login flood from many addresses: p99 {login['read_p99_ms_during_flood']:.1f} ms "
            f"(without: {login['read_p99_ms_without_flood']:.1f} ms), {login['read_rps_during_flood']:.0f} rps; "
            f"flood of {FLOOD_RATE} attempts/s from new addresses, answers: {login['flood']}",
        ]
    extra += [
        *(
            f"- {name}: p50 {g['p50_ms_small']:.2f} ms, {g['rps_small']:.0f} rps small; "
            f"p50 {g['p50_ms_large']:.2f} ms, {g['rps_large']:.0f} rps large"
            for name, g in results["growth"].items()
        ),
        f"- {cores} cores; gunicorn 2 workers (gthread) on every server: the floor of each ratio is served by the same server",
    ]
    return markdown(rows), markdown(absolute), "\n".join(extra)


def markdown(rows):
    header, *body = rows
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in body]
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--services", action="store_true", help="PostgreSQL + Redis on 127.0.0.1")
    parser.add_argument("--both", action="store_true", help="the embedded defaults, then PostgreSQL + Redis")
    parser.add_argument("--quick", action="store_true", help="3-second runs instead of 8")
    parser.add_argument("--goals", action="store_true", help="issue 25's goals only: no login flood, no uploads")
    args = parser.parse_args()
    configurations = [False, True] if args.both else [args.services]
    results_by_mode = {}
    for services in configurations:
        results_by_mode[SERVICES if services else EMBEDDED] = run_one(services, args)
    goals = f"## Goals (issue 25)\n\n{goals_table(results_by_mode)}\n"
    print(goals)
    (ROOT / "bench" / "out" / "goals.md").write_text(goals)


def run_one(services, args):
    """Run every measurement on one configuration, print its report and write it under bench/out; return the results."""
    bench = Bench(services, args.quick)
    results = bench.run(goals_only=args.goals)
    cores = os.cpu_count()
    targets, absolute, extra = table(results, cores)
    mode = SERVICES if services else f"{EMBEDDED} (SQLite, local-memory cache)"
    command = (
        "python bench/run.py"
        + (" --services" if services else "")
        + (" --quick" if args.quick else "")
        + (" --goals" if args.goals else "")
    )
    load = results["load"]
    report = (
        f"## {mode}\n\n"
        f"{datetime.now(UTC):%Y-%m-%d %H:%M} UTC · {platform.machine()}, {cores} cores, "
        f"Python {platform.python_version()} · `{command}` · ratios are the median of {bench.read_rounds} "
        f"interleaved rounds of {bench.duration} s, each against that round's floor (other measures: "
        f"{bench.rounds} rounds; wrk, 2 threads, 8 connections) · load average (1 min) while it ran "
        f"{load['min']:.2f} to {load['max']:.2f}, median {load['median']:.2f}\n\n"
        f"{goals_table({mode.split(' (')[0]: results})}\n\n{targets}\n\n{absolute}\n\n{extra}\n"
    )
    print(report)
    (ROOT / "bench" / "out").mkdir(exist_ok=True)
    name = "services" if services else "embedded"
    (ROOT / "bench" / "out" / f"{name}.md").write_text(report)
    (ROOT / "bench" / "out" / f"{name}.json").write_text(json.dumps(results, indent=2))
    shutil.rmtree(bench.work, ignore_errors=True)
    return results


if __name__ == "__main__":
    main()
