#!/usr/bin/env python3
"""Set up and run adbot-admin with nothing but Python 3.11 and pip.

    python3 scripts/dev.py serve            set up, then serve on http://127.0.0.1:8000
    python3 scripts/dev.py test [ARGS]      set up, then run the whole test suite
    python3 scripts/dev.py test --services  the same against PostgreSQL and Redis on this machine

Set-up is idempotent: a virtual environment in .venv with the pinned
requirements, and for `serve` a .env with freshly generated secrets (only when
none exists), migrations and collected static files. Standard library only:
this script runs before anything is installed.
"""

import argparse
import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
ENV_FILE = ROOT / ".env"
# CI and `--services` runs: the machine's PostgreSQL and Redis. The test
# database is made (and dropped) by pytest-django; Redis db 15 keeps the
# suite's cache.clear() away from anything else on that server. Either may be
# set in the environment instead, so that two checkouts can run side by side.
SERVICES_ENV = {
    "DATABASE_URL": "postgres://postgres@127.0.0.1:5432/adbot_admin",
    "CACHE_URL": "redis://127.0.0.1:6379/15",
}


def run(*args, env=None, check=True):
    print("+", " ".join(str(a) for a in args), flush=True)
    return subprocess.run([str(a) for a in args], cwd=ROOT, env=env, check=check)


def ensure_venv():
    if not PYTHON.exists():
        try:
            run(sys.executable, "-m", "venv", VENV)
        except subprocess.CalledProcessError:
            # Debian's python3 ships venv without ensurepip; virtualenv needs only pip.
            shutil.rmtree(VENV, ignore_errors=True)
            run(sys.executable, "-m", "pip", "install", "--user", "--quiet", "virtualenv")
            run(sys.executable, "-m", "virtualenv", VENV)


def install(requirements):
    stamp = VENV / f".installed-{requirements}"
    wanted = (ROOT / requirements).read_text() + (ROOT / "requirements.txt").read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    run(PYTHON, "-m", "pip", "install", "--quiet", "--disable-pip-version-check", "-r", ROOT / requirements)
    stamp.write_text(wanted)


def write_dotenv():
    """Write a .env for a plain-HTTP run on loopback, with new secrets; keep an existing one."""
    if ENV_FILE.exists():
        print(f"Keeping the existing {ENV_FILE.name}.")
        return
    lines = [
        "# Written by scripts/dev.py serve for a local plain-HTTP run; see .env.example.",
        f"SECRET_KEY={secrets.token_urlsafe(48)}",
        f"JWT_SECRET_KEY={secrets.token_urlsafe(48)}",
        "DEBUG=false",
        "ALLOWED_HOSTS=127.0.0.1,localhost",
        "SECURE_SSL_REDIRECT=false",
        "SECURE_HSTS_SECONDS=0",
    ]
    ENV_FILE.write_text("\n".join(lines) + "\n")
    ENV_FILE.chmod(0o600)
    print(f"Wrote {ENV_FILE.name} with fresh secrets.")


def serve(_args):
    ensure_venv()
    install("requirements.txt")
    write_dotenv()
    run(PYTHON, "manage.py", "migrate", "--no-input")
    run(PYTHON, "manage.py", "collectstatic", "--no-input", "--verbosity", "0")
    print(
        "\nMake an admin (in another shell): .venv/bin/python manage.py createsuperuser\n"
        "CMS password login: .venv/bin/python manage.py hash_password, then add the line to .env\n"
        "Serving http://127.0.0.1:8000/ (admin site: /admin/, CMS page: /cms/, API docs: /api/docs)\n",
        flush=True,
    )
    os.execv(str(VENV / "bin" / "gunicorn"), ["gunicorn", "-c", str(ROOT / "gunicorn.conf.py")])


def ensure_chromium():
    """The browser tests drive Debian's Chromium and ChromeDriver; install them when missing and allowed."""
    if shutil.which("chromium") and Path("/usr/bin/chromedriver").exists():
        return
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        sys.exit("The browser tests need Debian's packages: apt-get install chromium chromium-driver")
    run("apt-get", "update", "-qq")
    run("apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium", "chromium-driver")


def test(args):
    ensure_venv()
    install("requirements-dev.txt")
    ensure_chromium()
    env = dict(os.environ)
    selection = []
    if args.services:
        for name, value in SERVICES_ENV.items():
            env.setdefault(name, value)
    else:
        # The system tests need PostgreSQL and Redis; they run with --services.
        selection = ["-m", "not services"]
    result = run(PYTHON, "-m", "pytest", *selection, *args.pytest_args, env=env, check=False)
    sys.exit(result.returncode)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="set up and serve on http://127.0.0.1:8000").set_defaults(func=serve)
    test_parser = commands.add_parser("test", help="set up and run the whole test suite")
    test_parser.add_argument("--services", action="store_true", help="use PostgreSQL and Redis on 127.0.0.1")
    test_parser.set_defaults(func=test)
    # Anything else on a `test` line goes to pytest as it is.
    args, args.pytest_args = parser.parse_known_args()
    if args.pytest_args and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(args.pytest_args)}")
    args.func(args)


if __name__ == "__main__":
    main()
