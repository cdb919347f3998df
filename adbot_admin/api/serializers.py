from rest_framework import serializers
from rest_framework_simplejwt import serializers as jwt_serializers

from ..models import AuditEvent, LoginSession, Passkey, Scope

# Longer than any TOTP or recovery code, with room for spaces and dashes; longer is a 400.
CODE_MAX = 64
MFA_TOKEN_MAX = 128


def session_mode_field():
    return serializers.ChoiceField(
        choices=["cookie"],
        required=False,
        write_only=True,
        help_text="`cookie`: the refresh token is set as the httpOnly `__Host-adbot_refresh` cookie, read only by "
        "/api/auth/cookie/*, instead of being returned, and a `csrftoken` cookie is set for them.",
    )


def scope_field():
    return serializers.ChoiceField(
        choices=[Scope.CMS.value],
        required=False,
        write_only=True,
        help_text="`cms`: the tokens reach only the gallery (/api/cms/*) and the caller's own login. "
        "Without it, they carry the account's role.",
    )


class TokenObtainSerializer(jwt_serializers.TokenObtainSerializer):
    """Checks a username and password; starts a login session and returns its access and refresh pair.

    For a user with two-factor on it returns a two-factor challenge instead (MfaChallengeSerializer).
    """

    session = session_mode_field()
    scope = scope_field()

    def validate(self, attrs):
        # SimpleJWT's fields, not its check: signin.login_with_password verifies.
        return attrs


class TokenRefreshSerializer(serializers.Serializer):
    refresh = serializers.CharField(write_only=True)


class TokenPairSerializer(serializers.Serializer):
    access = serializers.CharField()
    refresh = serializers.CharField()
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class TokenObtainResponseSerializer(TokenPairSerializer):
    refresh = serializers.CharField(required=False, help_text='Absent with `"session": "cookie"`.')


class CookieAccessSerializer(serializers.Serializer):
    access = serializers.CharField()
    expires_in = serializers.IntegerField()


class MfaChallengeSerializer(serializers.Serializer):
    mfa_required = serializers.BooleanField()
    mfa_token = serializers.CharField(help_text="Opaque; good for one login within `expires_in` seconds.")
    expires_in = serializers.IntegerField()


def validate_credential_object(value):
    if not isinstance(value, dict):
        raise serializers.ValidationError("Send the credential as a JSON object.")
    return value


def credential_field(**kwargs):
    return serializers.JSONField(
        write_only=True,
        help_text="The PublicKeyCredential the browser returned, as JSON (base64url for binary fields).",
        validators=[validate_credential_object],
        **kwargs,
    )


class MfaLoginSerializer(serializers.Serializer):
    mfa_token = serializers.CharField(write_only=True, max_length=MFA_TOKEN_MAX)
    code = serializers.CharField(
        write_only=True, max_length=CODE_MAX, required=False, help_text="A TOTP code or a recovery code."
    )
    credential = credential_field(required=False)
    session = session_mode_field()
    scope = scope_field()

    def validate(self, attrs):
        if ("code" in attrs) == ("credential" in attrs):
            raise serializers.ValidationError(
                "Send either `code` (TOTP or recovery code) or `credential` (a passkey assertion).",
                code="one_second_factor",
            )
        return attrs


class PasskeyRegisterSerializer(serializers.Serializer):
    credential = credential_field()
    name = serializers.CharField(max_length=64, help_text="A name to tell this passkey from the others.")


class PasskeySerializer(serializers.ModelSerializer):
    class Meta:
        model = Passkey
        fields = ["id", "name", "created_at", "last_used_at", "transports"]
        read_only_fields = fields


class PasskeyLoginBeginSerializer(serializers.Serializer):
    username = serializers.CharField(
        max_length=150,
        required=False,
        help_text="Without it, the browser offers the discoverable passkeys it holds for this site.",
    )


class PasskeyLoginSerializer(serializers.Serializer):
    credential = credential_field()
    session = session_mode_field()
    scope = scope_field()


class ReauthenticateSerializer(serializers.Serializer):
    password = serializers.CharField(write_only=True, trim_whitespace=False, required=False)
    code = serializers.CharField(
        write_only=True, max_length=CODE_MAX, required=False, help_text="A TOTP code or a recovery code."
    )
    credential = credential_field(required=False)

    def validate(self, attrs):
        if "password" not in attrs and "credential" not in attrs:
            raise serializers.ValidationError(
                "Send a passkey assertion (`credential`), or `password` (plus `code` or `credential` with two-factor).",
                code="no_proof",
            )
        if "code" in attrs and ("password" not in attrs or "credential" in attrs):
            raise serializers.ValidationError(
                "A `code` goes with the `password`, instead of a passkey.", code="one_second_factor"
            )
        return attrs


class ReauthenticatedSerializer(serializers.Serializer):
    access = serializers.CharField(help_text="A new access token of the same login session, its `auth_time` now.")
    token_type = serializers.CharField()
    expires_in = serializers.IntegerField()


class MfaSetupSerializer(serializers.Serializer):
    # No max_length: a long password is a wrong password (401), like any other.
    password = serializers.CharField(write_only=True, trim_whitespace=False)


class MfaSecretSerializer(serializers.Serializer):
    secret = serializers.CharField(help_text="The TOTP key, base32.")
    otpauth_uri = serializers.CharField()
    qr_svg = serializers.CharField(help_text="The otpauth URI as a QR code, an SVG document.")


class MfaConfirmSerializer(serializers.Serializer):
    code = serializers.CharField(write_only=True, max_length=CODE_MAX, help_text="The app's current TOTP code.")


class RecoveryCodesSerializer(serializers.Serializer):
    recovery_codes = serializers.ListField(child=serializers.CharField(), help_text="Shown once; each works once.")


class TokenVerifySerializer(serializers.Serializer):
    token = serializers.CharField(write_only=True)


class LogoutSerializer(serializers.Serializer):
    refresh = serializers.CharField(write_only=True, required=False)


class NoFieldsSerializer(serializers.Serializer):
    """A body with nothing to say: none, or `{}`. Reading it still refuses a hostile body (400, 413)."""


class CmsLoginSerializer(serializers.Serializer):
    # No max_length: a long password is a wrong password (401), like any other.
    password = serializers.CharField(write_only=True, trim_whitespace=False)
    session = session_mode_field()


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
    mfa_enabled = serializers.BooleanField()


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
