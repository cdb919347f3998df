"""The engine's door (/api/engine/*, service tokens only) and the admins' view of leases (/api/admin/leases)."""

from django.db.models import Case, Q, Value, When
from django.http import FileResponse, HttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from adbot_admin.api.parsers import JSONParser
from adbot_admin.api.service_token_auth import HasServiceScope, has_secrets_scope
from adbot_admin.file_storage import session_storage
from adbot_admin.models import ServiceTokenScope

from .. import leases
from ..errors import InvalidStatus
from ..models import Lease
from . import lease_serializers as serializers
from .errors import api_error
from .parsers import SessionFileParser
from .views import refusals_as_errors

LEASE_NOT_FOUND = OpenApiResponse(description="No lease with this id held by this service token.")
LEASE_LOST = OpenApiResponse(description="`lease_lost`: the lease was released, broken or has expired.")
FENCE_HEADER = "Lease-Fence"


class FenceRequired(APIException):
    status_code = status.HTTP_428_PRECONDITION_REQUIRED
    default_detail = f"Send the lease's fence in the {FENCE_HEADER} header."
    default_code = "fence_required"


class EngineView(APIView):
    """Open to service tokens of scope `engine` only; every other token gets 403 insufficient_scope."""

    permission_classes = [HasServiceScope]
    service_scope = ServiceTokenScope.ENGINE
    parser_classes = [JSONParser]

    def holder(self):
        return self.request.user.token_id


class LeaseGrantView(EngineView):
    """Leases up to `count` free accounts to the calling engine."""

    @extend_schema(
        summary="Lease free accounts",
        description=(
            "Grants up to `count` (1..50) accounts that no live lease holds, for `ttl` seconds (60..3600), "
            "optionally filtered by `where` (`library`, `api_id`, `dc_id`). With fewer free it grants fewer, "
            "down to an empty list. Each account's `fence` is one more than its last lease's. Audited."
        ),
        request=serializers.LeaseGrantSerializer,
        examples=[
            OpenApiExample(
                "Two Telethon accounts for ten minutes",
                value={"count": 2, "ttl": 600, "where": {"library": "telethon"}},
                request_only=True,
            )
        ],
        responses={201: serializers.LeaseGrantResultSerializer},
    )
    def post(self, request):
        body = serializers.LeaseGrantSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        granted = leases.leases_grant(
            token_id=self.holder(),
            holder=request.user.get_username(),
            count=data["count"],
            ttl=data["ttl"],
            where=data.get("where"),
            request=request,
        )
        return Response(
            serializers.LeaseGrantResultSerializer({"leases": granted}).data, status=status.HTTP_201_CREATED
        )


class LeaseRenewView(EngineView):
    """Extends a live lease."""

    @extend_schema(
        summary="Renew a lease",
        request=serializers.LeaseRenewSerializer,
        examples=[OpenApiExample("Ten more minutes", value={"ttl": 600}, request_only=True)],
        responses={200: serializers.LeaseRenewedSerializer, 404: LEASE_NOT_FOUND, 409: LEASE_LOST},
    )
    def post(self, request, lease_id):
        body = serializers.LeaseRenewSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with refusals_as_errors():
            lease = leases.lease_renew(lease_id=int(lease_id), token_id=self.holder(), ttl=body.validated_data["ttl"])
        return Response(serializers.LeaseRenewedSerializer(lease).data)


