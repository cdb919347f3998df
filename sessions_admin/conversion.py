"""Session files converted between libraries, offline, by TGConvertor.

TGConvertor (0.3.0, with opentele2 underneath for tdata) reads one
authorization out of a Telethon or Pyrogram-family file, a session string or
a Telegram Desktop tdata folder, and writes it in another of these forms. It
opens no connection unless asked to, and never is here. What a target format
needs that its source does not record comes from the session's row: a
Pyrogram file or string records the account's `user_id` and the `api_id` of
its app, which a Telethon file does not.

Every file written here lands in a folder the caller owns (never
SESSIONS_DIR), and is then read back by our own inspection
(`inspect_session_file`), so a converted file is held to the same rules as an
uploaded one. Messages never carry key material.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from TGConvertor import API, SessionManager, ValidationError

from .inspection import SessionFileRejected, SessionInfo, inspect_session_file
from .models import Library

# Kurigram is the Pyrogram-family library installed here; its layout (version 7)
# is the newest this server reads, and Pyrogram 2 and Pyrofork clients read it too.
PYROGRAM_BACKEND = "kurigram"
# Telegram Desktop's own app, as TGConvertor (after opentele2) defines it: what a
# session taken out of tdata must keep using.
TELEGRAM_DESKTOP = API.TelegramDesktop


class ConversionRefused(Exception):
    """Raised when a session cannot be written in the asked form; `code` says why, the message never holds a key."""

    def __init__(self, detail, *, code):
        super().__init__(detail)
        self.code = code


def load(*, path: Path, library: str, user_id: int | None = None, api_id: int | None = None) -> SessionManager:
    """Return TGConvertor's SessionManager for the `library` session file at `path`.

    `user_id` and `api_id` (from the session's row) fill what the file does not
    record; a value the file records wins. Raises ConversionRefused when the
    library cannot read the file.
    """
    reader = {
        Library.TELETHON: SessionManager.from_telethon_file,
        Library.PYROGRAM: SessionManager.from_pyrogram_file,
    }.get(library)
    if reader is None:
        raise ConversionRefused(f"unknown library {library!r}", code="unknown_library")
    try:
        manager = asyncio.run(reader(path))
    except (ValidationError, OSError) as exc:
        raise ConversionRefused(f"{library} cannot read the session file ({exc})", code="unreadable_session") from None
    # TGConvertor defaults a Telethon file's api_id to Telegram Desktop's: that is a guess, never kept.
    if library == Library.TELETHON:
        manager.api_id = None
    if manager.user_id is None:
        manager.user_id = user_id
    if manager.api_id is None:
        manager.api_id = api_id
    return manager


def write_file(manager: SessionManager, *, library: str, path: Path) -> SessionInfo:
    """Write `manager`'s authorization as a new `library` session file at `path`; return its inspection.

    Raises ConversionRefused when the target needs what the session lacks
    (a Pyrogram file needs `user_id` and `api_id`) or when the written file
    fails our own inspection.
    """
    _require_identity(manager, library)
    try:
        if library == Library.TELETHON:
            asyncio.run(manager.to_telethon_file(path))
        elif library == Library.PYROGRAM:
            asyncio.run(manager.to_pyrogram_file(path, backend=PYROGRAM_BACKEND))
        else:
            raise ConversionRefused(f"unknown library {library!r}", code="unknown_library")
    except ValidationError as exc:
        raise ConversionRefused(f"cannot write a {library} session ({exc})", code="conversion_failed") from None
    try:
        return inspect_session_file(path)
    except SessionFileRejected as exc:
        # The library wrote something this server would refuse as an upload.
        raise ConversionRefused(f"the converted file fails inspection ({exc})", code="conversion_failed") from None


def session_string(manager: SessionManager, *, library: str) -> str:
    """Return `manager`'s authorization as a `library` session string (a credential: never log it).

    Raises ConversionRefused when the target needs what the session lacks.
    """
    _require_identity(manager, library)
    try:
        if library == Library.TELETHON:
            return manager.to_telethon_string()
        if library == Library.PYROGRAM:
            return manager.to_pyrogram_string()
    except ValidationError as exc:
        raise ConversionRefused(f"cannot write a {library} session string ({exc})", code="conversion_failed") from None
    raise ConversionRefused(f"unknown library {library!r}", code="unknown_library")


def missing_for(library: str, *, user_id, api_id) -> list[str]:
    """Return the row values a `library` target needs and the session lacks (empty when none)."""
    if library != Library.PYROGRAM:
        return []
    return [name for name, value in (("user_id", user_id), ("api_id", api_id)) if value is None]


def _require_identity(manager: SessionManager, library: str) -> None:
    missing = missing_for(library, user_id=manager.user_id, api_id=manager.api_id)
    if missing:
        raise ConversionRefused(
            f"a {library} session records {' and '.join(missing)}, which this session does not have; "
            "set them on the account first",
            code="missing_account_data",
        )
