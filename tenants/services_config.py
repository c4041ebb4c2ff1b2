"""Writes of tenant configuration: settings, feature flags, the secret locker.

One transaction each, audited inside it, the configuration caches invalidated when it commits.
A `tenant` of None means the platform level (defaults, platform-wide flags): those writes run
under the platform bypass of row-level security and need a platform admin.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role, User
from audit.models import Severity
from audit.services import audit_record, changes
from core import crypto
from core.errors import Conflict, InvalidInput, NotFound, PermissionDeniedError, full_clean_or_invalid
from core.tenancy import platform_bypass
from tenants import selectors as sel
from tenants.models import (
    FeatureFlag,
    Membership,
    Secret,
    Setting,
    SettingAction,
    SettingVersion,
    Team,
    Tenant,
)
from tenants.settings_registry import SettingDefinition

MASK = sel.MASK
SECRET_MAX_LENGTH = 10_000
# Secrets shorter than this show no last four characters: four would give too much away.
LAST_FOUR_MIN_LENGTH = 12


def _invalid(field: str, message: str) -> InvalidInput:
    return InvalidInput("Some fields are invalid.", code="validation_error", errors={field: [message]})


@contextmanager
def _level(tenant: Tenant | None, *, actor: Any, reason: str) -> Iterator[None]:
    """Platform-level writes need a platform admin and run under the (logged) bypass."""
    if tenant is not None:
        yield
        return
    if not getattr(actor, "is_platform_admin", False):
        raise PermissionDeniedError(
            "Only platform admins change platform configuration.", code="platform_admin_only"
        )
    with platform_bypass(reason=reason, actor=actor):
        yield


def _label(actor: Any) -> str:
    return getattr(actor, "email", "") or "system"


# --- Settings ---------------------------------------------------------------------------------


def _lock_setting(*, tenant: Tenant | None, definition: SettingDefinition, environment: str) -> Setting:
    """The (tenant, environment, key) row, locked; created empty on its first change."""
    lookup = {"tenant": tenant, "environment": environment, "key": definition.key}
    row = Setting.objects.select_for_update().filter(**lookup).first()
    if row is None:
        try:
            with transaction.atomic():
                Setting.objects.create(
                    **lookup,
                    category=definition.category,
                    is_secret=definition.is_secret,
                    description=definition.description,
                )
        except IntegrityError:
            pass  # created concurrently: lock theirs
        row = Setting.objects.select_for_update().get(**lookup)
    return row


def _masked(definition: SettingDefinition, value: Any) -> Any:
    return MASK if definition.is_secret and value is not None else value


def _write_setting(
    *,
    row: Setting,
    definition: SettingDefinition,
    new: Any,
    actor: Any,
    action: str,
    reason: str,
    rolled_back_to: int | None = None,
) -> Setting:
    """Store `new` (None: no value at this level) with a version and an audit entry."""
    old = sel.setting_plain_value(row)
    if old == new and row.is_secret == definition.is_secret:
        return row  # nothing changes: no version, no audit entry
    row.version += 1
    row.category = definition.category
    row.description = definition.description
    row.is_secret = definition.is_secret
    row.updated_by = actor if getattr(actor, "pk", None) else None
    if definition.is_secret:
        row.value = None
        row.value_encrypted = (
            crypto.encrypt_json(new, context=row.encryption_context("value_encrypted"))
            if new is not None
            else ""
        )
    else:
        row.value, row.value_encrypted = new, ""
    row.save()
    version = SettingVersion(
        setting=row,
        tenant_id=row.tenant_id,
        environment=row.environment,
        key=row.key,
        version=row.version,
        action=action,
        is_secret=definition.is_secret,
        rolled_back_to=rolled_back_to,
        changed_by=row.updated_by,
        changed_by_label=_label(actor),
        reason=reason,
    )
    if definition.is_secret:
        for field, value in (("old_value_encrypted", old), ("new_value_encrypted", new)):
            if value is not None:
                setattr(version, field, crypto.encrypt_json(value, context=version.encryption_context(field)))
    else:
        version.old_value, version.new_value = old, new
    version.save()
    details: dict[str, Any] = {
        "setting_key": row.key,
        "environment": row.environment,
        "level": "platform" if row.tenant_id is None else "tenant",
        "version": row.version,
        "reason": reason,
        # Secrets masked here, explicitly: the audit log never holds a secret value.
        "changes": {"value": {"old": _masked(definition, old), "new": _masked(definition, new)}},
    }
    if rolled_back_to is not None:
        details["rolled_back_to"] = rolled_back_to
    audit_record(
        action={"set": "setting.changed", "reset": "setting.reset", "rollback": "setting.rolled_back"}[
            action
        ],
        tenant=row.tenant_id,
        target=row,
        severity=Severity.WARNING if row.tenant_id is None else Severity.INFO,
        details=details,
        actor=actor,
    )
    sel.invalidate_on_commit(sel.SETTINGS, row.tenant_id, row.environment)
    return row


def _check_may_set(*, definition: SettingDefinition, tenant: Tenant | None, actor: Any) -> None:
    if definition.platform_managed and tenant is not None and not getattr(actor, "is_platform_admin", False):
        raise PermissionDeniedError(
            f"{definition.key} is managed by the platform; only platform admins change it.",
            code="platform_managed",
        )


def _clean_value(definition: SettingDefinition, raw: Any) -> Any:
    try:
        value = definition.clean(raw)
    except ValidationError as exc:
        raise InvalidInput(
            "Some fields are invalid.", code="validation_error", errors={"value": exc.messages}
        ) from exc
    if definition.is_empty(value):
        raise _invalid("value", "An empty value: reset the setting instead.")
    return value


@transaction.atomic
def setting_set(
    *,
    tenant: Tenant | None,
    key: str,
    value: Any,
    actor: Any,
    environment: str | None = None,
    reason: str = "",
) -> Setting:
    """Set `key` for `tenant` (None: the platform default) in an environment; versioned, audited."""
    definition = sel.setting_definition(key)
    environment = sel.current_environment(environment)
    _check_may_set(definition=definition, tenant=tenant, actor=actor)
    clean = _clean_value(definition, value)
    with _level(tenant, actor=actor, reason=f"platform setting {key}"):
        row = _lock_setting(tenant=tenant, definition=definition, environment=environment)
        return _write_setting(
            row=row, definition=definition, new=clean, actor=actor, action=SettingAction.SET, reason=reason
        )


@transaction.atomic
def setting_reset(
    *, tenant: Tenant | None, key: str, actor: Any, environment: str | None = None, reason: str = ""
) -> Setting | None:
    """Remove the value at this level, so the platform's (or the default) applies again."""
    definition = sel.setting_definition(key)
    environment = sel.current_environment(environment)
    _check_may_set(definition=definition, tenant=tenant, actor=actor)
    with _level(tenant, actor=actor, reason=f"platform setting {key}"):
        lookup = {"tenant": tenant, "environment": environment, "key": key}
        row = Setting.objects.select_for_update().filter(**lookup).first()
        if row is None:
            return None
        return _write_setting(
            row=row, definition=definition, new=None, actor=actor, action=SettingAction.RESET, reason=reason
        )


