"""Service tokens: the engine's credentials, checked in the database on every request.

A token is `adbot_svc_` followed by 43 URL-safe characters (256 random bits);
the prefix lets secret scanners spot a leaked one. Only its SHA-256 is stored:
a slow password hash protects low-entropy secrets that can be guessed, and
nothing guesses 2^256 values, so a fast hash loses nothing and keeps the
per-request check at one indexed lookup.

`read()` answers everything a request needs (does the token exist, is it
revoked or expired, which scopes and addresses) in one fixed statement, in the
style of auth_state.py; `last_used_at` is written at most once a minute, by a
conditional UPDATE that only the first request of the minute matches.
"""

import hashlib
import ipaddress
import json
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from .audit import record
from .ip_allowlist import address_allowed
from .models import ServiceToken, ServiceTokenScope

PREFIX = "adbot_svc_"
SECRET_BYTES = 32
HINT_LENGTH = 6
LAST_USED_EVERY = timedelta(minutes=1)
NAME_MAX_LENGTH = 100
MAX_EXPIRES_DAYS = 3650


class ServiceTokenError(ValueError):
    """Raised for a service token that cannot be made or found; the message says why."""


class ServiceTokenNameTaken(ServiceTokenError):
    """Raised when a live (unrevoked) token already has the name."""


class ServiceTokenNotFound(ServiceTokenError):
    """Raised when no live token has the name or id."""


@dataclass(frozen=True)
class IssuedToken:
    """A new token's row and its secret, which exists only here and is shown once."""

    row: ServiceToken
    secret: str


@dataclass(frozen=True)
class TokenState:
    """What the database says of one presented service token."""

    id: int
    name: str
    scopes: tuple
    allowed_ips: tuple
    expires_at: datetime | None
    last_used_at: datetime | None
    revoked: bool

    def expired(self, now):
        return self.expires_at is not None and self.expires_at <= now

    def address_allowed(self, address):
        """Return True when `address` may use the token: any address when `allowed_ips` is empty."""
        return not self.allowed_ips or address_allowed(address, tuple(map(ipaddress.ip_network, self.allowed_ips)))


def key_hash(secret):
    """Return the stored form of a token: the hex SHA-256 of its text."""
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def normalise_scopes(scopes):
    """Return `scopes` as a sorted list of known scopes; raise ServiceTokenError unless `engine` is among them."""
    chosen = set(scopes or ())
    unknown = chosen - set(ServiceTokenScope.values)
    if unknown:
        raise ServiceTokenError(f"unknown scope: {', '.join(sorted(unknown))}")
    if ServiceTokenScope.ENGINE not in chosen:
        # engine:secrets widens what the engine's routes give; without `engine` it would open nothing.
        raise ServiceTokenError("a service token needs the scope 'engine'")
    return sorted(chosen)


def normalise_allowed_ips(entries):
    """Return `entries` (addresses or CIDR networks) as canonical network strings; raise ServiceTokenError."""
    networks = []
    for entry in entries or ():
        try:
            networks.append(str(ipaddress.ip_network(str(entry).strip(), strict=True)))
        except ValueError:
            raise ServiceTokenError(f"not an address or CIDR network (host bits must be zero): {entry!r}") from None
    return networks


def service_token_create(
    *, name, scopes, expires_days=None, allowed_ips=(), created_by="", request=None
) -> IssuedToken:
    """Make a token, store its hash, audit it and return it with its secret (shown once).

    Raises ServiceTokenError for a bad name, scope, expiry or address, and
    ServiceTokenNameTaken when a live token has the name.
    """
    name = str(name or "").strip()
    if not name or len(name) > NAME_MAX_LENGTH or not name.isprintable():
        raise ServiceTokenError(f"a name is 1 to {NAME_MAX_LENGTH} printable characters")
    scopes = normalise_scopes(scopes)
    networks = normalise_allowed_ips(allowed_ips)
    expires_at = None
    if expires_days is not None:
        if not 1 <= int(expires_days) <= MAX_EXPIRES_DAYS:
            raise ServiceTokenError(f"expiry is 1 to {MAX_EXPIRES_DAYS} days")
        expires_at = timezone.now() + timedelta(days=int(expires_days))
    secret = PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    row = ServiceToken(
        name=name,
        key_hash=key_hash(secret),
        hint=secret[len(PREFIX) : len(PREFIX) + HINT_LENGTH],
        scopes=scopes,
        allowed_ips=networks,
        expires_at=expires_at,
        created_by=str(created_by)[:255],
    )
    try:
        with transaction.atomic():
            row.save()
            record(request=request, action="service_token.create", target=name, detail=describe(row))
    except IntegrityError as exc:
        raise ServiceTokenNameTaken(f"a live service token is named {name!r}; revoke it first") from exc
    return IssuedToken(row=row, secret=secret)


