"""`manage.py rotate_jwt_key`: rotations and retirements of a real .env file, and what the command prints."""

import functools
import os
import re
import stat
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from adbot_admin.tests.factories import TEST_PASSWORD
from adbot_admin.tests.tokens import bearer, header_of
from tests.security import forge
from tests.security.log_hygiene import register

kid_of, new_key = forge.key_id, forge.new_key

BASE_DIR = Path(__file__).resolve().parents[2]
AUDIT = "/api/admin/audit"


def rotate(*args):
    out, err = StringIO(), StringIO()
    call_command("rotate_jwt_key", *args, stdout=out, stderr=err)
    return out.getvalue() + err.getvalue()


def assignments(path):
    """Return {name: value} of the bare `NAME=value` lines the command writes (keys are URL-safe)."""
    found = {}
    for line in Path(path).read_text().splitlines():
        match = re.fullmatch(r"(?:export )?([A-Z_]+)=([A-Za-z0-9_,-]*)", line)
        if match:
            found[match.group(1)] = match.group(2)
    return found


@pytest.fixture
def env_file(tmp_path):
    """The shipped .env.example with real keys and lines of every shape an operator may have."""
    backend, frontend = new_key(), new_key()
    text = (BASE_DIR / ".env.example").read_text()
    text = text.replace("JWT_SECRET_KEY=change-me-run-manage.py-generate_secret", f"JWT_SECRET_KEY={backend}")
    text = text.replace("# JWT_SECRET=change-me-run-manage.py-generate_secret", f"JWT_SECRET={frontend}")
    text += (
        "\n# Operator's own lines, kept as they are\n"
        "export EXPORTED='single quoted # not a comment'\n"
        'DOUBLE="a\\nb"\n'
        "ADMIN_PASSWORD_HASH='$2b$12$abcdefghijklmnopqrstuuJ0V3nF7Pqf2uS3tq7nVn2hZb0Q2S5yK'\n"
        "   \n"
        "not an assignment line"
    )
    path = tmp_path / ".env"
    path.write_text(text)
    path.chmod(0o644)
    return path


@pytest.fixture
def keys(env_file):
    """The keys the .env file holds before the test rotates them."""
    values = assignments(env_file)
    return {"backend": values["JWT_SECRET_KEY"], "frontend": values["JWT_SECRET"]}


def test_write_rotates_the_backend_key_and_keeps_every_other_line(env_file, keys):
    before = env_file.read_text().splitlines()
    old = keys["backend"]

    output = rotate("--write", str(env_file))

    after = env_file.read_text().splitlines()
    at = before.index(f"JWT_SECRET_KEY={old}")
    # One line replaced, one inserted after it, every other line and comment the same, in order.
    assert after[:at] == before[:at]
    assert after[at + 2 :] == before[at + 1 :]
    new = assignments(env_file)["JWT_SECRET_KEY"]
    assert after[at] == f"JWT_SECRET_KEY={new}"
    assert after[at + 1] == f"JWT_SECRET_KEY_FALLBACKS={old}"
    assert new != old and len(new) >= 64
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    assert sorted(os.listdir(env_file.parent)) == [".env"], "a temporary file was left behind"

    assert kid_of(old) in output and kid_of(new) in output
    assert old not in output and new not in output
    assert f"--retire {kid_of(old)}" in output


def test_a_second_rotation_puts_the_newest_old_key_first_and_retire_drops_one(env_file, keys):
    first = keys["backend"]
    rotate("--write", str(env_file))
    second = assignments(env_file)["JWT_SECRET_KEY"]
    rotate("--write", str(env_file))
    third = assignments(env_file)["JWT_SECRET_KEY"]
    assert assignments(env_file)["JWT_SECRET_KEY_FALLBACKS"] == f"{second},{first}"

    output = rotate("--retire", kid_of(first), "--write", str(env_file))
    values = assignments(env_file)
    assert values["JWT_SECRET_KEY"] == third
    assert values["JWT_SECRET_KEY_FALLBACKS"] == second
    assert first not in output and second not in output and third not in output
    # The file keeps one fallbacks line, replaced in place.
    assert env_file.read_text().count("\nJWT_SECRET_KEY_FALLBACKS=") == 1


