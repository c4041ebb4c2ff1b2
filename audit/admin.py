"""The audit log in the back office: strictly read-only, for platform staff.

The table is insert-only (a database trigger refuses UPDATE and DELETE); the admin matches it:
no add, no change, no delete, no actions, every field read-only.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html
from unfold.decorators import display

from audit.models import AuditLogEntry, Severity
from core.admin_bypass import ReadOnlyAdmin

SEVERITY_LABELS = {Severity.INFO: "info", Severity.WARNING: "warning", Severity.CRITICAL: "danger"}


@admin.register(AuditLogEntry)
class AuditLogEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "action",
        "severity_label",
        "actor_label",
        "target_label",
        "tenant",
        "request_id",
    ]
    list_select_related = ["tenant"]
    list_filter = ["severity", "action", "actor_type", "created_at"]
    search_fields = ["action", "actor_label", "target_label", "request_id"]
    ordering = ["-created_at", "-id"]
    # A large table: no second COUNT(*) over everything for "N total".
    show_full_result_count = False
    fieldsets = (
        (None, {"fields": ("created_at", "action", "severity", "request_id")}),
        (
            "Actor",
            {
                "fields": (
                    "actor_type",
                    "actor_user",
                    "actor_api_key_id",
                    "actor_label",
                    "ip_address",
                    "user_agent",
                )
            },
        ),
        ("Target", {"fields": ("tenant", "target_type", "target_id", "target_label")}),
        ("Details", {"fields": ("details_json",)}),
    )

    @display(description="Severity", ordering="severity", label=SEVERITY_LABELS)
    def severity_label(self, obj: AuditLogEntry) -> tuple[str, str]:
        return obj.severity, obj.get_severity_display()

    @display(description="Details")
    def details_json(self, obj: AuditLogEntry) -> str:
        # Secrets were masked when the entry was written (audit.services.mask_secrets).
        return format_html(
            '<pre class="text-xs whitespace-pre-wrap">{}</pre>',
            json.dumps(obj.details, indent=2, sort_keys=True),
        )

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        return [f.name for f in self.model._meta.fields] + ["details_json"]
