"""The account sidecar: the `<name>.json` that sellers and exporters ship beside `<name>.session`.

Every value in a sidecar is an untrusted claim. `parse_sidecar` reads one
(bytes or an already decoded dict), maps the aliases real exporters write to
one canonical key each, checks every value's type and length, and returns a
`Sidecar`; anything it cannot accept raises `SidecarInvalid` naming the key.
`render_sidecar` writes the canonical JSON (for SESSIONS_DIR and exports),
with or without the secrets. The canonical keys are opentele2's own
(`APIData.to_json`), so a rendered sidecar opens there unchanged.
docs/sidecar.md has the schema and the alias table.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from .errors import SidecarInvalid

MAX_SIDECAR_BYTES = 2 * 1024 * 1024
MAX_EXTRA_BYTES = 16 * 1024
MAX_DEPTH = 8
MAX_KEY_LENGTH = 64
MAX_KEYS = 256
INT32_MAX = 2**31 - 1
INT64_MAX = 2**63 - 1
# Unix seconds up to the year 2242: far enough for any freeze, small enough for every column.
TIMESTAMP_MAX = 2**33
# C0 controls and DEL: a newline in a proxy URL or a NUL in a name is never a real value.
CONTROL_CHARACTERS = re.compile(r"[\x00-\x1f\x7f]")
HOST_PATTERN = re.compile(
    r"\A(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\Z"
)
IPV6_PATTERN = re.compile(r"\A[0-9A-Fa-f:.]{2,45}\Z")
USERNAME_PATTERN = re.compile(r"\A[A-Za-z][A-Za-z0-9_]{2,31}\Z")
PHONE_PATTERN = re.compile(r"\A[0-9]{5,20}\Z")
API_HASH_PATTERN = re.compile(r"\A[0-9a-f]{32}\Z")
# PySocks' numbers, which list-style proxies (`[2, host, port, ...]`) use for the type.
PROXY_TYPE_NUMBERS = {1: "socks4", 2: "socks5", 3: "http"}
PROXY_TYPES = ("socks5", "socks4", "http")
PROXY_TYPE_ALIASES = {"socks5h": "socks5", "socks4a": "socks4", "https": "http"}
PROXY_DICT_ALIASES = {
    "type": ("type", "proxy_type", "scheme", "protocol"),
    "host": ("host", "hostname", "addr", "address", "ip", "server"),
    "port": ("port",),
    "rdns": ("rdns",),
    "username": ("username", "user", "login"),
    "password": ("password", "pass"),
}
# spamblock values that mean "no limit": anything else is a limit hint.
SPAMBLOCK_FREE = frozenset({"", "free", "no", "none", "false", "0", "ok", "clean"})
SECRET_KEYS = ("twoFA",)
PROXY_SECRET_KEYS = ("username", "password")


@dataclass(frozen=True)
class Sidecar:
    """A checked sidecar: canonical keys with normalised values, and the unknown keys as they came."""

    values: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def get(self, key, default=None):
        return self.values.get(key, default)

    def without_secrets(self) -> Sidecar:
        """Return a copy without the 2FA password and the proxy's credentials."""
        values = {key: value for key, value in self.values.items() if key not in SECRET_KEYS}
        if "proxy" in values:
            values["proxy"] = {k: v for k, v in values["proxy"].items() if k not in PROXY_SECRET_KEYS}
        return Sidecar(values=values, extra=dict(self.extra))


# --- Value checks: each returns the normalised value or raises ValueError -------------------


def _string(max_length, *, pattern=None, blank_is_absent=True):
    def check(value):
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if blank_is_absent and value == "":
            return None
        _plain_text(value, max_length)
        if pattern is not None and not pattern.match(value):
            raise ValueError("has a character or a shape this key does not allow")
        return value

    return check


def _plain_text(value: str, max_length: int) -> None:
    if len(value) > max_length:
        raise ValueError(f"is longer than {max_length} characters")
    if CONTROL_CHARACTERS.search(value):
        raise ValueError("contains a control character")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("is not valid Unicode text") from None


def _integer(minimum, maximum):
    def check(value):
        if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 20:
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError("must be an integer")
        if not minimum <= value <= maximum:
            raise ValueError(f"must be between {minimum} and {maximum}")
        return value

    return check


def _boolean(value):
    if not isinstance(value, bool):
        raise ValueError("must be true or false")
    return value


def _api_hash(value):
    if not isinstance(value, str):
        raise ValueError("must be a string")
    value = value.lower()
    if not API_HASH_PATTERN.match(value):
        raise ValueError("must be 32 hexadecimal characters")
    return value


