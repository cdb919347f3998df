"""The schema of a file, described as SQLite sees it, and matched against every accepted layout variant.

The comparison rule: the set of schema objects, keyed by lower-cased name,
must be equal; each object must have the same type and table; each table
must have the same columns from `PRAGMA table_xinfo` (order, name, declared
type, not-null, default, primary-key position, hidden); and each object's
`CREATE` text must be equal after normalisation (comments and whitespace
dropped, words lower-cased, quoted identifiers unified to double quotes,
string literals kept verbatim). The normalised-text check covers what
`table_xinfo` cannot show (CHECK, COLLATE, trigger bodies). `table_xinfo`
runs only on ordinary tables whose name a layout knows, so a hostile name or
a virtual table never reaches a pragma. A file that a library upgraded in
place (`ALTER TABLE ... ADD COLUMN`, so added columns come last) counts as
the version it was upgraded to.

A schema that matches no layout but whose version table names a library and
says a higher version than any known, or that is a known layout with columns
appended, is refused as a newer release (UnknownSessionVersion, naming the
versions this server reads); views, virtual tables and foreign triggers keep
the closest-layout refusal (UnknownLayout).
"""

from __future__ import annotations

import functools
import re
import sqlite3
from dataclasses import dataclass

from ..errors import CorruptDatabase, UnknownLayout
from ..names import shown_name
from .layouts import LAYOUTS, Layout, known_table_names, newer_release
from .rows import check_version, show_value, version_value

# A real schema has a dozen entries of under 1 KiB; limits keep a hostile
# schema from costing time outside SQLite's progress handler.
MAX_SCHEMA_OBJECTS = 64
MAX_SCHEMA_SQL_CHARS = 8_192


def match_layout(conn: sqlite3.Connection) -> Layout:
    """Return the layout the schema and version row match exactly.

    Raises UnknownSessionVersion for a newer release's file, UnknownLayout
    naming the differences from the closest layout, and InvalidSessionData
    for a version row that does not fit the matched layout.
    """
    references = reference_schemas()
    actual = read_schema(conn, known_table_names())
    if "sessions" not in actual:
        raise UnknownLayout("not a Telethon or Pyrogram session file: there is no 'sessions' table")
    for layout, _label, expected in references:
        # The common case, a library's own file, is an exact match: no message to build.
        if actual == expected:
            check_version(conn, layout)
            return layout
    closest = None
    for layout, _label, expected in references:
        problems = schema_differences(actual, expected, layout.name)
        if not problems:
            check_version(conn, layout)
            return layout
        if closest is None or len(problems) < len(closest[1]):
            closest = (layout, problems)
    layout, problems = closest
    _refuse_if_newer(conn, actual, references)
    shown = "; ".join(problems[:5]) + ("; ..." if len(problems) > 5 else "")
    raise UnknownLayout(f"the file does not match any known session layout (closest is {layout.name}): {shown}")


def _refuse_if_newer(conn: sqlite3.Connection, actual: dict, references) -> None:
    """Raise UnknownSessionVersion when an unmatched schema looks like a newer release's.

    That is: the version table names the library, and either its version is
    higher than any this server knows, with nothing in the schema a library
    never makes (a view, a virtual table, a trigger of no known layout), or
    the schema is a known layout of that library with columns appended to its
    tables.
    """
    library = _library_of(actual)
    if library is None:
        return
    family = [(layout, expected) for layout, _label, expected in references if layout.library == library]
    for layout, expected in family:
        added = appended_columns(actual, expected)
        if added:
            version = version_value(conn, layout.version_column)
            raise newer_release(library, f"version {show_value(version)} with new columns {', '.join(added)}")
    version = version_value(conn, family[0][0].version_column)
    newest = max(layout.version for layout, _expected in family)
    if type(version) is int and version > newest and not _has_foreign_objects(actual, family):
        raise newer_release(library, f"version {version}")


