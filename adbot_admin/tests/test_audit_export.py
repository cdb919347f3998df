"""GET /api/admin/audit/export: the chain streamed as JSONL or CSV, verifiable outside the server, audited."""

import csv
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from adbot_admin import audit_export
from adbot_admin.audit import record
from adbot_admin.models import AuditEvent

pytestmark = pytest.mark.django_db

EXPORT = "/api/admin/audit/export"
VERIFIER = Path(__file__).resolve().parents[2] / "docs" / "verify_audit_export.py"


def body(response):
    assert response.streaming
    return b"".join(response.streaming_content).decode("utf-8")


def write_log():
    record(action="login", actor="alice", target="alice", detail={"ratio": 1 / 3, "név": "ünïcode"})
    record(action="session_file.upload", actor="=cmd|' /C calc'!A0", target="+1-2", detail={"n": [1, 2]})
    record(action="login", actor="bob", outcome="failure", target="@bob")


def verify_outside(path, *args, key=None):
    from django.conf import settings

    env = {"PATH": os.environ.get("PATH", ""), "AUDIT_CHAIN_KEY": key or settings.AUDIT_CHAIN_KEY}
    return subprocess.run(
        [sys.executable, str(VERIFIER), str(path), *args], env=env, capture_output=True, text=True, timeout=60
    )


def test_the_jsonl_export_verifies_with_the_outside_script(admin_api_client, tmp_path):
    write_log()
    response = admin_api_client.get(EXPORT, {"format": "jsonl"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    assert response["Content-Disposition"].startswith('attachment; filename="audit-')
    lines = body(response).splitlines()
    rows = [json.loads(line) for line in lines]
    # The export's own event is the last row: it is audited before the rows are read.
    assert [row["seq"] for row in rows] == [1, 2, 3, 4]
    assert rows[-1]["action"] == "audit_export" and rows[-1]["actor"] == "alice"
    assert rows[-1]["detail"] == {"format": "jsonl", "filters": {}}
    assert set(rows[0]) == {"seq", "prev", "mac", "kid", *audit_export.ROW_FIELDS}

    path = tmp_path / "export.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    result = verify_outside(path, "--complete")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "4 row(s) verified, seq 4 last"

    assert verify_outside(path, key="a-wrong-key-0123456789abcdefghijklmnopqrstuv").returncode == 1
    edited = dict(rows[1], actor="mallory")
    path.write_text("\n".join(json.dumps(r) for r in [rows[0], edited, *rows[2:]]) + "\n")
    result = verify_outside(path)
    assert result.returncode == 1 and result.stderr.strip().startswith("seq 2: MAC does not match")
    path.write_text("\n".join(json.dumps(r) for r in [rows[0], rows[2], rows[3]]) + "\n")
    assert verify_outside(path).returncode == 0  # a filtered export skips seqs
    result = verify_outside(path, "--complete")
    assert result.returncode == 1 and result.stderr.strip() == "seq 2: missing"


def test_filters_narrow_the_export_and_are_audited(admin_api_client):
    write_log()
    response = admin_api_client.get(EXPORT, {"format": "jsonl", "action": "login", "outcome": "failure"})
    rows = [json.loads(line) for line in body(response).splitlines()]
    assert [(row["seq"], row["actor"]) for row in rows] == [(3, "bob")]
    event = AuditEvent.objects.get(action="audit_export")
    assert event.detail == {"format": "jsonl", "filters": {"action": "login", "outcome": "failure"}}


def test_the_csv_export_neutralises_formulas(admin_api_client):
    write_log()
    response = admin_api_client.get(EXPORT, {"format": "csv", "until": "2999-01-01T00:00:00Z"})
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(body(response))))
    assert [row["seq"] for row in rows] == ["1", "2", "3", "4"]
    assert rows[1]["actor"] == "'=cmd|' /C calc'!A0"
    assert rows[1]["target"] == "'+1-2"
    assert rows[2]["target"] == "'@bob"
    assert json.loads(rows[0]["detail"]) == {"ratio": 1 / 3, "név": "ünïcode"}
    assert not any(value.startswith(("=", "+", "-", "@")) for row in rows for value in row.values())


@pytest.mark.parametrize(
    ("query", "field"),
    [({}, "format"), ({"format": "xml"}, "format"), ({"format": "csv", "since": "yesterday"}, "since")],
)
def test_a_bad_query_is_a_400_and_exports_nothing(admin_api_client, query, field):
    response = admin_api_client.get(EXPORT, query)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and field in response.json()["errors"]
    assert not AuditEvent.objects.filter(action="audit_export").exists()


def test_rows_are_read_a_chunk_a_query(admin_api_client, monkeypatch):
    """Keyset chunks keep the export's memory flat, however long the log."""
    for n in range(7):
        record(action="login", target=str(n))
    monkeypatch.setattr(audit_export, "CHUNK", 3)
    response = admin_api_client.get(EXPORT, {"format": "jsonl"})
    with CaptureQueriesContext(connection) as queries:
        rows = body(response).splitlines()
    assert len(rows) == 8
    chunk_queries = [q for q in queries.captured_queries if "seq" in q["sql"] and "LIMIT 3" in q["sql"]]
    assert len(chunk_queries) == 3