def _phone(value):
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("must be a string of digits")
    if value == "":
        return None
    digits = value.removeprefix("+")
    if not PHONE_PATTERN.match(digits):
        raise ValueError("must be 5 to 20 digits, optionally after a +")
    return digits


def _username(value):
    if not isinstance(value, str):
        raise ValueError("must be a string")
    if value == "":
        return None
    value = value.removeprefix("@")
    if not USERNAME_PATTERN.match(value):
        raise ValueError("must be 3 to 32 letters, digits or _, starting with a letter")
    return value


def _password(value):
    # Some sellers write the 2FA password as a number, and `false` for "none".
    if value is False or value == "":
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise ValueError("must be the password as a string")
    _plain_text(value, 256)
    return value


def _timestamp(value):
    """Accept Unix seconds or an ISO 8601 string; return Unix seconds."""
    if isinstance(value, str):
        if len(value) > 40:
            raise ValueError("is longer than 40 characters")
        try:
            parsed = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError("must be Unix seconds or an ISO 8601 date") from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        value = int(parsed.timestamp())
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError("must be Unix seconds or an ISO 8601 date")
    if not 0 <= value < TIMESTAMP_MAX:
        raise ValueError("is out of range")
    return value


def _spamblock(value):
    if isinstance(value, bool):
        return value
    return _string(64)(value)


def _url(value):
    value = _string(512)(value)
    if value is not None and urlsplit(value).scheme not in ("http", "https"):
        raise ValueError("must be an http or https URL")
    return value


# --- Proxy ----------------------------------------------------------------------------------


def _proxy(value):
    """Accept `[type, host, port, rdns, user, pass]`, a dict, or `type://user:pass@host:port`."""
    if value is None or value == "" or value is False:
        return None
    if isinstance(value, list):
        if not 3 <= len(value) <= 6:
            raise ValueError("as a list must be [type, host, port, rdns, user, pass] (3 to 6 items)")
        parts = dict(zip(("type", "host", "port", "rdns", "username", "password"), value, strict=False))
    elif isinstance(value, dict):
        parts = _proxy_dict(value)
    elif isinstance(value, str):
        parts = _proxy_url(value)
    else:
        raise ValueError("must be a list, an object or a URL")
    return _proxy_parts(parts)


def _proxy_dict(value: dict) -> dict:
    parts = {}
    known = {alias: canonical for canonical, aliases in PROXY_DICT_ALIASES.items() for alias in aliases}
    for key, item in value.items():
        canonical = known.get(key)
        if canonical is None:
            # `has_credentials` is what a sidecar written without secrets says instead of them.
            if key == "has_credentials" and isinstance(item, bool):
                continue
            raise ValueError(f"has an unknown key {str(key)[:MAX_KEY_LENGTH]!r}")
        if canonical in parts and parts[canonical] != item:
            raise ValueError(f"gives {canonical} twice")
        parts[canonical] = item
    return parts


def _proxy_url(value: str) -> dict:
    _plain_text(value, 1024)
    try:
        url = urlsplit(value)
        port = url.port
    except ValueError:
        raise ValueError("is not a valid proxy URL") from None
    if not url.scheme or not url.hostname or port is None:
        raise ValueError("must look like socks5://user:pass@host:port")
    if url.path not in ("", "/") or url.query or url.fragment:
        raise ValueError("must not have a path, query or fragment")
    return {
        "type": url.scheme,
        "host": url.hostname,
        "port": port,
        "username": unquote(url.username) if url.username else None,
        "password": unquote(url.password) if url.password else None,
    }


def _proxy_parts(parts: dict) -> dict:
    kind = parts.get("type")
    if isinstance(kind, int) and not isinstance(kind, bool):
        kind = PROXY_TYPE_NUMBERS.get(kind)
    elif isinstance(kind, str):
        kind = kind.lower()
        kind = PROXY_TYPE_ALIASES.get(kind, kind)
    if kind not in PROXY_TYPES:
        raise ValueError(f"type must be one of {', '.join(PROXY_TYPES)} (or PySocks' 1, 2, 3)")
    host = parts.get("host")
    if not isinstance(host, str) or not (
        (len(host) <= 253 and HOST_PATTERN.match(host)) or (":" in host and IPV6_PATTERN.match(host))
    ):
        raise ValueError("host must be a host name or an IP address")
    try:
        port = _integer(1, 65535)(parts.get("port"))
    except ValueError as exc:
        raise ValueError(f"port {exc}") from None
    rdns = parts.get("rdns", True)
    if rdns is None:
        rdns = True
    if not isinstance(rdns, bool):
        raise ValueError("rdns must be true or false")
    proxy = {"type": kind, "host": host.lower(), "port": port, "rdns": rdns}
    for key in PROXY_SECRET_KEYS:
        item = parts.get(key)
        if item is None or item == "":
            continue
        if not isinstance(item, str):
            raise ValueError(f"{key} must be a string")
        try:
            _plain_text(item, 255)
        except ValueError as exc:
            raise ValueError(f"{key} {exc}") from None
        proxy[key] = item
    return proxy


