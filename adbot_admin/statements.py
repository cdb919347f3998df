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

from django.db import InterfaceError, OperationalError, connection


def fetchone(sql, params):
    """Return the first row of `sql` run with `params`, or None; raise DatabaseError when the database fails."""
    try:
        return _fetchone(sql, params)
    except (InterfaceError, OperationalError):
        if not _stale():
            raise
        connection.close()
    return _fetchone(sql, params)


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
    if connection.vendor != "postgresql":
        return connection.cursor()
    from django.db.backends.postgresql.base import ServerBindingCursor

    connection.ensure_connection()
    with connection.wrap_database_errors:
        cursor = ServerBindingCursor(connection.connection)
    return connection.make_debug_cursor(cursor) if connection.queries_logged else connection.make_cursor(cursor)
