"""Reads of alerts: a tenant's (its own only) and the platform's (every tenant's and platform alerts)."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Q, QuerySet

from alerts.models import STATUS_FILTERS, Alert
from core.tenancy import tenant_pk
from core.types import TenantRef

FILTERS = ("status", "severity", "source")


def _filtered(queryset: QuerySet[Alert], filters: dict[str, Any] | None) -> QuerySet[Alert]:
    filters = filters or {}
    if filters.get("status"):
        queryset = queryset.filter(STATUS_FILTERS[filters["status"]])
    if filters.get("severity"):
        queryset = queryset.filter(severity=filters["severity"])
    if filters.get("source"):
        queryset = queryset.filter(source=filters["source"])
    return queryset


def alert_list(*, tenant: TenantRef, filters: dict[str, Any] | None = None) -> QuerySet[Alert]:
    """The tenant's alerts, newest first (never a platform alert)."""
    queryset = Alert.objects.filter(tenant_id=tenant_pk(tenant)).select_related(
        "acknowledged_by", "resolved_by"
    )
    return _filtered(queryset, filters).order_by("-created_at", "-id")


def alert_get(*, tenant: TenantRef, alert_id: Any) -> Alert | None:
    """One alert of the tenant's; another tenant's or a platform alert is None."""
    return alert_list(tenant=tenant).filter(pk=alert_id).first()


def platform_alert_list(*, filters: dict[str, Any] | None = None) -> QuerySet[Alert]:
    """Every alert (tenants' and the platform's), newest first; call under the platform bypass."""
    queryset = Alert.objects.all().select_related("tenant", "acknowledged_by", "resolved_by")
    tenant = (filters or {}).get("tenant")
    if tenant:
        queryset = queryset.filter(tenant_id=tenant)
    if (filters or {}).get("platform_only"):
        queryset = queryset.filter(tenant__isnull=True)
    return _filtered(queryset, filters).order_by("-created_at", "-id")


def alert_counts(*, tenant: TenantRef) -> dict[str, int]:
    """How many of the tenant's alerts are open and acknowledged (unresolved), in one query."""
    return Alert.objects.filter(tenant_id=tenant_pk(tenant), resolved_at__isnull=True).aggregate(
        open=Count("pk", filter=Q(acknowledged_at__isnull=True)),
        acknowledged=Count("pk", filter=Q(acknowledged_at__isnull=False)),
    )
