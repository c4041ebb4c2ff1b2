"""The back office for the secret locker: names, providers, the last four characters at most."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from unfold.contrib.filters.admin import AutocompleteSelectFilter

from tenants import services
from tenants.admin.common import ServiceAdmin, actor_of
from tenants.models import Secret


@admin.register(Secret)
class SecretAdmin(ServiceAdmin):
    """The secret locker: names, providers, the last four characters at most. Never a value:
    revealing is for the tenant's admins, through the audited API."""

    list_display = [
        "name",
        "tenant",
        "team",
        "provider",
        "last_four",
        "created_at",
        "rotated_at",
        "last_revealed_at",
    ]
    list_select_related = ["tenant", "team"]
    list_filter = ["provider", ("tenant", AutocompleteSelectFilter)]
    search_fields = ["name", "provider", "tenant__name", "tenant__slug"]
    ordering = ["tenant__name", "name", "id"]
    fields = [
        "name",
        "tenant",
        "team",
        "provider",
        "description",
        "last_four",
        "created_by",
        "created_at",
        "updated_at",
        "rotated_at",
        "last_revealed_at",
        "last_revealed_by",
    ]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_actions(self, request: HttpRequest) -> Any:
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    def delete_model(self, request: HttpRequest, obj: Secret) -> None:
        services.secret_delete(secret=obj, actor=actor_of(request))
