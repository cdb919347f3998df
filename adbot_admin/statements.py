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

On PostgreSQL the statements are bound server-side, so psycopg prepares each
after `prepare_threshold` runs on a connection (settings.py): the database
parses and plans it once, and still answers it afresh on every request. Django
binds every other query client-side (its default), which psycopg never
prepares.
"""

from dataclasses import dataclass

from django.db import DEFAULT_DB_ALIAS, InterfaceError, OperationalError, connection, connections
from django.db.models.base import ModelState


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
    with bound_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


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

    def rows(self, *params):
        """Return the instances of the page its last parameters (LIMIT and OFFSET, or a position) name."""
        # The connection behind the proxy, looked up once: converters read it for every value.
        database = connections[connection.alias]
        return [self._instance(row, database) for row in fetchall(self.sql, [*self.params, *params])]

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
        if functions:
            converters.append((index, expression, functions))
    return PageStatement(model, sql, tuple(params), tuple(names), tuple(converters))


def _stale():
    """Return True when the connection that failed no longer works and no transaction depends on it."""
    if connection.in_atomic_block or connection.connection is None:
        return False
    return not connection.is_usable()


def _fetchone(sql, params):
    with bound_cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def bound_cursor():
    """Return a Django cursor (errors wrapped, queries counted in tests) that binds parameters server-side."""
    # The connection behind the proxy, looked up once: each `connection.` costs a thread-local lookup.
    database = connections[DEFAULT_DB_ALIAS]
    if database.vendor != "postgresql":
        return database.cursor()
    # Here, not at the top: the PostgreSQL backend loads psycopg, which a SQLite server never needs.
    from django.db.backends.postgresql.base import ServerBindingCursor

    database.ensure_connection()
    with database.wrap_database_errors:
        cursor = ServerBindingCursor(database.connection)
    return database.make_debug_cursor(cursor) if database.queries_logged else database.make_cursor(cursor)
