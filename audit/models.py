"""The audit log: insert-only, enforced by database triggers."""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from django_scopes import ScopedManager

from core.models import BaseModel


class ActorType(models.TextChoices):
    USER = "user", "User"
    API_KEY = ("api_key", "API key")
    SYSTEM = "system", "System"


class Severity(models.TextChoices):
    INFO = "info", "Info"
    WARNING = "warning", "Warning"
    CRITICAL = "critical", "Critical"


class AuditLogEntry(BaseModel):
    """One state change (or sensitive read). Written by services in the change's transaction."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    actor_type = models.CharField(max_length=16, choices=ActorType.choices)
    # No database FK: entries outlive users and keys, and an ON DELETE SET NULL would be an
    # UPDATE, which the insert-only trigger refuses. actor_label is the snapshot.
    actor_user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_api_key_id = models.UUIDField(null=True, blank=True)
    actor_label = models.CharField(max_length=254, blank=True)
    action = models.CharField(max_length=100)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=254, blank=True)
    severity = models.CharField(max_length=16, choices=Severity.choices, default=Severity.INFO)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=500, blank=True)
    request_id = models.CharField(max_length=128, blank=True)
    details = models.JSONField(default=dict, blank=True)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit log entry"
        verbose_name_plural = "audit log"
        indexes = [
            models.Index(fields=["tenant", "-created_at", "-id"], name="audit_tenant_time_idx"),
            models.Index(fields=["tenant", "action"], name="audit_tenant_action_idx"),
            models.Index(fields=["target_type", "target_id"], name="audit_target_idx"),
            models.Index(fields=["actor_user", "-created_at"], name="audit_actor_idx"),
        ]
        triggers = [
            pgtrigger.Protect(name="audit_insert_only", operation=pgtrigger.Update | pgtrigger.Delete),
            pgtrigger.Trigger(
                name="audit_no_truncate",
                operation=pgtrigger.Truncate,
                level=pgtrigger.Statement,
                when=pgtrigger.Before,
                func="RAISE EXCEPTION 'pgtrigger: Cannot truncate the insert-only table %', TG_TABLE_NAME;",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label or self.actor_type}"
