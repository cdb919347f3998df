import re

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from adbot_admin.api.fields import (
    StrictBooleanField,
    StrictCharField,
    StrictIntegerField,
    datetime_representation,
)

from ..errors import InvalidSessionFileName
from ..models import API_ID_MAX, ApiPair, Library, SessionFile, SessionStatus, SessionStatusChange
from ..names import MAX_NAME_LENGTH, validate_session_filename
from ..strings import MAX_STRING_LENGTH

API_HASH_PATTERN = re.compile(r"[0-9a-fA-F]{32}")


class AccountSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(allow_null=True)
    phone = serializers.CharField()
    username = serializers.CharField()
    first_name = serializers.CharField()
    last_name = serializers.CharField()


class DeviceSerializer(serializers.Serializer):
    """The device the account signed in with, under Telegram's initConnection names."""

    device_model = serializers.CharField(allow_null=True)
    system_version = serializers.CharField(allow_null=True)
    lang_pack = serializers.CharField(allow_null=True)
    system_lang_pack = serializers.CharField(allow_null=True)
    lang_code = serializers.CharField(allow_null=True)
    system_lang_code = serializers.CharField(allow_null=True)


class AppSerializer(serializers.Serializer):
    api_id = serializers.IntegerField(allow_null=True)
    app_version = serializers.CharField(allow_null=True)


class ProxySerializer(serializers.Serializer):
    """The proxy without its credentials: only whether it has some."""

    type = serializers.CharField()
    host = serializers.CharField()
    port = serializers.IntegerField()
    has_credentials = serializers.BooleanField()


# API name -> the sidecar's canonical key (docs/sidecar.md), for the device and app objects.
DEVICE_FIELDS = {
    "device_model": "device",
    "system_version": "sdk",
    "lang_pack": "lang_pack",
    "system_lang_pack": "system_lang_pack",
    "lang_code": "lang_code",
    "system_lang_code": "system_lang_code",
}


def account_of(session_file) -> dict:
    return {name: getattr(session_file, name) for name in ACCOUNT_FIELDS}


def device_of(session_file) -> dict:
    return {name: session_file.device.get(key) for name, key in DEVICE_FIELDS.items()}


def app_of(session_file) -> dict:
    return {"api_id": session_file.api_id, "app_version": session_file.device.get("app_version")}


class SessionFileSerializer(serializers.ModelSerializer):
    """A session file's metadata and account; the model holds no key material, and no secret is shown."""

    api_pair = serializers.IntegerField(
        read_only=True, allow_null=True, help_text="The id of the stored API pair with this api_id, or null."
    )
    account = serializers.SerializerMethodField()
    device = serializers.SerializerMethodField()
    app = serializers.SerializerMethodField()

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
            "account",
            "device",
            "app",
            "status",
            "status_reason",
            "status_until",
            "status_changed_at",
        ]
        read_only_fields = fields

    # Rows written without walking the fields: on a 25-row page, ModelSerializer's field walk costs more than the
    # rest of the request. The declared fields above stay, for the schema and the order of the keys.
    def to_representation(self, instance):
        return {
            "filename": instance.filename,
            "library": instance.library,
            "layout": instance.layout,
            "dc_id": instance.dc_id,
            "user_id": instance.user_id,
            "is_bot": instance.is_bot,
            "api_id": instance.api_id,
            "api_pair": instance.api_pair,
            "size": instance.size,
            "sha256": instance.sha256,
            "uploaded_at": datetime_representation(instance.uploaded_at),
            "uploaded_by": instance.uploaded_by,
            "account": account_of(instance),
            "device": device_of(instance),
            "app": app_of(instance),
            "status": instance.status,
            "status_reason": instance.status_reason,
            "status_until": datetime_representation(instance.status_until),
            "status_changed_at": datetime_representation(instance.status_changed_at),
        }

    @extend_schema_field(AccountSerializer)
    def get_account(self, session_file):
        return account_of(session_file)

    @extend_schema_field(DeviceSerializer)
    def get_device(self, session_file):
        return device_of(session_file)

    @extend_schema_field(AppSerializer)
    def get_app(self, session_file):
        return app_of(session_file)


