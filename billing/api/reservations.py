"""Reservations: holds on credits for runs that must not overshoot; settle, release."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing import selectors, services
from billing.api.common import ERRORS, IDEMPOTENCY_HEADER, body_of, credit_field, idempotency_key_of, respond
from billing.api.outputs import ReservationOutput, ReservationSettledOutput
from billing.errors import invalid
from billing.models import ReservationStatus
from core.api import TenantScopedApi
from core.pagination import CursorPagination
from core.serializers import StrictSerializer


class ReservationListCreateApi(TenantScopedApi):
    """Holds on credits for runs that must not overshoot; a hold needs an Idempotency-Key."""

    permission_map = {"GET": "credits:read", "POST": "credits:write"}
    pagination_class = CursorPagination

    class ReservationCreateInput(StrictSerializer):
        amount = credit_field(required=False, help_text="Credits to hold; or:")
        model = serializers.CharField(required=False, help_text="...a model, priced for the maximum tokens.")
        input_tokens = serializers.IntegerField(required=False, min_value=0)
        output_tokens = serializers.IntegerField(required=False, min_value=0)
        ttl_seconds = serializers.IntegerField(
            required=False, min_value=1, help_text="Default from settings."
        )
        agent_id = serializers.UUIDField(required=False, allow_null=True)
        session_id = serializers.UUIDField(required=False, allow_null=True)
        description = serializers.CharField(required=False, allow_blank=True, max_length=1000)
        idempotency_key = serializers.CharField(required=False, max_length=255)

    @extend_schema(
        responses=ReservationOutput(many=True),
        parameters=[OpenApiParameter("status", str, OpenApiParameter.QUERY, enum=ReservationStatus.values)],
        operation_id="reservations_list",
    )
    def get(self, request: Request, tenant_id: Any) -> Response:
        qs = selectors.reservation_list(tenant=self.tenant)
        wanted = request.query_params.get("status")
        if wanted:
            if wanted not in ReservationStatus.values:
                raise invalid("status", f"One of {', '.join(ReservationStatus.values)}.")
            qs = qs.filter(status=wanted)
        return self.paginated(qs, ReservationOutput)

    @extend_schema(
        request=ReservationCreateInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: ReservationOutput, **ERRORS},
        operation_id="reservations_create",
    )
    def post(self, request: Request, tenant_id: Any) -> HttpResponse:
        data = self.ReservationCreateInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields.pop("idempotency_key", None)
        result = services.reservation_hold(
            tenant=self.tenant, idempotency_key=idempotency_key_of(request, body_of(request)), **fields
        )
        return respond(result)


class ReservationDetailApi(TenantScopedApi):
    permission_map = {"GET": "credits:read"}

    @extend_schema(responses=ReservationOutput, operation_id="reservation_get")
    def get(self, request: Request, tenant_id: Any, reservation_id: Any) -> Response:
        hold = self.get_or_404(selectors.reservation_list(tenant=self.tenant), pk=reservation_id)
        return Response(ReservationOutput(hold).data)


class ReservationSettleApi(TenantScopedApi):
    """Charge a hold's actual usage and free the rest."""

    permission_map = {"POST": "credits:write"}

    class ReservationSettleInput(StrictSerializer):
        model = serializers.CharField(
            required=False, allow_blank=True, help_text="Default: the hold's model."
        )
        input_tokens = serializers.IntegerField(min_value=0)
        output_tokens = serializers.IntegerField(min_value=0)
        description = serializers.CharField(required=False, allow_blank=True, max_length=1000)
        metadata = serializers.JSONField(required=False)
        idempotency_key = serializers.CharField(required=False, max_length=255)

    @extend_schema(
        request=ReservationSettleInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            200: ReservationSettledOutput,
            404: OpenApiResponse(description="No such reservation."),
            **ERRORS,
        },
        operation_id="reservation_settle",
    )
    def post(self, request: Request, tenant_id: Any, reservation_id: Any) -> HttpResponse:
        data = self.ReservationSettleInput(data=request.data)
        data.is_valid(raise_exception=True)
        fields = dict(data.validated_data)
        fields.pop("idempotency_key", None)
        result = services.reservation_settle(
            tenant=self.tenant,
            reservation_id=reservation_id,
            idempotency_key=idempotency_key_of(request, body_of(request)),
            **fields,
        )
        return respond(result)


class ReservationReleaseApi(TenantScopedApi):
    """Free a hold without charging."""

    permission_map = {"POST": "credits:write"}

    @extend_schema(
        request=None,
        parameters=[IDEMPOTENCY_HEADER],
        responses={
            200: ReservationOutput,
            404: OpenApiResponse(description="No such reservation."),
            **ERRORS,
        },
        operation_id="reservation_release",
    )
    def post(self, request: Request, tenant_id: Any, reservation_id: Any) -> HttpResponse:
        data = request.data if isinstance(request.data, dict) else {}
        result = services.reservation_release(
            tenant=self.tenant,
            reservation_id=reservation_id,
            idempotency_key=idempotency_key_of(request, data),
        )
        return respond(result)
