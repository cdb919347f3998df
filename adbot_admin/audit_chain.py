"""The audit log's hash chain: each row's MAC covers its fields and the MAC of the row before it.

A row's `mac` is HMAC-SHA256, under the key its `kid` names, of

    prev + "\\n" + json.dumps(fields, sort_keys=True, separators=(",", ":"), ensure_ascii=True)

where `fields` holds seq, created_at (UTC, `YYYY-MM-DDTHH:MM:SS.ffffffZ`), actor,
auth_method, client_ip (or null), action, target, outcome, detail and kid, and
`prev` is the previous row's `mac` ("" before the first row). The encoding is a
contract: the export (`/api/admin/audit/export`) ships exactly these fields and
docs/verify_audit_export.py checks them with nothing but the key.

The keys live in the environment (AUDIT_CHAIN_KEY, old ones in
AUDIT_CHAIN_KEY_FALLBACKS), never in the database: whoever can write the
database cannot recompute a MAC. The one chain head row (AuditChainHead) is
locked by each writer until its transaction commits, so rows are chained in
commit order and a rolled-back writer leaves no gap.
"""

import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from .models import AuditChainHead, AuditEvent
from .tokens import key_id

HEAD_ID = 1
CHUNK = 5_000
CHECKPOINT_CONTEXT = b"adbot-admin audit checkpoint\n"
# Fields of AuditEvent under the MAC, besides seq and kid; prev and mac are the chain itself.
ROW_FIELDS = ("created_at", "actor", "auth_method", "client_ip", "action", "target", "outcome", "detail")


class ChainKeyMissing(Exception):
    """AUDIT_CHAIN_KEY is not set, so no row can be sealed."""


def signing_key():
    """Return (kid, key bytes) of AUDIT_CHAIN_KEY; raise ChainKeyMissing when it is unset."""
    key = settings.AUDIT_CHAIN_KEY
    if not key:
        raise ChainKeyMissing("AUDIT_CHAIN_KEY is not set: audit rows cannot be sealed.")
    return key_id(key), key.encode("utf-8")


def key_ring():
    """Return {kid: key bytes} of the current key and every fallback: old rows verify under the key that sealed them."""
    keys = [settings.AUDIT_CHAIN_KEY, *settings.AUDIT_CHAIN_KEY_FALLBACKS]
    return {key_id(key): key.encode("utf-8") for key in keys if key}


def timestamp(value):
    """Return a datetime (aware, or naive in UTC as SQLite gives it back) as the chain's UTC text, to the microsecond."""
    if value.tzinfo is not None and value.utcoffset():
        value = value.astimezone(UTC)
    return value.replace(tzinfo=None).isoformat(timespec="microseconds") + "Z"


_client_ip_field = AuditEvent._meta.get_field("client_ip")
_encode = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode
_string = json.encoder.encode_basestring_ascii


def canonical(*, seq, kid, created_at, actor, auth_method, client_ip, action, target, outcome, detail):
    """Return the bytes of a row's fields as the MAC covers them (module docstring)."""
    # As the column stores it: an IPv6 address in its compressed form.
    client_ip = _client_ip_field.get_prep_value(client_ip) or None
    return _stored_canonical(seq, kid, created_at, actor, auth_method, client_ip, action, target, outcome, detail)


def _stored_canonical(seq, kid, created_at, actor, auth_method, client_ip, action, target, outcome, detail):
    """canonical() of values as the database gives them back: the address already in its stored form.

    The JSON object is spelled out in sorted key order, each value encoded as
    json.dumps encodes it: the same bytes, without a dict and a sort per row.
    """
    text = created_at if isinstance(created_at, str) else timestamp(created_at)
    return (
        f'{{"action":{_string(action)},"actor":{_string(actor)},"auth_method":{_string(auth_method)},'
        f'"client_ip":{_string(client_ip) if client_ip else "null"},"created_at":{_string(text)},'
        f'"detail":{_encode(detail)},"kid":{_string(kid)},"outcome":{_string(outcome)},"seq":{int(seq)},'
        f'"target":{_string(target)}}}'
    ).encode("ascii")


def mac_of(key, prev, message):
    """Return the hex HMAC-SHA256 under `key` of `prev` and a row's canonical bytes."""
    return hmac.new(key, prev.encode("ascii") + b"\n" + message, hashlib.sha256).hexdigest()


def _sql(text):
    return text.format(
        head=connection.ops.quote_name(AuditChainHead._meta.db_table),
        event=connection.ops.quote_name(AuditEvent._meta.db_table),
    )


