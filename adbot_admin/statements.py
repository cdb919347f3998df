"""Fixed SQL statements of the hot paths: prepared once per connection, and asked again on a fresh
connection when the one they ran on had gone stale.

Django checks a persistent connection at the start of every request when
CONN_HEALTH_CHECKS is on: on PostgreSQL a `SELECT 1`, a round trip that a
healthy connection pays for nothing. Settings turn it off; instead the first
statement of a request (the auth read, the gallery revision, the health probe)
runs through `fetchone`, which asks again once on a new connection when the
old one turns out dead (a database restart). Outside these statements a stale
connection fails one request with 503 `database_unavailable`, and Django drops
it when that request ends.

On PostgreSQL the statements are bound server-side and prepared after
`prepare_threshold` runs on a connection (settings.py): the database parses
and plans each once, and still answers it afresh on every request. In
autocommit, as a server runs, libpq runs them (prepared_statements.py);
in a transaction, psycopg's cursor. Django binds every other query
client-side (its default), which psycopg never prepares.
"""

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import lru_cache, partial

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections
from django.db.backends.sqlite3.base import FORMAT_QMARK_REGEX
from django.db.models import JSONField
from django.db.models.base import ModelState

from .prepared_statements import PreparedStatements


def fetchone(sql, params):
    """Return the first row of `sql` run with `params`, or None; raise DatabaseError when the database fails."""
    try:
        return _fetchone(sql, params)
    except (InterfaceError, OperationalError):
        if not _stale():
            raise
        connection.close()
    return _fetchone(sql, params)


def fetchall(sql, params):
    """Return every row of `sql` run with `params` (no retry: it never runs first in a request)."""
    return _run(sql, params, _all)


def execute(sql, params):
    """Run `sql`, a write, with `params`; return how many rows it wrote."""
    return _run(sql, params, _rowcount)


@dataclass(frozen=True)
class PageStatement:
    """A list's page as a fixed statement: its SQL with LIMIT and OFFSET as the last two parameters, and how to
    turn each row into a model instance as the ORM would (the same converters), without compiling the query or
    running Model.__init__ per row."""

    model: type
    sql: str
    params: tuple
    names: tuple
    converters: tuple
    # The columns in front of the model's, and the parameters in front of the page's own (see `counted`).
    leading: int = 0
    leading_params: int = 0

    def rows(self, *params):
        """Return the instances of the page its last parameters (LIMIT and OFFSET, or a position) name."""
        return self.counted_rows(*params)[1]

    def counted_rows(self, *params):
        """Return (the leading columns, the page's instances): the leading columns of `counted`, which every row
        carries and a lone row of NULLs after them carries when the page is empty."""
        # The connection behind the proxy, looked up once: converters read it for every value.
        database = connections[DEFAULT_DB_ALIAS]
        rows = fetchall(self.sql, [*params[: self.leading_params], *self.params, *params[self.leading_params :]])
        lead = rows[0][: self.leading] if rows and self.leading else ()
        return lead, [self._instance(row[self.leading :], database) for row in rows if row[self.leading] is not None]

    def counted(self, sql, columns, params=1):
        """Return this statement with the one row `sql` selects (`columns` columns, `params` parameters) in front
        of each of its rows: a page and its count in one statement, one round trip."""
        # A join on no condition can only run as a nested loop over the one row, so the page keeps its order.
        return replace(
            self,
            sql=f"SELECT counted.*, listed.* FROM ({sql}) counted LEFT JOIN ({self.sql}) listed ON 1 = 1",
            leading=columns,
            leading_params=params,
        )

    def _instance(self, row, database):
        values = list(row)
        for index, expression, functions in self.converters:
            value = values[index]
            for function in functions:
                value = function(value, expression, database)
            values[index] = value
        instance = self.model.__new__(self.model)
        instance.__dict__.update(zip(self.names, values, strict=True))
        instance._state = ModelState()
        instance._state.adding, instance._state.db = False, database.alias
        return instance


