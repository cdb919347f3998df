"""Audit writers in other processes: each runs threads that call audit.record, some rolling back."""

import subprocess
import sys

from .servers import ROOT

# Every fifth write of a thread rolls back after record(): its seq must not leave a gap.
WRITER = """
import threading
from django.db import connection, transaction
from adbot_admin.audit import record

class RolledBack(Exception):
    pass

def work(thread):
    for n in range({writes}):
        try:
            with transaction.atomic():
                record(action="concurrent_write", target=f"{{thread}}-{{n}}")
                if n % 5 == 4:
                    raise RolledBack
        except RolledBack:
            pass
    connection.close()

threads = [threading.Thread(target=work, args=(f"{{__import__('os').getpid()}}-{{i}}",)) for i in range({threads})]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
"""


def run_writers(env, *, processes=2, threads=8, writes=25):
    """Run `processes` processes of `threads` audit writers against `env`'s database; return the rows kept."""
    code = WRITER.format(threads=threads, writes=writes)
    running = [
        subprocess.Popen(
            [sys.executable, "manage.py", "shell", "-c", code],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(processes)
    ]
    for process in running:
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
    return processes * threads * (writes - writes // 5)
