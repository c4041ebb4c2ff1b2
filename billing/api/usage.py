"""Usage charges: one event, or a batch of up to 1,000, each answered as if sent alone."""

from __future__ import annotations

from typing import Any

from django.http import HttpResponse
from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request

from billing import services
from billing.api.common import ERRORS, IDEMPOTENCY_HEADER, body_of, idempotency_key_of, respond
from billing.api.outputs import CreditTransactionOutput
from billing.errors import invalid
from core.api import TenantScopedApi
from core.hygiene import PartwiseJSONParser
from core.serializers import StrictSerializer


class UsageInput(StrictSerializer):
    """A usage report (for the schema; parsed by billing.services.usage_event, as batch events)."""

    model = serializers.CharField(
        max_length=100, help_text="A model with a price in force, e.g. claude-sonnet-4-5."
    )
    input_tokens = serializers.IntegerField(min_value=0)
    output_tokens = serializers.IntegerField(min_value=0)
    agent_id = serializers.UUIDField(required=False, allow_null=True)
    session_id = serializers.UUIDField(required=False, allow_null=True)
    occurred_at = serializers.DateTimeField(
        required=False, help_text="When the usage happened (default now); the price in force then applies."
    )
    description = serializers.CharField(required=False, allow_blank=True, max_length=1000)
    metadata = serializers.JSONField(required=False)


class UsageChargeApi(TenantScopedApi):
    """Charge one usage event (agent runtimes, with an API key). Needs an Idempotency-Key."""

    permission_map = {"POST": "credits:write"}

    class UsageChargeInput(UsageInput):
        idempotency_key = serializers.CharField(required=False, max_length=255)

    @extend_schema(
        request=UsageChargeInput,
        parameters=[IDEMPOTENCY_HEADER],
        responses={201: CreditTransactionOutput, **ERRORS},
        operation_id="usage_charge",
    )
    def post(self, request: Request, tenant_id: Any) -> HttpResponse:
        # Parsed by the service's own checks, not a DRF serializer: the same checks answer batch
        # events, and this is the hottest endpoint there is.
        data = body_of(request)
        key = idempotency_key_of(request, data)
        event = services.usage_event(**{k: data.get(k) for k in _USAGE_FIELDS if k in data})
        return respond(services.credits_charge(tenant=self.tenant, event=event, idempotency_key=key))


_USAGE_FIELDS = (
    "model",
    "input_tokens",
    "output_tokens",
    "agent_id",
    "session_id",
    "occurred_at",
    "description",
    "metadata",
)


class UsageBatchApi(TenantScopedApi):
    """Charge up to 1,000 usage events in one request; each gets its own result."""

    permission_map = {"POST": "credits:write"}
    # Each event's text is checked on its own (billing.services.usage_event), so that one bad
    # event gets its own 400 while the others are charged.
    parser_classes = [PartwiseJSONParser]

    class UsageEventInput(UsageInput):
        idempotency_key = serializers.CharField(max_length=255)

    class UsageBatchInput(StrictSerializer):
        events = serializers.ListField(child=serializers.DictField(), max_length=services.MAX_BATCH_EVENTS)

    @extend_schema(
        request=inline_serializer(
            "UsageBatchRequest", {"events": serializers.ListField(child=UsageEventInput(), max_length=1000)}
        ),
        responses={
            200: inline_serializer(
                "UsageBatchOutput",
                {
                    "results": inline_serializer(
                        "UsageBatchResultOutput",
                        {
                            "index": serializers.IntegerField(),
                            "idempotency_key": serializers.CharField(),
                            "status": serializers.IntegerField(
                                help_text="201, 400, 402 or 409, as a single charge."
                            ),
                            "replayed": serializers.BooleanField(),
                            "body": serializers.JSONField(
                                help_text="The entry, or the error, as a single charge."
                            ),
                        },
                        many=True,
                    ),
                    "summary": inline_serializer(
                        "UsageBatchSummaryOutput",
                        {
                            "charged": serializers.IntegerField(),
                            "replayed": serializers.IntegerField(),
                            "refused": serializers.IntegerField(),
                        },
                    ),
                },
            ),
            400: OpenApiResponse(description="Not a list of at most 1,000 events, or a key twice."),
        },
        operation_id="usage_charge_batch",
    )
    def post(self, request: Request, tenant_id: Any) -> HttpResponse:
        events = body_of(request).get("events")
        if not isinstance(events, list) or not events:
            raise invalid("events", "A non-empty list of events is required.")
        if len(events) > services.MAX_BATCH_EVENTS:
            raise invalid("events", f"At most {services.MAX_BATCH_EVENTS} events per batch.")
        now = timezone.now()
        items = [services.batch_item(raw, now=now) for raw in events]
        outcome = services.credits_charge_batch(tenant=self.tenant, items=items)
        return HttpResponse(outcome.body([item.key for item in items]), content_type="application/json")
