""".env files: read as the app reads them, rewritten in place atomically.

Values are parsed by django-environ itself, the parser settings.py uses, so a
rewrite is checked by reading it back the way the app will. Every line but the
assignments being changed is kept byte for byte, comments included.
"""

import io
import os
import re

import environ

from .file_storage import write_atomically

# django-environ's own pattern for an assignment line (Env.read_env).
ASSIGNMENT = re.compile(r"\A(?:export )?([A-Za-z_0-9]+)=")
# Written bare; anything else is single-quoted, which django-environ reads literally.
BARE_VALUE = re.compile(r"[A-Za-z0-9_.,~+/=:@%^*!-]*")


class EnvFileError(Exception):
    """Raised when a .env file cannot be rewritten so that it reads back as intended."""


def env_file_parse(text):
    """Return the variables `text` sets, exactly as django-environ reads them."""

    class FileEnv(environ.Env):
        ENVIRON = {}

    FileEnv.read_env(io.StringIO(text))
    return dict(FileEnv.ENVIRON)


def env_file_read(path):
    """Return the variables the file at `path` sets."""
    with open(path, encoding="utf-8") as handle:
        return env_file_parse(handle.read())


def _line(name, value):
    if "\n" in value or "\r" in value:
        raise EnvFileError(f"The value for {name} holds a line break.")
    written = value if BARE_VALUE.fullmatch(value) else f"'{value}'"
    return f"{name}={written}\n"


def env_file_rewrite(text, values, *, after=None):
    """Return `text` with each `values` name set on its last assignment line (or a new line); other lines kept.

    A new line goes after the assignment of `after[name]` when there is one,
    else at the end. Raises EnvFileError when the result would not read back
    as `values` with every other variable unchanged.
    """
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    for name, value in values.items():
        where = _last_assignment(lines, name)
        if where is not None:
            lines[where] = _line(name, value)
            continue
        anchor = _last_assignment(lines, (after or {}).get(name))
        lines.insert(len(lines) if anchor is None else anchor + 1, _line(name, value))
    result = "".join(lines)
    before, now = env_file_parse(text), env_file_parse(result)
    if {**before, **values} != now:
        raise EnvFileError("The rewritten file would not read back as intended; it was left unchanged.")
    return result


def _last_assignment(lines, name):
    found = None
    for index, line in enumerate(lines):
        match = ASSIGNMENT.match(line)
        if match and match.group(1) == name:
            found = index
    return found


def env_file_write(path, text):
    """Replace the file at `path` with `text` in one rename; the file is left readable by its owner only (0600)."""
    target = os.path.realpath(path)
    write_atomically(target, [text.encode("utf-8")], mode=0o600, prefix=".env-")
    # The rename itself survives a crash only once the folder is synced.
    folder = os.open(os.path.dirname(target), os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)
