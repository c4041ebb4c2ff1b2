"""Alerts (DOMAIN.md, agents): something an operator or a tenant should look at.

One model, in a layer below billing and agents, so that both raise them: billing when a balance
falls under a low-balance threshold, agents when a container reports itself unhealthy. An alert
of a tenant (tenant set) is seen by that tenant's members; a platform alert (tenant NULL) only by
platform staff (row-level security: readable under the platform bypass only, alerts 0001).

States follow from the timestamps: open (neither), acknowledged (acknowledged_at), resolved
(resolved_at). A `dedupe_key` names what the alert is about ("agents.health:<container>"): while
an alert with that key is not resolved, raising it again returns the same alert (a unique partial
index, so concurrent raises cannot both insert).
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django_scopes import ScopedManager

from core.models import BaseModel


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class AlertStatus(models.TextChoices):
    OPEN = "open", "Open"
    ACKNOWLEDGED = "acknowledged", "Acknowledged"
    RESOLVED = "resolved", "Resolved"


# The filter of each status, for querysets (the status is not stored: the timestamps are the truth).
STATUS_FILTERS: dict[str, Q] = {
    AlertStatus.OPEN: Q(resolved_at__isnull=True, acknowledged_at__isnull=True),
    AlertStatus.ACKNOWLEDGED: Q(resolved_at__isnull=True, acknowledged_at__isnull=False),
    AlertStatus.RESOLVED: Q(resolved_at__isnull=False),
}


class Alert(BaseModel):
    """One alert: raised by a service, acknowledged and resolved by people (or resolved by the
    service that raised it, when the cause went away)."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.CASCADE, null=True, blank=True, related_name="+", db_index=False
    )
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.WARNING)
    source = models.CharField(max_length=64, help_text="What raised it: billing, agents.health, ...")
    title = models.CharField(max_length=200)
    message = models.TextField(blank=True)
    dedupe_key = models.CharField(max_length=200, blank=True, default="")
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    resolved_at = models.DateTimeField(null=True, blank=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="alert_tenant_time_idx"),
            models.Index(
                fields=["tenant", "-created_at"],
                condition=Q(resolved_at__isnull=True),
                name="alert_tenant_unresolved_idx",
            ),
        ]
        constraints = [
            # One unresolved alert per (tenant, key); platform alerts (tenant NULL) share one
            # namespace, hence NULLS NOT DISTINCT.
            models.UniqueConstraint(
                fields=["tenant", "dedupe_key"],
                condition=Q(resolved_at__isnull=True) & ~Q(dedupe_key=""),
                nulls_distinct=False,
                name="alert_dedupe_unresolved",
            ),
            models.CheckConstraint(condition=Q(severity__in=Severity.values), name="alert_severity_valid"),
        ]

    def __str__(self) -> str:
        return self.title

    @property
    def status(self) -> str:
        if self.resolved_at is not None:
            return AlertStatus.RESOLVED
        if self.acknowledged_at is not None:
            return AlertStatus.ACKNOWLEDGED
        return AlertStatus.OPEN