@transaction.atomic
def setting_rollback(
    *,
    tenant: Tenant | None,
    key: str,
    version: int,
    actor: Any,
    environment: str | None = None,
    reason: str = "",
) -> Setting:
    """Make the value what it was after `version`: a new version equal to that one."""
    definition = sel.setting_definition(key)
    environment = sel.current_environment(environment)
    _check_may_set(definition=definition, tenant=tenant, actor=actor)
    with _level(tenant, actor=actor, reason=f"platform setting {key}"):
        lookup = {"tenant": tenant, "environment": environment, "key": key}
        row = Setting.objects.select_for_update().filter(**lookup).first()
        target = SettingVersion.objects.filter(setting=row, version=version).first() if row else None
        if row is None or target is None:
            raise NotFound("No such version of this setting.", code="version_not_found")
        _, value = sel.version_plain_values(target)
        if value is not None:
            # Validated again: the rules may have tightened since that version was written.
            value = _clean_value(definition, value)
        return _write_setting(
            row=row,
            definition=definition,
            new=value,
            actor=actor,
            action=SettingAction.ROLLBACK,
            reason=reason,
            rolled_back_to=version,
        )


@transaction.atomic
def setting_reveal(*, tenant: Tenant | None, key: str, actor: Any, environment: str | None = None) -> Any:
    """The plaintext of a secret setting's own value at this level; audited every time.

    A tenant reveals only its own value, never the platform's it may fall back to.
    """
    definition = sel.setting_definition(key)
    environment = sel.current_environment(environment)
    if not definition.is_secret:
        raise InvalidInput("This setting is not secret: read it from the list.", code="not_secret")
    with _level(tenant, actor=actor, reason=f"reveal platform setting {key}"):
        row = Setting.objects.filter(tenant=tenant, environment=environment, key=key).first()
        if row is None or not row.has_value:
            raise NotFound("No value is set at this level.", code="not_set")
        value = sel.setting_plain_value(row)
        audit_record(
            action="setting.revealed",
            tenant=row.tenant_id,
            target=row,
            severity=Severity.WARNING,
            details={"setting_key": key, "environment": environment, "version": row.version},
            actor=actor,
        )
    return value


