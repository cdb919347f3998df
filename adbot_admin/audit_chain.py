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
database cannot recompute a MAC.

Rows are written in two steps. `append` inserts a row *pending* (seq NULL) with
its `row_mac`: an HMAC, under the same key, of its fields without seq and prev,
behind a context of its own so it can never pass for a chain MAC. No lock is
taken, so writers commit in parallel (PostgreSQL's group commit). `seal_pending`
then chains the committed pending rows: holding, or swapping, the one head
row (AuditChainHead), it gives each row whose row_mac verifies the next seq, its
prev and its mac, moves the head and commits. A pending row whose row_mac does
not verify was inserted by someone without the key: it is never sealed, and
verify_audit reports it. row_mac is kept once sealed and is unique, so a copy of
a row, pending or sealed, cannot be inserted to be sealed again (a replayed
event); only a row already pruned could be, with its old time.

The chain's order is the order rows are sealed: batch after batch in the order
the sealers commit, by id within a batch (all of it committed before the sealer
read it). created_at is taken at insert, so it no longer grows with seq by more
than the time a row waits to be sealed. A rolled-back writer's row was never
committed, so it is never sealed and leaves no gap.

When sealing runs differs by database. On PostgreSQL a writer seals after its
transaction commits (transaction.on_commit), and writers elect one sealer at a
time: one statement takes a session-level advisory lock if a pending row is
there, and a writer denied it leaves its row to the holder, which asks again
after letting the lock go (_seal_own_row). The holder seals without a
transaction: it reads the head and the pending rows in one statement and
writes their seals in another, which moves the head only from what it read (a
compare-and-swap on the head row, _seal_swapping). Readers seal in a
transaction holding the head row (seal_pending); they take no advisory lock,
and a holder's swap that meets a head they moved reads again. SQLite
serialises writers anyway, so a writer seals inline, in its own transaction,
right after its insert. A crash between the insert and the seal leaves rows
pending; the next seal pass takes them. Every reader of the chain fields
(verify_audit, audit_checkpoint, prune_audit, the export, the head gauge, the
admin list) runs a seal pass first: one indexed query when nothing is pending.
"""

import functools
import hashlib
import hmac
import json
from dataclasses import dataclass
from datetime import UTC

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections, transaction
from django.utils import timezone

from .models import AuditChainHead, AuditEvent
from .statements import bound_cursor
from .tokens import key_id

HEAD_ID = 1
CHUNK = 5_000
# Rows sealed by one UPDATE: four parameters each, well under PostgreSQL's 65,535.
SEAL_CHUNK = 1_000
CHECKPOINT_CONTEXT = b"adbot-admin audit checkpoint\n"
ROW_CONTEXT = b"adbot-admin audit row\n"
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
    """Return the bytes of a row's fields as the MAC covers them (module docstring); seq None leaves seq out."""
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
        f'"detail":{_encode(detail)},"kid":{_string(kid)},"outcome":{_string(outcome)},'
        f'{"" if seq is None else f""""seq":{int(seq)},"""}"target":{_string(target)}}}'
    ).encode("ascii")


def mac_of(key, prev, message):
    """Return the hex HMAC-SHA256 under `key` of `prev` and a row's canonical bytes."""
    return hmac.new(key, prev.encode("ascii") + b"\n" + message, hashlib.sha256).hexdigest()


def row_mac_of(key, message):
    """Return the hex HMAC-SHA256 under `key` of a pending row's canonical bytes without seq (module docstring)."""
    return hmac.new(key, ROW_CONTEXT + message, hashlib.sha256).hexdigest()


def _sql(text):
    return _formatted(connection.vendor, text)


@functools.cache
def _formatted(vendor, text):
    # Once per statement and database: the hot paths run it for every write.
    return text.format(
        head=connection.ops.quote_name(AuditChainHead._meta.db_table),
        event=connection.ops.quote_name(AuditEvent._meta.db_table),
    )


