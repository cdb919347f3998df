"""`.env.example` documents every variable the project reads."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
READERS = re.compile(r"""(?:env(?:\.\w+)?|env_raw|env_keys|os\.environ\.get)\(\s*["']([A-Z][A-Z0-9_]+)["']""")


def variables_read():
    names = set()
    for path in (ROOT / "adbot_admin" / "settings.py", ROOT / "gunicorn.conf.py"):
        names |= set(READERS.findall(path.read_text()))
    return names


def test_every_variable_read_is_in_env_example():
    documented = set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]+)=", (ROOT / ".env.example").read_text(), re.M))
    read = variables_read()
    assert len(read) > 30  # the pattern still finds the readers
    assert read - documented == set()
