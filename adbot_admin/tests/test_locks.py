"""The lock files: every package the README commands install is pinned with its hashes, from PyPI alone."""

import importlib.util
import re

import pytest
from django.conf import settings


def dev_script():
    spec = importlib.util.spec_from_file_location("dev", settings.BASE_DIR / "scripts" / "dev.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


DEV = dev_script()


@pytest.mark.parametrize("requirements", list(DEV.LOCKS))
def test_every_top_level_pin_is_in_its_lock(requirements):
    assert DEV.stale_lock(requirements) == [], "run `python3 scripts/dev.py lock`"


@pytest.mark.parametrize("lock", list(DEV.LOCKS.values()))
def test_every_locked_package_has_an_exact_version_and_hashes(lock):
    text = (settings.BASE_DIR / lock).read_text()
    packages = [entry for entry in re.split(r"\n(?=[A-Za-z0-9])", text) if re.match(r"[A-Za-z0-9]", entry)]
    assert packages
    for entry in packages:
        assert re.match(r"[a-z0-9][a-z0-9._-]*==[^\s;]+ \\", entry), entry.splitlines()[0]
        assert re.search(r"--hash=sha256:[0-9a-f]{64}", entry), entry.splitlines()[0]


@pytest.mark.parametrize("lock", list(DEV.LOCKS.values()))
def test_locks_name_no_local_package_source(lock):
    text = (settings.BASE_DIR / lock).read_text()
    assert not re.search(r"^\s*(--index-url|--extra-index-url|--find-links|-f |-i )", text, re.M)
    assert "file://" not in text and "/opt/" not in text


def test_the_runtime_lock_agrees_with_the_dev_lock():
    runtime = DEV.pins("requirements.lock")
    dev = DEV.pins("requirements-dev.lock")
    assert runtime and {name: dev.get(name) for name in runtime} == runtime
