#!/usr/bin/env python3
"""The audit hash chain's costs: write throughput with and without it, and verify_audit over 1M rows.

    .venv/bin/python bench/audit_chain.py writes                       SQLite (a fresh file)
    .venv/bin/python bench/audit_chain.py writes --database-url URL    e.g. PostgreSQL
    .venv/bin/python bench/audit_chain.py verify --database-url URL --rows 1000000

`writes` runs 8 writer processes for --seconds, alternating two ways of writing
one audit row, each --rounds times: "without chain" is the row insert the writer
made before the chain (one INSERT, autocommit; a negative seq, so the row is
neither pending nor in the chain), "with chain" is `audit.record` (the row MAC,
an INSERT of the pending row, then sealing: on PostgreSQL after the commit, by
the writer that takes the sealer's advisory lock; on SQLite inside the insert's
transaction). The writers start together once all are set up and connected. It
prints the rows per second of each and their ratio, and the CPU time per row of
the writers and their PostgreSQL backends (on a shared, CPU-bound machine the
steadier figure). `verify` seeds the log up to --rows chained
rows (bench/seed.py) and times `manage.py verify_audit` over them.
The database at --database-url is migrated, and its audit rows are deleted first
(not with `verify --keep`, which needs the AUDIT_CHAIN_KEY of the run that seeded them).
"""

import argparse
import base64
import multiprocessing
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WRITERS = 8


def cpu_seconds(pid):
    """Return the user and system CPU seconds process `pid` has used (/proc/PID/stat fields 14 and 15)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def writer(mode, seconds, counts, cpu, index, round_, ready):
    import django

    django.setup()
    from django.db import connection

    from adbot_admin.audit import record
    from adbot_admin.models import AuditEvent, AuthMethod

    # All writers start together, connected: 8 Django start-ups on 2 cores would otherwise fill the window.
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid if connection.vendor == "postgresql" else os.getpid()
    ready.wait()
    began = cpu_seconds(os.getpid()) + (cpu_seconds(backend) if backend != os.getpid() else 0)
    n, deadline = 0, time.monotonic() + seconds
    while time.monotonic() < deadline:
        n += 1
        if mode == "chain":
            record(action="bench_write", target=f"writer {index}", detail={"n": n})
        else:
            # The insert audit.record made before the chain. A negative seq keeps out of the chain's way:
            # the row is not pending (seq NULL), so no seal pass reads it.
            AuditEvent.objects.create(
                actor="",
                auth_method=AuthMethod.SHELL,
                action="bench_write",
                target=f"writer {index}",
                outcome="success",
                detail={"n": n},
                seq=-(round_ * 1_000_000_000 + index * 100_000_000 + n),
                mac="",
                kid="",
            )
    counts[index] = n
    cpu[index] = cpu_seconds(os.getpid()) + (cpu_seconds(backend) if backend != os.getpid() else 0) - began
    connection.close()


def run_writers(mode, seconds, round_):
    context = multiprocessing.get_context("spawn")
    counts, cpu = context.Array("l", WRITERS), context.Array("d", WRITERS)
    ready = context.Barrier(WRITERS)
    processes = [
        context.Process(target=writer, args=(mode, seconds, counts, cpu, i, round_, ready)) for i in range(WRITERS)
    ]
    for process in processes:
        process.start()
    for process in processes:
        process.join()
        if process.exitcode:
            sys.exit(f"a {mode} writer failed (exit {process.exitcode})")
    # CPU per row, of the writers and their PostgreSQL backends: what the rate is on a CPU-bound machine.
    return sum(counts) / seconds, 1000 * sum(cpu) / max(sum(counts), 1)


def manage(*args):
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, check=True, env=os.environ)


def loadavg():
    return Path("/proc/loadavg").read_text().split()[:3]


def fresh_log():
    manage("migrate", "--no-input", "-v", "0")
    manage(
        "shell",
        "-c",
        "from adbot_admin.models import AuditChainHead, AuditEvent; "
        "AuditEvent.objects.all().delete(); "
        # Made here, not lazily by the first chained write: that would start from the baseline's rows.
        "AuditChainHead.objects.update_or_create(id=1, defaults={'seq': 0, 'mac': ''})",
    )


def writes(args):
    fresh_log()
    rates = {"without chain": [], "with chain": []}
    costs = {"without chain": [], "with chain": []}
    for round_ in range(args.rounds):
        for name, mode in (("without chain", "plain"), ("with chain", "chain")):
            rate, cost = run_writers(mode, args.seconds, round_)
            rates[name].append(rate)
            costs[name].append(cost)
    without, with_chain = (statistics.median(rates[name]) for name in rates)
    print(
        f"{engine(args)}, {WRITERS} writer processes, {args.rounds} x {args.seconds:g} s each, "
        f"{os.cpu_count()} cores, load {' '.join(loadavg())}"
    )
    for name, values in rates.items():
        print(f"| {name} | {' / '.join(f'{v:.0f}' for v in values)} rows/s | median {statistics.median(values):.0f} |")
    for name, values in costs.items():
        print(
            f"| {name} | {' / '.join(f'{v:.2f}' for v in values)} CPU ms/row | median {statistics.median(values):.2f} |"
        )
    print(f"with / without: {with_chain / without:.2f}", flush=True)
    cost_without, cost_with = (statistics.median(costs[name]) for name in costs)
    print(f"CPU per row, without / with: {cost_without / cost_with:.2f}", flush=True)
    manage("shell", "-c", "from adbot_admin.models import AuditEvent; AuditEvent.objects.filter(seq__lt=0).delete()")
    manage("verify_audit")


def verify(args):
    if not args.keep:
        fresh_log()
    manage("shell", "-c", f"import bench.seed as s; s.seed_audit({args.rows})")
    began = time.perf_counter()
    manage("verify_audit")
    elapsed = time.perf_counter() - began
    print(
        f"{engine(args)}: verify_audit over {args.rows} rows took {elapsed:.1f} s "
        f"({os.cpu_count()} cores, load {' '.join(loadavg())})"
    )


def engine(args):
    return "PostgreSQL" if os.environ["DATABASE_URL"].startswith("postgres") else "SQLite"


def field_key():
    """Return a fresh FIELD_ENCRYPTION_KEYS value: the app refuses to start without one (check E017)."""
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode().rstrip("=")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=("writes", "verify"))
    parser.add_argument("--database-url", help="default: a fresh SQLite file")
    parser.add_argument("--seconds", type=float, default=8)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--keep", action="store_true", help="verify: keep the rows there are (same AUDIT_CHAIN_KEY)")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="adbot-audit-chain-"))
    os.environ.update(
        {
            "ENV_FILE": "",
            "DJANGO_SETTINGS_MODULE": "adbot_admin.settings",
            "SECRET_KEY": secrets.token_urlsafe(48),
            "JWT_SECRET_KEY": secrets.token_urlsafe(48),
            # Set it to verify a log seeded by an earlier run (--keep).
            "AUDIT_CHAIN_KEY": os.environ.get("AUDIT_CHAIN_KEY") or secrets.token_urlsafe(48),
            "FIELD_ENCRYPTION_KEYS": os.environ.get("FIELD_ENCRYPTION_KEYS") or field_key(),
            "DATABASE_URL": args.database_url or f"sqlite:///{work / 'bench.sqlite3'}",
            "LOG_LEVEL": "WARNING",
        }
    )
    sys.path.insert(0, str(ROOT))
    (writes if args.what == "writes" else verify)(args)


if __name__ == "__main__":
    main()
