"""The session file list's pages: opaque cursors in next/previous, ?page=N, the counted total, and query
counts that do not grow from 100 to 100,000 rows."""

import base64
import datetime
import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from adbot_admin.models import AuditEvent
from cms.models import GalleryImage
from sessions_admin.api import pagination
from sessions_admin.models import ApiPair, SessionFile

from .conftest import SESSIONS_URL
from .factories import ApiPairFactory, SessionFileFactory

pytestmark = pytest.mark.django_db

START = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


def _rows(count, first=0, *, same_time=False):
    """Insert `count` session file rows in one statement; newer rows have larger numbers (unless `same_time`)."""
    SessionFile.objects.bulk_create(
        SessionFile(
            filename=f"s{n:06d}.session",
            library="telethon",
            layout="telethon-7",
            dc_id=1 + n % 5,
            api_id=1000 + n % 3,
            size=1,
            sha256="0" * 64,
            uploaded_at=START if same_time else START + datetime.timedelta(seconds=n),
            uploaded_by="test",
        )
        for n in range(first, first + count)
    )


def _names(body):
    return [item["filename"] for item in body["results"]]


def _follow(client, url):
    response = client.get(url)
    assert response.status_code == 200, response.content
    return response.json()


@pytest.mark.parametrize("same_time", [False, True], ids=["distinct times", "one time for all"])
def test_next_and_previous_walk_the_same_pages_as_page_numbers(admin_api_client, same_time):
    _rows(23, same_time=same_time)
    numbered = [_names(_follow(admin_api_client, f"{SESSIONS_URL}?page_size=5&page={n}")) for n in range(1, 6)]
    assert sum(numbered, []) == [row.filename for row in SessionFile.objects.order_by("-uploaded_at", "-id")]

    body = _follow(admin_api_client, f"{SESSIONS_URL}?page_size=5")
    assert body["previous"] is None and body["count"] == 23
    forward = [_names(body)]
    while body["next"]:
        assert "page=" not in body["next"] and "cursor=" in body["next"] and "page_size=5" in body["next"]
        body = _follow(admin_api_client, body["next"])
        forward.append(_names(body))
    assert forward == numbered

    backward = [_names(body)]
    while body["previous"]:
        body = _follow(admin_api_client, body["previous"])
        backward.append(_names(body))
    assert backward == list(reversed(numbered))
    # The way back to page 1 is the plain list URL.
    assert "cursor" not in _follow(admin_api_client, f"{SESSIONS_URL}?page_size=5&page=2")["previous"]


def test_a_numbered_page_links_on_by_cursor(admin_api_client):
    _rows(12)
    body = _follow(admin_api_client, f"{SESSIONS_URL}?page_size=5&page=2")
    assert _names(_follow(admin_api_client, body["next"])) == _names(
        _follow(admin_api_client, f"{SESSIONS_URL}?page_size=5&page=3")
    )
    assert _names(_follow(admin_api_client, body["previous"])) == _names(
        _follow(admin_api_client, f"{SESSIONS_URL}?page_size=5")
    )


def _token(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode()


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!",
        "bm90IGpzb24",
        _token([1, 2]),
        _token({"a": "2026-01-01T00:00:00+00:00", "i": "1", "b": False, "n": 2}),
        _token({"a": "2026-01-01T00:00:00", "i": 1, "b": False, "n": 2}),
        _token({"a": "yesterday", "i": 1, "b": False, "n": 2}),
        _token({"a": "2026-01-01T00:00:00+00:00", "i": 1, "b": "no", "n": 2}),
        _token({"a": "2026-01-01T00:00:00+00:00", "i": 1, "b": False, "n": 0}),
    ],
)
def test_a_forged_cursor_is_404(admin_api_client, cursor):
    _rows(3)
    response = admin_api_client.get(SESSIONS_URL, {"cursor": cursor})
    assert response.status_code == 404
    assert response.json() == {"detail": "Invalid cursor.", "code": "not_found"}


@pytest.mark.parametrize("page", ["0", "-1", "x", "1.5", "٣", "3"])
def test_a_page_that_is_not_there_is_404(admin_api_client, page):
    _rows(30)
    assert admin_api_client.get(SESSIONS_URL, {"page": page}).status_code == 404


def test_the_count_follows_every_write_path(admin_api_client):
    """The counter row is kept by the database in each write's own transaction, whoever writes."""
    _rows(7)
    assert _follow(admin_api_client, SESSIONS_URL)["count"] == 7
    SessionFileFactory()
    SessionFile.objects.filter(filename__in=["s000001.session", "s000002.session"]).delete()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {SessionFile._meta.db_table} WHERE filename = %s", ["s000003.session"])
    assert _follow(admin_api_client, SESSIONS_URL)["count"] == SessionFile.objects.count() == 5
    # A filtered list is counted.
    assert _follow(admin_api_client, f"{SESSIONS_URL}?dc_id=1")["count"] == SessionFile.objects.filter(dc_id=1).count()


def _deep_pages(client, size=30):
    """Return every numbered page of the list from the 4th on (each past the first anchor spacing)."""
    pages, number = [], 4
    while (number - 1) * size < SessionFile.objects.count():
        pages.append(_names(_follow(client, f"{SESSIONS_URL}?page_size={size}&page={number}")))
        number += 1
    return pages


def _expected_deep_pages(size=30):
    names = list(SessionFile.objects.order_by("-uploaded_at", "-id").values_list("filename", flat=True))
    return [names[first : first + size] for first in range(3 * size, len(names), size)]