def service_token_revoke(*, token=None, name=None, request=None) -> ServiceToken:
    """Revoke the live token `token` (a row) or named `name`, audited; return its row.

    The next request that presents it gets 401. Raises ServiceTokenNotFound
    when there is no such live token.
    """
    with transaction.atomic():
        rows = ServiceToken.objects.select_for_update().filter(revoked_at__isnull=True)
        row = rows.filter(pk=token.pk).first() if token is not None else rows.filter(name=name).first()
        if row is None:
            raise ServiceTokenNotFound("no live service token by that name" if token is None else "already revoked")
        row.revoked_at = timezone.now()
        row.save(update_fields=["revoked_at"])
        record(request=request, action="service_token.revoke", target=row.name, detail=describe(row))
    return row


def describe(row) -> dict:
    """Return the audit detail of a token: never the secret or its hash."""
    return {
        "id": row.pk,
        "scopes": list(row.scopes),
        "allowed_ips": list(row.allowed_ips),
        "expires_at": row.expires_at.isoformat() if row.expires_at else None,
    }


@cache
def _statements():
    quote = connection.ops.quote_name
    table = quote(ServiceToken._meta.db_table)
    columns = ", ".join(
        quote(ServiceToken._meta.get_field(name).column)
        for name in ("id", "name", "scopes", "allowed_ips", "expires_at", "last_used_at", "revoked_at")
    )
    last_used = quote("last_used_at")
    return {
        "read": f"SELECT {columns} FROM {table} WHERE {quote('key_hash')} = %s",
        # Only the first request of the minute matches, so concurrent requests write once.
        "touch": (
            f"UPDATE {table} SET {last_used} = %s WHERE {quote('id')} = %s"
            f" AND ({last_used} IS NULL OR {last_used} < %s)"
        ),
    }


def _json(value):
    # PostgreSQL's driver decodes jsonb itself; SQLite hands back text.
    return json.loads(value) if isinstance(value, str) else value


def _datetime(value):
    # SQLite hands back naive UTC (Django stores it so); PostgreSQL an aware value.
    if value is None:
        return None
    parsed = value if isinstance(value, datetime) else parse_datetime(value)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def read(secret) -> TokenState | None:
    """Return the TokenState of the presented token text, or None when no token has that hash."""
    with connection.cursor() as cursor:
        cursor.execute(_statements()["read"], [key_hash(secret)])
        row = cursor.fetchone()
    if row is None:
        return None
    token_id, name, scopes, allowed_ips, expires_at, last_used_at, revoked_at = row
    return TokenState(
        id=token_id,
        name=name,
        scopes=tuple(_json(scopes) or ()),
        allowed_ips=tuple(_json(allowed_ips) or ()),
        expires_at=_datetime(expires_at),
        last_used_at=_datetime(last_used_at),
        revoked=revoked_at is not None,
    )


def touch(state: TokenState, now) -> None:
    """Record that the token was used at `now`, unless that was already done within the last minute."""
    if state.last_used_at is not None and now - state.last_used_at < LAST_USED_EVERY:
        return
    with connection.cursor() as cursor:
        adapt = connection.ops.adapt_datetimefield_value
        cursor.execute(_statements()["touch"], [adapt(now), state.id, adapt(now - LAST_USED_EVERY)])