# One statement without the ORM's per-field work: on SQLite it runs under the database's write lock.
INSERT_PENDING = {
    vendor: "INSERT INTO {event} (created_at, actor, auth_method, client_ip, action, target, outcome, detail,"
    f" seq, prev, mac, kid, row_mac) VALUES (%s, %s, %s, %s{inet}, %s, %s, %s, %s{jsonb}, NULL, '', '', %s, %s)"
    " RETURNING id"
    for vendor, inet, jsonb in (("postgresql", "::inet", "::jsonb"), ("sqlite", "", ""))
}


def append(event):
    """Insert the unsaved `event` pending, with its row_mac, and have it sealed; return it.

    No lock is taken. On PostgreSQL the row is sealed once the caller's
    transaction commits, so `event.seq` is not set here; on SQLite it is sealed
    inside that transaction (module docstring). Raise ChainKeyMissing, writing
    nothing, when AUDIT_CHAIN_KEY is unset.
    """
    kid, key = signing_key()
    # Both as the columns give them back (tuples become lists, IPv6 compressed), so the MAC verifies after a read.
    event.detail = json.loads(json.dumps(event.detail or {}))
    event.client_ip = _client_ip_field.get_prep_value(event.client_ip) or None
    event.created_at = timezone.now()
    event.seq, event.prev, event.mac, event.kid = None, "", "", kid
    event.row_mac = row_mac_of(key, canonical(seq=None, kid=kid, **{name: getattr(event, name) for name in ROW_FIELDS}))
    # The connection behind the proxy, looked up once: each `connection.` costs a thread-local lookup.
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor == "postgresql":
        _insert_pending(database, event)
        transaction.on_commit(_seal_own_row, robust=True)
    else:
        with transaction.atomic():
            _insert_pending(database, event)
            _seal_pass(wait=True)
    return event


def _insert_pending(database, event):
    values = [database.ops.adapt_datetimefield_value(event.created_at)]
    values += [getattr(event, name) for name in ROW_FIELDS[1:-1]]
    values += [json.dumps(event.detail), event.kid, event.row_mac]
    with bound_cursor() as cursor:
        cursor.execute(_formatted(database.vendor, INSERT_PENDING[database.vendor]), values)
        event.pk = cursor.fetchone()[0]
    event._state.adding, event._state.db = False, database.alias


# -- sealing ---------------------------------------------------------------------------------------------------


PENDING_IDS = "SELECT id FROM {event} WHERE seq IS NULL ORDER BY id LIMIT %s"
# Writers on PostgreSQL elect one sealer with this session-level advisory lock (_seal_own_row). The
# number spells "adbotaud" in ASCII; nothing else in this database takes advisory locks.
SEALER_LOCK = 0x6164626F74617564
# One round trip: whether a pending row not yet refused is there and, if so, the sealer's lock taken.
CLAIM_SEALER = (
    "SELECT CASE WHEN EXISTS (SELECT 1 FROM {event} WHERE seq IS NULL AND id <> ALL(%s::bigint[]))"
    f" THEN pg_try_advisory_lock({SEALER_LOCK}) ELSE false END"
)
RELEASE_SEALER = f"SELECT pg_advisory_unlock({SEALER_LOCK})"
# Each returns (seq, mac, whether the head row exists); seq NULL and the row there: another sealer holds it.
TAKE_HEAD = {
    # SQLite: the transaction already holds the database's one write lock (IMMEDIATE).
    ("sqlite", True): "SELECT seq, mac, 1 FROM {head} WHERE id = %s",
    ("postgresql", True): "SELECT seq, mac, true FROM {head} WHERE id = %s FOR UPDATE",
    ("postgresql", False): (
        "SELECT h.seq, h.mac, EXISTS (SELECT 1 FROM {head} WHERE id = %s) FROM (SELECT 1) AS one LEFT JOIN LATERAL"
        " (SELECT seq, mac FROM {head} WHERE id = %s FOR UPDATE SKIP LOCKED) AS h ON true"
    ),
}
PENDING_COLUMNS = ("id", "kid", "row_mac", *ROW_FIELDS)
# PostgreSQL writes the time as the chain spells it, and the address and detail as text: loading
# them as datetime, inet and JSON objects would cost more than everything else per row.
PG_COLUMNS = {
    "created_at": "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"')",
    "client_ip": "host(client_ip)",
    "detail": "detail::text",
}
# The head and the next chunk of pending rows in one snapshot (_seal_swapping); no pending row: one row of NULLs.
SWAP_READ = (
    "SELECT h.seq, h.mac, p.* FROM {head} AS h LEFT JOIN LATERAL (SELECT "
    + ", ".join(f"{PG_COLUMNS.get(name, name)} AS {name}" for name in PENDING_COLUMNS)
    + " FROM {event} WHERE seq IS NULL AND id > %s ORDER BY id LIMIT %s) AS p ON true WHERE h.id = %s"
)
MOVE_HEAD = "UPDATE {head} SET seq = %s, mac = %s WHERE id = %s"
SEAL_ROW = "UPDATE {event} SET seq = %s, prev = %s, mac = %s WHERE id = %s AND seq IS NULL"
# PostgreSQL seals a chunk and moves the head in one round trip; it returns the rows sealed.
SEAL_ROWS_PG = (
    "WITH sealed AS (UPDATE {event} AS e SET seq = v.seq, prev = v.prev, mac = v.mac"
    " FROM (VALUES {{values}}) AS v(id, seq, prev, mac) WHERE e.id = v.id AND e.seq IS NULL RETURNING 1)"
    " UPDATE {head} SET seq = %s, mac = %s WHERE id = %s RETURNING (SELECT count(*) FROM sealed)"
)


