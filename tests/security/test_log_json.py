"""LOG_FORMAT=json: one JSON object a line from a live gunicorn, hostile values still escaped and capped."""

import http.client
import json
import re

import pytest
import requests

from adbot_admin import logs

from . import live
from .test_log_forging import FORGED_PATHS, FORGED_RECORD, HOSTILE_USERNAMES

KEYS = {"time", "level", "logger", "message", "request_id", "client_ip", "user"}


@pytest.fixture(scope="module")
def json_output(tmp_path_factory):
    """The output of a live server in JSON mode after hostile logins and paths, parsed line by line."""
    server = live.start(tmp_path_factory.mktemp("json-logs"), LOG_FORMAT="json", **live.GENEROUS_LIMITS)
    try:
        for username in HOSTILE_USERNAMES.values():
            response = requests.post(
                f"{server.url}/api/auth/token",
                json={"username": username, "password": "wrong"},
                headers={"X-Request-ID": "probe-1"},
                timeout=30,
            )
            assert response.status_code == 401 and response.headers["X-Request-ID"] == "probe-1"
        for path in FORGED_PATHS:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            connection.request("GET", path, headers={"X-Request-ID": "bad id \x1b[31m" + "x" * 100})
            answer = connection.getresponse()
            assert answer.status == 404 and re.fullmatch(r"[0-9a-f]{32}", answer.getheader("X-Request-ID"))
            connection.close()
        access = live.login(server)["access"]
        headers = {"Authorization": f"Bearer {access}"}
        assert requests.post(f"{server.url}/api/auth/logout", headers=headers, timeout=10).status_code in (200, 204)
    finally:
        server.stop()
    raw = server.output()
    return raw, [json.loads(line) for line in raw.splitlines()]


def test_every_line_is_one_json_object(json_output):
    raw, records = json_output
    assert len(records) > len(HOSTILE_USERNAMES) + len(FORGED_PATHS)
    assert all(KEYS <= set(record) for record in records)
    assert re.findall(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202e]", raw) == []
    assert {record["logger"] for record in records} >= {"gunicorn.error", "gunicorn.access", "adbot_admin.audit"}


def test_hostile_values_are_escaped_and_capped_as_in_the_text_format(json_output):
    _, records = json_output
    messages = [record["message"] for record in records]
    assert any(f"evil\\n{FORGED_RECORD}" in message for message in messages)
    assert any("\\x1b[2J\\x1b[31mred" in message for message in messages)
    assert any("evil\\u2028[2026-11-29" in message for message in messages)
    assert max(len(run) for message in messages for run in re.findall(r"x+", message)) <= logs.MAX_VALUE_LENGTH


def test_records_carry_the_request_id_the_client_and_the_user(json_output):
    _, records = json_output
    failed = [r for r in records if r["logger"] == "adbot_admin.audit" and "login failure" in r["message"]]
    assert failed and all(r["request_id"] == "probe-1" and r["client_ip"] == "127.0.0.1" for r in failed)
    assert all(r["user"] is None for r in failed)
    logout = next(r for r in records if r["logger"] == "adbot_admin.audit" and "audit logout" in r["message"])
    assert logout["user"] == live.ADMIN_USERNAME and re.fullmatch(r"[0-9a-f]{32}", logout["request_id"])
    started = next(r for r in records if r["logger"] == "gunicorn.error")
    assert started["request_id"] is None  # outside any request
