"""The back office for feature flags: platform-wide and tenants' flags, changed through the
audited services; a bulk kill switch."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.contrib.filters.admin import AutocompleteSelectFilter
from unfold.decorators import display

from tenants import services
from tenants.admin.common import ServiceAdmin, actor_of, changed_fields, level_name
from tenants.models import FeatureFlag

FLAG_ADMIN_FIELDS = [
    "description",
    "enabled",
    "rollout_percentage",
    "target_users",
    "target_roles",
    "target_tenants",
]


@admin.register(FeatureFlag)
class FeatureFlagAdmin(ServiceAdmin):
    list_display = ["key", "level", "environment", "enabled", "rollout_percentage", "updated_at"]
    list_select_related = ["tenant"]
    list_filter = ["environment", "enabled", ("tenant", AutocompleteSelectFilter)]
    search_fields = ["key", "description", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["tenant"]
    ordering = ["key", "environment", "id"]
    actions = ["disable_selected"]

    @display(description="Tenant", ordering="tenant__name")
    def level(self, obj: FeatureFlag) -> str:
        return level_name(obj)

    def get_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        head = ["tenant", "environment", "key"]
        tail = ["created_by", "updated_by", "created_at", "updated_at"] if obj is not None else []
        return [*head, *FLAG_ADMIN_FIELDS, *tail]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> Any:
        if obj is None:
            return []
        return ["tenant", "environment", "key", "created_by", "updated_by", "created_at", "updated_at"]

    def get_actions(self, request: HttpRequest) -> Any:
        # flag_delete audits each flag; the generic bulk delete would not.
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def save_model(self, request: HttpRequest, obj: FeatureFlag, form: Any, change: bool) -> None:
        if change:
            data = changed_fields(form, FLAG_ADMIN_FIELDS)
            if data:
                services.flag_update(flag=obj, actor=actor_of(request), data=data)
            return
        cleaned = form.cleaned_data
        created = services.flag_create(
            tenant=cleaned.get("tenant"),
            actor=actor_of(request),
            key=cleaned["key"],
            environment=cleaned["environment"],
            **{f: cleaned[f] for f in FLAG_ADMIN_FIELDS if f in cleaned},
        )
        obj.pk = created.pk
        obj._state.adding = False

    def delete_model(self, request: HttpRequest, obj: FeatureFlag) -> None:
        services.flag_delete(flag=obj, actor=actor_of(request))

    @admin.action(description="Disable selected flags (kill switch)", permissions=["change"])
    def disable_selected(self, request: HttpRequest, queryset: QuerySet[FeatureFlag]) -> None:
        done = 0
        for flag in queryset.order_by("pk"):
            if flag.enabled:
                services.flag_update(flag=flag, actor=actor_of(request), data={"enabled": False})
                done += 1
        self.message_user(request, f"Disabled {done} flag(s).", messages.SUCCESS)
