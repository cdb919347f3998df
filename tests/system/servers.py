"""Real processes for the system tests: gunicorn app servers, Redis, a PostgreSQL cluster."""

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[2]
PG_BIN = (
    Path("/usr/lib/postgresql")
    / (sorted(os.listdir("/usr/lib/postgresql"))[-1] if os.path.isdir("/usr/lib/postgresql") else "15")
    / "bin"
)


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(predicate, timeout=30.0, interval=0.1, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if predicate():
                return
        except (requests.RequestException, OSError):
            pass
        time.sleep(interval)
    raise TimeoutError(f"timed out waiting for {what}")


class AppServer:
    """One gunicorn process (one worker) serving the project with `env` on a free port."""

    def __init__(self, env):
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tempfile.NamedTemporaryFile(prefix="gunicorn-", suffix=".log", delete=False)
        full_env = {**os.environ, **env, "BIND": f"127.0.0.1:{self.port}", "WEB_CONCURRENCY": "1"}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py")],
            cwd=ROOT,
            env=full_env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        try:
            wait_until(
                lambda: requests.get(f"{self.url}/api/health", timeout=2).status_code in (200, 503),
                what=f"gunicorn on {self.port}",
            )
        except TimeoutError:
            self.stop()
            raise RuntimeError(f"gunicorn did not start:\n{self.output()}") from None

    def output(self):
        return Path(self.log.name).read_text(errors="replace")

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


class RedisServer:
    """A private redis-server on a free port that a test may stop and start again."""

    def __init__(self, *options):
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.options = [str(option) for option in options]
        self.process = None
        self.start()

    def start(self):
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                *self.options,
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_until(self._answers, what="redis-server")

    def _answers(self):
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")

    def stop(self):
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None


class PostgresCluster:
    """A private PostgreSQL cluster on a free port, owned by the `postgres` system user."""

    def __init__(self):
        self.port = free_port()
        self.directory = Path(tempfile.mkdtemp(prefix="adbot-pg-", dir="/tmp"))
        shutil.chown(self.directory, "postgres", "postgres")
        self.data = self.directory / "data"
        self._as_postgres(PG_BIN / "initdb", "-D", self.data, "-U", "postgres", "--auth=trust", "-E", "UTF8")
        self.start()
        self._as_postgres(PG_BIN / "createdb", "-h", "127.0.0.1", "-p", self.port, "-U", "postgres", "adbot")
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/adbot"

    def _as_postgres(self, *args):
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *map(str, args)],
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    def start(self):
        self._as_postgres(
            PG_BIN / "pg_ctl",
            "-D",
            self.data,
            "-l",
            self.directory / "log",
            "-w",
            "start",
            "-o",
            f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1",
        )

    def stop(self):
        self._as_postgres(PG_BIN / "pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")

    def destroy(self):
        try:
            self.stop()
        except subprocess.CalledProcessError:
            pass
        shutil.rmtree(self.directory, ignore_errors=True)