# --- Feature flags ----------------------------------------------------------------------------

FLAG_FIELDS = [
    "description",
    "enabled",
    "rollout_percentage",
    "target_users",
    "target_roles",
    "target_tenants",
]


def _clean_targets(*, tenant: Tenant | None, data: dict[str, Any]) -> dict[str, Any]:
    """Ids and slugs from the request, resolved within the flag's scope (another tenant's: unknown)."""
    errors: dict[str, list[str]] = {}
    if "target_users" in data:
        users = sorted({uuid.UUID(str(u)) for u in data["target_users"]})
        if users:
            known_users = (
                Membership.objects.filter(tenant=tenant, user_id__in=users).values_list("user_id", flat=True)
                if tenant is not None
                else User.objects.filter(pk__in=users).values_list("pk", flat=True)
            )
            missing = set(users) - set(known_users)
            what = "Not a member of this tenant" if tenant is not None else "No such user"
            if missing:
                errors["target_users"] = [f"{what}: {u}" for u in sorted(missing)]
        data["target_users"] = users
    if "target_roles" in data:
        roles = sorted(set(data["target_roles"]))
        if roles:
            available = Role.objects.filter(tenant__isnull=True)
            if tenant is not None:
                available = available | Role.objects.filter(tenant=tenant)
            missing_roles = set(roles) - set(available.filter(slug__in=roles).values_list("slug", flat=True))
            if missing_roles:
                errors["target_roles"] = [f"No such role: {r}" for r in sorted(missing_roles)]
        data["target_roles"] = roles
    if "target_tenants" in data:
        tenants = sorted({uuid.UUID(str(t)) for t in data["target_tenants"]})
        if tenant is not None and tenants:
            errors["target_tenants"] = ["Only platform flags target tenants."]
        elif tenants:
            known_tenants = set(Tenant.objects.filter(pk__in=tenants).values_list("pk", flat=True))
            if unknown_tenants := [str(t) for t in tenants if t not in known_tenants]:
                errors["target_tenants"] = [f"No such tenant: {t}" for t in unknown_tenants]
        data["target_tenants"] = tenants
    if "rollout_percentage" in data:
        pct = Decimal(str(data["rollout_percentage"]))
        if not (0 <= pct <= 100) or pct != pct.quantize(Decimal("0.01")):
            errors["rollout_percentage"] = ["Between 0 and 100, at most two decimals."]
        data["rollout_percentage"] = pct
    if errors:
        raise InvalidInput("Some fields are invalid.", code="validation_error", errors=errors)
    return data


def _flag_snapshot(flag: FeatureFlag) -> dict[str, Any]:
    return {
        "description": flag.description,
        "enabled": flag.enabled,
        "rollout_percentage": str(Decimal(flag.rollout_percentage).quantize(Decimal("0.01"))),
        "target_users": sorted(str(u) for u in flag.target_users),
        "target_roles": sorted(flag.target_roles),
        "target_tenants": sorted(str(t) for t in flag.target_tenants),
    }


