"""The audit log: insert-only, enforced by database triggers, and hash-chained.

Each entry carries `chain_seq`, `prev_hash` and `hash`, set by a BEFORE INSERT trigger
(`qm_audit_chain_append`, audit migration 0003): `hash` = SHA-256 of `prev_hash` followed by
the entry's canonical JSON (`qm_audit_content`). There is one chain per tenant and one platform
chain (tenant NULL); `AuditChainHead` holds each chain's last link. `audit.chain` verifies.
"""

from __future__ import annotations

import pgtrigger
from django.conf import settings
from django.db import models
from django.db.models.functions import Now
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
    # The actor's role in the tenant at the time: the membership's role slug, the platform role
    # of platform staff acting, "api_key" or "system" ("" when nobody knew it).
    actor_role = models.CharField(max_length=64, blank=True, default="")
    # Set by the database (trigger) on insert, whatever the caller sends. Not read back with
    # RETURNING: row-level security would then require the new row to be readable, and platform
    # entries are readable only under the bypass. Re-read the entry to see them.
    chain_seq = models.BigIntegerField(default=0, editable=False)
    prev_hash = models.CharField(max_length=64, default="", editable=False)
    hash = models.CharField(max_length=64, default="", editable=False)

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
        constraints = [
            # One link per position in each chain; also the order verification reads a chain in.
            models.UniqueConstraint(
                fields=["tenant", "chain_seq"], name="audit_chain_seq_uniq", nulls_distinct=False
            ),
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


GENESIS_HASH = "0" * 64  # the prev_hash of a chain's first entry


class AuditChainHead(models.Model):
    """The last link of one chain: `chain` is the tenant's id, or "platform" for entries without
    a tenant. The insert trigger locks this row (FOR UPDATE) to append, so appends to one chain
    are serialised and appends to different chains never wait on each other."""

    chain = models.CharField(max_length=36, primary_key=True)
    tenant_id = models.UUIDField(null=True, blank=True)
    seq = models.BigIntegerField(default=0)
    last_hash = models.CharField(max_length=64, default=GENESIS_HASH)
    last_entry_id = models.UUIDField(null=True, blank=True)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        verbose_name = "audit chain head"

    def __str__(self) -> str:
        return f"{self.chain} @ {self.seq}"


class AuditArchive(BaseModel):
    """One archival run's record for one chain: entries up to `last_seq` were written to `file`
    and removed; the chain's first remaining entry links to `last_hash` (the anchor)."""

    tenant = models.ForeignKey(
        "tenants.Tenant", on_delete=models.PROTECT, null=True, blank=True, related_name="+", db_index=False
    )
    chain = models.CharField(max_length=36)
    first_seq = models.BigIntegerField()
    last_seq = models.BigIntegerField()
    count = models.PositiveIntegerField()
    last_hash = models.CharField(max_length=64)
    before = models.DateTimeField()
    file = models.CharField(max_length=500)
    file_sha256 = models.CharField(max_length=64)

    objects = ScopedManager(tenant="tenant")

    class Meta:
        ordering = ["chain", "-last_seq"]
        constraints = [
            models.UniqueConstraint(fields=["chain", "last_seq"], name="audit_archive_chain_seq_uniq")
        ]
        triggers = [
            pgtrigger.Protect(
                name="audit_archive_insert_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
        ]

    def __str__(self) -> str:
        return f"{self.chain} {self.first_seq}-{self.last_seq} → {self.file}"
