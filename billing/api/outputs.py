"""Output serializers: they render the reads, and describe for the OpenAPI schema the bodies the
idempotent writes answer with (built by billing.services.common, byte for byte as these render)."""

from __future__ import annotations

from rest_framework import serializers

from billing.api.common import credit_field
from billing.models import CreditTransaction, LowBalanceThreshold, ModelPrice, Plan, Reservation, Subscription
from billing.services.common import fmt
from core.hygiene import DecimalField
from core.serializers import StrictSerializer


class CreditTransactionOutput(serializers.ModelSerializer[CreditTransaction]):
    amount = credit_field()
    balance_after = credit_field()
    session_id = serializers.UUIDField(source="agent_session_id", allow_null=True)
    refund_of = serializers.UUIDField(source="refund_of_id", allow_null=True)
    reservation_id = serializers.UUIDField(allow_null=True)

    class Meta:
        model = CreditTransaction
        fields = [
            "id",
            "kind",
            "amount",
            "provider_cost_usd",
            "markup_multiplier",
            "model",
            "input_tokens",
            "output_tokens",
            "agent_id",
            "session_id",
            "reservation_id",
            "refund_of",
            "idempotency_key",
            "description",
            "metadata",
            "occurred_at",
            "created_at",
            "balance_after",
        ]


class ReservationOutput(serializers.ModelSerializer[Reservation]):
    session_id = serializers.UUIDField(source="agent_session_id", allow_null=True)

    class Meta:
        model = Reservation
        fields = [
            "id",
            "status",
            "amount",
            "settled_amount",
            "expires_at",
            "model",
            "agent_id",
            "session_id",
            "description",
            "idempotency_key",
            "created_at",
            "closed_at",
        ]


class ReservationSettledOutput(StrictSerializer):
    reservation = ReservationOutput()
    transaction = CreditTransactionOutput()


class PlanOutput(serializers.ModelSerializer[Plan]):
    code = serializers.CharField(help_text="starter, growth or enterprise (the tenant's plan).")

    class Meta:
        model = Plan
        fields = [
            "code",
            "name",
            "description",
            "monthly_price",
            "included_monthly_credits",
            "max_agents",
            "max_members",
            "markup_multiplier",
            "features",
        ]


class SubscriptionOutput(serializers.ModelSerializer[Subscription]):
    plan = PlanOutput()
    agent_slots = serializers.IntegerField()
    markup_multiplier = serializers.SerializerMethodField()

    class Meta:
        model = Subscription
        fields = [
            "id",
            "plan",
            "status",
            "current_period_start",
            "current_period_end",
            "purchased_agent_slots",
            "agent_slots",
            "markup_multiplier_override",
            "markup_multiplier",
            "canceled_at",
        ]

    def get_markup_multiplier(self, obj: Subscription) -> str:
        return fmt(obj.markup_multiplier_override or obj.plan.markup_multiplier) or ""


class ThresholdOutput(serializers.ModelSerializer[LowBalanceThreshold]):
    class Meta:
        model = LowBalanceThreshold
        fields = ["id", "threshold", "below", "last_crossed_at", "alerts_sent", "created_at"]


class CreditSummaryOutput(StrictSerializer):
    balance = credit_field()
    held = credit_field(help_text="Credits held by open reservations.")
    overdraft_limit = credit_field()
    available = credit_field(help_text="What new charges and holds may use: balance - held + overdraft.")
    unlimited = serializers.BooleanField()
    burn_rate_per_day = credit_field(help_text="Usage per day over the last 7 days.")
    runway_days = DecimalField(
        max_digits=20, decimal_places=1, allow_null=True, help_text="Days left at that rate; null: never."
    )
    markup_multiplier = DecimalField(max_digits=8, decimal_places=4)
    subscription = SubscriptionOutput(allow_null=True)
    thresholds = ThresholdOutput(many=True)


class PriceOutput(serializers.ModelSerializer[ModelPrice]):
    class Meta:
        model = ModelPrice
        fields = ["provider", "model", "tier", "input_usd_per_mtok", "output_usd_per_mtok", "effective_from"]
