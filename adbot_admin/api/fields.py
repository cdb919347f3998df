"""JSON fields that take only their own JSON type.

DRF's own fields are lenient (`true` for an integer, `0` for a boolean, a
number for a string); bodies of this API say exactly what they mean.
"""

from datetime import UTC

from rest_framework import serializers


class StrictIntegerField(serializers.IntegerField):
    """An integer that must be a JSON number without a fraction: no bools, strings or floats."""

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictBooleanField(serializers.BooleanField):
    """A JSON true or false; no strings or numbers."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid", input="")
        return data


class StrictCharField(serializers.CharField):
    """A JSON string; no numbers or booleans."""

    default_error_messages = {"invalid": "Must be a string."}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


def datetime_representation(value):
    """Return `value` as DRF's DateTimeField writes it here: ISO 8601 in UTC (TIME_ZONE), `Z` for +00:00; None stays.

    For serializers that build their rows themselves (a plain `to_representation`).
    """
    if value is None:
        return None
    if value.tzinfo is UTC:  # as both databases hand times over: astimezone would only copy it
        return value.isoformat()[:-6] + "Z"
    text = value.astimezone(UTC).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text