@pytest.fixture
def still_list(monkeypatch):
    """Treat the list as still from the moment it is written, so that a deep page builds the anchors at once."""
    monkeypatch.setattr(pagination, "ANCHOR_QUIET_SECONDS", 0)


@pytest.mark.parametrize("same_time", [False, True], ids=["distinct times", "one time for all"])
def test_a_deep_numbered_page_follows_every_write_that_moves_the_list(admin_api_client, still_list, same_time):
    """Deep pages walk from anchors of the list's revision: a write that moves rows is seen on the next page."""
    _rows(350, same_time=same_time)
    assert _deep_pages(admin_api_client) == _expected_deep_pages()

    # A row between others shifts every row below it one place down.
    SessionFileFactory(uploaded_at=START + datetime.timedelta(seconds=150.5))
    assert _deep_pages(admin_api_client) == _expected_deep_pages()
    SessionFile.objects.filter(filename__in=["s000200.session", "s000040.session"]).delete()
    assert _deep_pages(admin_api_client) == _expected_deep_pages()
    SessionFile.objects.filter(filename="s000300.session").update(uploaded_at=START - datetime.timedelta(days=1))
    assert _deep_pages(admin_api_client) == _expected_deep_pages()
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {SessionFile._meta.db_table} WHERE filename = %s", ["s000100.session"])
    assert _deep_pages(admin_api_client) == _expected_deep_pages()


def test_a_deep_page_builds_its_anchors_once_per_revision(admin_api_client, still_list):
    _rows(350)
    deep = f"{SESSIONS_URL}?page=10"
    # The token check, the count with its anchor, the page and the page's API pairs; the first deep page
    # after a write also writes the anchors.
    assert _queries(admin_api_client, deep) == 5
    assert _queries(admin_api_client, deep) == 4
    # A write that moves no row of the list (a status) keeps them.
    SessionFile.objects.filter(filename="s000010.session").update(status="banned")
    assert _queries(admin_api_client, deep) == 4
    SessionFileFactory()
    assert _queries(admin_api_client, deep) == 5
    assert _queries(admin_api_client, deep) == 4


def test_a_list_being_written_keeps_walking(admin_api_client, monkeypatch):
    """Right after a write a deep page walks from the top and writes nothing: a rebuild would cost more."""
    monkeypatch.setattr(pagination, "ANCHOR_QUIET_SECONDS", 3600)
    _rows(350)
    deep = f"{SESSIONS_URL}?page=10"
    assert [_queries(admin_api_client, deep) for _ in range(3)] == [4, 4, 4]
    assert _names(_follow(admin_api_client, deep)) == _expected_deep_pages(25)[6]


def test_api_pair_is_one_query_over_the_page(admin_api_client):
    pairs = {pair.api_id: pair.pk for pair in (ApiPairFactory(api_id=1000), ApiPairFactory(api_id=1001))}
    _rows(6)
    body = _follow(admin_api_client, SESSIONS_URL)
    assert {item["api_id"]: item["api_pair"] for item in body["results"]} == {**pairs, 1002: None}


def _queries(client, url):
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200, response.content
    return len(queries)


LISTS = [
    ("sessions, first page", lambda total: SESSIONS_URL),
    ("sessions, a page half way", lambda total: f"{SESSIONS_URL}?page={max(1, total // 50)}"),
    ("sessions, filtered", lambda total: f"{SESSIONS_URL}?library=telethon&dc_id=2"),
    ("api pairs", lambda total: "/api/admin/api-pairs"),
    ("gallery", lambda total: "/api/cms/gallery-images"),
    ("audit", lambda total: "/api/admin/audit"),
]


def _seed(total, first):
    _rows(total - first, first)
    ApiPair.objects.bulk_create(ApiPair(api_id=1000 + n, api_hash="0" * 32, label=f"p{n}") for n in range(first, total))
    GalleryImage.objects.bulk_create(
        GalleryImage(
            file_name=f"gallery/{n}.webp",
            thumbnail_name=f"gallery/{n}-thumb.webp",
            width=1,
            height=1,
            original_width=1,
            original_height=1,
            format="webp",
            size=1,
            position=n,
        )
        for n in range(first, total)
    )
    # Rows for the list to read; no chain to verify here, so their seq is all they need of it.
    AuditEvent.objects.bulk_create(
        AuditEvent(seq=n + 1, mac="0" * 64, kid="test", actor="test", action="login", outcome="success", detail={})
        for n in range(first, total)
    )


def test_list_query_counts_are_the_same_at_100_and_100k_rows(admin_api_client):
    _seed(100, 0)
    few = {name: _queries(admin_api_client, url(100)) for name, url in LISTS}
    cursor = _follow(admin_api_client, SESSIONS_URL)["next"]
    few["sessions, by cursor"] = _queries(admin_api_client, cursor)

    _seed(100_000, 100)
    # The first deep page once the list is still may build the anchors (one statement more, tested above).
    _follow(admin_api_client, LISTS[1][1](100_000))
    many = {name: _queries(admin_api_client, url(100_000)) for name, url in LISTS}
    cursor = _follow(admin_api_client, f"{SESSIONS_URL}?page=2000")["next"]
    many["sessions, by cursor"] = _queries(admin_api_client, cursor)

    assert many == few
    # The token check, the page with its counter rows (one statement), and the page's API pairs.
    assert few["sessions, first page"] == 3
    assert few["sessions, by cursor"] == 3
