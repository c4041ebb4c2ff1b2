"""Reads of the audit log."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from audit.models import AuditLogEntry
from core.tenancy import tenant_pk
from core.types import TenantRef


def audit_log_list(*, tenant: TenantRef) -> QuerySet[AuditLogEntry]:
    """The tenant's entries, newest first."""
    return AuditLogEntry.objects.filter(tenant_id=tenant_pk(tenant)).order_by("-created_at", "-id")


def audit_log_filtered(
    *,
    tenant: TenantRef,
    actor: str = "",
    action: str = "",
    target_type: str = "",
    start: datetime | None = None,
    end: datetime | None = None,
) -> QuerySet[AuditLogEntry]:
    """The tenant's entries, newest first, filtered: `actor` part of the actor's label (an
    e-mail, `api key <prefix>`, `system`), `action` exact or a prefix ending in `.*` (as the
    API's filter), `target_type` exact, created in [start, end)."""
    qs = audit_log_list(tenant=tenant)
    if actor:
        qs = qs.filter(actor_label__icontains=actor)
    if action:
        qs = qs.filter(action__startswith=action[:-1]) if action.endswith(".*") else qs.filter(action=action)
    if target_type:
        qs = qs.filter(target_type=target_type)
    if start is not None:
        qs = qs.filter(created_at__gte=start)
    if end is not None:
        qs = qs.filter(created_at__lt=end)
    return qs
