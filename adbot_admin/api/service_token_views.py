"""Service tokens for admins: make one (shown once, needs a recent login), list them, revoke one."""

from django.utils import timezone
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import generics, serializers, status
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.response import Response

from .. import service_tokens
from ..errors import Conflict
from ..models import ServiceToken, ServiceTokenScope
from .parsers import JSONParser
from .permissions import IsAdminRole, RecentAuthentication


class ServiceTokenSerializer(serializers.ModelSerializer):
    """A service token as listed: never the token or its hash."""

    revoked = serializers.SerializerMethodField()
    expired = serializers.SerializerMethodField()

    class Meta:
        model = ServiceToken
        fields = [
            "id",
            "name",
            "hint",
            "scopes",
            "allowed_ips",
            "created_at",
            "created_by",
            "expires_at",
            "last_used_at",
            "revoked_at",
            "revoked",
            "expired",
        ]
        read_only_fields = fields

    def get_revoked(self, row) -> bool:
        return row.revoked_at is not None

    def get_expired(self, row) -> bool:
        return row.expires_at is not None and row.expires_at <= timezone.now()


class ServiceTokenCreateSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=service_tokens.NAME_MAX_LENGTH)
    scopes = serializers.ListField(
        child=serializers.ChoiceField(choices=ServiceTokenScope.choices), min_length=1, max_length=2
    )
    expires_days = serializers.IntegerField(
        min_value=1, max_value=service_tokens.MAX_EXPIRES_DAYS, required=False, allow_null=True
    )
    allowed_ips = serializers.ListField(child=serializers.CharField(max_length=64), max_length=64, required=False)


class ServiceTokenIssuedSerializer(ServiceTokenSerializer):
    """A new service token, with its secret: the only time it is shown."""

    token = serializers.CharField()

    class Meta(ServiceTokenSerializer.Meta):
        fields = [*ServiceTokenSerializer.Meta.fields, "token"]
        read_only_fields = fields


@extend_schema_view(get=extend_schema(summary="List service tokens (never the tokens themselves)"))
class ServiceTokenListCreate(generics.ListAPIView):
    """Lists service tokens; makes one for an admin who logged in within REAUTH_MAX_AGE."""

    queryset = ServiceToken.objects.all()
    serializer_class = ServiceTokenSerializer
    parser_classes = [JSONParser]

    def get_permissions(self):
        if self.request.method == "POST":
            return [IsAdminRole(), RecentAuthentication()]
        return super().get_permissions()

    @extend_schema(
        summary="Make a service token for an engine (shown once)",
        description=(
            "Scopes: `engine` (required), `engine:secrets` (the sidecar's secrets). `allowed_ips` are addresses "
            "or CIDR networks; empty allows any address. Needs a token whose `auth_time` is within "
            "REAUTH_MAX_AGE (403 reauthentication_required). Audited."
        ),
        request=ServiceTokenCreateSerializer,
        examples=[
            OpenApiExample(
                "An engine worker that may read secrets, from one network, for 90 days",
                value={
                    "name": "engine-1",
                    "scopes": ["engine", "engine:secrets"],
                    "expires_days": 90,
                    "allowed_ips": ["10.0.0.0/24"],
                },
                request_only=True,
            )
        ],
        responses={
            201: ServiceTokenIssuedSerializer,
            400: OpenApiResponse(description="A bad name, scope, expiry or address; `errors` names the field."),
            409: OpenApiResponse(description="A live service token has this name."),
        },
    )
    def post(self, request):
        serializer = ServiceTokenCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        try:
            issued = service_tokens.service_token_create(
                name=data["name"],
                scopes=data["scopes"],
                expires_days=data.get("expires_days"),
                allowed_ips=data.get("allowed_ips", ()),
                created_by=request.user.get_username(),
                request=request,
            )
        except service_tokens.ServiceTokenNameTaken as exc:
            raise Conflict(str(exc), code="service_token_exists") from exc
        except service_tokens.ServiceTokenError as exc:
            raise ValidationError({"non_field_errors": [str(exc)]}) from exc
        issued.row.token = issued.secret
        return Response(ServiceTokenIssuedSerializer(issued.row).data, status=status.HTTP_201_CREATED)


class ServiceTokenDetail(generics.GenericAPIView):
    """Revokes a service token: its next request gets 401."""

    queryset = ServiceToken.objects.all()
    serializer_class = ServiceTokenSerializer

    @extend_schema(
        summary="Revoke a service token",
        responses={204: None, 404: OpenApiResponse(description="No live service token with this id.")},
    )
    def delete(self, request, pk):
        try:
            service_tokens.service_token_revoke(token=self.get_object(), request=request)
        except service_tokens.ServiceTokenNotFound as exc:
            raise NotFound("This service token is already revoked.") from exc
        return Response(status=status.HTTP_204_NO_CONTENT)