# One statement takes the head's row lock (held to commit) and the next seq.
ADVANCE = "UPDATE {head} SET seq = seq + 1 WHERE id = %s RETURNING seq, mac"
SET_MAC = "UPDATE {head} SET mac = %s WHERE id = %s"
# PostgreSQL inserts the row and moves the head's MAC in one round trip: every trip made while the
# head is locked is time every other audit writer waits.
INSERT_AND_SET_MAC = (
    "WITH inserted AS (INSERT INTO {event} (created_at, actor, auth_method, client_ip, action, target, outcome,"
    " detail, seq, prev, mac, kid) VALUES (%s, %s, %s, %s::inet, %s, %s, %s, %s::jsonb, %s, %s, %s, %s)"
    " RETURNING id) UPDATE {head} SET mac = %s WHERE id = %s RETURNING (SELECT id FROM inserted)"
)


def _create_head():
    """Make the head row from the newest event (a flushed or new database has none); a racing twin is ignored."""
    last = AuditEvent.objects.order_by("-seq").values_list("seq", "mac").first() or (0, "")
    AuditChainHead.objects.bulk_create([AuditChainHead(id=HEAD_ID, seq=last[0], mac=last[1])], ignore_conflicts=True)


def append(event):
    """Seal and insert the unsaved `event` as the chain's next row; return it.

    The head row stays locked until the caller's transaction commits: keep the
    work after this call short, since every other audit writer waits for it.
    """
    kid, key = signing_key()
    # Both as the columns give them back (tuples become lists, IPv6 compressed), so the MAC verifies after a read.
    event.detail = json.loads(json.dumps(event.detail or {}))
    event.client_ip = _client_ip_field.get_prep_value(event.client_ip) or None
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(_sql(ADVANCE), [HEAD_ID])
            row = cursor.fetchone()
            if row is None:
                _create_head()
                cursor.execute(_sql(ADVANCE), [HEAD_ID])
                row = cursor.fetchone()
            seq, prev = row
            # Taken under the lock, so created_at never goes back as seq goes up.
            event.created_at = timezone.now()
            event.seq, event.prev, event.kid = seq, prev, kid
            event.mac = mac_of(
                key, prev, canonical(seq=seq, kid=kid, **{name: getattr(event, name) for name in ROW_FIELDS})
            )
            if connection.vendor == "postgresql":
                _insert_and_set_mac(cursor, event)
            else:
                event.save(force_insert=True)
                cursor.execute(_sql(SET_MAC), [event.mac, HEAD_ID])
    return event


def _insert_and_set_mac(cursor, event):
    values = [getattr(event, name) for name in ROW_FIELDS[:-1]]
    values += [json.dumps(event.detail), event.seq, event.prev, event.mac, event.kid, event.mac, HEAD_ID]
    cursor.execute(_sql(INSERT_AND_SET_MAC), values)
    event.pk = cursor.fetchone()[0]
    event._state.adding, event._state.db = False, connection.alias


def head():
    """Return (seq, mac) of the chain head, (0, "") when nothing was ever written."""
    found = AuditChainHead.objects.filter(id=HEAD_ID).values_list("seq", "mac").first()
    return found or (0, "")


# -- verification ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """The first row at which the chain does not hold, and why."""

    seq: int
    problem: str

    def __str__(self):
        return f"seq {self.seq}: {self.problem}"


@dataclass
class Report:
    """What a walk of the chain saw: the rows checked, the seq range, the first finding (None: intact)."""

    checked: int = 0
    first: int | None = None
    last: int | None = None
    finding: Finding | None = None


def prune_anchor():
    """Return (seq, mac) the kept chain starts after: the latest prune's last removed row, or (0, "")."""
    detail = (
        AuditEvent.objects.filter(action="audit_prune", detail__has_key="pruned_through_seq")
        .order_by("-seq")
        .values_list("detail", flat=True)
        .first()
    )
    if not detail or "pruned_through_seq" not in detail:
        return 0, ""
    return detail["pruned_through_seq"], detail["pruned_through_mac"]


VERIFY_COLUMNS = ("seq", "prev", "mac", "kid", *ROW_FIELDS)


# A plain statement, not the ORM: at a million rows its per-row conversions cost more than the MACs.
ROWS_FROM = "SELECT " + ", ".join(VERIFY_COLUMNS) + " FROM {event} WHERE seq > %s ORDER BY seq LIMIT %s"
# PostgreSQL writes the time as the chain spells it, and the address and detail as text: loading
# them as datetime, inet and JSON objects would cost more than everything else per row.
PG_COLUMNS = {
    "created_at": "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    "client_ip": "host(client_ip)",
    "detail": "detail::text",
}


