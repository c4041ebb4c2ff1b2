"""Tenants (the companies), their teams and their members."""

from __future__ import annotations

import zoneinfo
from typing import Any

import jsonschema
import pgtrigger
from django.conf import settings
from django.contrib.postgres.fields import ArrayField
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.utils import timezone

from core import crypto
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
        # E-mail and tenant name when loaded (the admin loads them); never a query of its own.
        user = self.user.email if Membership.user.is_cached(self) else self.user_id
        tenant = self.tenant.name if Membership.tenant.is_cached(self) else self.tenant_id
        return f"{user} in {tenant}"


class InviteStatus(models.TextChoices):
    PENDING = "pending", "Pending"
    ACCEPTED = "accepted", "Accepted"
    EXPIRED = "expired", "Expired"
    REVOKED = "revoked", "Revoked"


class Invite(TenantScopedModel):
    """An invitation to join a tenant; the token is e-mailed and only its SHA-256 is kept."""

    email = models.EmailField()
    # A pending invite keeps its role from being deleted (role_delete refuses); an accepted,
    # revoked or expired one lets go of it (its history is in the audit log).
    role = models.ForeignKey(
        "accounts.Role", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
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
        tenant = self.tenant.name if Invite.tenant.is_cached(self) else self.tenant_id
        return f"{self.email} to {tenant}"


# --- Configuration: settings, feature flags, the secret locker ----------------------------------


class Environment(models.TextChoices):
    DEVELOPMENT = "development", "Development"
    STAGING = "staging", "Staging"
    PRODUCTION = "production", "Production"


class EncryptedModelMixin:
    """Rows whose ENCRYPTED_FIELDS hold core.crypto tokens bound to (tenant, table, field, row)."""

    ENCRYPTED_FIELDS: tuple[str, ...] = ()

    def encryption_context(self, field: str) -> crypto.Context:
        return crypto.Context(
            tenant_id=self.tenant_id,  # type: ignore[attr-defined]  # every user of the mixin has one
            table=self._meta.db_table,  # type: ignore[attr-defined]
            field=field,
            row_id=self.pk,  # type: ignore[attr-defined]
        )


class Setting(EncryptedModelMixin, BaseModel):
    """A configuration value of a tenant, or (tenant NULL) the platform's default, per environment.

    Not a TenantScopedModel: platform rows have no tenant, and django-scopes' manager would hide
    them (as with accounts.Role). Selectors filter by tenant explicitly; row-level security shows a
    tenant its own rows and the platform's, nobody else's. A row is never deleted (its versions
    point at it): a reset empties it. Secret values live only in value_encrypted.
    """

    ENCRYPTED_FIELDS = ("value_encrypted",)

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    environment = models.CharField(max_length=16, choices=Environment.choices)
    key = models.CharField(max_length=100)
    category = models.CharField(max_length=50)
    # None: no value at this level (resolution falls through), or the value is secret.
    value = models.JSONField(null=True, blank=True)
    value_encrypted = models.TextField(blank=True)
    is_secret = models.BooleanField(default=False)
    version = models.PositiveIntegerField(default=0)
    description = models.TextField(blank=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["key", "environment", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "environment", "key"], name="setting_unique_per_scope", nulls_distinct=False
            ),
            # A secret is never stored in the clear, even by a bug.
            models.CheckConstraint(
                condition=models.Q(is_secret=False) | models.Q(value__isnull=True),
                name="setting_secret_never_plain",
            ),
            models.CheckConstraint(
                condition=models.Q(is_secret=True) | models.Q(value_encrypted=""),
                name="setting_plain_never_encrypted",
            ),
            models.CheckConstraint(
                condition=models.Q(environment__in=Environment.values), name="setting_environment_valid"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "environment"], name="setting_scope_idx")]

    def __str__(self) -> str:
        return self.key

    @property
    def has_value(self) -> bool:
        return self.value is not None or bool(self.value_encrypted)


class SettingAction(models.TextChoices):
    SET = "set", "Set"
    RESET = "reset", "Reset"
    ROLLBACK = "rollback", "Rollback"


