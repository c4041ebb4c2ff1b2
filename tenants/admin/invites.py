"""The back office for invites: who was invited where, with which role, and what became of it;
pending invites can be revoked (audited by the service). Invites are created by tenant admins
(the console, the API): creating one e-mails a token, which the admin has no business doing."""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from unfold.contrib.filters.admin import AutocompleteSelectFilter
from unfold.decorators import display

from core.admin_actions import error_text
from core.errors import DomainError
from tenants import selectors, services
from tenants.admin.common import ServiceAdmin, actor_of
from tenants.models import Invite, InviteStatus

STATUS_LABELS = {
    InviteStatus.PENDING: "info",
    InviteStatus.ACCEPTED: "success",
    InviteStatus.EXPIRED: "warning",
    InviteStatus.REVOKED: "danger",
}


@admin.register(Invite)
class InviteAdmin(ServiceAdmin):
    list_display = [
        "email",
        "tenant",
        "role",
        "team",
        "status_label",
        "invited_by",
        "expires_at",
        "created_at",
    ]
    list_select_related = ["tenant", "role", "team", "invited_by"]
    list_filter = ["status", ("tenant", AutocompleteSelectFilter)]
    search_fields = ["email", "tenant__name", "tenant__slug", "invited_by__email"]
    ordering = ["-created_at", "id"]
    actions = ["revoke_selected"]
    fields = [
        "email",
        "tenant",
        "role",
        "team",
        "status_label",
        "invited_by",
        "expires_at",
        "accepted_by",
        "accepted_at",
        "revoked_at",
        "created_at",
    ]
    readonly_fields = fields

    def get_queryset(self, request: HttpRequest) -> QuerySet[Invite]:
        return (
            super()
            .get_queryset(request)
            .select_related("tenant", "role", "team", "invited_by", "accepted_by")
        )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # revoke instead; the row is the invite's history

    @display(description="Status", ordering="status", label=STATUS_LABELS)
    def status_label(self, obj: Invite) -> tuple[str, str]:
        status = selectors.invite_effective_status(obj)  # a pending invite past its date is expired
        return status, InviteStatus(status).label

    @admin.action(description="Revoke selected pending invites", permissions=["change"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet[Invite]) -> None:
        revoked = []
        for invite in queryset.order_by("pk"):
            try:
                services.invite_revoke(invite=invite, actor=actor_of(request))
            except DomainError as exc:
                self.message_user(request, f"{invite.email}: {error_text(exc)}", messages.WARNING)
            else:
                revoked.append(invite.email)
        if revoked:
            self.message_user(request, f"Revoked {len(revoked)}: {', '.join(revoked)}.", messages.SUCCESS)
