"""Query filters that refuse a value they cannot read, instead of quietly not filtering.

django-filter reads `?is_active=banana` as "no filter" and `?dc_id=0.5` as a
decimal that matches nothing, so a client's typo returns every row. Here a
boolean is `true` or `false`, an integer field takes integers, a time must
exist in UTC, and anything else is a 400 naming the parameter. An empty value
still means no filter.
"""

from datetime import UTC

import django_filters
from django import forms
from django.core.exceptions import ValidationError
from django.db import models
from django_filters.fields import IsoDateTimeField
from django_filters.filters import QuerySetRequestMixin
from django_filters.rest_framework import DjangoFilterBackend, FilterSet

from ..models import AuditEvent


class QueryBooleanField(forms.Field):
    """`true` or `false` (as the OpenAPI boolean is written in a query); empty means unset."""

    VALUES = {"true": True, "True": True, "false": False, "False": False}

    def to_python(self, value):
        if value in (None, ""):
            return None
        if value not in self.VALUES:
            raise ValidationError("Use true or false.", code="invalid")
        return self.VALUES[value]


class StrictBooleanFilter(django_filters.BooleanFilter):
    field_class = QueryBooleanField


class IntegerFilter(django_filters.NumberFilter):
    field_class = forms.IntegerField


INTEGER_FIELDS = (
    models.AutoField,
    models.BigAutoField,
    models.SmallAutoField,
    models.IntegerField,
    models.BigIntegerField,
    models.SmallIntegerField,
    models.PositiveIntegerField,
    models.PositiveBigIntegerField,
    models.PositiveSmallIntegerField,
)


class StrictFilterSet(FilterSet):
    """FilterSet whose generated boolean and integer filters refuse values of the wrong type."""

    FILTER_DEFAULTS = {
        **FilterSet.FILTER_DEFAULTS,
        models.BooleanField: {"filter_class": StrictBooleanFilter},
        **{field: {"filter_class": IntegerFilter} for field in INTEGER_FIELDS},
    }

    def get_form_class(self):
        """Return the form class of this FilterSet class, built once.

        django-filter builds a new one, with a new field for each filter, on every
        request; its fields are facts of the class unless a filter's choices come
        from the request (a callable queryset), and then it still builds one each time.
        """
        cls = type(self)
        if "_form_class" not in cls.__dict__:
            form_class = super().get_form_class()
            if any(isinstance(f, QuerySetRequestMixin) and callable(f.queryset) for f in self.filters.values()):
                return form_class
            cls._form_class = form_class
        return cls._form_class


class StrictFilterBackend(DjangoFilterBackend):
    """django-filter's backend building `filterset_fields` on StrictFilterSet; invalid filters answer 400.

    A request that names none of the FilterSet's parameters is not filtered,
    so no FilterSet is made for it: building one copies every filter and a
    form class (about a quarter of an empty list's time) to read nothing.
    """

    filterset_base = StrictFilterSet

    def get_filterset(self, request, queryset, view):
        filterset_class = self.get_filterset_class(view, queryset)
        if filterset_class is None or request.query_params.keys().isdisjoint(filterset_class.base_filters):
            return None
        return filterset_class(**self.get_filterset_kwargs(request, queryset, view))


class UtcIsoDateTimeField(IsoDateTimeField):
    """An ISO 8601 date and time, handed to the database in UTC; one with no UTC equivalent is invalid.

    Python allows offsets up to ±23:59, PostgreSQL only up to ±15:59, and
    `0001-01-01T00:00:00+23:59` falls a day before year 1 in UTC: in UTC the
    value means the same and every database takes it.
    """

    def to_python(self, value):
        parsed = super().to_python(value)
        if parsed is None:
            return None
        try:
            return parsed.astimezone(UTC)
        except OverflowError:
            raise ValidationError(
                "Out of range: in UTC it falls outside the years 1 to 9999.", code="invalid"
            ) from None


class UtcIsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    field_class = UtcIsoDateTimeField


class AuditEventFilter(StrictFilterSet):
    since = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    until = UtcIsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditEvent
        fields = ["action", "actor", "outcome", "auth_method"]