class SessionFileDetailSerializer(SessionFileSerializer):
    """One session file: its metadata and account, whether it has a 2FA password, its proxy without credentials."""

    has_2fa_password = serializers.SerializerMethodField()
    proxy = serializers.SerializerMethodField()

    class Meta(SessionFileSerializer.Meta):
        fields = [*SessionFileSerializer.Meta.fields, "has_2fa_password", "proxy"]
        read_only_fields = fields

    def to_representation(self, instance):
        return {
            **super().to_representation(instance),
            "has_2fa_password": self.get_has_2fa_password(instance),
            "proxy": self.get_proxy(instance),
        }

    def get_has_2fa_password(self, session_file) -> bool:
        return bool(session_file.twofa_password)

    @extend_schema_field(ProxySerializer(allow_null=True))
    def get_proxy(self, session_file):
        if not session_file.proxy:
            return None
        proxy = session_file.proxy
        return {
            "type": proxy["type"],
            "host": proxy["host"],
            "port": proxy["port"],
            "has_credentials": bool(session_file.proxy_credentials),
        }


class SessionFileUploadSerializer(serializers.Serializer):
    # Empty files are judged by the service, like any other refused file.
    file = serializers.FileField(allow_empty_file=True, use_url=False)
    sidecar = serializers.FileField(
        required=False,
        allow_empty_file=True,
        use_url=False,
        help_text="The account's <name>.json (docs/sidecar.md); checked, never stored as sent.",
    )


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
    archive = serializers.FileField(
        allow_empty_file=True, use_url=False, help_text="A zip archive of .session files and tdata folders."
    )
    tdata_passcode = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=256,
        write_only=True,
        style={"input_type": "password"},
        help_text="The local passcode of the archive's Telegram Desktop tdata folders, if they have one.",
    )


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
    sidecar = serializers.DictField(
        required=False, write_only=True, help_text="The account's sidecar object (docs/sidecar.md)."
    )

    def validate_filename(self, value):
        try:
            return validate_session_filename(value)
        except InvalidSessionFileName as exc:
            raise serializers.ValidationError(str(exc), code=exc.code) from None


# PATCH's nested objects: API name -> the sidecar's canonical key; the values get the sidecar's checks.
ACCOUNT_FIELDS = {
    "user_id": "id",
    "phone": "phone",
    "username": "username",
    "first_name": "first_name",
    "last_name": "last_name",
}
APP_FIELDS = {"app_version": "app_version"}
EDITABLE_FIELDS = ("api_id", "account", "device", "app", "proxy", "twofa_password")


def _nested(fields):
    def validate(self, value):
        unknown = sorted(set(value) - set(fields) - ({"api_id"} if fields is APP_FIELDS else set()))
        if unknown:
            raise serializers.ValidationError(f"Unknown field(s): {', '.join(unknown)}.")
        return value

    return validate


class SessionFileUpdateSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """The editable parts of a session: api_id, account, device, app, proxy, 2FA password (null clears)."""

    fixed_fields = tuple(name for name in SessionFileDetailSerializer.Meta.fields if name not in EDITABLE_FIELDS)

    api_id = StrictIntegerField(min_value=1, max_value=API_ID_MAX, allow_null=True)
    account = serializers.DictField(required=False, help_text="user_id, phone, username, first_name, last_name.")
    device = serializers.DictField(required=False, help_text=", ".join(DEVICE_FIELDS))
    app = serializers.DictField(required=False, help_text="api_id, app_version.")
    proxy = serializers.DictField(
        required=False, allow_null=True, help_text="type, host, port, rdns, username, password; null removes it."
    )
    twofa_password = StrictCharField(
        required=False, allow_null=True, allow_blank=True, trim_whitespace=False, write_only=True
    )

    validate_account = _nested(ACCOUNT_FIELDS)
    validate_device = _nested(DEVICE_FIELDS)
    validate_app = _nested(APP_FIELDS)

    def sidecar_changes(self) -> dict:
        """Return the validated data as canonical sidecar keys -> value (None removes the key)."""
        data, changes = self.validated_data, {}
        for group, fields in (("account", ACCOUNT_FIELDS), ("device", DEVICE_FIELDS), ("app", APP_FIELDS)):
            for name, value in data.get(group, {}).items():
                if name in fields:
                    changes[fields[name]] = value
        if "proxy" in data:
            changes["proxy"] = data["proxy"]
        if "twofa_password" in data:
            changes["twoFA"] = data["twofa_password"] or None
        return changes

    def api_id_change(self):
        """Return (True, value) when api_id is to be set (top level or app.api_id), else (False, None)."""
        data = self.validated_data
        if "api_id" in data:
            return True, data["api_id"]
        if "api_id" in data.get("app", {}):
            value = data["app"]["api_id"]
            if value is not None and (
                isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= API_ID_MAX
            ):
                raise serializers.ValidationError({"app": [f"api_id must be an integer from 1 to {API_ID_MAX}."]})
            return True, value
        return False, None


