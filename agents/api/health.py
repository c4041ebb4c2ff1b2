"""Container health over HTTP: runtimes report (an API key with agents:write), members read the
latest report of each container and the hourly aggregates."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from agents import health_selectors
from agents.errors import invalid
from agents.models import CONTAINER_ID, ContainerHealth, ContainerHealthHourly, HealthStatus
from agents.services.health import health_report
from core.api import TenantScopedApi
from core.hygiene import DecimalField
from core.serializers import StrictSerializer


class HealthOutput(serializers.ModelSerializer[ContainerHealth]):
    agent_id = serializers.UUIDField(allow_null=True, read_only=True)

    class Meta:
        model = ContainerHealth
        fields = [
            "id",
            "agent_id",
            "container_id",
            "status",
            "cpu_percent",
            "memory_mb",
            "restarts",
            "reported_at",
        ]


class HealthHourlyOutput(serializers.ModelSerializer[ContainerHealthHourly]):
    agent_id = serializers.UUIDField(allow_null=True, read_only=True)

    class Meta:
        model = ContainerHealthHourly
        fields = [
            "agent_id",
            "container_id",
            "hour",
            "reports",
            "worst_status",
            "avg_cpu_percent",
            "max_cpu_percent",
            "avg_memory_mb",
            "max_memory_mb",
            "restarts_max",
        ]


class HealthReportInput(StrictSerializer):
    container_id = serializers.RegexField(CONTAINER_ID, help_text="The container's stable id.")
    status = serializers.ChoiceField(choices=HealthStatus.choices)
    agent_id = serializers.UUIDField(required=False, allow_null=True)
    cpu_percent = DecimalField(
        max_digits=6, decimal_places=2, min_value=Decimal(0), max_value=Decimal(10000), default=Decimal(0)
    )
    memory_mb = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)
    restarts = serializers.IntegerField(min_value=0, max_value=2**31 - 1, default=0)
    reported_at = serializers.DateTimeField(required=False, help_text="Default: now.")


class HealthFilterInput(StrictSerializer):
    agent = serializers.UUIDField(required=False)
    container_id = serializers.RegexField(CONTAINER_ID, required=False)
    since = serializers.DateTimeField(required=False)


def _filters(request: Request) -> dict[str, Any]:
    raw = {k: v for k, v in request.query_params.items() if k not in ("page", "page_size")}
    data = HealthFilterInput(data=raw)
    data.is_valid(raise_exception=True)
    return dict(data.validated_data)


_PARAMETERS = [
    OpenApiParameter(name, str, OpenApiParameter.QUERY) for name in ("agent", "container_id", "since")
]


class HealthApi(TenantScopedApi):
    """GET: each container's latest report. POST: a runtime reports a container's health (an
    unhealthy report raises an alert, one per container while unresolved; healthy resolves it)."""

    permission_map = {"GET": "agents:read", "POST": "agents:write"}

    @extend_schema(responses=HealthOutput(many=True), parameters=_PARAMETERS, operation_id="health_latest")
    def get(self, request: Request, tenant_id: Any) -> Response:
        filters = _filters(request)
        rows = health_selectors.health_latest(tenant=self.tenant, agent_id=filters.get("agent"))
        return self.paginated(rows, HealthOutput)

    @extend_schema(request=HealthReportInput, responses={201: HealthOutput}, operation_id="health_report")
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = HealthReportInput(data=request.data)
        data.is_valid(raise_exception=True)
        values = dict(data.validated_data)
        agent_id = values.pop("agent_id", None)
        agent = None
        if agent_id:
            agent = health_selectors.health_agent(tenant=self.tenant, agent_id=agent_id)
            if agent is None:
                raise invalid("agent_id", "No such agent.")
        row = health_report(tenant=self.tenant, agent=agent, actor=self.user, **values)
        return Response(HealthOutput(row).data, status=status.HTTP_201_CREATED)


class HealthHourlyApi(TenantScopedApi):
    """The hourly aggregates (30 days), newest hour first."""

    permission_map = {"GET": "agents:read"}

    @extend_schema(
        responses=HealthHourlyOutput(many=True), parameters=_PARAMETERS, operation_id="health_hourly"
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        filters = _filters(request)
        rows = health_selectors.health_hourly_list(
            tenant=self.tenant,
            container_id=filters.get("container_id"),
            agent_id=filters.get("agent"),
            since=filters.get("since"),
        )
        return self.paginated(rows, HealthHourlyOutput)
