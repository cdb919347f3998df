"""Seeding and query counting for bench/run.py; runs inside `manage.py shell`."""

import secrets
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from adbot_admin import audit_chain
from adbot_admin.models import AuditChainHead, AuditEvent
from adbot_admin.tokens import AccessToken
from cms.models import GalleryImage
from sessions_admin.models import ApiPair, SessionFile

ADMIN = "bench-admin"
BATCH = 5000


def seed(*, rows, password):
    """Make the admin user, and session, gallery and API-pair rows up to `rows` each (100 API pairs)."""
    user_model = get_user_model()
    if not user_model.objects.filter(username=ADMIN).exists():
        user = user_model(username=ADMIN, is_staff=True, is_active=True)
        user.set_password(password)
        user.save()
    _top_up(SessionFile, rows, _session_row)
    _top_up(GalleryImage, rows, _gallery_row)
    _top_up(ApiPair, 100, _api_pair_row)


def _top_up(model, rows, make):
    start = model.objects.count()
    for first in range(start, rows, BATCH):
        model.objects.bulk_create([make(n) for n in range(first, min(rows, first + BATCH))])


def _session_row(n):
    return SessionFile(
        filename=f"account-{n:06d}.session",
        library="telethon" if n % 2 else "pyrogram",
        layout="telethon-7",
        dc_id=1 + n % 5,
        user_id=100000 + n,
        is_bot=False,
        size=28672,
        sha256=secrets.token_hex(32),
        uploaded_at=timezone.now(),
        uploaded_by="bench",
    )


def _gallery_row(n):
    return GalleryImage(
        file_name=f"gallery/bench-{n:06d}.webp",
        thumbnail_name=f"gallery/bench-{n:06d}-thumb.webp",
        width=1600,
        height=900,
        original_width=4000,
        original_height=2250,
        format="webp",
        size=120000,
        title=f"Picture {n}",
        alt_text=f"Bench picture {n}",
        position=n,
        published=True,
    )


def _api_pair_row(n):
    return ApiPair(api_id=1000 + n, api_hash=secrets.token_hex(16), label=f"bench {n}")


def seed_audit(rows):
    """Top the audit log up to `rows` events, one a second back from now, sealed into the chain as they go.

    The MACs are computed here as audit_chain seals rows (already sealed: none is pending), BATCH rows
    an INSERT, with the chain head locked throughout: a seeded log verifies.
    """
    missing = rows - AuditEvent.objects.count()
    if missing <= 0:
        return
    kid, key = audit_chain.signing_key()
    now = timezone.now()
    with transaction.atomic():
        AuditChainHead.objects.get_or_create(id=audit_chain.HEAD_ID, defaults={"seq": 0, "mac": ""})
        head = AuditChainHead.objects.select_for_update().get(id=audit_chain.HEAD_ID)
        seq, prev = head.seq, head.mac
        for start in range(0, missing, BATCH):
            batch = []
            for n in range(start, min(start + BATCH, missing)):
                seq += 1
                fields = {
                    "created_at": now - timedelta(seconds=missing - n),
                    "actor": "bench",
                    "auth_method": "password",
                    "client_ip": "10.0.0.1",
                    "action": "login",
                    "target": "bench",
                    "outcome": "success",
                    "detail": {"n": n},
                }
                mac = audit_chain.mac_of(key, prev, audit_chain.canonical(seq=seq, kid=kid, **fields))
                batch.append(AuditEvent(seq=seq, prev=prev, mac=mac, kid=kid, **fields))
                prev = mac
            AuditEvent.objects.bulk_create(batch)
        AuditChainHead.objects.filter(id=audit_chain.HEAD_ID).update(seq=seq, mac=prev)


def count_queries(path, extra, *, auth=True, revalidate=False):
    """Return {"status", "queries"} of a GET of `path` (every request reads the database afresh).

    With `revalidate`, the GET carries the ETag a first GET was answered with.
    """
    user = get_user_model().objects.get(username=ADMIN)
    token = AccessToken.for_user(user)
    token["role"] = user.role
    headers = {"HTTP_AUTHORIZATION": f"Bearer {token}"} if auth else {}
    client = Client(HTTP_HOST="127.0.0.1")
    if revalidate:
        extra = {**extra, "HTTP_IF_NONE_MATCH": client.get(path, **headers)["ETag"]}
    with CaptureQueriesContext(connection) as queries:
        response = client.get(path, **headers, **extra)
    return {"status": response.status_code, "queries": len(queries)}