# API name -> canonical key, read backwards to name the field a refused value came from.
API_NAME_OF_KEY = {key: name for fields in (ACCOUNT_FIELDS, DEVICE_FIELDS, APP_FIELDS) for name, key in fields.items()}
API_NAME_OF_KEY.update({"proxy": "proxy", "twoFA": "twofa_password"})


class SessionStatusSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    status = serializers.ChoiceField(choices=SessionStatus.choices)
    reason = StrictCharField(required=False, allow_blank=True, max_length=255, default="")
    until = serializers.DateTimeField(required=False, allow_null=True, default=None)


class SessionStatusChangeSerializer(serializers.ModelSerializer):
    class Meta:
        model = SessionStatusChange
        fields = ["id", "status", "previous_status", "reason", "until", "source", "changed_by", "changed_at"]
        read_only_fields = fields


class SessionSecretsSerializer(serializers.Serializer):
    """A session's secrets in plain text (GET .../secrets only: step-up, audited)."""

    twofa_password = serializers.CharField(allow_null=True)
    proxy = serializers.DictField(allow_null=True, help_text="type, host, port, rdns, username, password.")


class SessionSummarySerializer(serializers.Serializer):
    total = serializers.IntegerField()
    by_status = serializers.DictField(child=serializers.IntegerField())
    by_library = serializers.DictField(child=serializers.IntegerField())
    by_dc_id = serializers.DictField(child=serializers.IntegerField())
    by_api_id = serializers.DictField(child=serializers.IntegerField(), help_text='"none": sessions without one.')


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

    # Rows written without walking the fields, as for session files.
    def to_representation(self, instance):
        return {
            "id": instance.id,
            "api_id": instance.api_id,
            "api_hash": self.hash_of(instance),
            "label": instance.label,
            "is_active": instance.is_active,
            "sessions_count": instance.count_sessions(),
            "created_at": datetime_representation(instance.created_at),
            "updated_at": datetime_representation(instance.updated_at),
        }

    @staticmethod
    def hash_of(api_pair):
        return api_pair.masked_hash


class ApiPairRevealSerializer(ApiPairSerializer):
    """An API pair with its whole hash (GET /api/admin/api-pairs/{id} only; audited)."""

    api_hash = serializers.CharField(read_only=True)

    @staticmethod
    def hash_of(api_pair):
        return api_pair.api_hash


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


class FilterValueField(serializers.Field):
    """One list filter's value as its query string would carry it: a string, a number, or a boolean."""

    default_error_messages = {"invalid": "A filter value is a string, a number or a boolean."}

    def to_internal_value(self, data):
        if isinstance(data, bool):
            return "true" if data else "false"
        if isinstance(data, int) or (isinstance(data, str) and len(data) <= 100):
            return str(data)
        self.fail("invalid")

    def to_representation(self, value):
        return value


class SessionExportSerializer(serializers.Serializer):
    """What to export: `names` or `filter` (exactly one), the format, and whether secrets go in the sidecars."""

    names = serializers.ListField(
        child=serializers.CharField(max_length=100, trim_whitespace=False),
        required=False,
        allow_empty=False,
        max_length=10_000,
        help_text="Session file names, e.g. `acc1.session`.",
    )
    filter = serializers.DictField(
        child=FilterValueField(),
        required=False,
        help_text="The list's filters (`library`, `dc_id`, `api_id`, `api_pair`, ...), as in its query string.",
    )
    format = serializers.ChoiceField(
        choices=["as_stored", "telethon", "pyrogram", "string"],
        default="as_stored",
        help_text=(
            "`as_stored`: the files as stored; `telethon` or `pyrogram`: files of that library (Kurigram's layout "
            "for pyrogram), converted by TGConvertor where the stored file is of the other; `string`: `<name>.txt` "
            "holding the session string of the stored file's library."
        ),
    )
    include_secrets = serializers.BooleanField(
        default=False, help_text="Put the 2FA password and the proxy's credentials in the sidecars."
    )

    def validate(self, attrs):
        if ("names" in attrs) == ("filter" in attrs):
            raise serializers.ValidationError("Send exactly one of names and filter.", code="names_or_filter")
        return attrs
