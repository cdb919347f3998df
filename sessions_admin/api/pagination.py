"""The session file list's pages: numbered pages and a count.

- `next` and `previous` carry an opaque `cursor`: the (uploaded_at, id) of the
  row the next page starts after (a seek on the list's index), and the page's
  number, so the link back to page 1 is the plain list URL. A page reached so
  costs what page 1 does, at any depth.
- `?page=N` still works. On the whole list a page walks from the nearest
  anchor above it (every ANCHOR_SPACING-th row's key, models.SessionListAnchor)
  when the anchors are of the list's current revision, so no page walks more
  than the spacing. When they are not, the page's ids are found on the index
  alone (a deferred join: the skipped rows are never read), and the anchors
  are rebuilt for the next page if the list has been still for
  ANCHOR_QUIET_SECONDS: a rebuild costs tens of walks, so a list being
  written keeps walking. A filtered list's deep page is a deferred join.
- The unfiltered list's page, seek and count are fixed statements (compiled
  once, statements.PageStatement); a filtered list goes through the ORM.
- `count` is the sum of the trigger-kept SessionCount rows of one dimension
  (a few rows, whatever the table's size) unless the list is filtered; a
  filtered list is counted.
"""

import base64
import binascii
import json
import time
from dataclasses import replace
from datetime import datetime
from functools import cache

from django.db import OperationalError, connection
from rest_framework.exceptions import NotFound
from rest_framework.response import Response
from rest_framework.utils.urls import remove_query_param, replace_query_param

from adbot_admin import statements
from adbot_admin.api.pagination import StandardPagination

from ..models import SessionCount, SessionFile, SessionListAnchor, SessionListRevision
from .serializers import ACCOUNT_FIELDS, SessionFileSerializer

KEYS = ("uploaded_at", "id")
# Every session has exactly one library: that dimension's counter rows add up to the total.
COUNTED_DIMENSION = "library"
# Rows between two anchors: the most a numbered page walks past once the anchors are built.
ANCHOR_SPACING = 100
# How long the list must have gone unwritten before a deep page spends a rebuild on its anchors.
ANCHOR_QUIET_SECONDS = 5
# The columns a list row shows (SessionFileSerializer's model fields and the account's) and its id, for the
# links: the secrets are never read.
_SHOWN = [name for name in SessionFileSerializer.Meta.fields if name in {f.name for f in SessionFile._meta.fields}]
LIST_FIELDS = tuple(dict.fromkeys(("id", *_SHOWN, *ACCOUNT_FIELDS)))


