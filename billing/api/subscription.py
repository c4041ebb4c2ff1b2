"""The tenant's subscription: plan, period, agent slots, markup."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response

from billing import selectors, services
from billing.api.outputs import SubscriptionOutput
from billing.models import Subscription, SubscriptionStatus
from core.api import PLATFORM_STAFF, TenantScopedApi
from core.errors import NotFound
from core.hygiene import DecimalField
from core.serializers import StrictSerializer


class SubscriptionApi(TenantScopedApi):
    """The tenant's plan and period; platform staff change plan, status, slots and markup."""

    permission_map = {"GET": "credits:read", "PATCH": PLATFORM_STAFF}

    class SubscriptionUpdateInput(StrictSerializer):
        plan = serializers.SlugField(required=False)
        status = serializers.ChoiceField(choices=SubscriptionStatus.choices, required=False)
        purchased_agent_slots = serializers.IntegerField(required=False, min_value=0, max_value=100_000)
        markup_multiplier_override = DecimalField(
            max_digits=8,
            decimal_places=4,
            required=False,
            allow_null=True,
            min_value=Decimal("0.1"),
            max_value=Decimal(100),
        )

    def _get(self) -> Subscription:
        found = selectors.subscription_get(tenant=self.tenant)
        if found is None:
            raise NotFound("This tenant has no subscription.")
        return found

    @extend_schema(responses=SubscriptionOutput, operation_id="subscription_get")
    def get(self, request: Request, tenant_id: Any) -> Response:
        return Response(SubscriptionOutput(self._get()).data)

    @extend_schema(
        request=SubscriptionUpdateInput, responses=SubscriptionOutput, operation_id="subscription_update"
    )
    def patch(self, request: Request, tenant_id: Any) -> Response:
        data = self.SubscriptionUpdateInput(data=request.data)
        data.is_valid(raise_exception=True)
        services.subscription_update(tenant=self.tenant, actor=self.user, data=dict(data.validated_data))
        return Response(SubscriptionOutput(self._get()).data)
