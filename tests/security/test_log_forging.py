"""Log forging: a value sent by a client never starts a line, moves the terminal, or runs past 200 characters.

The live tests read what a real gunicorn writes (its access and error logs and
the application's log, one stream) after hostile logins and paths; every line
must be one of the three record layouts or an indented continuation, and the
audit rows must keep the values exactly as sent.
"""

import http.client
import logging
import re
import socket

import pytest
import requests
from django.test import Client

from adbot_admin import logs
from cms import views as cms_views

from . import live

FORGED_RECORD = "[2026-11-29 22:00:00 +0000] [449] [INFO] admin login ok user=probeadmin"
HOSTILE_USERNAMES = {
    "newline": f"evil\n{FORGED_RECORD}",
    "carriage return": f"evil\r{FORGED_RECORD}",
    "ansi": "\x1b[2J\x1b[31mred\x1b[0m\x1b]0;owned\x07\x9b31m\x7f",
    "unicode line separator": f"evil\u2028{FORGED_RECORD}\u2029\u202eesrever",
    "long": "x" * 5000,
}
# The layouts a line of the server's output may have: gunicorn's error log, the
# application's log (settings.LOGGING), gunicorn's access log, or a continuation.
LINE_LAYOUTS = re.compile(
    r"\[\d{4}-\d\d-\d\d \d\d:\d\d:\d\d [+-]\d{4}\] \[\d+\] \[[A-Z]+\] "
    r"|\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} [A-Z]+ [\w.]+ "
    # The request line is one quoted field: any quote or backslash inside it is escaped.
    r'|127\.0\.0\.1 "[A-Z]+ (?:[^"\\]|\\.)* HTTP/1\.[01]" \d{3} \S+ \d+ms$'
    r"|    "
)
FORGED_PATHS = [
    # gunicorn decodes the path: %0a would end the access line and start a forged one.
    "/x%0a127.0.0.1%20%22GET%20/api/admin/audit%20HTTP/1.1%22%20200%2099%201ms%1b[31m",
    "/x%0d%0a" + "%5bINFO%5d%20forged",
    "/x%22%20200%205%201ms%20%22GET%20/forged",
    "/y" + "%e2%80%a8" * 3 + "%c2%9b" + "z" * 400,  # U+2028 three times, then C1 0x9b
]


