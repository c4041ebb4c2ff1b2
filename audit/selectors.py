"""Reads of the audit log."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet

from audit.models import AuditLogEntry


def audit_log_list(*, tenant: Any) -> QuerySet[AuditLogEntry]:
    """The tenant's entries, newest first."""
    return AuditLogEntry.objects.filter(tenant=tenant).order_by("-created_at", "-id")
