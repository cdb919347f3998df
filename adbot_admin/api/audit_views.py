"""The audit log's streamed export."""

from django.http import StreamingHttpResponse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics
from rest_framework.exceptions import ValidationError
from rest_framework.renderers import JSONRenderer

from ..audit_export import FORMATS, audit_export
from ..models import AuditEvent
from .filters import AuditEventFilter

FILTERS = ("since", "until", "actor", "action", "outcome", "auth_method")


class AuditEventExport(generics.GenericAPIView):
    """Streams the audit log with its chain fields, oldest first, as JSON lines or CSV; the export is audited."""

    queryset = AuditEvent.objects.all()
    filterset_class = AuditEventFilter
    pagination_class = None

    def perform_content_negotiation(self, request, force=False):
        # `format` names the export, not a DRF renderer: errors are JSON whatever it says.
        return JSONRenderer(), JSONRenderer.media_type

    @extend_schema(
        summary="Export the audit log with its chain fields (JSON lines or CSV)",
        operation_id="audit_export",
        parameters=[
            OpenApiParameter("format", str, enum=list(FORMATS), required=True, description="jsonl or csv"),
        ],
        responses={
            (200, "application/jsonl"): OpenApiResponse(OpenApiTypes.STR, description="One JSON object a line."),
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="A header row, then one row a line."),
        },
    )
    def get(self, request):
        export_format = request.query_params.get("format", "")
        if export_format not in FORMATS:
            raise ValidationError({"format": ["Use jsonl or csv."]}, code="invalid")
        queryset = self.filter_queryset(self.get_queryset())
        filters = {name: request.query_params[name][:255] for name in FILTERS if request.query_params.get(name)}
        body = audit_export(request=request, queryset=queryset, export_format=export_format, filters=filters)
        response = StreamingHttpResponse(body, content_type=FORMATS[export_format])
        name = f"audit-{timezone.now():%Y%m%dT%H%M%SZ}.{export_format}"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        response["Cache-Control"] = "no-store"
        return response
