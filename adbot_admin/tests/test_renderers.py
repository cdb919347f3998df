"""Answers rendered by orjson are the bytes DRF's own JSONRenderer writes."""

import datetime
import decimal
import uuid

import pytest
from django.utils.translation import gettext_lazy
from rest_framework.exceptions import ErrorDetail
from rest_framework.renderers import JSONRenderer

from adbot_admin.api.renderers import OrjsonRenderer
from cms.tests.factories import GalleryImageFactory
from sessions_admin.tests.factories import ApiPairFactory, SessionFileFactory

VALUES = [
    {"a": 1, "b": [1.5, 2, None, True, False], "nested": {"x": [{"y": "z"}]}},
    {"separators": "line\u2028paragraph\u2029", "unicode": "é ü 😀 \u00a0", "controls": '\x00\x01\x1f\x7f"\\/'},
    {
        "utc": datetime.datetime(2026, 1, 1, 12, 0, 0, 123456, tzinfo=datetime.UTC),
        "offset": datetime.datetime(2026, 1, 1, tzinfo=datetime.timezone(datetime.timedelta(hours=2))),
        "naive": datetime.datetime(2026, 1, 1, 3, 4, 5),
        "date": datetime.date(2026, 1, 2),
        "time": datetime.time(1, 2, 3, 4),
        "decimal": decimal.Decimal("1.10"),
        "uuid": uuid.UUID("12345678-1234-5678-1234-567812345678"),
        "lazy": gettext_lazy("translated later"),
        "duration": datetime.timedelta(seconds=3.5),
    },
    {1: "an int key", "floats": [1e16, 0.1, -0.0, 1e22], "big": 2**63 - 1, "past 64 bits": 2**70},
    {"detail": ErrorDetail("Bad.", code="invalid")},
    [],
    {},
    "text",
    7,
]


@pytest.mark.parametrize("value", VALUES, ids=range(len(VALUES)))
def test_the_same_bytes_as_drf(value):
    assert OrjsonRenderer().render(value) == JSONRenderer().render(value)


def test_an_indented_answer_is_drfs_too():
    value = {"a": [1, {"b": 2}]}
    media_type = "application/json; indent=4"
    assert OrjsonRenderer().render(value, media_type) == JSONRenderer().render(value, media_type)


def test_none_is_an_empty_body():
    assert OrjsonRenderer().render(None) == b""


@pytest.mark.django_db
@pytest.mark.parametrize(
    "url", ["/api/admin/sessions", "/api/admin/api-pairs", "/api/cms/gallery-images", "/api/public/gallery"]
)
def test_list_answers_are_drfs_bytes(admin_api_client, url):
    pair = ApiPairFactory(label="Ünïcode\u2028label")
    SessionFileFactory.create_batch(3, api_id=pair.api_id)
    GalleryImageFactory.create_batch(2, title="Sunset — über")

    response = admin_api_client.get(url)

    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    # The public gallery answers cached bytes: DRF renders what they parse to.
    data = response.data if hasattr(response, "data") else response.json()
    assert response.content == JSONRenderer().render(data)
