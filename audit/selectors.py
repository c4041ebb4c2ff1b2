"""Reads of the audit log."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from audit.models import AuditArchive, AuditLogEntry
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


def audit_log_for_target(
    *, target_type: str, target_id: Any, tenant: TenantRef | None = None, action_prefix: str = ""
) -> QuerySet[AuditLogEntry]:
    """Every entry about one object (its `target_type`, e.g. `tenants.tenant`, and id), newest
    first; with `tenant`, also that tenant's entries whose action starts with `action_prefix`
    (all of them when it is empty). Platform-wide: run under the platform bypass (the admin
    does)."""
    about = Q(target_type=target_type, target_id=str(target_id))
    if tenant is not None:
        about |= Q(tenant_id=tenant_pk(tenant), action__startswith=action_prefix)
    return AuditLogEntry.objects.filter(about).order_by("-created_at", "-id")


def audit_archive_latest(*, tenant: TenantRef) -> AuditArchive | None:
    """The tenant's most recent archive of old entries (the anchor its chain now starts from)."""
    return AuditArchive.objects.filter(tenant=tenant_pk(tenant)).order_by("-last_seq").first()
