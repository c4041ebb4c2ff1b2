from __future__ import annotations

from typing import Any

import django_filters
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from audit import export
from audit.models import AuditLogEntry, Severity
from audit.selectors import audit_log_list
from audit.services import audit_log_exported
from core.api import TenantScopedApi, filter_parameters
from core.errors import InvalidInput
from core.pagination import CursorPagination


class AuditLogFilter(django_filters.FilterSet):
    actor = django_filters.UUIDFilter(field_name="actor_user_id", help_text="The acting user's id.")
    api_key = django_filters.UUIDFilter(field_name="actor_api_key_id")
    actor_type = django_filters.CharFilter()
    action = django_filters.CharFilter(method="filter_action", help_text="Exact, or a prefix ending in '.*'.")
    target_type = django_filters.CharFilter()
    target_id = django_filters.CharFilter()
    severity = django_filters.ChoiceFilter(choices=Severity.choices)
    created_after = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="gte")
    created_before = django_filters.IsoDateTimeFilter(field_name="created_at", lookup_expr="lt")

    class Meta:
        model = AuditLogEntry
        fields: list[str] = []

    def filter_action(self, queryset: Any, name: str, value: str) -> Any:
        if value.endswith(".*"):
            return queryset.filter(action__startswith=value[:-1])
        return queryset.filter(action=value)


class AuditLogOutput(serializers.ModelSerializer[AuditLogEntry]):
    class Meta:
        model = AuditLogEntry
        fields = [
            "id",
            "created_at",
            "actor_type",
            "actor_user",
            "actor_api_key_id",
            "actor_label",
            "actor_role",
            "action",
            "target_type",
            "target_id",
            "target_label",
            "severity",
            "ip_address",
            "user_agent",
            "request_id",
            "details",
            "chain_seq",
            "prev_hash",
            "hash",
        ]


class AuditLogListApi(TenantScopedApi):
    """The tenant's audit log, newest first, cursor-paginated."""

    permission_map = {"GET": "audit:read"}
    pagination_class = CursorPagination

    @extend_schema(
        responses=AuditLogOutput(many=True),
        parameters=filter_parameters(AuditLogFilter),
        operation_id="audit_logs_list",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        filterset = AuditLogFilter(request.query_params, queryset=audit_log_list(tenant=self.tenant))
        if not filterset.is_valid():
            raise InvalidInput(
                "Some filters are invalid.",
                code="validation_error",
                errors={k: [str(m) for m in v] for k, v in filterset.errors.items()},
            )
        return self.paginated(filterset.qs, AuditLogOutput)


class AuditLogExportApi(TenantScopedApi):
    """The tenant's audit log as JSON Lines (one entry per line, in chain order, with each
    entry's `prev_hash` and `hash`), streamed; the list's filters apply. The export is itself
    recorded (`audit.exported`)."""

    permission_map = {"GET": "audit:read"}
    pagination_class = None

    @extend_schema(
        responses={
            (200, "application/x-ndjson"): OpenApiResponse(OpenApiTypes.STR, description="JSON Lines")
        },
        parameters=filter_parameters(AuditLogFilter),
        operation_id="audit_logs_export",
    )
    def get(self, request: Request, tenant_id: Any) -> StreamingHttpResponse:
        filterset = AuditLogFilter(request.query_params, queryset=audit_log_list(tenant=self.tenant))
        if not filterset.is_valid():
            raise InvalidInput(
                "Some filters are invalid.",
                code="validation_error",
                errors={k: [str(m) for m in v] for k, v in filterset.errors.items()},
            )
        audit_log_exported(tenant=self.tenant, filters=dict(request.query_params.items()))
        lines = export.jsonl_stream(tenant=self.tenant, queryset=filterset.qs)
        response = StreamingHttpResponse(lines, content_type="application/x-ndjson")
        response["Content-Disposition"] = f'attachment; filename="audit-{self.tenant.pk}.jsonl"'
        response["Cache-Control"] = "no-store"
        return response
