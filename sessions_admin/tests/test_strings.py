"""String sessions through HTTP: each library's own string becomes a file that library opens again."""

import asyncio
import base64
import logging
import os
import shutil
import struct
from pathlib import Path

import pytest

from adbot_admin.models import AuditEvent, Outcome
from sessions_admin.models import SessionFile

from .conftest import SESSIONS_URL, dir_state, sessions_dir, table_state

STRING_URL = f"{SESSIONS_URL}/import-string"
# Test-only keys, never a real account's.
TELETHON_KEY = bytes((7 * n + 1) % 256 for n in range(256))
PYROGRAM_KEY = bytes((11 * n + 3) % 256 for n in range(256))


def telethon_string(*, dc_id=2, address="149.154.167.51", key=TELETHON_KEY):
    """Return a session string exported by Telethon's own StringSession."""
    from telethon.crypto import AuthKey
    from telethon.sessions import StringSession

    session = StringSession()
    session.set_dc(dc_id, address, 443)
    session.auth_key = AuthKey(key)
    return session.save()


def pyrogram_string(*, dc_id=4, api_id=611335, user_id=5_000_000_042, is_bot=False, test_mode=False, key=PYROGRAM_KEY):
    """Return a session string exported by Kurigram's own storage."""
    from pyrogram.storage import SQLiteStorage

    async def export():
        storage = SQLiteStorage("export", Path("."), in_memory=True)
        await storage.open()
        for name, value in (
            ("dc_id", dc_id),
            ("api_id", api_id),
            ("test_mode", test_mode),
            ("auth_key", key),
            ("user_id", user_id),
            ("is_bot", is_bot),
        ):
            await getattr(storage, name)(value)
        string = await storage.export_session_string()
        await storage.close()
        return string

    return asyncio.run(export())


def post_string(client, filename, library, session_string, query=""):
    return client.post(
        STRING_URL + query, {"filename": filename, "library": library, "session_string": session_string}, format="json"
    )


pytestmark = pytest.mark.usefixtures("upload_tmp")


def opened_with_telethon(path, scratch):
    """Return (dc_id, server_address, port, key) as Telethon reads them from a copy of `path`."""
    from telethon.sessions import SQLiteSession

    copy = Path(scratch) / "reopened.session"
    shutil.copyfile(path, copy)
    session = SQLiteSession(str(copy))
    try:
        return session.dc_id, session.server_address, session.port, session.auth_key.key
    finally:
        session.close()


def opened_with_kurigram(path, scratch):
    """Return what Kurigram reads from a copy of `path`."""
    from pyrogram.storage import SQLiteStorage

    copy = Path(scratch) / "reopened.session"
    shutil.copyfile(path, copy)

    async def read():
        storage = SQLiteStorage("reopened", Path(scratch))
        await storage.open()
        values = [await getattr(storage, name)() for name in ("dc_id", "api_id", "auth_key", "user_id", "is_bot")]
        await storage.close()
        return tuple(values)

    return asyncio.run(read())


def test_a_telethon_string_becomes_a_file_telethon_opens(admin_api_client, tmp_path, upload_tmp):
    response = post_string(admin_api_client, "from-string.session", "telethon", telethon_string(dc_id=2))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["library"], body["layout"], body["dc_id"], body["api_id"]) == ("telethon", "telethon-8", 2, None)
    stored = sessions_dir() / "from-string.session"
    assert opened_with_telethon(stored, tmp_path) == (2, "149.154.167.51", 443, TELETHON_KEY)
    assert os.listdir(upload_tmp) == []


def test_a_telethon_string_with_an_ipv6_address(admin_api_client, tmp_path):
    string = telethon_string(dc_id=5, address="2001:b28:f23f:f005::a")

    assert post_string(admin_api_client, "v6.session", "telethon", string).status_code == 201
    assert opened_with_telethon(sessions_dir() / "v6.session", tmp_path)[:2] == (5, "2001:b28:f23f:f005::a")


def test_a_pyrogram_string_becomes_a_file_kurigram_opens(admin_api_client, tmp_path, upload_tmp):
    response = post_string(admin_api_client, "bot.session", "pyrogram", pyrogram_string(is_bot=True))

    assert response.status_code == 201, response.json()
    body = response.json()
    assert (body["library"], body["layout"], body["dc_id"], body["user_id"], body["is_bot"], body["api_id"]) == (
        "pyrogram",
        "kurigram-7",
        4,
        5_000_000_042,
        True,
        611335,
    )
    stored = sessions_dir() / "bot.session"
    assert opened_with_kurigram(stored, tmp_path) == (4, 611335, PYROGRAM_KEY, 5_000_000_042, True)
    assert os.listdir(upload_tmp) == []


def test_the_string_is_never_logged_echoed_or_stored(admin_api_client, caplog):
    caplog.set_level(logging.DEBUG)
    strings = [telethon_string(), pyrogram_string()]
    responses = [
        post_string(admin_api_client, "a.session", "telethon", strings[0]),
        post_string(admin_api_client, "b.session", "pyrogram", strings[1]),
        post_string(admin_api_client, "c.session", "pyrogram", strings[0]),  # the wrong library
        post_string(admin_api_client, "d.session", "telethon", strings[1]),
        post_string(admin_api_client, "a.session", "telethon", strings[0]),  # taken
        post_string(admin_api_client, "e.session", "telethon", strings[0][:-8]),  # cut short
    ]

    assert [response.status_code for response in responses] == [201, 201, 400, 400, 409, 400]
    fragments = [string[10:40] for string in strings] + [string[-30:] for string in strings]
    seen = [response.content.decode() for response in responses]
    seen += [record.getMessage() for record in caplog.records]
    seen += [str(row) for row in AuditEvent.objects.values()] + [str(row) for row in SessionFile.objects.values()]
    for text in seen:
        for fragment in fragments:
            assert fragment not in text


