"""The fixed statements' cursor on PostgreSQL: libpq runs each, prepared once per connection, one round trip.

psycopg's cursor took about 60 µs of client CPU per statement where libpq alone takes 17 to 26: query
conversion, its prepared-statement bookkeeping, a generator-driven wait that gives up and takes back
the GIL at every step, the result's set-up. A fixed statement needs none of it. This cursor keeps psycopg's own pieces where they decide something: its
libpq wrapper (psycopg.pq), the connection's adapters to write the parameters and read the rows (Django's
loaders included), its exception classes, its prepare_threshold and prepared_max. It runs only on a
connection in autocommit: in a transaction psycopg's cursor runs the statement, so that psycopg begins
the transaction as it always does.
"""

import itertools
import re
import sys
from collections import OrderedDict
from functools import lru_cache

import psycopg
from psycopg.adapt import AdaptersMap, PyFormat, Transformer
from psycopg.errors import InvalidSqlStatementName, error_from_result
from psycopg.pq import ConnStatus, ExecStatus, TransactionStatus

PLACEHOLDER = re.compile(r"%(.)", re.DOTALL)
# Names unique in the process, so two objects on one connection (see statements._fixed_cursor) never clash.
_NAMES = itertools.count()
_HAS_CLOSE = psycopg.capabilities.has_send_close_prepared()


@lru_cache(maxsize=256)
def numbered(sql):
    """Return `sql` with Django's `%s` placeholders numbered as the server's `$1`, `$2`…, as bytes.

    `%%` is a literal `%`; anything else after a `%` is refused, as psycopg refuses it.
    """
    count = 0

    def replace(match):
        nonlocal count
        if match.group(1) == "%":
            return "%"
        if match.group(1) != "s":
            raise psycopg.ProgrammingError(f"only '%s' placeholders are allowed, got '%{match.group(1)}'")
        count += 1
        return f"${count}"

    return PLACEHOLDER.sub(replace, sql).encode()


class _Context:
    """What a psycopg Transformer reads: the connection, and the adapters to use on it."""

    def __init__(self, connection, adapters):
        self.connection = connection
        self.adapters = adapters


class PreparedStatements:
    """A cursor (execute, fetchone, fetchall, rowcount) over one psycopg connection in autocommit.

    A statement runs unnamed until it has run prepare_threshold times on the connection, as psycopg's own
    cursor does; then it is prepared (parsed and planned once) and only bound and run. At most prepared_max
    are kept, the least recently used deallocated first. Parameters go as text of unknown type, so the server
    types each from where it stands, as it would a literal. The result's rows are read by the connection's
    loaders, with `loaders` ({type name: loader class}) over them.
    """

    def __init__(self, connection, loaders=None, *, prepared=None):
        self.connection = connection
        adapters = AdaptersMap(connection.adapters)
        for name, loader in (loaders or {}).items():
            adapters.register_loader(name, loader)
        self._transformer = Transformer(_Context(connection, adapters))
        # sql -> name, least recently used first; runs of a statement not prepared yet.
        self.prepared = OrderedDict() if prepared is None else prepared
        self._runs = OrderedDict()
        self._rows = []
        self._position = 0
        self.rowcount = -1

    def execute(self, sql, params):
        query = numbered(sql)
        values = self._transformer.dump_sequence(params, [PyFormat.TEXT] * len(params)) if params else None
        with self.connection.lock:
            result = self._run(sql, query, values)
            if result.status == ExecStatus.FATAL_ERROR and self._forgotten(result):
                # Deallocated behind our back (DEALLOCATE ALL, DISCARD ALL): prepare it again.
                self.prepared.clear()
                result = self._run(sql, query, values)
        self._read(self._checked(result))

    def fetchone(self):
        if self._position >= len(self._rows):
            return None
        self._position += 1
        return self._rows[self._position - 1]

    def fetchall(self):
        rows, self._position = self._rows[self._position :], len(self._rows)
        return rows

    def _run(self, sql, query, values):
        pgconn = self.connection.pgconn
        name = self._name(sql, query)
        if name is None:
            return pgconn.exec_params(query, values)
        return pgconn.exec_prepared(name, values)

    def _name(self, sql, query):
        """Return the name `sql` is prepared under, preparing it once it has run often enough; None until then."""
        name = self.prepared.get(sql)
        if name is not None:
            self.prepared.move_to_end(sql)
            return name
        threshold = self.connection.prepare_threshold
        runs = self._runs.pop(sql, 0)
        if threshold is None or runs < threshold:
            self._runs[sql] = runs + 1
            if len(self._runs) > self._most:
                self._runs.popitem(last=False)
            return None
        if len(self.prepared) >= self._most:
            self._deallocate(self.prepared.popitem(last=False)[1])
        name = b"adbot_fixed_%d" % next(_NAMES)
        self._checked(self.connection.pgconn.prepare(name, query))
        self.prepared[sql] = name
        return name

    def _deallocate(self, name):
        pgconn = self.connection.pgconn
        # As psycopg does: a protocol-level Close where libpq has one (17 on), which PgBouncer passes on (1.21
        # on); it refuses `DEALLOCATE name`.
        result = pgconn.close_prepared(name) if _HAS_CLOSE else pgconn.exec_(b"DEALLOCATE " + name)
        if not self._forgotten(result):  # gone already is as good
            self._checked(result)

    @property
    def _most(self):
        return self.connection.prepared_max or sys.maxsize

    def _forgotten(self, result):
        """Return True when `result` failed only because its prepared statement no longer exists."""
        return (
            result.error_field(psycopg.pq.DiagnosticField.SQLSTATE) == InvalidSqlStatementName.sqlstate.encode()
            and self.connection.pgconn.transaction_status == TransactionStatus.IDLE
        )

    def _checked(self, result):
        """Return `result`, or raise psycopg's error for it: OperationalError when the connection itself failed."""
        if result.status in (ExecStatus.TUPLES_OK, ExecStatus.COMMAND_OK, ExecStatus.EMPTY_QUERY):
            return result
        encoding = self.connection.info.encoding
        if self.connection.pgconn.status != ConnStatus.OK:
            raise psycopg.OperationalError(result.get_error_message(encoding))
        raise error_from_result(result, encoding=encoding)

    def _read(self, result):
        rows = []
        if result.status == ExecStatus.TUPLES_OK and result.ntuples:
            self._transformer.set_pgresult(result)
            rows = self._transformer.load_rows(0, result.ntuples, tuple)
        self._rows, self._position = rows, 0
        tuples = result.command_tuples
        self.rowcount = tuples if tuples is not None else -1