class LeaseReleaseView(EngineView):
    """Ends a live lease and frees its account."""

    @extend_schema(
        summary="Release a lease",
        request=serializers.LeaseReleaseSerializer,
        examples=[
            OpenApiExample(
                "Released, spam-limited for a day",
                value={"status": "limited", "reason": "PEER_FLOOD", "until": "2026-12-07T12:00:00Z"},
                request_only=True,
            )
        ],
        responses={204: None, 404: LEASE_NOT_FOUND, 409: LEASE_LOST},
    )
    def post(self, request, lease_id):
        body = serializers.LeaseReleaseSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        with refusals_as_errors():
            try:
                leases.lease_release(
                    lease_id=int(lease_id),
                    token_id=self.holder(),
                    status=data.get("status"),
                    reason=data["reason"],
                    until=data["until"],
                    request=request,
                )
            except InvalidStatus as exc:
                raise api_error(exc, field=exc.field) from exc
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeaseFileView(EngineView):
    """The leased account's session file: download it, or replace it with a fenced write."""

    def get_parsers(self):
        if getattr(self, "request", None) is not None and self.request.method == "PUT":
            return [SessionFileParser()]
        return super().get_parsers()

    @extend_schema(
        summary="Download the leased session file",
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            404: LEASE_NOT_FOUND,
            409: LEASE_LOST,
        },
    )
    def get(self, request, lease_id):
        with refusals_as_errors():
            lease = leases.lease_live_for_holder(lease_id=int(lease_id), token_id=self.holder())
        name = lease.session.filename
        handle = session_storage().open(name, "rb")
        return FileResponse(handle, as_attachment=True, filename=name, content_type="application/octet-stream")

    @extend_schema(
        summary="Replace the leased session file (fenced)",
        description=(
            f"Multipart field `file`, header `{FENCE_HEADER}: N`. The upload is inspected like any other and "
            "must hold the same auth key; it replaces the file atomically. 409 `stale_fence` and nothing "
            "written when N is not the account's current fence or the lease is not live. Audited."
        ),
        parameters=[
            OpenApiParameter(FENCE_HEADER, int, OpenApiParameter.HEADER, required=True, description="The fence.")
        ],
        request={"multipart/form-data": serializers.LeaseFileSerializer},
        examples=[
            OpenApiExample(
                "The session file after use",
                value={"file": "alpha.session"},
                request_only=True,
                media_type="multipart/form-data",
            )
        ],
        responses={
            204: None,
            400: OpenApiResponse(description="Not an accepted session file, or another account's auth key."),
            404: LEASE_NOT_FOUND,
            409: OpenApiResponse(description="`stale_fence`: nothing was written."),
            428: OpenApiResponse(description=f"`fence_required`: no {FENCE_HEADER} header."),
        },
    )
    def put(self, request, lease_id):
        raw = request.headers.get(FENCE_HEADER)
        if raw is None:
            raise FenceRequired()
        if not (raw.isascii() and raw.isdigit() and len(raw) <= 19):
            raise ValidationError({FENCE_HEADER: ["A whole number."]})
        body = serializers.LeaseFileSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        with refusals_as_errors("file"):
            leases.lease_file_write(
                lease_id=int(lease_id),
                token_id=self.holder(),
                fence=int(raw),
                upload=body.validated_data["file"],
                request=request,
            )
        return Response(status=status.HTTP_204_NO_CONTENT)


class LeaseSidecarView(EngineView):
    """The leased account's sidecar: device, app, account and proxy; its secrets need `engine:secrets`."""

    @extend_schema(
        summary="Download the leased account's sidecar",
        description=(
            "The canonical `<name>.json` (docs/sidecar.md). The 2FA password, the proxy's credentials and the "
            "app_hash come only to a token with the scope `engine:secrets` (audited); otherwise the proxy says "
            "`has_credentials`."
        ),
        responses={(200, "application/json"): OpenApiTypes.OBJECT, 404: LEASE_NOT_FOUND, 409: LEASE_LOST},
    )
    def get(self, request, lease_id):
        with refusals_as_errors():
            body = leases.lease_sidecar(
                lease_id=int(lease_id),
                token_id=self.holder(),
                include_secrets=has_secrets_scope(request),
                request=request,
            )
        return HttpResponse(body, content_type="application/json")


class AdminLeaseList(generics.ListAPIView):
    """Lists leases, newest first; `?live=true` only those holding an account now."""

    serializer_class = serializers.AdminLeaseSerializer

    def get_queryset(self):
        queryset = Lease.objects.select_related("session").annotate(
            live=Case(
                When(Q(ended_at__isnull=True, expires_at__gt=timezone.now()), then=Value(True)), default=Value(False)
            )
        )
        live = self.request.query_params.get("live")
        if live is not None:
            if live not in ("true", "false"):
                raise ValidationError({"live": ["true or false."]})
            queryset = queryset.filter(live=live == "true")
        return queryset

    @extend_schema(
        summary="List engines' leases",
        parameters=[OpenApiParameter("live", OpenApiTypes.BOOL, OpenApiParameter.QUERY)],
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)


class AdminLeaseDetail(generics.GenericAPIView):
    """Breaks a live lease: its account is free at once, and its holder's writes are refused."""

    queryset = Lease.objects.all()
    serializer_class = serializers.AdminLeaseSerializer

    @extend_schema(
        summary="Break a lease",
        responses={204: None, 404: OpenApiResponse(description="No such lease."), 409: LEASE_LOST},
    )
    def delete(self, request, pk):
        with refusals_as_errors():
            leases.lease_break(lease=self.get_object(), request=request)
        return Response(status=status.HTTP_204_NO_CONTENT)
