"""Tenants (the companies), their teams and their members."""

from __future__ import annotations

import zoneinfo
from typing import Any

import jsonschema
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.utils import timezone

from core.models import BaseModel
from core.tenancy import TenantScopedModel

SLUG_VALIDATOR = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9-]{0,48}[a-z0-9])?$", "Lower-case letters, digits and '-'."
)

RESOURCE_LIMITS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "max_agents": {"type": "integer", "minimum": 0, "maximum": 100000},
        "max_members": {"type": "integer", "minimum": 1, "maximum": 100000},
        "max_concurrent_sessions": {"type": "integer", "minimum": 0, "maximum": 100000},
        "monthly_credit_cap": {"type": ["string", "null"], "pattern": r"^\d{1,14}(\.\d{1,6})?$"},
    },
}
MODEL_DEFAULTS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "model_tier": {"enum": ["haiku", "sonnet", "opus"]},
        "thinking_mode": {"enum": ["off", "low", "high"]},
    },
}


def default_resource_limits() -> dict[str, Any]:
    return {"max_agents": 10, "max_members": 25, "max_concurrent_sessions": 20, "monthly_credit_cap": None}


def default_model_defaults() -> dict[str, Any]:
    return {"model_tier": "sonnet", "thinking_mode": "off"}


def _validate_against(value: Any, schema: dict[str, Any]) -> None:
    try:
        jsonschema.validate(value, schema)
    except jsonschema.ValidationError as exc:
        where = ".".join(str(p) for p in exc.absolute_path)
        raise ValidationError(f"{where + ': ' if where else ''}{exc.message}") from exc


def validate_resource_limits(value: Any) -> None:
    _validate_against(value, RESOURCE_LIMITS_SCHEMA)


def validate_model_defaults(value: Any) -> None:
    _validate_against(value, MODEL_DEFAULTS_SCHEMA)


def validate_timezone(value: str) -> None:
    if value not in zoneinfo.available_timezones():
        raise ValidationError(f"{value!r} is not an IANA time zone name.")


class TenantStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    SUSPENDED = "suspended", "Suspended"
    PROVISIONING = "provisioning", "Provisioning"
    FAILED = "failed", "Failed"


class PlanCode(models.TextChoices):
    STARTER = "starter", "Starter"
    GROWTH = "growth", "Growth"
    ENTERPRISE = "enterprise", "Enterprise"


class Tenant(BaseModel):
    """A company on the platform. The root of isolation: itself not under RLS, see README."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, unique=True, validators=[SLUG_VALIDATOR])
    admin_email = models.EmailField()
    status = models.CharField(
        max_length=16, choices=TenantStatus.choices, default=TenantStatus.ACTIVE, db_index=True
    )
    plan = models.CharField(max_length=16, choices=PlanCode.choices, default=PlanCode.STARTER)
    timezone = models.CharField(max_length=64, default="UTC", validators=[validate_timezone])
    model_defaults = models.JSONField(default=default_model_defaults, validators=[validate_model_defaults])
    resource_limits = models.JSONField(default=default_resource_limits, validators=[validate_resource_limits])
    require_2fa = models.BooleanField(default=False)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspension_reason = models.TextField(blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status="suspended", suspended_at__isnull=False)
                | ~models.Q(status="suspended"),
                name="tenant_suspended_has_time",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_suspended(self) -> bool:
        return self.status == TenantStatus.SUSPENDED


class Team(TenantScopedModel):
    """A department inside a tenant."""

    name = models.CharField(max_length=200)
    slug = models.SlugField(max_length=50, validators=[SLUG_VALIDATOR])
    description = models.TextField(blank=True)

    class Meta(TenantScopedModel.Meta):
        ordering = ["name", "id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "slug"], name="team_slug_unique_per_tenant")]

    def __str__(self) -> str:
        return self.name


class Membership(TenantScopedModel):
    """A user's place in a tenant: one role, at most one team."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    role = models.ForeignKey("accounts.Role", on_delete=models.PROTECT, related_name="memberships")
    team = models.ForeignKey(
        Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="memberships"
    )
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    joined_at = models.DateTimeField(default=timezone.now)
    role_assigned_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    role_assigned_at = models.DateTimeField(default=timezone.now)

    class Meta(TenantScopedModel.Meta):
        ordering = ["joined_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "user"], name="membership_unique_per_tenant")
        ]
        indexes = [models.Index(fields=["user", "tenant"], name="membership_user_idx")]

    def __str__(self) -> str:
        return f"{self.user_id} in {self.tenant_id}"


class InviteStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class Invite(TenantScopedModel):
    """An invitation to join a tenant; the token is e-mailed and only its SHA-256 is kept."""

    email = models.EmailField()
    role = models.ForeignKey("accounts.Role", on_delete=models.PROTECT, related_name="+")
    team = models.ForeignKey(Team, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    token_hash = models.CharField(max_length=64, unique=True)
    invited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    status = models.CharField(max_length=16, choices=InviteStatus.choices, default=InviteStatus.PENDING)
    expires_at = models.DateTimeField()
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    accepted_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta(TenantScopedModel.Meta):
        constraints = [
            # One live invite per address and tenant; accepted/revoked ones stay as history.
            models.UniqueConstraint(
                fields=["tenant", "email"],
                condition=models.Q(status="pending"),
                name="invite_one_pending_per_email",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} → {self.tenant_id}"
