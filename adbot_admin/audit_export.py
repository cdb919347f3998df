"""The audit log as a stream of JSON lines or CSV rows, with the chain fields, in constant memory.

Rows come in seq order, CHUNK a query (keyset on the unique seq index): the
memory an export holds does not grow with the log. JSON lines carry exactly
the fields the MAC covers plus `prev` and `mac`, so docs/verify_audit_export.py
checks them with the key. CSV is for people: a cell a spreadsheet would run as
a formula is neutralised, so CSV cannot be verified byte for byte; JSONL can.
"""

import csv
import io
import json

from .audit import record
from .audit_chain import ROW_FIELDS, head, seal_pending, timestamp

CHUNK = 2_000
FORMATS = {"jsonl": "application/jsonl; charset=utf-8", "csv": "text/csv; charset=utf-8"}
COLUMNS = ("seq", "prev", "mac", "kid", *ROW_FIELDS)
# OWASP's CSV injection list: a cell starting with one of these is run as a formula by spreadsheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def _rows(queryset, *, through_seq):
    """Yield the events of `queryset` up to `through_seq` as dicts of COLUMNS, in seq order, CHUNK a query."""
    after = 0
    while True:
        chunk = list(queryset.filter(seq__gt=after, seq__lte=through_seq).order_by("seq").values_list(*COLUMNS)[:CHUNK])
        for values in chunk:
            row = dict(zip(COLUMNS, values, strict=True))
            row["created_at"] = timestamp(row["created_at"])
            yield row
        if len(chunk) < CHUNK:
            return
        after = chunk[-1][0]


def _jsonl(rows):
    for row in rows:
        yield (json.dumps(row, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def neutralised(value):
    """Return a CSV cell that no spreadsheet runs as a formula: one starting with = + - @ TAB CR gets a `'`."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def _csv(rows):
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(COLUMNS)
    for row in rows:
        row["detail"] = json.dumps(row["detail"], ensure_ascii=False, sort_keys=True)
        writer.writerow([neutralised(row[name]) for name in COLUMNS])
        if buffer.tell() > 64 * 1024:
            yield buffer.getvalue().encode("utf-8")
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue().encode("utf-8")


def audit_export(*, request, queryset, export_format, filters):
    """Audit the export, then return an iterator of its bytes: the rows of `queryset` up to the head.

    The rows end at the chain head as it stands after the export's own event
    is sealed, which the export therefore includes when the filters match it.
    Pending rows are left out until sealed: they have no seq, prev or mac yet.
    """
    record(request=request, action="audit_export", detail={"format": export_format, "filters": filters})
    # Sealed here, not only once the request ends: the head read next must cover the export's own event.
    seal_pending(wait=True)
    rows = _rows(queryset, through_seq=head()[0])
    return _jsonl(rows) if export_format == "jsonl" else _csv(rows)
