"""Low-balance thresholds: each alerts once per crossing."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.request import Request
from rest_framework.response import Response

from billing import selectors, services
from billing.api.common import credit_field
from billing.api.outputs import ThresholdOutput
from core.api import TenantScopedApi
from core.serializers import StrictSerializer


class ThresholdListCreateApi(TenantScopedApi):
    """Low-balance thresholds: each alerts (audit entry billing.low_balance) once per crossing."""

    permission_map = {"GET": "credits:read", "POST": "credits:admin"}
    # A bare array, not a page: an account has at most ten (billing.services.account_settings.MAX_THRESHOLDS).
    pagination_class = None

    class ThresholdCreateInput(StrictSerializer):
        threshold = credit_field(min_value=0)

    @extend_schema(responses=ThresholdOutput(many=True), operation_id="credit_thresholds_list")
    def get(self, request: Request, tenant_id: Any) -> Response:
        return Response(ThresholdOutput(selectors.threshold_list(tenant=self.tenant), many=True).data)

    @extend_schema(
        request=ThresholdCreateInput,
        responses={201: ThresholdOutput},
        operation_id="credit_thresholds_create",
    )
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = self.ThresholdCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        row = services.threshold_create(tenant=self.tenant, actor=self.user, **data.validated_data)
        return Response(ThresholdOutput(row).data, status=status.HTTP_201_CREATED)


class ThresholdDetailApi(TenantScopedApi):
    permission_map = {"DELETE": "credits:admin"}

    @extend_schema(responses={204: None}, operation_id="credit_threshold_delete")
    def delete(self, request: Request, tenant_id: Any, threshold_id: Any) -> Response:
        row = self.get_or_404(selectors.threshold_list(tenant=self.tenant), pk=threshold_id)
        services.threshold_delete(threshold=row, actor=self.user)
        return Response(status=status.HTTP_204_NO_CONTENT)
