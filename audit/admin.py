"""The audit log in the back office: strictly read-only, for platform staff; and the History
page of every other admin, which shows the audit entries about its object.

The table is insert-only (a database trigger refuses UPDATE and DELETE); the admin matches it:
no add, no change, no delete, no actions, every field read-only.
"""

from __future__ import annotations

import json
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from unfold.decorators import display

from audit.models import AuditLogEntry, Severity
from audit.selectors import audit_log_for_target
from core.admin_bypass import ReadOnlyAdmin

SEVERITY_LABELS = {Severity.INFO: "info", Severity.WARNING: "warning", Severity.CRITICAL: "danger"}
HISTORY_LIMIT = 200


class AuditHistoryMixin:
    """A ModelAdmin's History button shows the audit entries about the object (newest first),
    not Django's LogEntry table, which nothing here writes: the services audit every change.

    Override `history_entries` to widen what counts as "about" the object (a tenant: all its
    entries; a credit account: its tenant's credit postings).
    """

    def history_entries(self, obj: Any) -> QuerySet[AuditLogEntry]:
        return audit_log_for_target(target_type=obj._meta.label_lower, target_id=obj.pk)

    def history_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        admin_self: Any = self  # a ModelAdmin (this is its mixin)
        obj = admin_self.get_object(request, unquote(object_id))
        if obj is None:
            return admin_self._get_obj_does_not_exist_redirect(request, admin_self.opts, object_id)
        if not admin_self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        entries = list(self.history_entries(obj)[: HISTORY_LIMIT + 1])
        query = urlencode({"target_type": obj._meta.label_lower, "target_id": str(obj.pk)})
        context = {
            **admin_self.admin_site.each_context(request),
            "title": f"History: {obj}",
            "subtitle": None,
            "object": obj,
            "opts": admin_self.opts,
            "entries": entries[:HISTORY_LIMIT],
            "more": len(entries) > HISTORY_LIMIT,
            "limit": HISTORY_LIMIT,
            "audit_url": f"{reverse('admin:audit_auditlogentry_changelist')}?{query}",
            **(extra_context or {}),
        }
        request.current_app = admin_self.admin_site.name
        return TemplateResponse(request, "admin/audit_history.html", context)


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
