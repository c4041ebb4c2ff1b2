"""Alerts over HTTP: a tenant's alerts (list with filters, acknowledge, resolve) and, for platform
staff, every alert including the platform's own."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from alerts import selectors, services
from alerts.models import Alert, AlertStatus, Severity
from core.api import PLATFORM_STAFF, PlatformApi, TenantScopedApi
from core.errors import NotFound
from core.serializers import StrictSerializer
from core.tenancy import platform_bypass


class AlertOutput(serializers.ModelSerializer[Alert]):
    status = serializers.ChoiceField(choices=AlertStatus.choices, read_only=True)
    tenant_id = serializers.UUIDField(allow_null=True, read_only=True)
    acknowledged_by = serializers.EmailField(source="acknowledged_by.email", allow_null=True, default=None)
    resolved_by = serializers.EmailField(source="resolved_by.email", allow_null=True, default=None)

    class Meta:
        model = Alert
        fields = [
            "id",
            "tenant_id",
            "severity",
            "source",
            "title",
            "message",
            "status",
            "dedupe_key",
            "created_at",
            "acknowledged_by",
            "acknowledged_at",
            "resolved_by",
            "resolved_at",
        ]


class AlertFilterInput(StrictSerializer):
    status = serializers.ChoiceField(choices=AlertStatus.choices, required=False)
    severity = serializers.ChoiceField(choices=Severity.choices, required=False)
    # A declared field named like Field.source: DRF's metaclass takes it out of the class.
    source = serializers.RegexField(r"^[A-Za-z0-9_.:-]{1,64}$", required=False)  # type: ignore[assignment]


class PlatformAlertFilterInput(AlertFilterInput):
    tenant = serializers.UUIDField(required=False, help_text="Only this tenant's alerts.")
    platform_only = serializers.BooleanField(required=False, help_text="Only platform alerts (no tenant).")


PAGING = ("page", "page_size")


def _filters(request: Request, serializer_class: type[StrictSerializer]) -> dict[str, Any]:
    raw = {k: v for k, v in request.query_params.items() if k not in PAGING}
    data = serializer_class(data=raw)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


def _parameters(serializer_class: type[StrictSerializer]) -> list[OpenApiParameter]:
    return [OpenApiParameter(name, str, OpenApiParameter.QUERY) for name in serializer_class().get_fields()]


class AlertListApi(TenantScopedApi):
    """The tenant's alerts, newest first; filter by status, severity, source."""

    permission_map = {"GET": "alerts:read"}

    @extend_schema(
        responses=AlertOutput(many=True), parameters=_parameters(AlertFilterInput), operation_id="alerts_list"
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        filters = _filters(request, AlertFilterInput)
        return self.paginated(selectors.alert_list(tenant=self.tenant, filters=filters), AlertOutput)


class AlertResolveInput(StrictSerializer):
    reason = serializers.CharField(max_length=500, required=False, allow_blank=True)


class _AlertMixin:
    tenant: Any

    def _alert(self, alert_id: Any) -> Alert:
        alert = selectors.alert_get(tenant=self.tenant, alert_id=alert_id)
        if alert is None:
            raise NotFound()
        return alert


class AlertAcknowledgeApi(_AlertMixin, TenantScopedApi):
    """Acknowledge an alert: someone is on it (again: no change; a resolved one: 409)."""

    permission_map = {"POST": "alerts:write"}

    @extend_schema(request=None, responses=AlertOutput, operation_id="alert_acknowledge")
    def post(self, request: Request, tenant_id: Any, alert_id: Any) -> Response:
        StrictSerializer(data=request.data or {}).is_valid(raise_exception=True)
        alert = services.alert_acknowledge(alert=self._alert(alert_id), actor=self.user)
        return Response(AlertOutput(alert).data)


class AlertResolveApi(_AlertMixin, TenantScopedApi):
    """Resolve an alert (again: no change)."""

    permission_map = {"POST": "alerts:write"}

    @extend_schema(request=AlertResolveInput, responses=AlertOutput, operation_id="alert_resolve")
    def post(self, request: Request, tenant_id: Any, alert_id: Any) -> Response:
        data = AlertResolveInput(data=request.data or {})
        data.is_valid(raise_exception=True)
        alert = services.alert_resolve(
            alert=self._alert(alert_id), actor=self.user, reason=data.validated_data.get("reason", "")
        )
        return Response(AlertOutput(alert).data)


class PlatformAlertListApi(PlatformApi):
    """Every alert, the platform's own (no tenant) included, newest first: platform staff."""

    permission_map = {"GET": PLATFORM_STAFF}

    @extend_schema(
        responses=AlertOutput(many=True),
        parameters=_parameters(PlatformAlertFilterInput),
        operation_id="platform_alerts_list",
    )
    def get(self, request: Request) -> Response:
        filters = _filters(request, PlatformAlertFilterInput)
        with platform_bypass(reason="platform alerts", actor=self.user, log=False):
            return self.paginated(selectors.platform_alert_list(filters=filters), AlertOutput)
