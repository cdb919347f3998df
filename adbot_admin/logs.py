"""Log lines that no request can forge.

A value sent by a client (a username, a path, a header) may hold a newline
that starts a fake record, or a terminal escape sequence that rewrites what the
operator sees. `EscapingFormatter` is the formatter of every handler in
settings.LOGGING, and gunicorn's error and access logs use the same escaping
(gunicorn.conf.py), so no logging call can forget it:

- each argument of a record is escaped and capped (`escape`): control
  characters (C0, DEL, C1), the Unicode line and paragraph separators and the
  bidirectional overrides are shown as Python escapes (`\\n`, `\\x1b`,
  `\\u2028`), as Django already shows a path it logs, and whatever is past 200
  characters is cut, `…` marking the cut;
- the message template gets the same escapes without the cap (an f-string may
  carry a request value too);
- a traceback keeps its lines, each escaped and indented, so every line that
  starts in the first column starts a record.

The record itself is left as it was: other handlers (the test suite's secret
scanner among them) still see the values as logged.

With LOG_FORMAT=json, `JsonFormatter` writes each record as one JSON object
(time, level, logger, message, request id, client IP, user) for log shippers,
with the same escapes in its message; JSON's own escaping keeps it on one line.
"""

import contextvars
import copy
import json
import logging
import logging.config
import numbers
import re
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime

from django.utils.functional import SimpleLazyObject, empty

from .client_ip import client_ip

MAX_VALUE_LENGTH = 200
CUT = "…"
# Continuation lines of a record (traceback, stack) start with this, never in the first column.
CONTINUATION = "    "

_CONTROL = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
_UNSAFE = re.compile(f"[{_CONTROL}]")
# Inside a quoted field (the access log's request line) a quote would end the
# field early, and a backslash could fake an escaped quote.
_UNSAFE_QUOTED = re.compile(f'[\\\\"{_CONTROL}]')
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\\": "\\\\", '"': '\\"'}


def _escaped(char):
    if char in _NAMED:
        return _NAMED[char]
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape(value, limit=MAX_VALUE_LENGTH, quotes=False):
    """Return `value` as text safe inside one log line, at most `limit` characters plus `…` when cut.

    An escape sequence is never cut in half; with `quotes`, `"` and `\\` are escaped too.
    """
    text = value if isinstance(value, str) else str(value)
    unsafe = _UNSAFE_QUOTED if quotes else _UNSAFE
    if len(text) <= limit and not unsafe.search(text):
        return text
    pieces, length = [], 0
    for char in text:
        piece = _escaped(char) if unsafe.match(char) else char
        if length + len(piece) > limit:
            return "".join(pieces) + CUT
        pieces.append(piece)
        length += len(piece)
    return "".join(pieces)


def escape_text(text):
    """Return `text` with its control characters escaped, whatever its length."""
    return _UNSAFE.sub(lambda match: _escaped(match.group()), text)


def _safe_arg(value):
    # Numbers stay numbers so that `%d` and `%.1f` still format them.
    if value is None or isinstance(value, numbers.Number):
        return value
    return escape(value)


def safe_args(args):
    """Return a record's `args` (a tuple or one mapping) with every value escaped."""
    if isinstance(args, Mapping):
        return {key: _safe_arg(value) for key, value in args.items()}
    if isinstance(args, tuple):
        return tuple(_safe_arg(value) for value in args)
    return args


def indented(block):
    """Return a multi-line block (a traceback) escaped line by line, every line indented."""
    return "\n".join(CONTINUATION + escape_text(line) for line in block.splitlines())


def escaped_record(record):
    """Return a copy of `record` whose message and arguments are escaped."""
    safe = copy.copy(record)
    safe.msg = escape_text(record.msg if isinstance(record.msg, str) else str(record.msg))
    safe.args = safe_args(record.args)
    return safe


class EscapingFormatter(logging.Formatter):
    """Formats a record as one line whose request-borne values are escaped and capped; tracebacks indented."""

    def format(self, record):
        safe = escaped_record(record)
        safe.exc_info = safe.exc_text = safe.stack_info = None
        line = super().format(safe)
        blocks = []
        if record.exc_info:
            blocks.append(self.formatException(record.exc_info))
        elif record.exc_text:
            blocks.append(record.exc_text)
        if record.stack_info:
            blocks.append(self.formatStack(record.stack_info))
        return "\n".join([line, *(indented(block) for block in blocks)])


def configure(logging_settings):
    """Apply settings.LOGGING (Django's LOGGING_CONFIG hook) and send Python warnings through it.

    A warning is otherwise written to stderr raw, over several lines.
    """
    logging.config.dictConfig(logging_settings)
    logging.captureWarnings(True)


# -- the request a record was logged in, and JSON lines ------------------------------------------------------------

_current_request = contextvars.ContextVar("adbot_request", default=None)
# A request id a client or proxy sends is kept only in this shape, so it cannot forge anything.
REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,64}")


class RequestContextMiddleware:
    """Names each request with an id (a well-formed X-Request-ID, or a new one), echoed in the response.

    While the request runs, its log records carry the id, the client address and the user (JsonFormatter).
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        sent = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = sent if REQUEST_ID.fullmatch(sent) else uuid.uuid4().hex
        token = _current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            _current_request.reset(token)
        response["X-Request-ID"] = request.request_id
        return response


def _user_of(request):
    # Only a user already known: resolving a lazy one here would query the database from inside logging.
    user = request.__dict__.get("user")
    if user is None or (isinstance(user, SimpleLazyObject) and user._wrapped is empty):
        return None
    return user.get_username() if getattr(user, "is_authenticated", False) else None


def request_fields():
    """Return the request id, client address and user of the request being served, None each outside one."""
    request = _current_request.get()
    if request is None:
        return {"request_id": None, "client_ip": None, "user": None}
    user = _user_of(request)
    return {
        "request_id": request.request_id,
        "client_ip": client_ip(request),
        "user": escape(user) if user is not None else None,
    }


class JsonFormatter(EscapingFormatter):
    """Formats a record as one JSON object on one line; the message is escaped and capped as in the text format."""

    def format(self, record):
        safe = escaped_record(record)
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": safe.getMessage(),
            **request_fields(),
        }
        if record.exc_info:
            entry["exception"] = escape_text(self.formatException(record.exc_info))
        elif record.exc_text:
            entry["exception"] = escape_text(record.exc_text)
        if record.stack_info:
            entry["stack"] = escape_text(self.formatStack(record.stack_info))
        # ensure_ascii: no raw line or paragraph separator can reach the stream either.
        return json.dumps(entry, ensure_ascii=True)