# Quoted tokens may also end at the end of the text: a failed match would be
# retried from every later quote, which is quadratic on hostile input.
_TOKEN = re.compile(
    r"""
      (?P<space>\s+)
    | (?P<comment>--[^\n]*|/\*.*?(?:\*/|\Z))
    | (?P<string>'(?:[^']|'')*(?:'|\Z))
    | (?P<quoted>"(?:[^"]|"")*(?:"|\Z)|`(?:[^`]|``)*(?:`|\Z)|\[[^\]]*(?:\]|\Z))
    | (?P<word>[\w$]+)
    | (?P<other>.)
    """,
    re.VERBOSE | re.DOTALL,
)
_CLOSING_QUOTE = {"'": "'", '"': '"', "`": "`", "[": "]"}


def normalise_sql(sql: str | None) -> tuple[str, ...] | None:
    """Return the tokens of ``sql`` with layout-only differences removed.

    Comments and whitespace are dropped, words lower-cased, and quoted
    identifiers rewritten in one quoting style; string literals are kept.
    """
    if sql is None:
        return None
    tokens = []
    for match in _TOKEN.finditer(sql):
        kind, text = match.lastgroup, match.group()
        if kind in ("space", "comment"):
            continue
        if kind in ("string", "quoted") and (len(text) < 2 or text[-1] != _CLOSING_QUOTE[text[0]]):
            text = "<unterminated>" + text
        elif kind == "quoted":
            inner = text[1:-1].replace(text[0] * 2, text[0]) if text[0] != "[" else text[1:-1]
            text = '"' + inner.lower().replace('"', '""') + '"'
        elif kind == "word":
            text = text.lower()
        tokens.append(text)
    return tuple(tokens)


@dataclass(frozen=True)
class SchemaObject:
    """One sqlite_master entry, normalised for comparison."""

    type: str
    name: str
    table: str
    sql: tuple[str, ...] | None
    columns: tuple[tuple, ...] | None

    @property
    def is_virtual_table(self) -> bool:
        return self.type == "table" and self.sql is not None and self.sql[:2] == ("create", "virtual")


def read_schema(conn: sqlite3.Connection, known_tables: frozenset[str]) -> dict[str, SchemaObject]:
    """Return the database's schema objects keyed by lower-cased name.

    Columns are read only for ordinary tables named in ``known_tables``.
    Raises UnknownLayout if the schema is implausibly large, CorruptDatabase if sqlite_master is.
    """
    rows = conn.execute(
        "SELECT type, name, tbl_name, sql FROM sqlite_master LIMIT ?",
        (MAX_SCHEMA_OBJECTS + 1,),
    ).fetchall()
    if len(rows) > MAX_SCHEMA_OBJECTS:
        raise UnknownLayout(f"the schema has more than {MAX_SCHEMA_OBJECTS} objects")
    schema = {}
    for type_, name, table, sql in rows:
        if not isinstance(name, str) or not isinstance(table, str) or not isinstance(type_, str):
            raise CorruptDatabase("the schema table is corrupt")
        if sql is not None and (not isinstance(sql, str) or len(sql) > MAX_SCHEMA_SQL_CHARS):
            raise UnknownLayout(f"the definition of {_quoted(name)} is too large")
        obj = SchemaObject(type_, name, table.lower(), normalise_sql(sql), None)
        key = name.lower()
        if obj.type == "table" and key in known_tables and not obj.is_virtual_table:
            obj = SchemaObject(obj.type, name, obj.table, obj.sql, _table_columns(conn, key))
        schema[key] = obj
    return schema


def _table_columns(conn: sqlite3.Connection, table: str) -> tuple[tuple, ...]:
    """Return (name, type, notnull, default, pk, hidden) for each column of ``table``.

    ``table`` must be a name from LAYOUTS, never one read from the file.
    """
    quoted = '"' + table.replace('"', '""') + '"'
    return tuple(
        (name.lower(), " ".join(type_.upper().split()), notnull, normalise_sql(default), pk, hidden)
        for _cid, name, type_, notnull, default, pk, hidden in conn.execute(f"PRAGMA table_xinfo({quoted})")
    )


