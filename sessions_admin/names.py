"""The session file name rule, and names as they may be shown.

A name is refused, never rewritten: the engine and the operator see exactly
the name the client sent, or nothing.
"""

from __future__ import annotations

from .errors import InvalidSessionFileName

SESSION_SUFFIX = ".session"
MAX_NAME_LENGTH = 100
# SQLite's companions of a database file: a hot journal or WAL left beside a
# different database would be applied to it, so they go with their file.
SIBLING_SUFFIXES = ("-journal", "-wal", "-shm")
ALLOWED_NAME_CHARACTERS = frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-")
# The name rule as one regular expression (URL lookups, OpenAPI); validate_session_filename
# is the authority and says what is wrong.
NAME_REGEX = r"(?![.-])(?![A-Za-z0-9._-]*\.\.)[A-Za-z0-9._-]{1,92}\.session"
# Base names Windows reserves for devices: a file so named cannot be opened there,
# and the folder may be shared with a Windows host.
WINDOWS_RESERVED_NAMES = frozenset(
    {"con", "prn", "aux", "nul"} | {f"com{n}" for n in range(1, 10)} | {f"lpt{n}" for n in range(1, 10)}
)
SHOWN_NAME_CHARACTERS = 200


def validate_session_filename(name) -> str:
    """Return `name` unchanged if it is an acceptable session file name.

    The rule: ASCII letters, digits, `.`, `_` and `-` only, at most 100
    characters, ending in `.session`, not beginning with a dot or `-`, no
    `..`, and a base name (up to the first dot) that Windows does not reserve.
    Raises InvalidSessionFileName otherwise; a name is refused, never rewritten.
    """
    if not isinstance(name, str) or not name:
        raise InvalidSessionFileName("the file has no name")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidSessionFileName(f"the file name is longer than {MAX_NAME_LENGTH} characters")
    if "/" in name or "\\" in name:
        raise InvalidSessionFileName("the file name must not contain a path separator")
    if any(ord(char) < 32 or ord(char) == 127 for char in name):
        raise InvalidSessionFileName("the file name must not contain control characters")
    if not set(name) <= ALLOWED_NAME_CHARACTERS:
        raise InvalidSessionFileName("the file name may contain only ASCII letters, digits, '.', '_' and '-'")
    if name.startswith("."):
        raise InvalidSessionFileName("the file name must not begin with a dot")
    if name.startswith("-"):
        # A shell loop over the folder would read it as an option.
        raise InvalidSessionFileName("the file name must not begin with '-'")
    if ".." in name:
        raise InvalidSessionFileName("the file name must not contain '..'")
    if not name.endswith(SESSION_SUFFIX) or name == SESSION_SUFFIX:
        raise InvalidSessionFileName(f"the file name must end in {SESSION_SUFFIX}")
    if name.split(".", 1)[0].lower() in WINDOWS_RESERVED_NAMES:
        raise InvalidSessionFileName("the file name's base is a device name reserved on Windows (con, nul, com1, ...)")
    return name


def shown_name(name, *, limit: int = SHOWN_NAME_CHARACTERS) -> str:
    """Return `name` fit for a log line, a report or a message: control and non-ASCII characters escaped, capped."""
    text = "".join(char if " " <= char <= "~" else char.encode("unicode_escape").decode("ascii") for char in str(name))
    if len(text) > limit:
        text = text[: limit - 1] + "…"
    return text


def is_sibling_name(name: str) -> bool:
    """Return True for an SQLite companion file name (`x.session-journal`, `-wal`, `-shm`)."""
    return name.endswith(SIBLING_SUFFIXES)


def sibling_names(name: str) -> list[str]:
    return [name + suffix for suffix in SIBLING_SUFFIXES]
