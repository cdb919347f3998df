import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from adbot_admin.api.fields import StrictBooleanField, StrictCharField, StrictIntegerField

from ..errors import InvalidSessionFileName
from ..models import API_ID_MAX, ApiPair, Library, SessionFile
from ..names import MAX_NAME_LENGTH, validate_session_filename
from ..strings import MAX_STRING_LENGTH

API_HASH_PATTERN = re.compile(r"[0-9a-fA-F]{32}")


class SessionFileSerializer(serializers.ModelSerializer):
    """A session file's metadata; the model holds no key material to leak (not even the key's digest)."""

    api_pair = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The id of the stored API pair with this api_id, or null."
    )

    class Meta:
        model = SessionFile
        fields = [
            "filename",
            "library",
            "layout",
            "dc_id",
            "user_id",
            "is_bot",
            "api_id",
            "api_pair",
            "size",
            "sha256",
            "uploaded_at",
            "uploaded_by",
        ]
        read_only_fields = fields


class SessionFileUploadSerializer(serializers.Serializer):
    # Empty files are judged by the service, like any other refused file.
    file = serializers.FileField(allow_empty_file=True, use_url=False)


class OverwriteQuerySerializer(serializers.Serializer):
    overwrite = serializers.BooleanField(required=False, default=False)
    allow_duplicate_key = serializers.BooleanField(required=False, default=False)


@extend_schema_field({"type": "string", "pattern": "^[0-9a-fA-F]{32}$"})
class ApiHashField(serializers.CharField):
    """32 hexadecimal characters as a JSON string, returned in lower case; messages never repeat it."""

    default_error_messages = {"invalid": "An api_hash is a string of 32 hexadecimal characters."}

    def __init__(self, **kwargs):
        kwargs.setdefault("trim_whitespace", False)
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        if not isinstance(data, str) or not API_HASH_PATTERN.fullmatch(data):
            self.fail("invalid")
        return data.lower()


class RejectUnknownFieldsMixin:
    """Refuses keys the serializer does not accept, naming each; fields listed in `fixed_fields` are called unchangeable."""

    fixed_fields = ()
    fixed_field_message = "This field cannot be changed."
    # Read by the OpenAPI hook (adbot_admin/api/schema.py): the schema says additionalProperties: false.
    reject_unknown_fields = True

    def validate(self, attrs):
        if isinstance(self.initial_data, dict):
            errors = {}
            for key in self.initial_data:
                if key in self.fixed_fields:
                    errors[key] = [self.fixed_field_message]
                elif key not in self.fields:
                    errors[key] = ["Unknown field."]
            if errors:
                raise serializers.ValidationError(errors)
        return super().validate(attrs)


class ForceQuerySerializer(serializers.Serializer):
    force = serializers.BooleanField(required=False, default=False)


class SessionArchiveUploadSerializer(serializers.Serializer):
    archive = serializers.FileField(allow_empty_file=True, use_url=False, help_text="A zip archive of .session files.")


class RefusedEntrySerializer(serializers.Serializer):
    name = serializers.CharField(help_text="The entry's path in the archive, as it was.")
    code = serializers.CharField()
    detail = serializers.CharField()


class SessionImportResultSerializer(serializers.Serializer):
    imported = SessionFileSerializer(many=True)
    refused = RefusedEntrySerializer(many=True)
    skipped = serializers.ListField(
        child=serializers.CharField(), help_text="Folders and entries that are not .session files."
    )


class SessionStringImportSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """A session string to write as a file; the string is never echoed, not even in an error."""

    filename = StrictCharField(max_length=MAX_NAME_LENGTH)
    library = serializers.ChoiceField(choices=Library.choices)
    session_string = StrictCharField(max_length=MAX_STRING_LENGTH, trim_whitespace=True, write_only=True)

    def validate_filename(self, value):
        try:
            return validate_session_filename(value)
        except InvalidSessionFileName as exc:
            raise serializers.ValidationError(str(exc), code=exc.code) from None


class SessionFileUpdateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    fixed_fields = tuple(name for name in SessionFileSerializer.Meta.fields if name != "api_id")

    api_id = StrictIntegerField(min_value=1, max_value=API_ID_MAX, allow_null=True)


class ApiPairSerializer(serializers.ModelSerializer):
    """An API pair with its hash masked: the first and last four characters, the rest `*`."""

    api_hash = serializers.CharField(source="masked_hash", read_only=True)
    sessions_count = serializers.IntegerField(
        source="count_sessions", read_only=True, help_text="How many session files have this api_id."
    )

    class Meta:
        model = ApiPair
        fields = ["id", "api_id", "api_hash", "label", "is_active", "sessions_count", "created_at", "updated_at"]
        read_only_fields = fields


class ApiPairRevealSerializer(ApiPairSerializer):
    """An API pair with its whole hash (GET /api/admin/api-pairs/{id} only; audited)."""

    api_hash = serializers.CharField(read_only=True)


class ApiPairCreateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    api_id = StrictIntegerField(min_value=1, max_value=API_ID_MAX)
    api_hash = ApiHashField()
    label = StrictCharField(max_length=100, required=False, allow_blank=True, default="")
    is_active = StrictBooleanField(required=False, default=True)


class ApiPairUpdateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    fixed_fields = ("id", "api_id", "api_hash")
    fixed_field_message = "This field cannot be changed; delete the pair and add it again."

    label = StrictCharField(max_length=100, required=False, allow_blank=True)
    is_active = StrictBooleanField(required=False)