@transaction.atomic
def flag_create(
    *,
    tenant: Tenant | None,
    actor: Any,
    key: str,
    environment: str | None = None,
    description: str = "",
    enabled: bool = True,
    rollout_percentage: Decimal | str | int = 0,
    target_users: list[Any] | None = None,
    target_roles: list[str] | None = None,
    target_tenants: list[Any] | None = None,
) -> FeatureFlag:
    """Create a flag of `tenant` (None: platform-wide) in an environment; audited."""
    environment = sel.current_environment(environment)
    with _level(tenant, actor=actor, reason=f"platform flag {key}"):
        data = _clean_targets(
            tenant=tenant,
            data={
                "rollout_percentage": rollout_percentage,
                "target_users": target_users or [],
                "target_roles": target_roles or [],
                "target_tenants": target_tenants or [],
            },
        )
        if (
            tenant is not None
            and FeatureFlag.objects.filter(tenant__isnull=True, environment=environment, key=key).exists()
        ):
            raise Conflict(
                "A platform flag has this key; it decides in every tenant.", code="flag_key_reserved"
            )
        flag = FeatureFlag(
            tenant=tenant,
            environment=environment,
            key=key,
            description=description,
            enabled=enabled,
            created_by=actor if getattr(actor, "pk", None) else None,
            updated_by=actor if getattr(actor, "pk", None) else None,
            **data,
        )
        full_clean_or_invalid(flag, exclude=["tenant", "created_by", "updated_by"])
        try:
            with transaction.atomic():
                flag.save()
        except IntegrityError as exc:
            raise _invalid("key", "A flag with this key exists in this environment.") from exc
        audit_record(
            action="flag.created",
            tenant=tenant,
            target=flag,
            details={"flag_key": key, "environment": environment, **_flag_snapshot(flag)},
            actor=actor,
        )
        sel.invalidate_on_commit(sel.FLAGS, flag.tenant_id, environment)
    return flag


@transaction.atomic
def flag_update(*, flag: FeatureFlag, actor: Any, data: dict[str, Any]) -> FeatureFlag:
    """Change a flag (not its key or environment); the changes audited with old and new values."""
    tenant = Tenant.objects.get(pk=flag.tenant_id) if flag.tenant_id else None
    with _level(tenant, actor=actor, reason=f"platform flag {flag.key}"):
        flag = FeatureFlag.objects.select_for_update().get(pk=flag.pk)
        data = _clean_targets(tenant=tenant, data={k: v for k, v in data.items() if k in FLAG_FIELDS})
        before = _flag_snapshot(flag)
        for field, value in data.items():
            setattr(flag, field, value)
        diff = changes(before, _flag_snapshot(flag))
        if not diff:
            return flag
        flag.updated_by = actor if getattr(actor, "pk", None) else None
        flag.save()
        severity = Severity.WARNING if "enabled" in diff or flag.tenant_id is None else Severity.INFO
        audit_record(
            action="flag.updated",
            tenant=flag.tenant_id,
            target=flag,
            severity=severity,
            details={"flag_key": flag.key, "environment": flag.environment, "changes": diff},
            actor=actor,
        )
        sel.invalidate_on_commit(sel.FLAGS, flag.tenant_id, flag.environment)
    return flag


@transaction.atomic
def flag_delete(*, flag: FeatureFlag, actor: Any) -> None:
    """Delete a flag: it is off everywhere from then on."""
    tenant = Tenant.objects.get(pk=flag.tenant_id) if flag.tenant_id else None
    with _level(tenant, actor=actor, reason=f"platform flag {flag.key}"):
        audit_record(
            action="flag.deleted",
            tenant=flag.tenant_id,
            target=flag,
            severity=Severity.WARNING,
            details={"flag_key": flag.key, "environment": flag.environment, **_flag_snapshot(flag)},
            actor=actor,
        )
        sel.invalidate_on_commit(sel.FLAGS, flag.tenant_id, flag.environment)
        flag.delete()


# --- The secret locker ------------------------------------------------------------------------


def _last_four(value: str) -> str:
    return value[-4:] if len(value) >= LAST_FOUR_MIN_LENGTH else ""


def _clean_secret_value(value: str) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid("value", "A secret needs a value.")
    if len(value) > SECRET_MAX_LENGTH:
        raise _invalid("value", f"At most {SECRET_MAX_LENGTH} characters.")
    return value


def _check_team(*, tenant: Tenant, team: Team | None, visibility: sel.SecretVisibility) -> None:
    if team is None:
        return
    if team.tenant_id != tenant.pk:
        raise _invalid("team_id", "No such team.")
    if not visibility.allows(team.pk):
        raise PermissionDeniedError(
            "Only the tenant's owners and admins keep secrets for another team.", code="not_your_team"
        )


def _secret_details(secret: Secret) -> dict[str, Any]:
    return {
        "name": secret.name,
        "provider": secret.provider,
        "team_id": secret.team_id,
        "last_four": secret.last_four,
    }


def _encrypt_secret(secret: Secret, value: str) -> None:
    secret.ciphertext = crypto.encrypt_text(value, context=secret.encryption_context("ciphertext"))
    secret.last_four = _last_four(value)


