"""One code per mistake: a refused session file has the same `code` uploaded alone, inside a zip and in the audit."""

import re
from functools import partial

import pytest

from adbot_admin.models import AuditEvent, Outcome
from sessions_admin import errors

from . import session_files
from .conftest import dir_state, upload, with_sidecars
from .test_imports import post_archive
from .zips import make_zip

ZERO_KEY = bytes(256)


def newer_release_session(directory, name):
    return session_files.execute_sql(session_files.telethon_session(directory, name), "UPDATE version SET version = 9")


BAD_FILES = {
    "text": (session_files.text_session, "not_sqlite"),
    "empty": (session_files.empty_session, "not_sqlite"),
    "truncated": (session_files.truncated_session, "corrupt_database"),
    "trailing data": (session_files.trailing_garbage_session, "corrupt_database"),
    "stale header": (session_files.stale_page_count_session, "corrupt_database"),
    "corrupt pages": (session_files.corrupt_pages_session, "corrupt_database"),
    "added trigger": (session_files.added_trigger_session, "unknown_layout"),
    "view": (session_files.sessions_view_session, "unknown_layout"),
    "newer release": (newer_release_session, "newer_version"),
    "wrong version row": (session_files.wrong_version_session, "invalid_session_data"),
    "two rows": (session_files.two_rows_session, "invalid_session_data"),
    "short key": (session_files.short_key_session, "invalid_session_data"),
    "not logged in": (partial(session_files.pyrogram_session, logged_in=False), "no_auth_key"),
    # An all-zero auth key, in files written by each library family.
    "zero key telethon": (partial(session_files.telethon_session, auth_key=ZERO_KEY), "no_auth_key"),
    "zero key telethon-6": (partial(session_files.telethon_v6_session, auth_key=ZERO_KEY), "no_auth_key"),
    "zero key pyrogram": (partial(session_files.pyrogram_session, auth_key=ZERO_KEY), "no_auth_key"),
    "zero key pyrogram-2": (partial(session_files.pyrogram_v2_session, auth_key=ZERO_KEY), "no_auth_key"),
    "zero key kurigram": (partial(session_files.kurigram_session, auth_key=ZERO_KEY), "no_auth_key"),
    "zero key pyrofork": (partial(session_files.pyrofork_session, auth_key=ZERO_KEY), "no_auth_key"),
}


def failure_reasons():
    return list(
        AuditEvent.objects.filter(action="session_file.upload", outcome=Outcome.FAILURE)
        .order_by("id")
        .values_list("detail__reason", flat=True)
    )


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_bad_file_has_one_code_single_or_zipped(admin_api_client, source_dir, upload_tmp, case):
    maker, code = BAD_FILES[case]
    content = maker(source_dir, "bad.session").read_bytes()

    single = upload(admin_api_client, content=content, name="bad.session")
    zipped = post_archive(admin_api_client, make_zip([("bad.session", content)]))

    assert single.status_code == 400
    assert single.json()["code"] == code
    assert single.json()["detail"] == single.json()["errors"]["file"][0]
    assert zipped.status_code == 200
    assert zipped.json()["refused"] == [{"name": "bad.session", "code": code, "detail": single.json()["detail"]}]
    assert failure_reasons() == [code, code]
    assert dir_state() == {}


def test_a_bad_name_and_each_conflict_have_one_code_single_or_zipped(admin_api_client, source_dir):
    first = session_files.telethon_session(source_dir, "first.session").read_bytes()
    assert upload(admin_api_client, content=first, name="Taken.session").status_code == 201
    other = session_files.kurigram_session(source_dir, "other.session").read_bytes()
    cases = [
        ("bad name.session", other, 400, "invalid_name"),
        ("Taken.session", other, 409, "conflict"),
        ("taken.session", other, 409, "case_collision"),
        ("copy.session", first, 409, "duplicate_key"),
    ]

    for name, content, status, code in cases:
        single = upload(admin_api_client, content=content, name=name)
        zipped = post_archive(admin_api_client, make_zip([(name, content)])).json()

        assert (single.status_code, single.json()["code"]) == (status, code), name
        assert [(item["name"], item["code"]) for item in zipped["refused"]] == [(name, code)]
        assert zipped["refused"][0]["detail"] == single.json()["detail"]
    assert failure_reasons() == [code for *_, code in cases for _ in range(2)]
    assert set(dir_state()) == with_sidecars("Taken.session")


def test_every_code_is_in_the_table_of_codes():
    table = errors.__doc__
    classes, pending = [], [errors.Refused]
    while pending:
        cls = pending.pop()
        classes.append(cls)
        pending.extend(cls.__subclasses__())
    declared = {cls.code for cls in classes if cls not in (errors.Refused, errors.ArchiveRefused)}

    listed = set(re.findall(r"`([a-z_]+)`", table))

    assert declared - {"invalid_session_file"} <= listed