def seal_pending(*, wait=False):
    """Seal every committed pending row whose row_mac verifies; return {id: why} of the pending rows refused.

    With `wait`, the first pass waits for the head (a reader that must see
    everything committed before it); otherwise a pass that finds the head taken
    returns at once: its holder is a sealer, which waits for the head itself
    or looks for pending rows again after its commit. Inside a transaction on
    PostgreSQL the head stays held until that commit, after which the writers'
    sealing runs once more (_seal_own_row).
    """
    refused, held = _seal_loop(wait=wait)
    if held and connection.in_atomic_block and connection.vendor == "postgresql":
        transaction.on_commit(_seal_own_row, robust=True)
    return refused


def _seal_own_row():
    """Seal pass of a writer on PostgreSQL whose row has just committed pending: skipped when another is sealing.

    Writers elect their sealer with one statement: it takes the session-level
    SEALER_LOCK if a pending row is there, and a writer denied the lock leaves
    its row to the holder. Liveness: the denied writer's row committed before
    the denial, so before the holder let the lock go; after letting it go, the
    holder asks again, in a statement that sees that row, and seals it or finds
    the lock taken by a newer holder, which owes the same look after its own
    release. A reader sealing at the same time (seal_pending) holds the head
    row instead, and the holder's swap reads again after it (_seal_swapping).
    """
    if connections[DEFAULT_DB_ALIAS].in_atomic_block:
        # A session lock outlives a rollback: inside a transaction (tests), only the head row is taken.
        _seal_loop(wait=False, pending=True)
        return
    refused = {}
    with bound_cursor() as cursor:
        while _claim_sealer(cursor, refused):
            try:
                _seal_swapping(cursor, refused)
            finally:
                _release_sealer(cursor)


def _claim_sealer(cursor, refused):
    """Return True when a pending row not in `refused` is there and this connection now holds SEALER_LOCK."""
    cursor.execute(_formatted("postgresql", CLAIM_SEALER), [list(refused)])
    return cursor.fetchone()[0]


def _release_sealer(cursor):
    try:
        cursor.execute(RELEASE_SEALER)
    except DatabaseError:
        # Held on, the lock would keep this connection's peers from sealing for its whole life; closing lets it go.
        connection.close()
        raise


def _seal_loop(*, wait, pending=False):
    """Seal passes while a pending row not yet refused is there; return (refused, whether the head was held)."""
    refused, held = {}, False
    while pending or _has_unsealed(refused):
        if not _seal_pass(wait=wait, refused=refused):
            break
        wait, held, pending = False, True, False
    return refused, held