def _save_secret(secret: Secret) -> None:
    try:
        with transaction.atomic():
            secret.save()
    except IntegrityError as exc:
        raise _invalid("name", "A secret with this name exists.") from exc


@transaction.atomic
def secret_create(
    *,
    tenant: Tenant,
    actor: Any,
    name: str,
    provider: str,
    value: str,
    team: Team | None = None,
    description: str = "",
    visibility: sel.SecretVisibility = sel.ALL_SECRETS,
) -> Secret:
    """Put a secret in the locker, encrypted; only its last four characters stay readable."""
    _check_team(tenant=tenant, team=team, visibility=visibility)
    secret = Secret(
        tenant=tenant,
        team=team,
        name=name,
        provider=provider,
        description=description,
        created_by=actor if getattr(actor, "pk", None) else None,
    )
    _encrypt_secret(secret, _clean_secret_value(value))
    full_clean_or_invalid(secret, exclude=["tenant", "team", "created_by", "last_revealed_by"])
    _save_secret(secret)
    audit_record(
        action="secret.created", tenant=tenant, target=secret, details=_secret_details(secret), actor=actor
    )
    return secret


SECRET_FIELDS = ["name", "description", "provider", "team"]


@transaction.atomic
def secret_update(
    *, secret: Secret, actor: Any, data: dict[str, Any], visibility: sel.SecretVisibility = sel.ALL_SECRETS
) -> Secret:
    """Rename, describe or move a secret (to a team the actor may keep secrets for)."""
    tenant = Tenant.objects.get(pk=secret.tenant_id)
    secret = Secret.objects.select_for_update().get(pk=secret.pk)
    if "team" in data:
        _check_team(tenant=tenant, team=data["team"], visibility=visibility)
    before = {
        "name": secret.name,
        "description": secret.description,
        "provider": secret.provider,
        "team_id": secret.team_id,
    }
    for field, value in data.items():
        if field in SECRET_FIELDS:
            setattr(secret, field, value)
    full_clean_or_invalid(secret, exclude=["tenant", "team", "created_by", "last_revealed_by"])
    after = {
        "name": secret.name,
        "description": secret.description,
        "provider": secret.provider,
        "team_id": secret.team_id,
    }
    diff = changes(before, after)
    if diff:
        _save_secret(secret)
        audit_record(
            action="secret.updated", tenant=tenant, target=secret, details={"changes": diff}, actor=actor
        )
    return secret


@transaction.atomic
def secret_rotate(*, secret: Secret, actor: Any, value: str) -> Secret:
    """Replace a secret's value (the provider issued a new key)."""
    secret = Secret.objects.select_for_update().get(pk=secret.pk)
    previous_last_four = secret.last_four
    _encrypt_secret(secret, _clean_secret_value(value))
    secret.rotated_at = timezone.now()
    secret.save()
    audit_record(
        action="secret.rotated",
        tenant=secret.tenant_id,
        target=secret,
        severity=Severity.WARNING,
        details={**_secret_details(secret), "previous_last_four": previous_last_four},
        actor=actor,
    )
    return secret


@transaction.atomic
def secret_delete(*, secret: Secret, actor: Any) -> None:
    audit_record(
        action="secret.deleted",
        tenant=secret.tenant_id,
        target=secret,
        severity=Severity.WARNING,
        details=_secret_details(secret),
        actor=actor,
    )
    secret.delete()


def secret_value(*, secret: Secret) -> str:
    """The plaintext, for server-side use (an agent channel calling its provider). Never send it
    to a client: that is what `secret_reveal` (audited) is for."""
    return crypto.decrypt_text(secret.ciphertext, context=secret.encryption_context("ciphertext"))


@transaction.atomic
def secret_reveal(*, secret: Secret, actor: Any) -> str:
    """The plaintext of a secret for a person; audited every time."""
    secret = Secret.objects.select_for_update().get(pk=secret.pk)
    value = secret_value(secret=secret)
    secret.last_revealed_at = timezone.now()
    secret.last_revealed_by = actor if getattr(actor, "pk", None) else None
    secret.save(update_fields=["last_revealed_at", "last_revealed_by", "updated_at"])
    audit_record(
        action="secret.revealed",
        tenant=secret.tenant_id,
        target=secret,
        severity=Severity.WARNING,
        details=_secret_details(secret),
        actor=actor,
    )
    return value