class SettingVersion(EncryptedModelMixin, BaseModel):
    """One change of a setting: insert-only, enforced by database triggers.

    Old and new values as they were (None: not set at that level); secret ones encrypted. The
    rotation command is the one path that rewrites the ciphertexts (same values, a new key).
    """

    ENCRYPTED_FIELDS = ("old_value_encrypted", "new_value_encrypted")

    setting = models.ForeignKey(Setting, on_delete=models.PROTECT, related_name="versions")
    # Denormalised from the setting, for row-level security and history reads without a join.
    tenant = models.ForeignKey(Tenant, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    environment = models.CharField(max_length=16, choices=Environment.choices)
    key = models.CharField(max_length=100)
    version = models.PositiveIntegerField()
    action = models.CharField(max_length=16, choices=SettingAction.choices)
    is_secret = models.BooleanField(default=False)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    old_value_encrypted = models.TextField(blank=True)
    new_value_encrypted = models.TextField(blank=True)
    rolled_back_to = models.PositiveIntegerField(null=True, blank=True)
    # No database FK: versions outlive users, and ON DELETE SET NULL would be an UPDATE, which
    # the insert-only trigger refuses. changed_by_label is the snapshot.
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        null=True,
        blank=True,
        related_name="+",
    )
    changed_by_label = models.CharField(max_length=254, blank=True)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["-version", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["setting", "version"], name="settingversion_unique_number"),
            models.CheckConstraint(
                condition=models.Q(is_secret=False)
                | models.Q(old_value__isnull=True, new_value__isnull=True),
                name="settingversion_secret_never_plain",
            ),
        ]
        indexes = [models.Index(fields=["tenant", "environment", "key"], name="settingversion_key_idx")]
        triggers = [
            pgtrigger.Protect(
                name="settingversion_insert_only", operation=pgtrigger.Update | pgtrigger.Delete
            ),
            pgtrigger.Trigger(
                name="settingversion_no_truncate",
                operation=pgtrigger.Truncate,
                level=pgtrigger.Statement,
                when=pgtrigger.Before,
                func="RAISE EXCEPTION 'pgtrigger: Cannot truncate the insert-only table %', TG_TABLE_NAME;",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.key} v{self.version}"

    @property
    def changed_at(self) -> Any:
        return self.created_at


FLAG_KEY_VALIDATOR = RegexValidator(
    r"^[a-z0-9](?:[a-z0-9_.-]{0,98}[a-z0-9])?$", "Lower-case letters, digits, '_', '.' and '-'."
)


class FeatureFlag(BaseModel):
    """A feature switch of a tenant, or (tenant NULL) of the whole platform, per environment.

    Evaluation for a subject: disabled → off; targeted (user, role, tenant) → on; else the
    subject's bucket (a hash of flag key and subject id into 10,000) below the percentage → on.
    Not a TenantScopedModel, for the reason Setting is not.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    environment = models.CharField(max_length=16, choices=Environment.choices)
    key = models.CharField(max_length=100, validators=[FLAG_KEY_VALIDATOR])
    description = models.TextField(blank=True)
    enabled = models.BooleanField(default=True, help_text="The kill switch: off turns the flag off for all.")
    rollout_percentage = models.DecimalField(
        max_digits=5,
        decimal_places=2,
        default=0,
        validators=[MinValueValidator(0), MaxValueValidator(100)],
    )
    target_users = ArrayField(models.UUIDField(), default=list, blank=True)
    target_roles = ArrayField(models.CharField(max_length=50), default=list, blank=True)
    target_tenants = ArrayField(models.UUIDField(), default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta:
        ordering = ["key", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "environment", "key"], name="flag_unique_per_scope", nulls_distinct=False
            ),
            models.CheckConstraint(
                condition=models.Q(rollout_percentage__gte=0, rollout_percentage__lte=100),
                name="flag_rollout_percentage_range",
            ),
            models.CheckConstraint(
                condition=models.Q(environment__in=Environment.values), name="flag_environment_valid"
            ),
        ]
        indexes = [models.Index(fields=["tenant", "environment"], name="flag_scope_idx")]

    def __str__(self) -> str:
        return self.key


def refuse_deleting_a_team_with_secrets(collector: Any, field: Any, sub_objs: Any, using: str) -> None:
    """on_delete of Secret.team: PROTECT, answered as a conflict (409) instead of a server error.

    Deleting the team must neither delete its secrets silently nor widen who sees them.
    """
    from core.errors import Conflict

    raise Conflict(
        "This team still keeps secrets in the locker; move or delete them first.", code="team_has_secrets"
    )


PROVIDER_VALIDATOR = RegexValidator(r"^[a-z0-9][a-z0-9_-]{0,49}$", "Lower-case letters, digits, '_' and '-'.")


class Secret(EncryptedModelMixin, TenantScopedModel):
    """A credential in the tenant's locker (a provider key, a webhook token).

    The value exists only as ciphertext; lists show the last four characters at most. Team
    secrets are visible to that team's members and the tenant's owners and admins only.
    """

    ENCRYPTED_FIELDS = ("ciphertext",)

    team = models.ForeignKey(
        Team, on_delete=refuse_deleting_a_team_with_secrets, null=True, blank=True, related_name="secrets"
    )
    name = models.CharField(max_length=200)
    provider = models.CharField(max_length=50, validators=[PROVIDER_VALIDATOR])
    description = models.TextField(blank=True)
    ciphertext = models.TextField()
    last_four = models.CharField(max_length=4, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    rotated_at = models.DateTimeField(null=True, blank=True)
    last_revealed_at = models.DateTimeField(null=True, blank=True)
    last_revealed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )

    class Meta(TenantScopedModel.Meta):
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "name"], name="secret_name_unique_per_tenant")
        ]

    def __str__(self) -> str:
        return self.name
