#!/usr/bin/env python3
"""Set up and run adbot-admin with nothing but Python 3.11 and pip.

    python3 scripts/dev.py serve            set up, then serve on http://127.0.0.1:8000
    python3 scripts/dev.py test [ARGS]      set up, then run the whole test suite
    python3 scripts/dev.py test --services  the same against PostgreSQL and Redis on this machine
    python3 scripts/dev.py lock             recompile the lock files after editing requirements*.txt

Set-up is idempotent: a virtual environment in .venv with exactly the locked
packages (requirements.lock, requirements-dev.lock: every transitive dependency
pinned with its hashes, installed with --require-hashes), and for `serve` a
.env with freshly generated secrets (only when none exists), migrations and
collected static files. Standard library only: this script runs before
anything is installed.
"""

import argparse
import base64
import os
import re
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
PYTHON = VENV / "bin" / "python"
ENV_FILE = ROOT / ".env"
# Human-edited top-level pins -> compiled lock files with every transitive
# dependency and its hashes. The dev lock is compiled first and constrains the
# runtime one, so both install the same version of every package they share.
LOCKS = {
    "requirements-lock-tools.txt": "requirements-lock-tools.lock",
    "requirements-dev.txt": "requirements-dev.lock",
    "requirements.txt": "requirements.lock",
}
LOCK_CONSTRAINTS = {"requirements.lock": "requirements-dev.lock"}
# pip-tools lives in a venv of its own: it pins pip and setuptools, which the app's venv must not follow.
LOCK_VENV = ROOT / ".venv-lock"
LOCK_PYTHON = (3, 11)
PYPI = "https://pypi.org/simple"
# pip variables that do not add a package source; every other PIP_* (find-links,
# extra indexes, constraints) is dropped so the locks name only PyPI's files.
PIP_NETWORK_VARS = {"PIP_CERT", "PIP_CLIENT_CERT", "PIP_DEFAULT_TIMEOUT", "PIP_PROXY", "PIP_RETRIES", "PIP_CACHE_DIR"}
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


def ensure_venv(venv=VENV):
    """Make the virtual environment `venv` unless it exists; return its python."""
    python = venv / "bin" / "python"
    if not python.exists():
        try:
            run(sys.executable, "-m", "venv", venv)
        except subprocess.CalledProcessError:
            # Debian's python3 ships venv without ensurepip; virtualenv needs only pip.
            shutil.rmtree(venv, ignore_errors=True)
            run(sys.executable, "-m", "pip", "install", "--user", "--quiet", "virtualenv")
            run(sys.executable, "-m", "virtualenv", venv)
    return python


def pins(requirements, seen=None):
    """Return {normalised name: version or None} of a requirements file and the files it includes with -r."""
    seen = set() if seen is None else seen
    found = {}
    for line in (ROOT / requirements).read_text().splitlines():
        line = line.split(" #")[0].strip()
        if line.startswith("-r "):
            included = line[3:].strip()
            if included not in seen:
                seen.add(included)
                found.update(pins(included, seen))
            continue
        match = re.match(r"([A-Za-z0-9][A-Za-z0-9._-]*)(\[[^\]]*\])?\s*(==\s*([^\s;\\]+))?", line)
        if match and not line.startswith(("#", "-")):
            found[re.sub(r"[-_.]+", "-", match.group(1)).lower()] = match.group(4)
    return found


def stale_lock(requirements):
    """Return what the lock of `requirements` lacks (top-level pins it does not hold), or an empty list."""
    locked = pins(LOCKS[requirements])
    return [
        f"{name}=={version}" if version else name
        for name, version in pins(requirements).items()
        if name not in locked or (version and locked[name] != version)
    ]


def install(requirements):
    """Install exactly the lock of `requirements` into .venv, unless that very lock is already installed."""
    lock = LOCKS[requirements]
    missing = stale_lock(requirements)
    if missing:
        sys.exit(
            f"{lock} does not match {requirements} ({', '.join(missing)}): "
            "run `python3 scripts/dev.py lock` and commit the lock files."
        )
    install_lock(PYTHON, ROOT / lock, stamp=VENV / f".installed-{lock}")


