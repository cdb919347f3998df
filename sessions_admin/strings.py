"""Session strings turned into session files by the libraries that define them.

A session string is a credential (it carries the auth key): it is passed from
the request to the library and nowhere else; no message here repeats it or
any part of it. Telethon's StringSession decodes Telethon strings and its
SQLiteSession writes the file; Kurigram's SQLiteStorage decodes Pyrogram
strings (in memory) and writes the file. Each file is written by the library
into a private temporary folder outside SESSIONS_DIR and then goes through
inspection and storage like any upload.
"""

from __future__ import annotations

import asyncio
import struct
import tempfile
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings

from adbot_admin.file_storage import TEMP_PREFIX

from .errors import InvalidSessionString
from .models import Library

# Generous for either library's strings (Telethon: 353 or 369 characters; Pyrogram: 351 to 362).
MAX_STRING_LENGTH = 1024
STEM = "session"
# What decoding a malformed string raises inside the libraries (base64, struct, address and dc lookups).
DECODE_ERRORS = (ValueError, TypeError, struct.error, KeyError, IndexError, OverflowError)


@contextmanager
def session_file_from_string(*, library: str, session_string: str):
    """Yield the path of a session file the library wrote from `session_string`; removed on exit.

    Raises InvalidSessionString when the library cannot decode it.
    """
    if not isinstance(session_string, str) or not session_string or len(session_string) > MAX_STRING_LENGTH:
        raise InvalidSessionString(f"a session string is 1 to {MAX_STRING_LENGTH} characters")
    writer = {Library.TELETHON: _write_telethon, Library.PYROGRAM: _write_pyrogram}.get(library)
    if writer is None:
        raise InvalidSessionString(f"unknown library {library!r}")
    with tempfile.TemporaryDirectory(prefix=TEMP_PREFIX, dir=settings.FILE_UPLOAD_TEMP_DIR) as folder:
        path = Path(folder) / f"{STEM}.session"
        writer(session_string, Path(folder))
        yield path


def _write_telethon(session_string: str, folder: Path) -> None:
    from telethon.sessions import SQLiteSession, StringSession

    try:
        decoded = StringSession(session_string)
    except DECODE_ERRORS:
        raise InvalidSessionString(
            "not a Telethon session string: it does not decode to a data centre, address, port and 256-byte key"
        ) from None
    session = SQLiteSession(str(folder / STEM))
    try:
        session.set_dc(decoded.dc_id, decoded.server_address, decoded.port)
        # None for an all-zero key (Telethon's own rule); inspection then refuses the file.
        session.auth_key = decoded.auth_key
        session.save()
    finally:
        session.close()


def _write_pyrogram(session_string: str, folder: Path) -> None:
    from pyrogram.storage import SQLiteStorage

    async def write():
        memory = SQLiteStorage(STEM, folder, session_string=session_string, in_memory=True)
        try:
            await memory.open()
        except DECODE_ERRORS:
            raise InvalidSessionString(
                "not a Pyrogram session string: it does not decode to a data centre, api_id, user and 256-byte key"
            ) from None
        try:
            if await memory.test_mode():
                raise InvalidSessionString("the session string is for Telegram's test servers")
            values = {
                name: await getattr(memory, name)()
                for name in ("dc_id", "server_address", "port", "api_id", "test_mode", "auth_key", "user_id", "is_bot")
            }
        finally:
            await memory.close()
        storage = SQLiteStorage(STEM, folder)
        await storage.open()
        try:
            for name, value in values.items():
                await getattr(storage, name)(value)
            await storage.save()
        finally:
            await storage.close()

    asyncio.run(write())