def _has_unsealed(refused):
    """Return True when a pending row exists that is not in `refused` (one query on the partial index)."""
    with bound_cursor() as cursor:
        # Of len(refused) + 1 pending ids, at least one is new if any is.
        cursor.execute(_sql(PENDING_IDS), [len(refused) + 1])
        return any(row[0] not in refused for row in cursor.fetchall())


def _seal_pass(*, wait, refused=None):
    """Seal the pending rows visible now, in one transaction holding the head; return False when the head was taken.

    Rows are read in id order, SEAL_CHUNK a query, and each chunk is written in
    one statement. A row in `refused`, or one whose row_mac does not verify, is
    left pending and added to `refused` with the reason.
    """
    refused = {} if refused is None else refused
    take = _sql(TAKE_HEAD[connection.vendor, wait or connection.vendor != "postgresql"])
    ring = key_ring()
    # No savepoint: inside a writer's transaction (SQLite) a failed seal fails the write anyway.
    with transaction.atomic(savepoint=False), bound_cursor() as cursor:
        found = _take_head(cursor, take)
        if found is None:
            return False
        seq, prev = found
        for chunk in _pending_chunks(cursor):
            seals = _chained(ring, refused, seq, prev, chunk)
            _write_seals(cursor, seals)
            if seals:
                seq, prev = seals[-1][1], seals[-1][3]
    return True


def _chained(ring, refused, seq, prev, chunk):
    """Return (id, seq, prev, mac) of each row of `chunk` chained after (seq, prev); add the rows refused to `refused`."""
    seals = []
    for row_id, kid, row_mac, *values in chunk:
        problem = refused.get(row_id) or _refusal(ring, kid, row_mac, values)
        if problem is not None:
            refused[row_id] = problem
            continue
        seq += 1
        mac = mac_of(ring[kid], prev, _stored_canonical(seq, kid, *values))
        seals.append((row_id, seq, prev, mac))
        prev = mac
    return seals


def _seal_swapping(cursor, refused):
    """Seal the pending rows visible now on PostgreSQL without a transaction: two statements a chunk.

    One statement reads the head and a chunk of pending rows (one snapshot);
    the next writes their seals only if the head is still what was read, a
    compare-and-swap on the head row that takes its row lock as a seal pass
    does, so a reader sealing meanwhile (seal_pending) makes it read again
    instead of forking the chain. Run by the holder of SEALER_LOCK, which no
    other writer's sealer holds at the same time.
    """
    ring = key_ring()
    read = _formatted("postgresql", SWAP_READ)
    after = 0
    while True:
        cursor.execute(read, [after, SEAL_CHUNK, HEAD_ID])
        rows = cursor.fetchall()
        if not rows:
            _create_head()
            continue
        seq, prev = rows[0][:2]
        chunk = [(*row[2:-1], _detail(row[-1])) for row in rows if row[2] is not None]
        seals = _chained(ring, refused, seq, prev, chunk)
        if seals and not _swap_seals(cursor, seals, seq, prev):
            after = 0  # a reader sealed in between: read again from the first pending row
            continue
        if len(chunk) < SEAL_CHUNK:
            return
        after = chunk[-1][0]


# Writes the seals and moves the head only if the head is still (seq, mac) as read: true, or false when it
# moved. A row gone from the pending ones while the head did not move (deleted meanwhile) fails the whole
# statement (a text that is no boolean), as a gap in seq would otherwise be committed.
SWAP_SEALS_PG = (
    "WITH h AS (UPDATE {head} SET seq = %s, mac = %s WHERE id = %s AND seq = %s AND mac = %s RETURNING 1),"
    " sealed AS (UPDATE {event} AS e SET seq = v.seq, prev = v.prev, mac = v.mac"
    " FROM (VALUES {{values}}) AS v(id, seq, prev, mac)"
    " WHERE e.id = v.id AND e.seq IS NULL AND EXISTS (SELECT 1 FROM h) RETURNING 1)"
    " SELECT CASE WHEN NOT EXISTS (SELECT 1 FROM h) THEN false WHEN (SELECT count(*) FROM sealed) = %s THEN true"
    " ELSE (SELECT 'sealed audit rows do not match the head: rolled back' FROM h)::boolean END"
)


