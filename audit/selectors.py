"""Reads of the audit log."""

from __future__ import annotations

from django.db.models import QuerySet

from audit.models import AuditLogEntry
from core.tenancy import tenant_pk
from core.types import TenantRef


def audit_log_list(*, tenant: TenantRef) -> QuerySet[AuditLogEntry]:
    """The tenant's entries, newest first."""
    return AuditLogEntry.objects.filter(tenant_id=tenant_pk(tenant)).order_by("-created_at", "-id")