@pytest.mark.parametrize("kid", ["0123456789abcdef", "current"])
def test_retiring_an_unknown_or_the_current_kid_is_refused_and_the_file_unchanged(env_file, keys, kid):
    rotate("--write", str(env_file))
    before = env_file.read_bytes()
    if kid == "current":
        kid = kid_of(assignments(env_file)["JWT_SECRET_KEY"])
    with pytest.raises(CommandError) as raised:
        rotate("--retire", kid, "--write", str(env_file))
    assert env_file.read_bytes() == before
    for key in keys.values():
        assert key not in str(raised.value)


def test_write_with_frontend_rotates_jwt_secret_only(env_file, keys):
    backend_line = f"JWT_SECRET_KEY={keys['backend']}"
    rotate("--frontend", "--write", str(env_file))
    values = assignments(env_file)
    assert backend_line in env_file.read_text().splitlines()
    assert "JWT_SECRET_KEY_FALLBACKS" not in values
    assert values["JWT_SECRET_FALLBACKS"] == keys["frontend"]
    assert values["JWT_SECRET"] not in (keys["frontend"], keys["backend"])


def test_a_file_that_cannot_be_rotated_is_left_unchanged(env_file, keys):
    text = env_file.read_text().replace(
        f"JWT_SECRET_KEY={keys['backend']}", "JWT_SECRET_KEY=with,a-comma-0123456789abcdefghijklmnopq"
    )
    env_file.write_text(text)
    with pytest.raises(CommandError, match="comma"):
        rotate("--write", str(env_file))
    assert env_file.read_text() == text
    assert sorted(os.listdir(env_file.parent)) == [".env"]


def test_a_missing_file_is_a_command_error(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        rotate("--write", str(tmp_path / "absent.env"))


def test_without_write_it_prints_the_new_key_line_and_only_kids_of_keys_in_use(settings):
    old, older = settings.JWT_SECRET_KEY, new_key()
    settings.JWT_SECRET_KEY_FALLBACKS = [older]
    output = rotate()
    new = re.search(r"^JWT_SECRET_KEY=(\S+)$", output, re.MULTILINE).group(1)
    register(new)
    assert len(new) >= 64 and new != old
    assert f"kid {kid_of(old)}" in output and kid_of(older) in output
    assert old not in output and older not in output
    # Nothing was changed where the app reads its keys.
    assert settings.JWT_SECRET_KEY == old


def test_a_weak_key_can_be_rotated_although_the_checks_refuse_to_serve_with_it():
    env = {
        **os.environ,
        "ENV_FILE": "",
        "DEBUG": "false",
        "DJANGO_SETTINGS_MODULE": "adbot_admin.settings",
        "JWT_SECRET_KEY": "weak",
    }
    run = functools.partial(subprocess.run, cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=60)
    assert run([sys.executable, "manage.py", "check"]).returncode != 0
    result = run([sys.executable, "manage.py", "rotate_jwt_key"])
    assert result.returncode == 0, result.stderr
    line = re.search(r"^JWT_SECRET_KEY=([A-Za-z0-9_-]{64})$", result.stdout, re.MULTILINE)
    assert line, result.stdout
    register(line.group(1))


@pytest.mark.django_db
def test_an_operator_rotates_and_retires_without_logging_anyone_out_until_retirement(
    settings, env_file, keys, api_client, admin_user
):
    settings.JWT_SECRET_KEY = keys["backend"]
    before = api_client.post(
        "/api/auth/token", {"username": admin_user.username, "password": TEST_PASSWORD}, format="json"
    ).json()

    def restart():
        values = assignments(env_file)
        settings.JWT_SECRET_KEY = values["JWT_SECRET_KEY"]
        settings.JWT_SECRET_KEY_FALLBACKS = [
            key for key in values.get("JWT_SECRET_KEY_FALLBACKS", "").split(",") if key
        ]

    rotate("--write", str(env_file))
    restart()
    assert api_client.get(AUDIT, **bearer(before["access"])).status_code == 200
    refreshed = api_client.post("/api/auth/token/refresh", {"refresh": before["refresh"]}, format="json").json()
    assert header_of(refreshed["access"])["kid"] == kid_of(settings.JWT_SECRET_KEY)

    rotate("--retire", header_of(before["access"])["kid"], "--write", str(env_file))
    restart()
    assert api_client.get(AUDIT, **bearer(before["access"])).status_code == 401
    assert api_client.get(AUDIT, **bearer(refreshed["access"])).status_code == 200