@functools.cache
def reference_schemas() -> tuple[tuple[Layout, str, dict[str, SchemaObject]], ...]:
    """Return (layout, variant label, schema) for every accepted variant.

    Each schema comes from running the library SQL in an in-memory database,
    so it is described exactly as an uploaded file is.
    """
    known = known_table_names()
    references = []
    for layout in LAYOUTS:
        for label, scripts in layout.variants:
            conn = sqlite3.connect(":memory:")
            try:
                for script in scripts:
                    conn.executescript(script)
                references.append((layout, label, read_schema(conn, known)))
            finally:
                conn.close()
    return tuple(references)


def schema_differences(actual: dict, expected: dict, layout_name: str) -> list[str]:
    """Return human-readable differences between two schemas (empty if equal)."""
    problems = [f"missing {want.type} {_quoted(want.name)}" for key, want in expected.items() if key not in actual]
    for key, have in actual.items():
        want = expected.get(key)
        if want is None:
            problems.append(f"unexpected {have.type} {_quoted(have.name)}")
        else:
            problems.extend(_object_differences(have, want, layout_name))
    return problems


def appended_columns(actual: dict, expected: dict) -> list[str]:
    """Return `table.column` for each column `actual` adds at the end of `expected`'s tables.

    Empty unless the two schemas are otherwise the same: same objects, and
    every table other than the extended ones defined alike.
    """
    if set(actual) != set(expected):
        return []
    added = []
    for key, want in expected.items():
        have = actual[key]
        if have.type != want.type or have.table != want.table or have.is_virtual_table:
            return []
        if want.columns is not None and have.columns is not None and have.columns != want.columns:
            if have.columns[: len(want.columns)] != want.columns:
                return []
            added.extend(f"{want.name}.{_plain(column[0])}" for column in have.columns[len(want.columns) :])
        elif have.sql != want.sql:
            return []
    return added


def _library_of(actual: dict) -> str | None:
    """Return the library family a schema's version table names, or None when it names none."""
    version = actual.get("version")
    if version is None or version.type != "table" or version.is_virtual_table or not version.columns:
        return None
    names = [column[0] for column in version.columns]
    if names == ["version"]:
        return "telethon"
    if names == ["number"]:
        return "pyrogram"
    return None


def _has_foreign_objects(actual: dict, family) -> bool:
    """Return True when the schema holds a view, a virtual table or a trigger of no known layout."""
    known_triggers = {
        (key, obj.sql) for _layout, expected in family for key, obj in expected.items() if obj.type == "trigger"
    }
    return any(
        obj.type == "view" or obj.is_virtual_table or (obj.type == "trigger" and (key, obj.sql) not in known_triggers)
        for key, obj in actual.items()
    )


def _object_differences(have: SchemaObject, want: SchemaObject, layout_name: str) -> list[str]:
    """Return the differences between one object in the file and its reference."""
    name = _quoted(want.name)
    if have.type != want.type:
        return [f"{name} must be a {want.type}, not a {have.type}"]
    if have.is_virtual_table:
        return [f"{name} must be a plain table, not a virtual table"]
    if have.table != want.table:
        return [f"{want.type} {name} belongs to the wrong table"]
    if have.columns is not None and have.columns != want.columns:
        have_names = [column[0] for column in have.columns]
        want_names = [column[0] for column in want.columns]
        if have_names != want_names:
            return [
                f"table {name} has columns ({', '.join(map(_plain, have_names))}) "
                f"but {layout_name} expects ({', '.join(want_names)})"
            ]
        return [f"the columns of table {name} are declared differently from {layout_name}"]
    if have.sql != want.sql:
        return [f"{want.type} {name} differs from {layout_name}'s definition"]
    return []


def _quoted(name: str) -> str:
    """Return a quoted, printable, bounded form of a name read from the file."""
    return f"'{_plain(name)}'"


def _plain(name: str) -> str:
    return shown_name(name, limit=64)