# --- The schema -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Key:
    """One canonical key: the aliases that mean it (itself first) and the check of its value."""

    name: str
    aliases: tuple[str, ...]
    check: Callable


SCHEMA = (
    Key("session_file", ("session_file", "session"), _string(255)),  # the seller's name for the session
    Key("app_id", ("app_id", "api_id"), _integer(1, INT32_MAX)),  # the Telegram app's api_id
    Key("app_hash", ("app_hash", "api_hash"), _api_hash),  # the app's api_hash (32 hex, lower case)
    Key("app_version", ("app_version",), _string(64)),  # the app version the account signed in with
    Key("device", ("device", "device_model"), _string(128)),  # the device model
    Key("sdk", ("sdk", "system_version"), _string(128)),  # the system version
    Key("lang_pack", ("lang_pack",), _string(32)),  # the app's language pack
    Key("system_lang_pack", ("system_lang_pack",), _string(32)),  # the system language pack
    Key("lang_code", ("lang_code",), _string(16)),  # the app's language code
    Key("system_lang_code", ("system_lang_code",), _string(16)),  # the system language code
    Key("id", ("id", "user_id"), _integer(1, INT64_MAX)),  # the account's Telegram user id
    Key("phone", ("phone", "phone_number"), _phone),  # the phone number, digits only
    Key("username", ("username",), _username),  # the username, without @
    Key("first_name", ("first_name",), _string(64)),  # the first name
    Key("last_name", ("last_name",), _string(64)),  # the last name
    Key("is_premium", ("is_premium",), _boolean),  # whether the account has Telegram Premium
    Key("twoFA", ("twoFA", "twofa", "tw0FA", "twoFa", "2fa", "password"), _password),  # the 2FA password (secret)
    Key("proxy", ("proxy",), _proxy),  # the account's proxy (credentials secret)
    Key("spamblock", ("spamblock",), _spamblock),  # a spam-limit hint (`free` or false: none)
    Key("freeze_since_date", ("freeze_since_date",), _timestamp),  # frozen since (Unix seconds)
    Key("freeze_until_date", ("freeze_until_date",), _timestamp),  # frozen until (Unix seconds)
    Key("freeze_appeal_url", ("freeze_appeal_url",), _url),  # where to appeal a freeze
)
CANONICAL_KEYS = tuple(key.name for key in SCHEMA)
ALIASES = {alias: key for key in SCHEMA for alias in key.aliases}


# --- Parse and render --------------------------------------------------------------------------


def parse_sidecar(*, data) -> Sidecar:
    """Return the checked, canonical Sidecar of `data` (the JSON bytes or an already decoded dict).

    Raises SidecarInvalid naming the key for JSON that does not parse, a
    value of the wrong type or length, two aliases that disagree, nesting
    deeper than MAX_DEPTH, or unknown keys over MAX_EXTRA_BYTES in all.
    """
    if isinstance(data, (bytes, bytearray, memoryview)):
        data = _decode(bytes(data))
    if not isinstance(data, dict):
        raise SidecarInvalid("sidecar", "must be a JSON object")
    if len(data) > MAX_KEYS:
        raise SidecarInvalid("sidecar", f"has more than {MAX_KEYS} keys")
    values, sources, extra = {}, {}, {}
    for raw_key, raw_value in data.items():
        if not isinstance(raw_key, str):
            raise SidecarInvalid("sidecar", "has a key that is not a string")
        shown = _shown_key(raw_key)
        try:
            _plain_text(raw_key, MAX_KEY_LENGTH)
        except ValueError as exc:
            raise SidecarInvalid(shown, f"the key {exc}") from None
        _check_json(raw_value, shown, depth=1)
        key = ALIASES.get(raw_key)
        if key is None:
            extra[raw_key] = raw_value
            continue
        try:
            value = None if raw_value is None else key.check(raw_value)
        except ValueError as exc:
            raise SidecarInvalid(raw_key, str(exc)) from None
        if value is None:
            continue
        if key.name in values and values[key.name] != value:
            raise SidecarInvalid(raw_key, f"disagrees with {sources[key.name]}")
        values[key.name] = value
        sources[key.name] = raw_key
    _check_extra_size(extra)
    ordered = {name: values[name] for name in CANONICAL_KEYS if name in values}
    return Sidecar(values=ordered, extra=extra)


