"""Fixed page statements turn rows into the instances the ORM makes, on either database, whatever the stored JSON
and times; and rows written by hand give the times DRF writes."""

import json
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.db.models import JSONField
from rest_framework.fields import DateTimeField

from adbot_admin import statements
from adbot_admin.api.fields import datetime_representation
from sessions_admin.models import SessionFile
from sessions_admin.tests.factories import SessionFileFactory

pytestmark = pytest.mark.django_db

DEVICES = [
    {},
    {"device": "Pixel 7", "sdk": "Android 14", "app_version": "10.2.3", "lang_code": "en"},
    {"nested": {"list": [1, 2.5, None, True, "ü \u2028"]}, "big": 2**70, "small": -(2**70)},
    [],
    "a string",
]


# A server runs the fixed statements in autocommit (on PostgreSQL through libpq, prepared_statements.py); in a
# transaction they run on psycopg's cursor. Rows must come out the same either way.
EITHER_MODE = pytest.mark.parametrize(
    "mode",
    [
        pytest.param("in a transaction", marks=pytest.mark.django_db),
        pytest.param("in autocommit", marks=pytest.mark.django_db(transaction=True)),
    ],
)


def _page():
    return statements.page_statement(SessionFile.objects.order_by("id")).rows(len(DEVICES), 0)


@EITHER_MODE
def test_rows_are_the_orms_instances(mode):
    for n, device in enumerate(DEVICES):
        SessionFileFactory(device=device, status_until=datetime(2030, 1, 2, 3, 4, 5, n, tzinfo=UTC) if n else None)

    rows, expected = _page(), list(SessionFile.objects.order_by("id"))

    fields = [field.attname for field in SessionFile._meta.concrete_fields]
    assert [[getattr(row, name) for name in fields] for row in rows] == [
        [getattr(row, name) for name in fields] for row in expected
    ]
    assert [row.device for row in rows] == DEVICES
    assert all(row.uploaded_at.tzinfo is UTC for row in rows)
    assert [type(row.device["big"]) for row in rows if "big" in row.device] == [int]


@pytest.mark.services
@EITHER_MODE
def test_times_are_the_orms_in_a_session_of_another_time_zone(mode):
    if connection.vendor != "postgresql":
        pytest.fail("needs PostgreSQL: run `python3 scripts/dev.py test --services`")
    SessionFileFactory()
    _page()  # the connection's statement cursor is made in UTC first
    with connection.cursor() as cursor:
        cursor.execute("SET TIME ZONE 'Europe/Berlin'")
    try:
        # As text, offset and all: psycopg's own loader would give the same instants in Berlin's time.
        assert [row.uploaded_at.isoformat() for row in _page()] == [
            row.uploaded_at.isoformat() for row in SessionFile.objects.order_by("id")
        ]
    finally:
        with connection.cursor() as cursor:
            cursor.execute("SET TIME ZONE 'UTC'")


@pytest.mark.parametrize("text", [' {"a": 1}', '{"a": 1} ', '{"a": 1} x', "NaN", "1e400", "not json", "", "\ufeff{}"])
def test_json_the_scanner_does_not_read_whole_is_loaded_as_json_loads_would(text):
    field = SessionFile._meta.get_field("device")
    column = field.get_col(SessionFile._meta.db_table)
    convert = statements._cheaper(field.from_db_value)

    converted, expected = convert(text, column, connection), field.from_db_value(text, column, connection)

    assert converted == expected or (converted != converted and expected != expected)  # NaN is not NaN
    assert type(converted) is type(expected)


def test_a_json_field_with_a_decoder_keeps_its_converter():
    field = JSONField(decoder=type("Decoder", (json.JSONDecoder,), {}))
    assert statements._cheaper(field.from_db_value) == field.from_db_value


@pytest.mark.parametrize(
    "value",
    [
        datetime(2026, 12, 7, 5, 1, 36, 780275, tzinfo=UTC),
        datetime(2026, 12, 7, 5, 1, 36, tzinfo=UTC),
        datetime(2026, 12, 7, 5, 1, 36, tzinfo=timezone(timedelta(hours=2))),
        datetime(2026, 12, 7, 5, 1, 36, 5, tzinfo=ZoneInfo("UTC")),
        datetime(2026, 7, 7, 5, 1, 36, tzinfo=ZoneInfo("Europe/Berlin")),
        None,
    ],
)
def test_times_are_written_as_drf_writes_them(value):
    assert datetime_representation(value) == DateTimeField().to_representation(value)
