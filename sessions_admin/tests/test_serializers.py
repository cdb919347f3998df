"""The list serializers write their rows by hand: the same output as DRF walking their declared fields."""

import datetime

import pytest
from rest_framework import serializers as drf

from sessions_admin.api import serializers
from sessions_admin.models import ApiPair, SessionFile

from .factories import ApiPairFactory, SessionFileFactory

pytestmark = pytest.mark.django_db


def _by_fields(serializer, instance):
    """Return DRF's own representation: every declared field read and converted."""
    return drf.Serializer.to_representation(serializer, instance)


@pytest.mark.parametrize("with_pair", [True, False])
@pytest.mark.parametrize(
    "values",
    [
        {"user_id": 123456789012, "is_bot": True, "api_id": None},
        {"user_id": None, "is_bot": None, "api_id": 4242},
        {"is_bot": False, "uploaded_at": datetime.datetime(2026, 3, 1, 12, 30, 0, 500, tzinfo=datetime.UTC)},
        {"uploaded_at": datetime.datetime(2026, 3, 1, 12, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=5)))},
    ],
)
def test_session_file_rows(values, with_pair):
    session_file = SessionFileFactory(**values)
    if with_pair and session_file.api_id:
        ApiPairFactory(api_id=session_file.api_id)
    for instance in (session_file, SessionFile.objects.with_api_pair().get(pk=session_file.pk)):
        serializer = serializers.SessionFileSerializer(instance)
        assert serializer.data == _by_fields(serializer, instance)
        assert list(serializer.data) == serializers.SessionFileSerializer.Meta.fields


@pytest.mark.parametrize("serializer_class", [serializers.ApiPairSerializer, serializers.ApiPairRevealSerializer])
def test_api_pair_rows(serializer_class):
    pair = ApiPairFactory(label="")
    SessionFileFactory.create_batch(2, api_id=pair.api_id)
    for instance in (pair, ApiPair.objects.with_sessions_count().get(pk=pair.pk)):
        serializer = serializer_class(instance)
        assert serializer.data == _by_fields(serializer, instance)
        assert list(serializer.data) == serializers.ApiPairSerializer.Meta.fields
