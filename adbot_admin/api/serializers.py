from django.contrib.auth import get_user_model
from rest_framework import serializers
from rest_framework_simplejwt import serializers as jwt_serializers
from rest_framework_simplejwt.exceptions import AuthenticationFailed
from rest_framework_simplejwt.settings import api_settings
from .authentication import RefreshToken

from ..models import AuditEvent


def token_lifetime_seconds():
    return int(api_settings.ACCESS_TOKEN_LIFETIME.total_seconds())


def token_pair_response(refresh):
    """Return the token endpoint's body for a refresh token (and the access token it makes)."""
    return {
        "access": str(refresh.access_token),
        "refresh": str(refresh),
        "token_type": "Bearer",
        "expires_in": token_lifetime_seconds(),
    }


def stamp_role(token, user):
    token["role"] = user.role
    return token


class TokenObtainSerializer(jwt_serializers.TokenObtainPairSerializer):
    """Checks a username and password; returns an access and refresh pair carrying the role."""

    @classmethod
    def get_token(cls, user):
        return stamp_role(super().get_token(user), user)

    def validate(self, attrs):
        jwt_serializers.TokenObtainSerializer.validate(self, attrs)
        return token_pair_response(self.get_token(self.user))


class TokenRefreshSerializer(serializers.Serializer):
    """Trades a refresh token for a new pair; the old refresh token is blacklisted."""

    refresh = serializers.CharField(write_only=True)

    def validate(self, attrs):
        refresh = RefreshToken(attrs["refresh"])
        user = (
            get_user_model()
            .objects.filter(**{api_settings.USER_ID_FIELD: refresh.get(api_settings.USER_ID_CLAIM)})
            .first()
        )
        if user is None or not user.is_active:
            raise AuthenticationFailed("No active account found for the given token.", "no_active_account")
        refresh.blacklist()
        # The role is read again: a demoted user's next access token says so.
        stamp_role(refresh, user)
        refresh.set_jti()
        refresh.set_exp()
        refresh.set_iat()
        refresh.outstand()
        self.user = user
        return token_pair_response(refresh)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class TokenVerifySerializer(serializers.Serializer):
    token = serializers.CharField(write_only=True)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(write_only=True, required=False)


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
    expires_at = serializers.DateTimeField()
    expires_in = serializers.IntegerField()


class HealthSerializer(serializers.Serializer):
    status = serializers.CharField()
    database = serializers.CharField()
    cache = serializers.CharField()


class AuditEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AuditEvent
        fields = ["id", "created_at", "actor", "auth_method", "client_ip", "action", "target", "outcome", "detail"]
        read_only_fields = fields