def page_statement(queryset, sql=None, names=None):
    """Return the PageStatement of `queryset` (its model's concrete fields, then its annotations, in its order).

    Give `sql` and `names` for a statement written by hand (a deferred join, a seek): it selects those
    fields of the model, in that order, and takes its own parameters. Fields it leaves out load on
    first access, as a deferred field does.
    """
    model, query = queryset.model, queryset.query
    table = model._meta.db_table
    expressions = {field.attname: field.get_col(table) for field in model._meta.concrete_fields}
    expressions.update(query.annotation_select)
    params = ()
    if sql is None:
        sql, params = query.sql_with_params()
        sql = f"{sql} LIMIT %s OFFSET %s"
        names = tuple(expressions)
    converters = []
    for index, name in enumerate(names):
        expression = expressions[name]
        functions = connection.ops.get_db_converters(expression) + expression.get_db_converters(connection)
        functions = [_cheaper(function) for function in functions]
        if functions:
            converters.append((index, expression, functions))
    return PageStatement(model, sql, tuple(params), tuple(names), tuple(converters))


def _cheaper(function):
    """Return a converter that returns what `function` does for every value, cheaper for the common ones."""
    method = getattr(function, "__func__", None)
    if method is JSONField.from_db_value and function.__self__.decoder is None:
        return _json(function)
    if connection.vendor == "sqlite" and method is type(connection.ops).convert_datetimefield_value:
        return _sqlite_datetime(function)
    return function


# Configured as json.loads's own decoder is.
_scan_json = json.JSONDecoder().scan_once


def _json(from_db_value):
    """Return JSONField's `from_db_value` (a field with no decoder of its own), cheaper for a str.

    When the scanner reads the whole text from its first character, json.loads
    returns that same value; it only adds two whitespace checks around it.
    """

    def convert(value, expression, database):
        if value.__class__ is str:
            try:
                parsed, end = _scan_json(value, 0)
            except StopIteration:
                pass
            else:
                if end == len(value):
                    return parsed
        return from_db_value(value, expression, database)

    return convert


def _sqlite_datetime(convert_datetimefield_value):
    """Return SQLite's datetime converter, cheaper for the stored naive UTC time (made aware).

    The driver has parsed the stored text already (Django registers a converter for the column's declared
    type). datetime.combine makes it aware in a quarter of the time that timezone.make_aware's replace() takes.
    """

    def convert(value, expression, database):
        if value is None:
            return None
        if value.__class__ is datetime and value.tzinfo is None and database.timezone is UTC:
            return datetime.combine(value.date(), value.time(), UTC)
        return convert_datetimefield_value(value, expression, database)

    return convert


def _stale():
    """Return True when the connection that failed no longer works and no transaction depends on it."""
    if connection.in_atomic_block or connection.connection is None:
        return False
    return not connection.is_usable()


def _fetchone(sql, params):
    return _run(sql, params, _one)


def _one(cursor):
    return cursor.fetchone()


def _all(cursor):
    return cursor.fetchall()


def _rowcount(cursor):
    return cursor.rowcount


def _run(sql, params, fetch):
    """Return fetch(cursor) after running `sql` on the connection's fixed-statement cursor.

    Django's cursor wrapper is where most of a fixed statement's client time went: these statements keep what
    it does for them (its error mapping, the connection's execute wrappers, the broken-transaction check) and
    skip the rest. When queries are being recorded (DEBUG, a test counting them) Django's own cursor runs them.
    """
    # The connection behind the proxy, looked up once: every attribute read through the proxy is a lookup.
    database = connections[DEFAULT_DB_ALIAS]
    if database.queries_logged:
        with bound_cursor() as cursor:
            cursor.execute(sql, params)
            return fetch(cursor)
    database.ensure_connection()
    database.validate_no_broken_transaction()
    with database.wrap_database_errors:
        cursor = _fixed_cursor(database)
        try:
            execute = _execute
            for wrapper in reversed(database.execute_wrappers):
                execute = partial(wrapper, execute)
            execute(_driver_sql(sql), params, False, {"connection": database, "cursor": cursor})
            return fetch(cursor)
        finally:
            if database.vendor != "postgresql":
                # SQLite keeps a statement not read to its end open, and with it the snapshot it reads from.
                cursor.close()