def raw_request(server, request_line):
    """Send one request line exactly as given (bytes gunicorn may or may not accept); return the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(request_line + b"\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


@pytest.fixture(scope="module")
def hostile_server(tmp_path_factory):
    """A live server after the hostile logins and paths; yields (its output, the admin's token)."""
    server = live.start(tmp_path_factory.mktemp("forging"), **live.GENEROUS_LIMITS)
    try:
        for username in HOSTILE_USERNAMES.values():
            response = requests.post(
                f"{server.url}/api/auth/token", json={"username": username, "password": "wrong"}, timeout=30
            )
            assert response.status_code == 401, response.text[:200]
        for path in FORGED_PATHS:
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
            connection.request("GET", path)
            assert connection.getresponse().status == 404
            connection.close()
        raw_request(server, b"GET /raw\x1b[31m\x07 HTTP/1.1")
        access = live.login(server)["access"]
        audit = requests.get(
            f"{server.url}/api/admin/audit",
            params={"action": "login", "page_size": 200},
            headers={"Authorization": f"Bearer {access}"},
            timeout=10,
        )
        assert audit.status_code == 200
        yield server.output(), audit.json()["results"]
    finally:
        server.stop()


def test_every_line_of_the_server_output_is_a_record_or_a_continuation(hostile_server):
    output, _ = hostile_server
    lines = output.splitlines()
    assert len(lines) > len(HOSTILE_USERNAMES) + len(FORGED_PATHS)
    strays = [line for line in lines if not LINE_LAYOUTS.match(line)]
    assert strays == []
    assert not any(
        FORGED_RECORD in line and "\\n" not in line and "\\r" not in line and "\\u2028" not in line for line in lines
    )


def test_no_control_character_reaches_the_output(hostile_server):
    output, _ = hostile_server
    assert re.findall(r"[\x00-\x09\x0b-\x1f\x7f-\x9f\u2028\u2029\u202e]", output) == []


def test_failed_logins_are_logged_escaped(hostile_server):
    output, _ = hostile_server
    assert f"evil\\n{FORGED_RECORD}" in output
    assert f"evil\\r{FORGED_RECORD}" in output
    assert "\\x1b[2J\\x1b[31mred\\x1b[0m\\x1b]0;owned\\x07\\x9b31m\\x7f" in output
    assert "evil\\u2028[2026-11-29" in output


def test_no_value_runs_past_200_characters(hostile_server):
    output, _ = hostile_server
    assert "x" * 150 in output  # the login view keeps 150 characters of a username
    assert max(map(len, re.findall(r"[xz]+", output))) <= logs.MAX_VALUE_LENGTH


def test_forged_paths_stay_on_their_access_line(hostile_server):
    output, _ = hostile_server
    access_lines = [line for line in output.splitlines() if line.startswith('127.0.0.1 "GET /')]
    assert any(
        line.startswith('127.0.0.1 "GET /x\\n127.0.0.1 \\"GET /api/admin/audit HTTP/1.1\\" 200 99 1ms\\x1b[31m')
        for line in access_lines
    ), access_lines
    assert any('/x\\r\\n[INFO] forged HTTP/1.1" 404' in line for line in access_lines)
    assert any('/x\\" 200 5 1ms \\"GET /forged HTTP/1.1" 404' in line for line in access_lines)
    long_path = next(line for line in access_lines if line.startswith('127.0.0.1 "GET /y'))
    assert "\\u2028" * 3 + "\\x9b" in long_path
    path = long_path.split(" ")[2]
    assert path.endswith("…") and len(path) == logs.MAX_VALUE_LENGTH + 1


def test_the_audit_rows_keep_the_values_as_sent(hostile_server):
    _, events = hostile_server
    targets = {event["target"] for event in events if event["outcome"] == "failure"}
    for name, username in HOSTILE_USERNAMES.items():
        assert username[:150] in targets, name


# In-process: what Django itself logs about a request goes through the same formatter.


# Loggers of test-only dependencies with a handler of their own: pyasn1 (under
# Telethon) attaches one at import for its debug printer, which writes nothing
# unless pyasn1.debug.setLogger() turns it on, and never a request's values.
TEST_ONLY_LOGGERS = ("pyasn1",)


def configured_handlers():
    """Return (logger name, handler) for every handler attached in this process (the test tools' own left out)."""
    loggers = [
        logging.getLogger(),
        *(
            logger
            for name, logger in logging.Logger.manager.loggerDict.items()
            if isinstance(logger, logging.Logger) and name.split(".")[0] not in TEST_ONLY_LOGGERS
        ),
    ]
    return [
        (logger.name, handler)
        for logger in loggers
        for handler in logger.handlers
        if not type(handler).__module__.startswith(("_pytest", "tests."))
        and not isinstance(handler, logging.NullHandler)
    ]


def configured_formatters():
    return [handler.formatter for _, handler in configured_handlers()]


def test_every_configured_handler_escapes():
    handlers = configured_handlers()
    assert handlers, "settings.LOGGING attaches at least the console handler"
    unescaped = [
        (name, handler) for name, handler in handlers if not isinstance(handler.formatter, logs.EscapingFormatter)
    ]
    assert unescaped == []


@pytest.mark.django_db
def test_django_s_own_error_record_is_escaped_cut_and_its_traceback_indented(settings, monkeypatch, caplog):
    """A 500 on a hostile path: Django logs the path (capped) and the traceback (each line indented)."""
    settings.DEBUG = False

    def explode(request, path, **kwargs):
        raise RuntimeError(f"cannot serve {request.GET['q']}")

    monkeypatch.setattr(cms_views.static, "serve", explode)
    path = "/media/" + "\x1b[31m" + "a" * 5000 + ".png"
    with caplog.at_level(logging.ERROR, logger="django.request"):
        response = Client(raise_request_exception=False).get(path, {"q": f"x\n{FORGED_RECORD}\x1b[31m"})
    assert response.status_code == 500
    (record,) = [r for r in caplog.records if r.name == "django.request"]
    (formatter, *_) = configured_formatters()
    first, *continuation = formatter.format(record).split("\n")
    shown = first.split("Internal Server Error: ", 1)[1]
    assert shown.startswith("/media/\\x1b[31maaa") and shown.endswith("a…")
    assert len(shown) == logs.MAX_VALUE_LENGTH + 1
    assert continuation and all(line.startswith(logs.CONTINUATION) for line in continuation)
    assert continuation[-2:] == [
        f"{logs.CONTINUATION}RuntimeError: cannot serve x",
        f"{logs.CONTINUATION}{FORGED_RECORD}\\x1b[31m",
    ]
    # The record itself is left whole for any other handler.
    assert "a" * 5000 in record.getMessage()
