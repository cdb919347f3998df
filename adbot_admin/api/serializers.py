from rest_framework import serializers
from rest_framework_simplejwt import serializers as jwt_serializers

from ..login_sessions import login_session_start
from ..models import AuditEvent, AuthMethod, LoginSession


class TokenObtainSerializer(jwt_serializers.TokenObtainSerializer):
    """Checks a username and password; starts a login session and returns its access and refresh pair."""

    def validate(self, attrs):
        super().validate(attrs)
        issued = login_session_start(user=self.user, auth_method=AuthMethod.PASSWORD, request=self.context.get("request"))
        return issued.pair()


class TokenRefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(write_only=True)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class TokenVerifySerializer(serializers.Serializer):
    token = serializers.CharField(write_only=True)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(write_only=True, required=False)


class NoFieldsSerializer(serializers.Serializer):
    """A body with nothing to say: none, or `{}`. Reading it still refuses a hostile body (400, 413)."""


class CmsLoginSerializer(serializers.Serializer):
    # No max_length: a long password is a wrong password (401), like any other.
    password = serializers.CharField(write_only=True, trim_whitespace=False)


class CmsTokenSerializer(serializers.Serializer):
    access_token = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class MeSerializer(serializers.Serializer):
    username = serializers.CharField()
    role = serializers.CharField()
    auth_method = serializers.CharField()
    # `all`, or `cms` for a token from the CMS password, which reaches only the gallery and its own login.
    scope = serializers.CharField()
    expires_at = serializers.DateTimeField()
    expires_in = serializers.IntegerField()


class LoginSessionSerializer(serializers.ModelSerializer):
    current = serializers.SerializerMethodField()

    class Meta:
        model = LoginSession
        fields = ["id", "created_at", "last_used_at", "ip", "user_agent", "auth_method", "current"]
        read_only_fields = fields

    def get_current(self, session) -> bool:
        return session.id.hex == self.context.get("current")


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    database = serializers.CharField()
    cache = serializers.CharField()


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor", "auth_method", "client_ip", "action", "target", "outcome", "detail"]
        read_only_fields = fields