def rows_from(seq):
    """Yield the events from `seq` on as tuples of VERIFY_COLUMNS, in seq order, CHUNK rows a query (keyset).

    `detail` comes back as its JSON text on both databases, and is decoded here.
    """
    sql = ROWS_FROM
    if connection.vendor == "postgresql":
        columns = ", ".join(PG_COLUMNS.get(name, name) for name in VERIFY_COLUMNS)
        sql = f"SELECT {columns} FROM {{event}} WHERE seq > %s ORDER BY seq LIMIT %s"
    after, sql = seq - 1, _sql(sql)
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, [after, CHUNK])
            chunk = cursor.fetchall()
            for row in chunk:
                detail = row[-1]
                yield (*row[:-1], json.loads(detail) if isinstance(detail, str) else detail)
            if len(chunk) < CHUNK:
                return
            after = chunk[-1][0]


def verify(*, since=None, checkpoint=None):
    """Walk the chain in seq order in constant memory; return a Report whose `finding` names the first bad row.

    From the start, the first kept row must follow the latest prune's anchor;
    with `since`, the row at `since` is trusted to follow its predecessor. The
    head row must match the last row, and a `checkpoint` (read_checkpoint) must
    name a row that is still there with the same MAC.
    """
    ring = key_ring()
    if since is None:
        expected_seq, expected_prev = prune_anchor()
        expected_seq += 1
    else:
        expected_seq, expected_prev = since, None
    report = Report()
    checkpoint_seen = False

    def found(seq, problem):
        report.finding = Finding(seq, problem)
        return report

    for seq, prev, mac, kid, *values in rows_from(expected_seq):
        if seq != expected_seq:
            return found(expected_seq, f"missing: deleted (the next row is seq {seq})")
        if expected_prev is not None and prev != expected_prev:
            return found(seq, "does not follow the row before it: inserted or reordered")
        key = ring.get(kid)
        if key is None:
            return found(seq, f"sealed with an unknown key (kid {kid!r})")
        if not hmac.compare_digest(mac, mac_of(key, prev, _stored_canonical(seq, kid, *values))):
            return found(seq, "MAC does not match: edited, or forged without the key")
        if checkpoint is not None and seq == checkpoint["seq"]:
            if not hmac.compare_digest(mac, checkpoint["mac"]):
                return found(seq, "differs from the checkpoint")
            checkpoint_seen = True
        report.first = seq if report.first is None else report.first
        report.last, report.checked = seq, report.checked + 1
        expected_seq, expected_prev = seq + 1, mac

    last = expected_seq - 1
    head_seq, head_mac = head()
    if head_seq > last:
        return found(last + 1, f"missing: the tail was cut (the chain head is seq {head_seq})")
    if head_seq < last or (last and not hmac.compare_digest(head_mac, expected_prev or "")):
        return found(last, "the chain head does not match the last row")
    if checkpoint is not None and not checkpoint_seen:
        # A checkpoint before the first kept row was pruned past (or skipped by `since`): nothing left to compare.
        if checkpoint["seq"] > last:
            return found(last + 1, f"missing: the tail was cut (the checkpoint names seq {checkpoint['seq']})")
    return report


# -- checkpoints ---------------------------------------------------------------------------------------------------


def _checkpoint_message(body):
    return CHECKPOINT_CONTEXT + json.dumps(body, sort_keys=True, separators=(",", ":")).encode("ascii")


def make_checkpoint():
    """Return the head's seq, mac and the time, signed with the current chain key, as a dict."""
    kid, key = signing_key()
    seq, mac = head()
    body = {"seq": seq, "mac": mac, "time": timestamp(timezone.now()), "kid": kid}
    return {**body, "sig": hmac.new(key, _checkpoint_message(body), hashlib.sha256).hexdigest()}


class CheckpointInvalid(Exception):
    """A checkpoint that is malformed or whose signature no chain key makes."""


def read_checkpoint(text):
    """Return the checkpoint dict in `text` once its signature verifies; raise CheckpointInvalid otherwise."""
    try:
        data = json.loads(text)
        body = {"seq": int(data["seq"]), "mac": str(data["mac"]), "time": str(data["time"]), "kid": str(data["kid"])}
        sig = str(data["sig"])
    except (ValueError, KeyError, TypeError) as exc:
        raise CheckpointInvalid("not a checkpoint written by audit_checkpoint") from exc
    key = key_ring().get(body["kid"])
    if key is None:
        raise CheckpointInvalid(f"signed with an unknown key (kid {body['kid']!r})")
    if not hmac.compare_digest(sig, hmac.new(key, _checkpoint_message(body), hashlib.sha256).hexdigest()):
        raise CheckpointInvalid("its signature does not match: the checkpoint was altered")
    return body