def render_sidecar(*, sidecar: Sidecar, include_secrets: bool) -> bytes:
    """Return the canonical JSON of `sidecar` (UTF-8, sorted unknown keys last, newline-terminated).

    Without `include_secrets` the 2FA password and the proxy's credentials
    are left out, and the proxy says `has_credentials` instead.
    """
    shown = sidecar if include_secrets else sidecar.without_secrets()
    document = dict(shown.values)
    if "proxy" in sidecar.values:
        proxy = sidecar.values["proxy"]
        # A sidecar built without its secrets (accounts.account_sidecar) says has_credentials itself.
        has_credentials = any(key in proxy for key in PROXY_SECRET_KEYS) or proxy.get("has_credentials") is True
        document["proxy"] = {key: value for key, value in shown.values["proxy"].items() if key != "has_credentials"}
        if not include_secrets:
            document["proxy"]["has_credentials"] = has_credentials
    for key in sorted(shown.extra):
        document.setdefault(key, shown.extra[key])
    return (json.dumps(document, ensure_ascii=False, indent=2, allow_nan=False) + "\n").encode("utf-8")


def _decode(raw: bytes) -> dict:
    if len(raw) > MAX_SIDECAR_BYTES:
        raise SidecarInvalid("sidecar", f"is larger than {MAX_SIDECAR_BYTES} bytes")
    try:
        text = raw.decode("utf-8-sig")
        return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
    except SidecarInvalid:
        raise
    except UnicodeDecodeError:
        raise SidecarInvalid("sidecar", "is not UTF-8 text") from None
    except RecursionError:
        raise SidecarInvalid("sidecar", f"is nested deeper than {MAX_DEPTH} levels") from None
    except ValueError as exc:
        raise SidecarInvalid("sidecar", f"is not valid JSON (line {getattr(exc, 'lineno', '?')})") from None


def _no_duplicates(pairs):
    seen = {}
    for key, value in pairs:
        if key in seen:
            raise SidecarInvalid(_shown_key(key), "appears twice")
        seen[key] = value
    return seen


def _no_constant(name):
    raise SidecarInvalid("sidecar", f"{name} is not a JSON number")


def _check_json(value, key, *, depth) -> None:
    """Raise SidecarInvalid when `value` nests deeper than MAX_DEPTH or holds a string that is not text."""
    if depth > MAX_DEPTH:
        raise SidecarInvalid(key, f"is nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        for item_key, item in value.items():
            if not isinstance(item_key, str):
                raise SidecarInvalid(key, "has a key that is not a string")
            _check_json(item_key, key, depth=depth + 1)
            _check_json(item, key, depth=depth + 1)
    elif isinstance(value, list):
        for item in value:
            _check_json(item, key, depth=depth + 1)
    elif isinstance(value, str):
        if "\x00" in value:
            raise SidecarInvalid(key, "contains a NUL character")
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise SidecarInvalid(key, "is not valid Unicode text") from None
    elif isinstance(value, float):
        if value != value or value in (float("inf"), float("-inf")):
            raise SidecarInvalid(key, "is not a finite number")
    elif not (value is None or isinstance(value, (bool, int))):
        raise SidecarInvalid(key, "is not a JSON value")


def _check_extra_size(extra: dict) -> None:
    """Raise SidecarInvalid, naming the largest unknown key, when the unknown keys exceed MAX_EXTRA_BYTES."""
    sizes = {key: len(json.dumps({key: value}, ensure_ascii=False).encode("utf-8")) for key, value in extra.items()}
    if sum(sizes.values()) > MAX_EXTRA_BYTES:
        largest = max(sizes, key=sizes.get)
        raise SidecarInvalid(
            _shown_key(largest), f"unknown keys are kept up to {MAX_EXTRA_BYTES} bytes in all; this one is too large"
        )


def _shown_key(key: str) -> str:
    """Return `key` fit to repeat in a refusal: printable and short."""
    return CONTROL_CHARACTERS.sub("?", str(key))[:MAX_KEY_LENGTH]


# --- What an import learns from the hints --------------------------------------------------


def status_hint(sidecar: Sidecar) -> tuple[str, datetime | None, str] | None:
    """Return (status, until, reason) from the sidecar's freeze and spamblock hints, or None."""
    until = sidecar.get("freeze_until_date")
    if until is not None or sidecar.get("freeze_since_date") is not None:
        until_at = datetime.fromtimestamp(until, tz=UTC) if until else None
        return "frozen", until_at, "sidecar freeze hint"
    spamblock = sidecar.get("spamblock")
    if spamblock is True or (isinstance(spamblock, str) and spamblock.lower() not in SPAMBLOCK_FREE):
        return "limited", None, f"sidecar spamblock: {spamblock}" if isinstance(spamblock, str) else "sidecar spamblock"
    return None
