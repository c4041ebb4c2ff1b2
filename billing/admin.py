"""The back office for billing: plans, prices, accounts, the ledger, holds, subscriptions.

The ledger is insert-only in the database, and so in the admin: nothing here edits or deletes
an entry. Money moves only through the services (the API's staff transactions, audited).
New model prices are added here, through a service, as new rows; rows are never edited, since
past charges were computed from them. Requests run under the platform bypass (core.admin_bypass).
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.http import HttpRequest
from unfold.decorators import display

from accounts.models import User
from billing import services
from billing.models import CreditAccount, CreditTransaction, ModelPrice, Plan, Reservation, Subscription
from core.admin_bypass import PlatformStaffAdminMixin, ReadOnlyAdmin


@admin.register(Plan)
class PlanAdmin(ReadOnlyAdmin):
    list_display = [
        "code",
        "name",
        "monthly_price",
        "included_monthly_credits",
        "max_agents",
        "markup_multiplier",
    ]
    ordering = ["monthly_price"]


@admin.register(ModelPrice)
class ModelPriceAdmin(ReadOnlyAdmin):
    list_display = [
        "model",
        "tier",
        "provider",
        "input_usd_per_mtok",
        "output_usd_per_mtok",
        "effective_from",
    ]
    list_filter = ["tier", "provider"]
    search_fields = ["model"]
    ordering = ["model", "-effective_from"]
    fields = ["provider", "model", "tier", "input_usd_per_mtok", "output_usd_per_mtok", "effective_from"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return PlatformStaffAdminMixin.has_add_permission(self, request)

    def save_model(self, request: HttpRequest, obj: ModelPrice, form: Any, change: bool) -> None:
        services.model_price_add(
            actor=cast(User, request.user),  # the admin site lets only signed-in platform staff in
            provider=obj.provider,
            model=obj.model,
            tier=obj.tier,
            input_usd_per_mtok=obj.input_usd_per_mtok,
            output_usd_per_mtok=obj.output_usd_per_mtok,
            effective_from=obj.effective_from,
        )


@admin.register(CreditAccount)
class CreditAccountAdmin(ReadOnlyAdmin):
    list_display = [
        "tenant",
        "balance",
        "held",
        "available_display",
        "overdraft_limit",
        "unlimited",
        "updated_at",
    ]
    list_select_related = ["tenant"]
    list_filter = ["unlimited"]
    search_fields = ["tenant__name", "tenant__slug"]
    ordering = ["tenant__name"]

    @display(description="Available")
    def available_display(self, obj: CreditAccount) -> Any:
        return obj.available


@admin.register(CreditTransaction)
class CreditTransactionAdmin(ReadOnlyAdmin):
    list_display = ["seq", "created_at", "tenant", "kind", "amount", "balance_after", "model", "description"]
    list_select_related = ["tenant"]
    list_filter = ["kind", "created_at"]
    search_fields = ["idempotency_key", "model", "description", "tenant__slug"]
    ordering = ["-seq"]
    show_full_result_count = False  # a large table: no COUNT(*) of everything


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "tenant", "amount", "status", "expires_at", "settled_amount", "model"]
    list_select_related = ["tenant"]
    list_filter = ["status"]
    ordering = ["-created_at"]
    show_full_result_count = False


@admin.register(Subscription)
class SubscriptionAdmin(ReadOnlyAdmin):
    list_display = [
        "tenant",
        "plan",
        "status",
        "current_period_start",
        "current_period_end",
        "purchased_agent_slots",
    ]
    list_select_related = ["tenant", "plan"]
    list_filter = ["status", "plan"]
    ordering = ["tenant__name"]
