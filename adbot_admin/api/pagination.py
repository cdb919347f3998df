from django.db import connection
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination, PageNumberPagination

from adbot_admin import statements


class StrictPageSizeMixin:
    """Pages of 25 by default; clients may ask for 1 to 200, and anything else is a 400."""

    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        """Return the page size asked for, or the default; raise ValidationError for a bad one.

        DRF would quietly use the default for `page_size=abc` and clamp 10000
        to the maximum; a client that asked for something else should know.
        """
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        if not (raw.isascii() and raw.isdigit() and 1 <= int(raw) <= self.max_page_size):
            raise ValidationError({self.page_size_query_param: [f"A whole number from 1 to {self.max_page_size}."]})
        return int(raw)

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size})
                # Swagger UI shows the description, not the schema's bounds.
                parameter["description"] = (
                    f"Results per page: 1 to {self.max_page_size} (default {self.page_size}); anything else is 400."
                )
            if parameter["name"] == getattr(self, "page_query_param", None):
                parameter["schema"]["minimum"] = 1
        return parameters


class StandardPagination(StrictPageSizeMixin, PageNumberPagination):
    """Numbered pages with a count.

    A view whose unfiltered list is the same queryset on every request says so
    with `fixed_list_statement = True`: that list's count and pages then run as
    fixed statements, compiled once per view (FixedList), and only a filtered
    list goes through the ORM each time. A view may write the page's SQL itself
    (`fixed_page_sql`, see statements.page_statement).
    """

    def paginate_queryset(self, queryset, request, view=None):
        if getattr(view, "fixed_list_statement", False) and not queryset.query.where:
            first = request.query_params.get(self.page_query_param, "1") == "1"
            queryset = FixedList.of(
                type(view),
                queryset,
                first_page=self.get_page_size(request) if first else None,
                page_sql=getattr(view, "fixed_page_sql", None),
            )
        return super().paginate_queryset(queryset, request, view)


class FixedList:
    """An unfiltered list as Django's Paginator reads it (count() and a slice), from fixed statements.

    Page 1 is read with the count, in one statement: the Paginator asks for the count first.
    """

    _known = {}

    def __init__(self, compiled, first_page):
        self._count_sql, self._page, self._counted = compiled
        self._first_page, self._first_rows = first_page, None

    @classmethod
    def of(cls, key, queryset, *, first_page=None, page_sql=None):
        """Return the list of view class `key`; `first_page` is the page size when page 1 is asked for.

        `page_sql` returns the (SQL, names) of a page, LIMIT and OFFSET its parameters, or None for the queryset's.
        """
        # Keyed by view and database vendor: the SQL text differs between the two databases.
        key = (key, connection.vendor)
        if key not in cls._known:
            count_sql = f"SELECT COUNT(*) FROM {connection.ops.quote_name(queryset.model._meta.db_table)}"
            written = page_sql() if page_sql else None
            page = statements.page_statement(queryset, *written) if written else statements.page_statement(queryset)
            cls._known[key] = (count_sql, page, page.counted(count_sql, columns=1, params=0))
        return cls(cls._known[key], first_page)

    def count(self):
        if self._first_page:
            (count,), self._first_rows = self._counted.counted_rows(self._first_page, 0)
            return count
        return statements.fetchone(self._count_sql, [])[0]

    def __getitem__(self, page):
        if self._first_rows is not None and page.start == 0:
            return self._first_rows[: page.stop]
        return self._page.rows(page.stop - page.start, page.start)


class AuditCursorPagination(StrictPageSizeMixin, CursorPagination):
    """Newest first, `next`/`previous` links and no count: as fast a million rows deep as on the first page.

    The primary key orders the rows: it is unique and indexed, and grows with `created_at` up to the
    moment between a writer reading the clock and inserting (concurrent writers may cross there).
    """

    ordering = "-id"

    def decode_cursor(self, request):
        """Return the cursor, or raise NotFound when its position is not an id (DRF would pass it to the query)."""
        cursor = super().decode_cursor(request)
        if (
            cursor is not None
            and cursor.position is not None
            and not (cursor.position.isascii() and cursor.position.isdigit())
        ):
            raise NotFound(self.invalid_cursor_message)
        return cursor