class SessionFilePagination(StandardPagination):
    """Numbered pages with a count; `next`/`previous` seek by (uploaded_at, id) through an opaque cursor."""

    cursor_query_param = "cursor"
    invalid_cursor_message = "Invalid cursor."

    def paginate_queryset(self, queryset, request, view=None):
        self.request = request
        self.page_size = size = self.get_page_size(request)
        cursor = self._cursor(request)
        if cursor is not None:
            key, backwards, self.number = cursor
            self.count, rows = self._seek(queryset, key, backwards, size)
        else:
            self.number = self._page_number(request)
            self.count, rows = self._page(queryset, (self.number - 1) * size, size)
        self.rows = rows
        return rows

    def _page_number(self, request):
        raw = request.query_params.get(self.page_query_param, "1")
        if not (raw.isascii() and raw.isdigit() and int(raw) >= 1):
            raise NotFound(self.invalid_page_message)
        return int(raw)

    def _page(self, queryset, offset, size):
        """Return (the list's length, the rows of the page `offset` starts)."""
        whole = not queryset.query.where
        if whole and not offset:
            # Page 1 of the whole list: the page and the counter rows in one fixed statement.
            lead, rows = _page_statement(counted=True).counted_rows(COUNTED_DIMENSION, size, offset)
            return _total(queryset, *lead), rows
        # A deeper page is counted first, so that a page past the end costs no walk of the index.
        if whole:
            counted, any_row, *anchor = statements.fetchone(_anchored_count_statement(), [COUNTED_DIMENSION, offset])
            count = _total(queryset, counted, any_row)
        else:
            count = queryset.count()
        if offset and offset >= count:
            raise NotFound(self.invalid_page_message)
        if not count:
            return count, []
        if whole:
            return count, _whole_list_page(offset, size, *anchor)
        queryset = _ordered(queryset)
        if not offset:
            return count, list(queryset[:size])
        # The deferred join: the page's ids from the index only, then those rows.
        ids = queryset.values("id")[offset : offset + size]
        return count, list(queryset.model.objects.filter(id__in=ids).order_by(*queryset.query.order_by))

    @staticmethod
    def _seek(queryset, key, backwards, size):
        """Return (the list's length, the rows of the page after `key`, or before it going `backwards`)."""
        # `<=` then the few rows of that same time excluded: a range the index starts at (an OR would not be).
        uploaded_at, pk = key
        if not queryset.query.where:
            at = connection.ops.adapt_datetimefield_value(uploaded_at)
            lead, rows = _seek_statement(backwards).counted_rows(COUNTED_DIMENSION, at, at, pk, size)
            return _total(queryset, *lead), list(reversed(rows)) if backwards else rows
        count = queryset.count()
        queryset = _ordered(queryset)
        if backwards:
            after = queryset.filter(uploaded_at__gte=uploaded_at).exclude(uploaded_at=uploaded_at, id__lte=pk)
            return count, list(reversed(after.order_by(*KEYS)[:size]))
        before = queryset.filter(uploaded_at__lte=uploaded_at).exclude(uploaded_at=uploaded_at, id__gte=pk)
        return count, list(before[:size])

    # --- cursors ---------------------------------------------------------------------

    def _cursor(self, request):
        """Return (key, backwards, page number) of the request's cursor, None without one; raise NotFound if forged."""
        raw = request.query_params.get(self.cursor_query_param)
        if raw is None:
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(raw.encode("ascii")))
            uploaded_at, pk, backwards, number = data["a"], data["i"], data["b"], data["n"]
            if not (isinstance(pk, int) and isinstance(number, int) and isinstance(backwards, bool) and number >= 1):
                raise ValueError
            key = (datetime.fromisoformat(uploaded_at), pk)
        except (ValueError, TypeError, KeyError, UnicodeError, binascii.Error, json.JSONDecodeError):
            raise NotFound(self.invalid_cursor_message) from None
        if key[0].tzinfo is None:
            raise NotFound(self.invalid_cursor_message)
        return key, backwards, number

    def _link(self, row, backwards, number):
        url = remove_query_param(self.request.build_absolute_uri(), self.page_query_param)
        if number == 1:
            return remove_query_param(url, self.cursor_query_param)
        token = {"a": row.uploaded_at.isoformat(), "i": row.id, "b": backwards, "n": number}
        encoded = base64.urlsafe_b64encode(json.dumps(token, separators=(",", ":")).encode()).decode()
        return replace_query_param(url, self.cursor_query_param, encoded)

    def get_next_link(self):
        if not self.rows or self.number * self.page_size >= self.count:
            return None
        return self._link(self.rows[-1], False, self.number + 1)

    def get_previous_link(self):
        if self.number <= 1 or not self.rows:
            return None
        return self._link(self.rows[0], True, self.number - 1)

    def get_paginated_response(self, data):
        return Response(
            {"count": self.count, "next": self.get_next_link(), "previous": self.get_previous_link(), "results": data}
        )

    def get_schema_operation_parameters(self, view):
        return [
            *super().get_schema_operation_parameters(view),
            {
                "name": self.cursor_query_param,
                "required": False,
                "in": "query",
                "description": "An opaque position from the `next` or `previous` link; takes the place of `page`.",
                "schema": {"type": "string"},
            },
        ]


def _ordered(queryset):
    return queryset.order_by(*(f"-{key}" for key in KEYS))


def _total(queryset, counted, any_row):
    """Return the whole list's length from the counter rows' sum, or COUNT(*) when its counter rows are missing."""
    if counted is not None:
        return counted
    return queryset.count() if any_row else 0


def _whole_list_page(offset, size, moved_at, position, at, pk):
    """Return the whole list's page at `offset`, walking from the anchor (position, at, pk) above it if any;
    `moved_at` is when the list's revision last moved (None before its first write)."""
    if position is not None:
        at = connection.ops.adapt_datetimefield_value(at)
        return _anchored_page_statement().rows(at, at, pk, size, offset - position)
    if offset < ANCHOR_SPACING:
        return _page_statement(counted=False).rows(size, offset)
    if time.time() - (moved_at or 0) >= ANCHOR_QUIET_SECONDS:
        _build_anchors()
    return replace(_page_statement(counted=False), sql=_deferred_join(size, offset)).rows()


def _build_anchors():
    """Write the anchors of the list's current revision, unless another writer holds an embedded database."""
    try:
        statements.execute(_anchors_statement(), [ANCHOR_SPACING])
    except OperationalError:
        # SQLite's one writer was busy past the timeout: this page walks from the top and the next one
        # tries again. Inside a transaction the error is not this function's to swallow.
        if connection.in_atomic_block:
            raise


@cache
def _page_statement(*, counted):
    statement = statements.page_statement(SessionFile.objects.all(), _page_sql(), LIST_FIELDS)
    return statement.counted(_count_statement(), columns=2) if counted else statement


def _page_sql(*, from_anchor=False):
    """SQL of a page read down the (uploaded_at, id) index, LIMIT and OFFSET its last two parameters; `from_anchor`
    starts at a key, its first three parameters (at, at, id).

    Rows skipped by OFFSET cost an index entry each in SQLite, a row each in PostgreSQL: for the few rows of page
    1 and of a walk from an anchor, not a deep walk (_deferred_join). PostgreSQL may give a prepared statement one
    plan for every parameter value (its generic plan); this one's is a walk down the index whatever the numbers.
    """
    table, columns, uploaded_at, pk, order = _list_sql_parts()
    where = f"WHERE {uploaded_at} <= %s AND NOT ({uploaded_at} = %s AND {pk} > %s) " if from_anchor else ""
    return f"SELECT {columns} FROM {table} {where}ORDER BY {order} LIMIT %s OFFSET %s"