def install_lock(python, lock_file, *, stamp, env=None):
    """Install exactly the hashed pins of `lock_file` with `python`, unless `stamp` says that lock is in."""
    wanted = lock_file.read_text()
    if stamp.exists() and stamp.read_text() == wanted:
        return
    flags = ("--quiet", "--disable-pip-version-check", "--require-hashes", "--no-deps")
    run(python, "-m", "pip", "install", *flags, "-r", lock_file, env=env)
    stamp.write_text(wanted)


def pypi_only_env():
    """Return the environment for pip with no configuration and no package source but PyPI.

    This machine's pip config adds local wheel folders and indexes; a lock made
    with them could name files that a fresh machine cannot fetch.
    """
    env = {name: value for name, value in os.environ.items() if not name.startswith("PIP_") or name in PIP_NETWORK_VARS}
    env["PIP_CONFIG_FILE"] = os.devnull
    env["PIP_INDEX_URL"] = PYPI
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # The header of every lock names the one command that remakes it.
    env["CUSTOM_COMPILE_COMMAND"] = "python3 scripts/dev.py lock"
    return env


def lock(args):
    """Compile every lock file from its requirements*.txt with pip-tools, against PyPI only."""
    if sys.version_info[:2] != LOCK_PYTHON:
        sys.exit(f"Run the lock command with Python {'.'.join(map(str, LOCK_PYTHON))}: the locks are for that version.")
    env = pypi_only_env()
    python = ensure_venv(LOCK_VENV)
    install_lock(python, ROOT / "requirements-lock-tools.lock", stamp=LOCK_VENV / ".installed", env=env)
    upgrade = (
        ["--upgrade"] if args.upgrade else [arg for name in args.upgrade_package for arg in ("--upgrade-package", name)]
    )
    for requirements, output in LOCKS.items():
        constraint = LOCK_CONSTRAINTS.get(output)
        run(
            python,
            "-m",
            "piptools",
            "compile",
            "--quiet",
            "--no-config",
            "--generate-hashes",
            "--allow-unsafe",
            "--strip-extras",
            "--no-emit-index-url",
            "--no-emit-find-links",
            "--index-url",
            PYPI,
            *upgrade,
            *(["--constraint", constraint] if constraint else []),
            "--output-file",
            output,
            requirements,
            env=env,
        )
    print("Locks compiled. Commit them with the requirements*.txt change: " + " ".join(LOCKS.values()))


def write_dotenv():
    """Write a .env for a plain-HTTP run on loopback, with new secrets; keep an existing one."""
    if ENV_FILE.exists():
        print(f"Keeping the existing {ENV_FILE.name}.")
        # A .env written before the audit chain existed gets its key, or the server refuses to start.
        if not re.search(r"^AUDIT_CHAIN_KEY=", ENV_FILE.read_text(), re.MULTILINE):
            with ENV_FILE.open("a") as handle:
                handle.write(f"AUDIT_CHAIN_KEY={secrets.token_urlsafe(48)}\n")
            print(f"Added a fresh AUDIT_CHAIN_KEY to {ENV_FILE.name}.")
        return
    lines = [
        "# Written by scripts/dev.py serve for a local plain-HTTP run; see .env.example.",
        f"SECRET_KEY={secrets.token_urlsafe(48)}",
        f"JWT_SECRET_KEY={secrets.token_urlsafe(48)}",
        f"AUDIT_CHAIN_KEY={secrets.token_urlsafe(48)}",
        # AES-256 key for secrets stored in the database (adbot_admin/field_encryption.py).
        f"FIELD_ENCRYPTION_KEYS={base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b'=').decode()}",
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
    lock_parser = commands.add_parser("lock", help="recompile the lock files from requirements*.txt (Python 3.11)")
    lock_parser.add_argument(
        "--upgrade", action="store_true", help="move every unpinned dependency to its newest release"
    )
    lock_parser.add_argument(
        "--upgrade-package",
        "-P",
        action="append",
        default=[],
        metavar="NAME",
        help="move only NAME (and what it needs) to its newest allowed release",
    )
    lock_parser.set_defaults(func=lock)
    # Anything else on a `test` line goes to pytest as it is.
    args, args.pytest_args = parser.parse_known_args()
    if args.pytest_args and args.command != "test":
        parser.error(f"unrecognized arguments: {' '.join(args.pytest_args)}")
    args.func(args)


if __name__ == "__main__":
    main()
