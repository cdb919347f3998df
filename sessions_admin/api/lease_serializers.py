from rest_framework import serializers

from adbot_admin.api.fields import StrictIntegerField

from ..leases import COUNT_MAX, LEASABLE_STATUSES, TTL_MAX, TTL_MIN
from ..models import API_ID_MAX, Lease, Library, SessionStatus
from .serializers import RejectUnknownFieldsMixin, SessionFileSerializer


class LeaseWhereSerializer(serializers.Serializer):
    """Which accounts a grant may pick; unknown keys are refused (nested, so checked on the raw dict)."""

    reject_unknown_fields = True

    library = serializers.ChoiceField(choices=Library.choices, required=False)
    api_id = StrictIntegerField(min_value=1, max_value=API_ID_MAX, required=False)
    dc_id = StrictIntegerField(min_value=1, max_value=1000, required=False)
    status = serializers.MultipleChoiceField(
        choices=sorted(LEASABLE_STATUSES),
        required=False,
        help_text="Default: active and unknown. Banned, revoked and deactivated accounts are never leased.",
    )

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = {key: ["Unknown field."] for key in data if key not in self.fields}
            if unknown:
                raise serializers.ValidationError(unknown)
        return super().to_internal_value(data)


class LeaseGrantSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    count = StrictIntegerField(min_value=1, max_value=COUNT_MAX, required=False, default=1)
    ttl = StrictIntegerField(min_value=TTL_MIN, max_value=TTL_MAX, required=False, default=300)
    where = LeaseWhereSerializer(required=False)


class LeaseRenewSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    ttl = StrictIntegerField(min_value=TTL_MIN, max_value=TTL_MAX, required=False, default=300)


class LeaseReleaseSerializer(RejectUnknownFieldsMixin, serializers.Serializer):
    """An optional status report: it goes into the status ledger with source `engine:<token name>`."""

    status = serializers.ChoiceField(choices=SessionStatus.choices, required=False)
    reason = serializers.CharField(max_length=255, required=False, allow_blank=True, default="")
    until = serializers.DateTimeField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        attrs = super().validate(attrs)
        if "status" not in attrs and (attrs.get("reason") or attrs.get("until")):
            raise serializers.ValidationError({"status": ["reason and until come with a status."]})
        return attrs


class LeasedSessionSerializer(serializers.Serializer):
    name = serializers.CharField(source="filename")
    library = serializers.CharField()
    dc_id = serializers.IntegerField()
    api_id = serializers.IntegerField(allow_null=True)
    account = serializers.SerializerMethodField()
    device = serializers.SerializerMethodField()
    app = serializers.SerializerMethodField()
    status = serializers.CharField()

    # Told as the session file's own view tells them, schema included.
    get_account = SessionFileSerializer.get_account
    get_device = SessionFileSerializer.get_device
    get_app = SessionFileSerializer.get_app


class LeaseSerializer(serializers.ModelSerializer):
    """A lease as its holder sees it: the fence to send with writes, and the account."""

    session = LeasedSessionSerializer()

    class Meta:
        model = Lease
        fields = ["id", "fence", "expires_at", "session"]
        read_only_fields = fields


class LeaseGrantResultSerializer(serializers.Serializer):
    leases = LeaseSerializer(many=True)


class LeaseRenewedSerializer(serializers.ModelSerializer):
    class Meta:
        model = Lease
        fields = ["id", "fence", "expires_at"]
        read_only_fields = fields


class AdminLeaseSerializer(serializers.ModelSerializer):
    """A lease as admins see it: holder, since, until, fence, and whether it is live."""

    session = serializers.CharField(source="session.filename")
    since = serializers.DateTimeField(source="granted_at")
    until = serializers.DateTimeField(source="expires_at")
    live = serializers.BooleanField()

    class Meta:
        model = Lease
        fields = ["id", "session", "holder", "fence", "since", "until", "ended_at", "end_reason", "live"]
        read_only_fields = fields


class LeaseFileSerializer(serializers.Serializer):
    file = serializers.FileField(allow_empty_file=True, use_url=False, help_text="The session file.")
