"""Recommendations over HTTP: list (status filter, paginated), read one, accept (runs the suggested
intervention), dismiss (a reason required). Under interventions:admin, as the interventions."""

from __future__ import annotations

from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from core.api import TenantScopedApi
from core.serializers import StrictSerializer
from insights import selectors, services
from insights.api.interventions import InterventionOutput
from insights.models import Recommendation, RecommendationStatus
from insights.services.interventions import MAX_REASON_CHARS

PERMISSION = "interventions:admin"


class RecommendationOutput(serializers.ModelSerializer[Recommendation]):
    decided_by = serializers.EmailField(source="decided_by.email", allow_null=True, default=None)

    class Meta:
        model = Recommendation
        fields = [
            "id",
            "rule",
            "target_type",
            "target_id",
            "target_label",
            "suggested_action",
            "params",
            "reason",
            "confidence",
            "status",
            "created_at",
            "decided_by",
            "decided_at",
            "decision_reason",
        ]


class RecommendationAcceptOutput(serializers.Serializer):
    recommendation = RecommendationOutput()
    intervention = InterventionOutput()


class RecommendationListApi(TenantScopedApi):
    """The tenant's recommendations, newest first; `status` filters (open, accepted, ...).
    Recorded in the audit log (recommendations.viewed)."""

    permission_map = {"GET": PERMISSION}

    class RecommendationFilter(StrictSerializer):
        status = serializers.ChoiceField(choices=RecommendationStatus.choices, required=False)

    @extend_schema(
        responses=RecommendationOutput(many=True),
        parameters=[
            OpenApiParameter("status", str, enum=RecommendationStatus.values, description="Only this status.")
        ],
        operation_id="recommendations_list",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        raw = {k: request.query_params[k] for k in ("status",) if k in request.query_params}
        data = self.RecommendationFilter(data=raw)
        data.is_valid(raise_exception=True)
        status = data.validated_data.get("status")
        qs = selectors.recommendation_list(tenant=self.tenant, status=status)
        response = self.paginated(qs, RecommendationOutput)
        services.recommendations_view_record(tenant=self.tenant, actor=self.user, status=status or "")
        return response


class RecommendationDetailApi(TenantScopedApi):
    """One recommendation. Recorded in the audit log (recommendation.viewed)."""

    permission_map = {"GET": PERMISSION}

    @extend_schema(responses=RecommendationOutput, operation_id="recommendation_get")
    def get(self, request: Request, tenant_id: Any, recommendation_id: Any) -> Response:
        rec = self.get_or_404(selectors.recommendation_list(tenant=self.tenant), pk=recommendation_id)
        services.recommendations_view_record(tenant=self.tenant, actor=self.user, recommendation=rec)
        return Response(RecommendationOutput(rec).data)


class RecommendationAcceptApi(TenantScopedApi):
    """Run the suggested intervention (linked to the recommendation) and mark it accepted. 409
    `target_changed` if the rule no longer holds for the target, `not_open` if already decided;
    grant_credits is platform staff's (403 otherwise)."""

    permission_map = {"POST": PERMISSION}

    class RecommendationAcceptInput(StrictSerializer):
        reason = serializers.CharField(
            max_length=MAX_REASON_CHARS,
            required=False,
            help_text="The intervention's reason; the recommendation's when omitted.",
        )

    @extend_schema(
        request=RecommendationAcceptInput,
        responses=RecommendationAcceptOutput,
        operation_id="recommendation_accept",
    )
    def post(self, request: Request, tenant_id: Any, recommendation_id: Any) -> Response:
        rec = self.get_or_404(selectors.recommendation_list(tenant=self.tenant), pk=recommendation_id)
        data = self.RecommendationAcceptInput(data=request.data)
        data.is_valid(raise_exception=True)
        rec, intervention = services.recommendation_accept(
            recommendation=rec,
            operator=services.Operator.of(self.access),
            reason=data.validated_data.get("reason", ""),
        )
        return Response(
            {
                "recommendation": RecommendationOutput(rec).data,
                "intervention": InterventionOutput(intervention).data,
            }
        )


class RecommendationDismissApi(TenantScopedApi):
    """Close the recommendation without acting; the reason is required."""

    permission_map = {"POST": PERMISSION}

    class RecommendationDismissInput(StrictSerializer):
        reason = serializers.CharField(max_length=MAX_REASON_CHARS)

    @extend_schema(
        request=RecommendationDismissInput,
        responses=RecommendationOutput,
        operation_id="recommendation_dismiss",
    )
    def post(self, request: Request, tenant_id: Any, recommendation_id: Any) -> Response:
        rec = self.get_or_404(selectors.recommendation_list(tenant=self.tenant), pk=recommendation_id)
        data = self.RecommendationDismissInput(data=request.data)
        data.is_valid(raise_exception=True)
        rec = services.recommendation_dismiss(
            recommendation=rec,
            operator=services.Operator.of(self.access),
            reason=data.validated_data["reason"],
        )
        return Response(RecommendationOutput(rec).data)
