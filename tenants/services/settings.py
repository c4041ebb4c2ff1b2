"""Writes of settings: set, reset, roll back, and the audited reveal of a secret one.

One transaction each, versioned and audited inside it, the configuration cache invalidated when
it commits. A `tenant` of None means the platform level (the defaults): those writes run under
the platform bypass of row-level security and need a platform admin. An `actor` of None is the
system.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from accounts.models import User
from audit.models import Severity
from audit.services import audit_record
from core import crypto
from core.errors import InvalidInput, NotFound, PermissionDeniedError
from tenants.models import Setting, SettingAction, SettingVersion, Tenant
from tenants.selectors.cache import SETTINGS, invalidate_on_commit
from tenants.selectors.settings import (
    MASK,
    current_environment,
    setting_definition,
    setting_plain_value,
    version_plain_values,
)
from tenants.services.common import actor_label, invalid, platform_level, stored_user
from tenants.settings_registry import SettingDefinition


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
    actor: User | None,
    action: str,
    reason: str,
    rolled_back_to: int | None = None,
) -> Setting:
    """Store `new` (None: no value at this level) with a version and an audit entry."""
    old = setting_plain_value(row)
    if old == new and row.is_secret == definition.is_secret:
        return row  # nothing changes: no version, no audit entry
    row.version += 1
    row.category = definition.category
    row.description = definition.description
    row.is_secret = definition.is_secret
    row.updated_by = stored_user(actor)
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
        changed_by_label=actor_label(actor),
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
    invalidate_on_commit(SETTINGS, row.tenant_id, row.environment)
    return row


def _check_may_set(*, definition: SettingDefinition, tenant: Tenant | None, actor: User | None) -> None:
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
        raise invalid("value", "An empty value: reset the setting instead.")
    return value


@transaction.atomic
def setting_set(
    *,
    tenant: Tenant | None,
    key: str,
    value: Any,
    actor: User | None,
    environment: str | None = None,
    reason: str = "",
) -> Setting:
    """Set `key` for `tenant` (None: the platform default) in an environment; versioned, audited."""
    definition = setting_definition(key)
    environment = current_environment(environment)
    _check_may_set(definition=definition, tenant=tenant, actor=actor)
    clean = _clean_value(definition, value)
    with platform_level(tenant, actor=actor, reason=f"platform setting {key}"):
        row = _lock_setting(tenant=tenant, definition=definition, environment=environment)
        return _write_setting(
            row=row, definition=definition, new=clean, actor=actor, action=SettingAction.SET, reason=reason
        )


@transaction.atomic
def setting_reset(
    *, tenant: Tenant | None, key: str, actor: User | None, environment: str | None = None, reason: str = ""
) -> Setting | None:
    """Remove the value at this level, so the platform's (or the default) applies again."""
    definition = setting_definition(key)
    environment = current_environment(environment)
    _check_may_set(definition=definition, tenant=tenant, actor=actor)
    with platform_level(tenant, actor=actor, reason=f"platform setting {key}"):
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
    actor: User | None,
    environment: str | None = None,
    reason: str = "",
) -> Setting:
    """Make the value what it was after `version`: a new version equal to that one."""
    definition = setting_definition(key)
    environment = current_environment(environment)
    _check_may_set(definition=definition, tenant=tenant, actor=actor)
    with platform_level(tenant, actor=actor, reason=f"platform setting {key}"):
        lookup = {"tenant": tenant, "environment": environment, "key": key}
        row = Setting.objects.select_for_update().filter(**lookup).first()
        target = SettingVersion.objects.filter(setting=row, version=version).first() if row else None
        if row is None or target is None:
            raise NotFound("No such version of this setting.", code="version_not_found")
        _, value = version_plain_values(target)
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
def setting_reveal(
    *, tenant: Tenant | None, key: str, actor: User | None, environment: str | None = None, reason: str = ""
) -> Any:
    """The plaintext of a secret setting's own value at this level; audited every time, with why
    (`reason`).

    A tenant reveals only its own value, never the platform's it may fall back to.
    """
    definition = setting_definition(key)
    environment = current_environment(environment)
    if not definition.is_secret:
        raise InvalidInput("This setting is not secret: read it from the list.", code="not_secret")
    with platform_level(tenant, actor=actor, reason=f"reveal platform setting {key}"):
        row = Setting.objects.filter(tenant=tenant, environment=environment, key=key).first()
        if row is None or not row.has_value:
            raise NotFound("No value is set at this level.", code="not_set")
        value = setting_plain_value(row)
        audit_record(
            action="setting.revealed",
            tenant=row.tenant_id,
            target=row,
            severity=Severity.WARNING,
            details={
                "setting_key": key,
                "environment": environment,
                "version": row.version,
                "reason": reason,
            },
            actor=actor,
        )
    return value