def _swap_seals(cursor, seals, seq, prev):
    """Write `seals` after the head (seq, prev) in one statement; return False when the head had moved."""
    values = ", ".join(["(%s::bigint, %s::bigint, %s::varchar, %s::varchar)"] * len(seals))
    params = [seals[-1][1], seals[-1][3], HEAD_ID, seq, prev, *(v for seal in seals for v in seal), len(seals)]
    cursor.execute(_formatted("postgresql", SWAP_SEALS_PG).replace("{values}", values), params)
    return cursor.fetchone()[0]


def _take_head(cursor, take):
    """Return (seq, mac) of the head, now locked by this transaction; None when another sealer holds it."""
    found = _try_head(cursor, take)
    if found is None:
        _create_head()
        found = _try_head(cursor, take)
    return None if found is None or found[0] is None else found[:2]


def _try_head(cursor, take):
    """Return the row of `take`, or None when there is no head row at all."""
    cursor.execute(take, [HEAD_ID] * take.count("%s"))
    found = cursor.fetchone()
    return found if found is not None and found[2] else None


def _create_head():
    """Make the head row from the newest sealed event (a flushed or new database has none); a racing twin is ignored."""
    last = AuditEvent.objects.filter(seq__gt=0).order_by("-seq").values_list("seq", "mac").first() or (0, "")
    AuditChainHead.objects.bulk_create([AuditChainHead(id=HEAD_ID, seq=last[0], mac=last[1])], ignore_conflicts=True)


def _pending_chunks(cursor):
    """Yield the pending rows as lists of PENDING_COLUMNS tuples, in id order, SEAL_CHUNK rows a query (keyset)."""
    columns = ", ".join(_column(name) for name in PENDING_COLUMNS)
    sql = _sql(f"SELECT {columns} FROM {{event}} WHERE seq IS NULL AND id > %s ORDER BY id LIMIT %s")
    after = 0
    while True:
        cursor.execute(sql, [after, SEAL_CHUNK])
        chunk = [(*row[:-1], _detail(row[-1])) for row in cursor.fetchall()]
        if chunk:
            yield chunk
        if len(chunk) < SEAL_CHUNK:
            return
        after = chunk[-1][0]


def _refusal(ring, kid, row_mac, values):
    """Return why a pending row may not be sealed, or None when its row_mac verifies under the key its kid names."""
    key = ring.get(kid)
    if key is None:
        return f"cannot be sealed: its key (kid {kid!r}) is neither AUDIT_CHAIN_KEY nor a fallback"
    if not hmac.compare_digest(row_mac or "", row_mac_of(key, _stored_canonical(None, kid, *values))):
        return "inserted without the key: its row MAC does not match"
    return None


def _write_seals(cursor, seals):
    """Write (id, seq, prev, mac) of each sealed row and move the head to the last: on PostgreSQL in one statement."""
    if not seals:
        return
    last_seq, last_mac = seals[-1][1], seals[-1][3]
    if connection.vendor == "postgresql":
        values = ", ".join(["(%s::bigint, %s::bigint, %s::varchar, %s::varchar)"] * len(seals))
        params = [v for seal in seals for v in seal] + [last_seq, last_mac, HEAD_ID]
        cursor.execute(_sql(SEAL_ROWS_PG).replace("{values}", values), params)
        written = cursor.fetchone()[0]
    else:
        cursor.executemany(_sql(SEAL_ROW), [(seq, prev, mac, row_id) for row_id, seq, prev, mac in seals])
        written = cursor.rowcount
        cursor.execute(_sql(MOVE_HEAD), [last_seq, last_mac, HEAD_ID])
    if written != len(seals):
        # Only the holder of the head seals, so this cannot happen; if it did, the head would leave a gap.
        raise RuntimeError(f"sealed {written} audit row(s) of {len(seals)}: the seal pass is rolled back")


def head():
    """Return (seq, mac) of the chain head, (0, "") when nothing was ever written."""
    found = AuditChainHead.objects.filter(id=HEAD_ID).values_list("seq", "mac").first()
    return found or (0, "")