@pytest.mark.parametrize(
    "library, string, message",
    [
        ("telethon", "1" + "A" * 352, "not a Telethon session string"),
        ("telethon", "2" + telethon_string()[1:], "not a Telethon session string"),
        ("telethon", "1!!!not base64", "not a Telethon session string"),
        ("pyrogram", "not base64 at all", "not a Pyrogram session string"),
        (
            "pyrogram",
            base64.urlsafe_b64encode(struct.pack(">BI?255sQ?", 2, 1, False, b"k" * 255, 1, False)).decode(),
            "not a Pyrogram session string",
        ),
        (
            "pyrogram",
            base64.urlsafe_b64encode(struct.pack(">BI?256sQ?", 9, 1, False, b"k" * 256, 1, False)).decode(),
            "not a Pyrogram session string",
        ),
    ],
)
def test_a_malformed_string_is_400_and_leaves_nothing(admin_api_client, upload_tmp, library, string, message):
    response = post_string(admin_api_client, "x.session", library, string)

    assert response.status_code == 400
    assert message in response.json()["errors"]["session_string"][0]
    assert dir_state() == {} and table_state() == [] and os.listdir(upload_tmp) == []
    event = AuditEvent.objects.get()
    assert (event.action, event.outcome, event.target) == ("session_file.upload", Outcome.FAILURE, "x.session")


def test_a_key_that_is_not_256_bytes_is_400(admin_api_client):
    short = base64.urlsafe_b64encode(struct.pack(">B4sH255s", 2, bytes([149, 154, 167, 51]), 443, b"k" * 255))

    too_short = post_string(admin_api_client, "x.session", "telethon", "1" + short.decode())

    assert too_short.status_code == 400
    assert dir_state() == {}


@pytest.mark.parametrize("library, make", [("telethon", telethon_string), ("pyrogram", pyrogram_string)])
def test_an_all_zero_key_is_refused_in_both_string_formats(admin_api_client, upload_tmp, library, make):
    response = post_string(admin_api_client, "zero.session", library, make(key=bytes(256)))

    assert response.status_code == 400
    assert response.json()["code"] == "no_auth_key"
    assert "not logged in" in response.json()["errors"]["session_string"][0]
    assert dir_state() == {} and table_state() == [] and os.listdir(upload_tmp) == []
    event = AuditEvent.objects.get()
    assert (event.outcome, event.target, event.detail["reason"]) == (Outcome.FAILURE, "zero.session", "no_auth_key")


def test_a_test_server_string_is_refused(admin_api_client):
    response = post_string(admin_api_client, "x.session", "pyrogram", pyrogram_string(dc_id=2, test_mode=True))

    assert response.status_code == 400
    assert "test servers" in response.json()["errors"]["session_string"][0]


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"filename": "x.session", "library": "hydrogram", "session_string": "1abc"}, "library"),
        ({"filename": "../x.session", "library": "telethon", "session_string": "1abc"}, "filename"),
        ({"filename": "con.session", "library": "telethon", "session_string": "1abc"}, "filename"),
        ({"filename": "x.session", "library": "telethon", "session_string": 5}, "session_string"),
        ({"filename": "x.session", "library": "telethon"}, "session_string"),
        ({"filename": "x.session", "library": "telethon", "session_string": "1" * 2000}, "session_string"),
        ({"filename": "x.session", "library": "telethon", "session_string": "1abc", "extra": 1}, "extra"),
    ],
)
def test_bad_fields_are_400_naming_the_field(admin_api_client, payload, field):
    response = admin_api_client.post(STRING_URL, payload, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]
    assert dir_state() == {}


def test_a_taken_name_is_409_unless_overwrite(admin_api_client, tmp_path):
    assert post_string(admin_api_client, "acct.session", "telethon", telethon_string()).status_code == 201
    replacement = telethon_string(dc_id=4, address="149.154.167.91", key=PYROGRAM_KEY)

    taken = post_string(admin_api_client, "acct.session", "telethon", replacement)
    replaced = post_string(admin_api_client, "acct.session", "telethon", replacement, query="?overwrite=true")

    assert taken.status_code == 409 and taken.json()["code"] == "conflict"
    assert replaced.status_code == 201 and replaced.json()["dc_id"] == 4
    assert opened_with_telethon(sessions_dir() / "acct.session", tmp_path)[3] == PYROGRAM_KEY


def test_the_libraries_add_no_log_handler_of_their_own(admin_api_client):
    import logging

    from adbot_admin import logs

    assert post_string(admin_api_client, "a.session", "telethon", telethon_string()).status_code == 201
    assert post_string(admin_api_client, "b.session", "pyrogram", pyrogram_string()).status_code == 201

    for name in ("pyasn1", "telethon", "pyrogram", "rsa"):
        handlers = logging.getLogger(name).handlers
        assert all(isinstance(handler.formatter, logs.EscapingFormatter) for handler in handlers), (name, handlers)
