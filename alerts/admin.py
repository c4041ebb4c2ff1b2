"""Alerts in the back office: every tenant's alerts and the platform's own (tenant empty), with
status, severity, source and tenant filters; platform admins acknowledge and resolve them through
`alerts.services` (audited there), from the list or an alert's own page. Resolving asks for a
reason (core.admin_actions), kept in the audit entry; acknowledging takes none (the service has
none: it only says someone is on it). Operators only look.

Requests run under the platform bypass (core.admin_bypass), so platform alerts are visible here.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from unfold.contrib.filters.admin import AutocompleteSelectFilter
from unfold.decorators import action, display

from alerts import services
from alerts.models import STATUS_FILTERS, Alert, AlertStatus, Severity
from audit.admin import AuditHistoryMixin
from core.admin_actions import form_action
from core.admin_bypass import ReadOnlyAdmin, is_admin_platform_admin
from core.errors import DomainError
from tenants.admin.common import actor_of, error_text

SEVERITY_LABELS = {Severity.INFO: "info", Severity.WARNING: "warning", Severity.CRITICAL: "danger"}


STATUS_LABELS = {
    AlertStatus.OPEN: "danger",
    AlertStatus.ACKNOWLEDGED: "warning",
    AlertStatus.RESOLVED: "success",
}


class ConfirmForm(forms.Form):
    """Nothing to ask: the page only confirms (acknowledging takes no reason)."""


class StatusFilter(admin.SimpleListFilter):
    """Open, acknowledged, resolved: the status follows from the timestamps, so a filter of its own."""

    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [(value, str(label)) for value, label in AlertStatus.choices]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Alert]) -> QuerySet[Alert]:
        value = self.value()
        if value in STATUS_FILTERS:
            return queryset.filter(STATUS_FILTERS[value])
        return queryset


class LevelFilter(admin.SimpleListFilter):
    """A tenant's alerts or the platform's own (no tenant)."""

    title = "raised for"
    parameter_name = "level"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [("platform", "The platform"), ("tenant", "A tenant")]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Alert]) -> QuerySet[Alert]:
        if self.value() == "platform":
            return queryset.filter(tenant__isnull=True)
        if self.value() == "tenant":
            return queryset.filter(tenant__isnull=False)
        return queryset


@admin.register(Alert)
class AlertAdmin(AuditHistoryMixin, ReadOnlyAdmin):
    list_display = [
        "title",
        "severity_label",
        "status_label",
        "source",
        "tenant_display",
        "created_at",
        "acknowledged_at",
        "resolved_at",
    ]
    list_select_related = ["tenant"]
    list_filter = [
        StatusFilter,
        "severity",
        "source",
        ("tenant", AutocompleteSelectFilter),
        LevelFilter,
        "created_at",
    ]
    search_fields = ["title", "message", "source", "dedupe_key", "tenant__name", "tenant__slug"]
    ordering = ["-created_at", "-id"]
    show_full_result_count = False  # alerts accumulate: no COUNT(*) of all of them per page
    actions = ["acknowledge_selected", "resolve_selected"]
    actions_detail = ["acknowledge_detail", "resolve_detail"]
    fields = [
        "title",
        "severity",
        "source",
        "tenant",
        "message",
        "dedupe_key",
        "created_at",
        "acknowledged_at",
        "acknowledged_by",
        "resolved_at",
        "resolved_by",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Alert]:
        return super().get_queryset(request).select_related("tenant", "acknowledged_by", "resolved_by")

    def has_acknowledge_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin_platform_admin(request.user)

    def has_resolve_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return is_admin_platform_admin(request.user)

    @display(description="Severity", ordering="severity", label=SEVERITY_LABELS)
    def severity_label(self, obj: Alert) -> tuple[str, str]:
        return obj.severity, obj.get_severity_display()

    @display(description="Status", label=STATUS_LABELS)
    def status_label(self, obj: Alert) -> tuple[str, str]:
        return obj.status, str(AlertStatus(obj.status).label)

    @display(description="Tenant", ordering="tenant__name")
    def tenant_display(self, obj: Alert) -> str:
        return obj.tenant.name if obj.tenant is not None else "Platform"

    # --- Acknowledge: no reason (the service takes none) -----------------------------------------

    def _acknowledge(self, request: HttpRequest, alerts: QuerySet[Alert]) -> None:
        done = []
        for alert in alerts.order_by("pk"):  # the service locks each row: always in one order
            try:
                services.alert_acknowledge(alert=alert, actor=actor_of(request))
            except DomainError as exc:
                self.message_user(request, f"{alert}: {error_text(exc)}", "warning")
            else:
                done.append(str(alert))
        if done:
            self.message_user(request, f"Acknowledged: {', '.join(done)}.", "success")

    @admin.action(description="Acknowledge selected alerts", permissions=["acknowledge"])
    def acknowledge_selected(self, request: HttpRequest, queryset: QuerySet[Alert]) -> None:
        self._acknowledge(request, queryset)

    @action(description="Acknowledge", url_path="acknowledge", permissions=["acknowledge"], icon="check")
    def acknowledge_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_acknowledge_permission(request):
            raise PermissionDenied  # unfold hides the button; the URL itself is checked here
        # The button is a link (a GET): it opens a confirmation, whose POST acknowledges.
        response = form_action(
            self,
            request,
            self.get_queryset(request).filter(pk=object_id),
            action="acknowledge_detail",
            title="Acknowledge alert",
            intro="Someone is on it: the alert stays in the inbox until it is resolved.",
            form_class=ConfirmForm,
            apply=lambda alert, data: services.alert_acknowledge(alert=alert, actor=actor_of(request)),
            done="Acknowledged",
            detail=True,
        )
        if response is not None:
            return response
        return HttpResponseRedirect(reverse("admin:alerts_alert_change", args=[object_id]))

    # --- Resolve: with a reason, kept in the audit entry ----------------------------------------

    def _resolve(
        self, request: HttpRequest, alerts: QuerySet[Alert], *, action_name: str, detail: bool
    ) -> Any:
        def apply(alert: Alert, data: dict[str, Any]) -> object:
            return services.alert_resolve(alert=alert, actor=actor_of(request), reason=data["reason"])

        return form_action(
            self,
            request,
            alerts,
            action=action_name,
            title="Resolve alerts",
            intro="Resolved alerts leave the tenant's inbox; a cause that comes back raises a new one.",
            apply=apply,
            done="Resolved",
            detail=detail,
        )

    @admin.action(description="Resolve selected alerts", permissions=["resolve"])
    def resolve_selected(self, request: HttpRequest, queryset: QuerySet[Alert]) -> HttpResponse | None:
        return self._resolve(request, queryset, action_name="resolve_selected", detail=False)

    @action(description="Resolve", url_path="resolve", permissions=["resolve"], icon="task_alt")
    def resolve_detail(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_resolve_permission(request):
            raise PermissionDenied
        alerts = self.get_queryset(request).filter(pk=object_id)
        response = self._resolve(request, alerts, action_name="resolve_detail", detail=True)
        if response is not None:
            return response
        return HttpResponseRedirect(reverse("admin:alerts_alert_change", args=[object_id]))