HEAD_AND_PENDING = (
    "SELECT (SELECT seq FROM {head} WHERE id = %s), (SELECT mac FROM {head} WHERE id = %s),"
    " EXISTS (SELECT 1 FROM {event} WHERE seq IS NULL)"
)


def sealed_head():
    """Return head() after sealing what is pending: one query when nothing is (the head gauge, at every scrape)."""
    with connection.cursor() as cursor:
        cursor.execute(_sql(HEAD_AND_PENDING), [HEAD_ID, HEAD_ID])
        seq, mac, pending = cursor.fetchone()
    if pending:
        seal_pending()
        return head()
    return (seq or 0, mac or "")


# -- verification ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Finding:
    """The first row at which the chain does not hold, and why: by seq, or by id for a row left pending."""

    seq: int | None
    problem: str
    row_id: int | None = None

    def __str__(self):
        if self.seq is None:
            return f"row id {self.row_id} (pending, no seq): {self.problem}"
        return f"seq {self.seq}: {self.problem}"


@dataclass
class Report:
    """What a walk of the chain saw: the rows checked, the seq range, the first finding (None: intact)."""

    checked: int = 0
    first: int | None = None
    last: int | None = None
    finding: Finding | None = None


def prune_anchor():
    """Return (seq, mac) the kept chain starts after: the latest sealed prune's last removed row, or (0, "").

    A pending row is not yet in the chain (and may be forged): it moves no anchor.
    """
    detail = (
        AuditEvent.objects.filter(action="audit_prune", detail__has_key="pruned_through_seq", seq__isnull=False)
        .order_by("-seq")
        .values_list("detail", flat=True)
        .first()
    )
    if not detail or "pruned_through_seq" not in detail:
        return 0, ""
    return detail["pruned_through_seq"], detail["pruned_through_mac"]


VERIFY_COLUMNS = ("seq", "prev", "mac", "kid", *ROW_FIELDS)


def _column(name):
    return PG_COLUMNS.get(name, name) if connection.vendor == "postgresql" else name


def _detail(value):
    """Return `detail` as Python values: both databases give it back here as its JSON text."""
    return json.loads(value) if isinstance(value, str) else value


def rows_from(seq):
    """Yield the events from `seq` on as tuples of VERIFY_COLUMNS, in seq order, CHUNK rows a query (keyset).

    A plain statement, not the ORM: at a million rows its per-row conversions
    cost more than the MACs. `detail` comes back as its JSON text, decoded here.
    """
    columns = ", ".join(_column(name) for name in VERIFY_COLUMNS)
    sql = _sql(f"SELECT {columns} FROM {{event}} WHERE seq > %s ORDER BY seq LIMIT %s")
    after = seq - 1
    with connection.cursor() as cursor:
        while True:
            cursor.execute(sql, [after, CHUNK])
            chunk = cursor.fetchall()
            for row in chunk:
                yield (*row[:-1], _detail(row[-1]))
            if len(chunk) < CHUNK:
                return
            after = chunk[-1][0]


def verify(*, since=None, checkpoint=None, refused=None):
    """Walk the chain in seq order in constant memory; return a Report whose `finding` names the first bad row.

    From the start, the first kept row must follow the latest prune's anchor;
    with `since`, the row at `since` is trusted to follow its predecessor. The
    head row must match the last row, and a `checkpoint` (read_checkpoint) must
    name a row that is still there with the same MAC. Pending rows are sealed
    first (seal_pending, waiting for the head), unless `refused` says what a
    seal pass already refused; a row it refused is reported by id after the
    walk: it was inserted without the key, or its key is gone.
    """
    if refused is None:
        refused = seal_pending(wait=True)
    report = _walk(since=since, checkpoint=checkpoint)
    if report.finding is None and refused:
        row_id = min(refused)
        report.finding = Finding(None, refused[row_id], row_id=row_id)
    return report


def _walk(*, since, checkpoint):
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
    """Seal what is pending, then return the head's seq, mac and the time, signed with the current chain key."""
    kid, key = signing_key()
    seal_pending(wait=True)
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
