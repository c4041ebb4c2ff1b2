"""Interventions over HTTP: list and run them, read one, reverse one."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import TenantScopedApi
from core.serializers import StrictSerializer
from insights import selectors, services
from insights.models import Intervention, InterventionType
from insights.services.interventions import MAX_REASON_CHARS, MAX_TARGETS

PERMISSION = "interventions:admin"


class InterventionOutput(serializers.ModelSerializer[Intervention]):
    operator = serializers.EmailField(source="operator.email", allow_null=True, default=None)
    reversed_by = serializers.EmailField(source="reversed_by.email", allow_null=True, default=None)
    recommendation_id = serializers.UUIDField(allow_null=True)

    class Meta:
        model = Intervention
        fields = [
            "id",
            "type",
            "scope",
            "target_type",
            "target_ids",
            "reason",
            "params",
            "previous_state",
            "new_state",
            "operator",
            "operator_role",
            "recommendation_id",
            "created_at",
            "reversed_at",
            "reversed_by",
            "reversal_reason",
        ]


class InterventionListCreateApi(TenantScopedApi):
    """The tenant's interventions, newest first; run one (on one target, or many: all or none)."""

    permission_map = {"GET": PERMISSION, "POST": PERMISSION}

    class InterventionCreateInput(StrictSerializer):
        type = serializers.ChoiceField(choices=InterventionType.choices)
        target_ids = serializers.ListField(
            child=serializers.UUIDField(),
            required=False,
            max_length=MAX_TARGETS,
            help_text="Omitted for the tenant-wide types (suspend, reactivate, grant credits).",
        )
        reason = serializers.CharField(max_length=MAX_REASON_CHARS)
        params = serializers.DictField(required=False, help_text='grant_credits: {"amount": "100"}.')

    @extend_schema(responses=InterventionOutput(many=True), operation_id="interventions_list")
    def get(self, request: Request, tenant_id: Any) -> Response:
        return self.paginated(selectors.intervention_list(tenant=self.tenant), InterventionOutput)

    @extend_schema(
        request=InterventionCreateInput,
        responses={201: InterventionOutput},
        operation_id="interventions_create",
    )
    def post(self, request: Request, tenant_id: Any) -> Response:
        data = self.InterventionCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        intervention = services.intervention_create(
            tenant=self.tenant, operator=services.Operator.of(self.access), **data.validated_data
        )
        return Response(InterventionOutput(intervention).data, status=status.HTTP_201_CREATED)


class InterventionDetailApi(TenantScopedApi):
    permission_map = {"GET": PERMISSION}

    @extend_schema(responses=InterventionOutput, operation_id="intervention_get")
    def get(self, request: Request, tenant_id: Any, intervention_id: Any) -> Response:
        intervention = self.get_or_404(selectors.intervention_list(tenant=self.tenant), pk=intervention_id)
        return Response(InterventionOutput(intervention).data)


class InterventionReverseApi(TenantScopedApi):
    """Restore the targets' previous state; 409 `target_changed` if one changed since."""

    permission_map = {"POST": PERMISSION}

    class InterventionReverseInput(StrictSerializer):
        reason = serializers.CharField(max_length=MAX_REASON_CHARS)

    @extend_schema(
        request=InterventionReverseInput, responses=InterventionOutput, operation_id="intervention_reverse"
    )
    def post(self, request: Request, tenant_id: Any, intervention_id: Any) -> Response:
        intervention = self.get_or_404(selectors.intervention_list(tenant=self.tenant), pk=intervention_id)
        data = self.InterventionReverseInput(data=request.data)
        data.is_valid(raise_exception=True)
        intervention = services.intervention_reverse(
            intervention=intervention,
            operator=services.Operator.of(self.access),
            reason=data.validated_data["reason"],
        )
        return Response(InterventionOutput(intervention).data)
