"""Plans, model prices and subscriptions in the back office.

New model prices are added here, through a service, as new rows; rows are never edited, since
past charges were computed from them.
"""

from __future__ import annotations

from typing import Any, cast

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.decorators import display

from accounts.models import User
from audit.admin import AuditHistoryMixin
from billing import services
from billing.admin.common import tenant_link
from billing.models import ModelPrice, Plan, Subscription
from core.admin_bypass import PlatformStaffAdminMixin, ReadOnlyAdmin


@admin.register(Plan)
class PlanAdmin(AuditHistoryMixin, ReadOnlyAdmin):
    list_display = [
        "name",
        "code",
        "monthly_price",
        "included_monthly_credits",
        "max_agents",
        "max_members",
        "markup_multiplier",
        "is_active",
    ]
    list_filter = ["is_active"]
    search_fields = ["name", "code"]
    ordering = ["monthly_price"]


@admin.register(ModelPrice)
class ModelPriceAdmin(AuditHistoryMixin, ReadOnlyAdmin):
    list_display = [
        "model",
        "tier",
        "provider",
        "input_usd_per_mtok",
        "output_usd_per_mtok",
        "effective_from",
    ]
    list_filter = ["tier", "provider"]
    search_fields = ["model", "provider"]
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


@admin.register(Subscription)
class SubscriptionAdmin(AuditHistoryMixin, ReadOnlyAdmin):
    list_display = [
        "tenant_display",
        "plan",
        "status",
        "agent_slots_display",
        "allocated_agents",
        "active_agents",
        "markup_multiplier_override",
        "current_period_start",
        "current_period_end",
    ]
    list_select_related = ["tenant", "plan"]
    list_filter = ["status", "plan"]
    search_fields = ["tenant__name", "tenant__slug"]
    ordering = ["tenant__name"]
    readonly_fields = [
        "tenant_display",
        "plan",
        "status",
        "agent_slots_display",
        "allocated_agents",
        "active_agents",
        "purchased_agent_slots",
        "markup_multiplier_override",
        "current_period_start",
        "current_period_end",
        "canceled_at",
    ]
    fields = readonly_fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Subscription]:
        return super().get_queryset(request).select_related("tenant", "plan")

    @display(description="Tenant", ordering="tenant__name")
    def tenant_display(self, obj: Subscription) -> str:
        return tenant_link(obj.tenant)

    @display(description="Agent slots")
    def agent_slots_display(self, obj: Subscription) -> str:
        return f"{obj.agent_slots} ({obj.plan.max_agents} in the plan + {obj.purchased_agent_slots} bought)"