def _deferred_join(size, offset):
    """SQL of the page `offset` starts, its ids found on the (uploaded_at, id) index alone and only those rows read.

    LIMIT and OFFSET are written into it: as parameters, PostgreSQL's generic plan joins by hashing the whole
    table (30 ms at 100k rows); written in, each statement is planned for its own numbers.
    """
    table, columns, uploaded_at, pk, order = _list_sql_parts()
    return (
        f"SELECT {columns} FROM {table} JOIN (SELECT {pk} AS page_id FROM {table} ORDER BY {order} "
        f"LIMIT {int(size)} OFFSET {int(offset)}) page ON {pk} = page.page_id ORDER BY {order}"
    )


def _list_sql_parts():
    """Return the quoted (table, list columns, uploaded_at, id, list order) of the whole list's statements."""
    quote = connection.ops.quote_name
    table = quote(SessionFile._meta.db_table)
    columns = ", ".join(f"{table}.{quote(SessionFile._meta.get_field(name).column)}" for name in LIST_FIELDS)
    uploaded_at, pk = (f"{table}.{quote(name)}" for name in KEYS)
    return table, columns, uploaded_at, pk, f"{uploaded_at} DESC, {pk} DESC"


@cache
def _seek_statement(backwards):
    # The same range as the ORM seek in _seek, as a fixed statement: parameters (at, at, id, limit).
    quote = connection.ops.quote_name
    table = quote(SessionFile._meta.db_table)
    columns = ", ".join(quote(SessionFile._meta.get_field(name).column) for name in LIST_FIELDS)
    uploaded_at, pk = (quote(name) for name in KEYS)
    bound, excluded, direction = (">=", "<=", "ASC") if backwards else ("<=", ">=", "DESC")
    sql = (
        f"SELECT {columns} FROM {table} WHERE {uploaded_at} {bound} %s AND NOT ({uploaded_at} = %s AND {pk} "
        f"{excluded} %s) ORDER BY {uploaded_at} {direction}, {pk} {direction} LIMIT %s"
    )
    return statements.page_statement(SessionFile.objects.all(), sql, LIST_FIELDS).counted(_count_statement(), columns=2)


@cache
def _anchored_page_statement():
    return statements.page_statement(SessionFile.objects.all(), _page_sql(from_anchor=True), LIST_FIELDS)


def _revision():
    # No row yet (a table emptied by hand) reads as revision 0; the next list write's trigger writes it.
    quote = connection.ops.quote_name
    return f"COALESCE((SELECT {quote('revision')} FROM {quote(SessionListRevision._meta.db_table)}), 0)"


@cache
def _anchored_count_statement():
    # The counter rows, when the list last moved, then the (position, uploaded_at, id) of the current anchor
    # at or above the offset (NULLs without one): parameters (dimension, offset).
    quote = connection.ops.quote_name
    position, revision = quote("position"), quote("revision")
    moved_at = f"(SELECT {quote('moved_at')} FROM {quote(SessionListRevision._meta.db_table)})"
    anchor = (
        f"SELECT {position}, {quote('uploaded_at')}, {quote('session_id')} "
        f"FROM {quote(SessionListAnchor._meta.db_table)} WHERE {revision} = {_revision()} AND {position} <= %s "
        f"ORDER BY {position} DESC LIMIT 1"
    )
    return (
        f"SELECT counted.*, {moved_at}, anchor.* FROM ({_count_statement()}) counted LEFT JOIN ({anchor}) anchor "
        "ON 1 = 1"
    )


@cache
def _anchors_statement():
    # Every spacing-th row's key and position, at the revision read in the same statement (one snapshot).
    quote = connection.ops.quote_name
    table = quote(SessionFile._meta.db_table)
    position, uploaded_at, pk = quote("position"), quote("uploaded_at"), quote("id")
    return (
        f"INSERT INTO {quote(SessionListAnchor._meta.db_table)} ({quote('revision')}, {position}, {uploaded_at}, "
        f"{quote('session_id')}) SELECT {_revision()}, listed.{position}, listed.{uploaded_at}, listed.{pk} FROM "
        f"(SELECT {uploaded_at}, {pk}, ROW_NUMBER() OVER (ORDER BY {uploaded_at} DESC, {pk} DESC) - 1 AS {position} "
        f"FROM {table}) listed WHERE listed.{position} %% %s = 0 "
        f"ON CONFLICT ({quote('revision')}, {position}) DO NOTHING"
    )


@cache
def _count_statement():
    quote = connection.ops.quote_name
    table = quote(SessionCount._meta.db_table)
    sessions = quote(SessionFile._meta.db_table)
    # A table that never had a row has no counter rows either; the EXISTS tells it from counters gone missing
    # (then COUNT decides).
    return (
        f"SELECT SUM({quote('count')}), EXISTS(SELECT 1 FROM {sessions}) FROM {table} WHERE {quote('dimension')} = %s"
    )
