"""The back office's insights: interventions (read-only, reversed through the service with a
reason), recommendations and daily analytics (read-only: rules and the roll-up write them)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from unfold.contrib.filters.admin import AutocompleteSelectFilter

from core.admin_actions import form_action
from core.admin_bypass import ReadOnlyAdmin, is_admin_platform_staff
from core.tenancy import tenant_context
from insights import services
from insights.models import DailyAnalytics, Intervention, Recommendation


@admin.register(Intervention)
class InterventionAdmin(ReadOnlyAdmin):
    """Operators' corrective actions; platform staff reverse them here (the service checks that no
    target changed since, and records the reversal in the audit log)."""

    list_display = ["type", "tenant", "scope", "target_type", "operator", "created_at", "reversed_at"]
    list_select_related = ["tenant", "operator"]
    list_filter = [("tenant", AutocompleteSelectFilter), "type", "scope", "reversed_at"]
    search_fields = ["reason", "tenant__name", "tenant__slug", "operator__email"]
    ordering = ["-created_at", "-id"]
    actions = ["reverse_selected"]
    fields = [
        "type",
        "tenant",
        "scope",
        "target_type",
        "target_ids",
        "reason",
        "params",
        "previous_state",
        "new_state",
        "operator",
        "operator_role",
        "recommendation",
        "created_at",
        "reversed_at",
        "reversed_by",
        "reversal_reason",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Intervention]:
        return super().get_queryset(request).select_related("tenant", "operator", "reversed_by")

    def has_reverse_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin_platform_staff(request.user)

    @admin.action(description="Reverse selected interventions", permissions=["reverse"])
    def reverse_selected(self, request: HttpRequest, queryset: QuerySet[Intervention]) -> HttpResponse | None:
        operator = services.Operator.platform(request.user)  # type: ignore[arg-type]  # staff: a User

        def reverse(intervention: Intervention, data: dict[str, Any]) -> object:
            with tenant_context(intervention.tenant_id):
                return services.intervention_reverse(
                    intervention=intervention, operator=operator, reason=data["reason"]
                )

        return form_action(
            self,
            request,
            queryset,
            action="reverse_selected",
            title="Reverse interventions",
            intro="Each target gets its previous state back, unless it changed since.",
            apply=reverse,
            done="Reversed",
            danger=True,
        )


@admin.register(Recommendation)
class RecommendationAdmin(ReadOnlyAdmin):
    list_display = [
        "suggested_action",
        "target_label",
        "tenant",
        "rule",
        "confidence",
        "status",
        "created_at",
    ]
    list_select_related = ["tenant"]
    list_filter = [("tenant", AutocompleteSelectFilter), "status", "rule", "suggested_action"]
    search_fields = ["target_label", "target_id", "reason", "tenant__name"]
    ordering = ["-created_at", "-id"]


@admin.register(DailyAnalytics)
class DailyAnalyticsAdmin(ReadOnlyAdmin):
    """One row a day per tenant, and the platform's (no tenant); written by the roll-up only."""

    list_display = [
        "date",
        "tenant",
        "active_users",
        "new_users",
        "input_tokens",
        "output_tokens",
        "credits_charged",
        "provider_cost_usd",
        "credits_granted",
    ]
    list_select_related = ["tenant"]
    list_filter = [("tenant", AutocompleteSelectFilter), "date"]
    date_hierarchy = "date"
    ordering = ["-date", "tenant__name"]
