"""The API-pair serializers write their rows by hand: the same output as DRF walking their declared fields."""

import pytest
from rest_framework import serializers as drf

from sessions_admin.api import serializers
from sessions_admin.models import ApiPair

from .factories import ApiPairFactory, SessionFileFactory

pytestmark = pytest.mark.django_db


def _by_fields(serializer, instance):
    """Return DRF's own representation: every declared field read and converted."""
    return drf.Serializer.to_representation(serializer, instance)


@pytest.mark.parametrize("serializer_class", [serializers.ApiPairSerializer, serializers.ApiPairRevealSerializer])
def test_api_pair_rows(serializer_class):
    pair = ApiPairFactory(label="")
    SessionFileFactory.create_batch(2, api_id=pair.api_id)
    for instance in (pair, ApiPair.objects.with_sessions_count().get(pk=pair.pk)):
        serializer = serializer_class(instance)
        assert serializer.data == _by_fields(serializer, instance)
        assert list(serializer.data) == serializers.ApiPairSerializer.Meta.fields