def _execute(sql, params, many, context):
    # Mapped here, as Django's cursor does, so the execute wrappers see Django's errors, not the driver's.
    with context["connection"].wrap_database_errors:
        return context["cursor"].execute(sql, params)


def _fixed_cursor(database):
    """Return the cursor that runs the fixed statements on `database`'s open connection.

    On PostgreSQL in autocommit, the connection's PreparedStatements (prepared_statements.py), made once per
    connection and again when the session's time zone changes; in a transaction, a psycopg cursor of its
    own, so that psycopg begins the transaction. A new connection (after a close, or a stale one replaced)
    gets new ones. SQLite gets a new cursor every time (closed after use, see _run).
    """
    if database.vendor != "postgresql":
        return _driver_cursor(database)
    raw = database.connection
    utc = _utc_session(database)
    made = getattr(database, "_fixed_statement_cursor", None)
    if made is None or made[0] is not raw or made[1] != utc:
        # The same connection keeps the statements it has prepared.
        prepared = made[2].prepared if made is not None and made[0] is raw else None
        cursor = PreparedStatements(raw, _loaders(utc), prepared=prepared)
        made = database._fixed_statement_cursor = (raw, utc, cursor)
    if raw.autocommit:
        return made[2]
    cursor = _driver_cursor(database)
    for name, loader in _loaders(utc).items():
        cursor.adapters.register_loader(name, loader)
    return cursor


def _loaders(utc):
    return {"timestamptz": _timestamptz_loader()} if utc else {}


def _utc_session(database):
    """Return True when psycopg's own timestamptz loader gives what Django's gives: UTC in Django and the session.

    Django's loader subclasses psycopg's pure-Python one, only to set the time
    zone the session already gives: 5 to 8 µs a value, most of the client's
    time on a 25-row page of two times a row. psycopg's binary package has a
    compiled one. Any other time zone keeps Django's. (libpq keeps the session's TimeZone as the server
    reports it; psycopg's `info.parameter_status` costs ten times as much.)
    """
    return database.timezone is UTC and database.connection.pgconn.parameter_status(b"TimeZone") == b"UTC"


def _driver_cursor(database):
    """Return a new cursor of the driver's on `database`'s open connection, binding server-side on PostgreSQL."""
    if database.vendor != "postgresql":
        return database.connection.cursor()
    # Here, not at the top: the PostgreSQL backend loads psycopg, which a SQLite server never needs.
    from django.db.backends.postgresql.base import ServerBindingCursor

    return ServerBindingCursor(database.connection)


@lru_cache(maxsize=1)
def _timestamptz_loader():
    """Return psycopg's default text loader of timestamptz (its compiled one when psycopg's binary package is in)."""
    import psycopg
    from psycopg.pq import Format

    return psycopg.adapters.get_loader(psycopg.adapters.types["timestamptz"].oid, Format.TEXT)


@lru_cache(maxsize=256)
def _driver_sql(sql):
    """Return `sql` in the driver's parameter style: `?` for SQLite's `%s`, as Django's SQLite cursor writes it."""
    if connection.vendor != "sqlite":
        return sql
    return FORMAT_QMARK_REGEX.sub("?", sql).replace("%%", "%")


def bound_cursor():
    """Return a Django cursor (errors wrapped, queries counted in tests) that binds parameters server-side."""
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor != "postgresql":
        return database.cursor()
    database.ensure_connection()
    with database.wrap_database_errors:
        cursor = _driver_cursor(database)
    return database.make_debug_cursor(cursor) if database.queries_logged else database.make_cursor(cursor)
