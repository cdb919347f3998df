"""Seeding and query counting for bench/run.py; runs inside `manage.py shell`."""

import secrets

from django.contrib.auth import get_user_model
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from adbot_admin.models import AuditEvent
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
    """Top the audit log up to `rows` events, one a second back from now, in one SQL statement."""
    missing = rows - AuditEvent.objects.count()
    if missing <= 0:
        return
    table = AuditEvent._meta.db_table
    columns = "created_at, actor, auth_method, client_ip, action, target, outcome, detail"
    values = "'bench', 'password', '10.0.0.1', 'login', 'bench', 'success', '{}'"
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"INSERT INTO {table} ({columns}) SELECT now() - make_interval(secs => n), {values}"
                " FROM generate_series(1, %s) AS n",
                [missing],
            )
        else:
            cursor.execute(
                f"INSERT INTO {table} ({columns})"
                " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < %s)"
                f" SELECT strftime('%%Y-%%m-%%d %%H:%%M:%%f', 'now', '-' || i || ' seconds'), {values} FROM n",
                [missing],
            )


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
