"""Reads of settings: the resolved value (`get_setting`, cached), the registry seen from a tenant
or the platform, and their history. Values resolve tenant → platform → the code default."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from core import crypto
from core.errors import InvalidInput, NotFound
from tenants import settings_registry
from tenants.models import Environment, Setting, SettingVersion, Tenant
from tenants.selectors.cache import SETTINGS, cached, rows_of
from tenants.selectors.common import TenantRef, id_of
from tenants.settings_registry import SettingDefinition

MASK = "********"


def current_environment(environment: str | None = None) -> str:
    """`environment`, validated; the deployment's own (QM_ENVIRONMENT) when not given."""
    environment = environment or settings.QM_ENVIRONMENT
    if environment not in Environment.values:
        raise InvalidInput(
            "Unknown environment.",
            code="validation_error",
            errors={"environment": [f"One of {', '.join(Environment.values)}."]},
        )
    return environment


def setting_definition(key: str) -> SettingDefinition:
    """The registry entry of `key`; 404 for a key the platform does not know."""
    definition = settings_registry.definition(key)
    if definition is None:
        raise NotFound("No such setting.")
    return definition


def setting_plain_value(row: Setting) -> Any:
    """The JSON value stored in `row` (decrypted if secret); None when it holds none."""
    if row.is_secret:
        if not row.value_encrypted:
            return None
        return crypto.decrypt_json(row.value_encrypted, context=row.encryption_context("value_encrypted"))
    return row.value


def version_plain_values(version: SettingVersion) -> tuple[Any, Any]:
    """(old, new) JSON values of a version, decrypted if secret; None where not set."""
    if not version.is_secret:
        return version.old_value, version.new_value
    return tuple(  # type: ignore[return-value]  # exactly two elements
        crypto.decrypt_json(token, context=version.encryption_context(field)) if token else None
        for field, token in (
            ("old_value_encrypted", version.old_value_encrypted),
            ("new_value_encrypted", version.new_value_encrypted),
        )
    )


def _load_settings(tenant_id: uuid.UUID | None, environment: str) -> dict[str, Any]:
    values = {}
    for row in rows_of(Setting, tenant_id, environment):
        definition = settings_registry.definition(row.key)
        if definition is None or not row.has_value:
            continue  # a key dropped from the registry, or a reset row
        values[row.key] = definition.to_python(setting_plain_value(row))
    return values


def get_setting(tenant: TenantRef | None, key: str, *, environment: str | None = None) -> Any:
    """The typed value of `key` for `tenant` (an instance or id; None: the platform's): tenant,
    platform, default.

    Cached in this process and invalidated across processes on change; a warm call makes no
    database query.
    """
    definition = setting_definition(key)
    environment = current_environment(environment)
    tenant_id = id_of(tenant)
    levels: list[uuid.UUID | None] = [tenant_id, None] if tenant_id else [None]
    for values in cached(SETTINGS, levels, environment, _load_settings):
        if key in values:
            return values[key]
    return definition.to_python(definition.default)


@dataclass(frozen=True)
class SettingView:
    """One registry key as seen from a tenant (or the platform), without decrypting anything."""

    definition: SettingDefinition
    environment: str
    own: Setting | None  # the row at the level being viewed
    platform: Setting | None  # the platform's row, when a tenant is viewed

    @property
    def source(self) -> str:
        if self.own is not None and self.own.has_value:
            return "platform" if self.own.tenant_id is None else "tenant"
        if self.platform is not None and self.platform.has_value:
            return "platform"
        return "default"

    @property
    def effective_row(self) -> Setting | None:
        return {"tenant": self.own, "platform": self.platform or self.own}.get(self.source)

    @property
    def default_display(self) -> Any:
        return None if self.definition.is_secret else self.definition.default

    @property
    def display_value(self) -> Any:
        """The value to show: masked if secret and set; None for an unset secret."""
        row = self.effective_row
        if self.definition.is_secret:
            return MASK if row is not None else None
        return row.value if row is not None else self.definition.default


def setting_list(*, tenant: Tenant | None, environment: str) -> list[SettingView]:
    """Every registry key, resolved for `tenant` (None: the platform level); one query."""
    qs = Setting.objects.filter(environment=environment).select_related("updated_by")
    qs = qs.filter(Q(tenant__isnull=True) | Q(tenant=tenant)) if tenant else qs.filter(tenant__isnull=True)
    rows = {(row.tenant_id, row.key): row for row in qs}
    tenant_id = tenant.pk if tenant else None
    return [
        SettingView(
            definition=d,
            environment=environment,
            own=rows.get((tenant_id, d.key)),
            platform=rows.get((None, d.key)) if tenant else None,
        )
        for d in settings_registry.REGISTRY
    ]


def setting_view(*, tenant: Tenant | None, key: str, environment: str) -> SettingView:
    """One registry key, resolved for `tenant` (None: the platform level); 404 for an unknown key."""
    definition = setting_definition(key)
    return next(v for v in setting_list(tenant=tenant, environment=environment) if v.definition is definition)


def setting_version_list(*, tenant: Tenant | None, key: str, environment: str) -> QuerySet[SettingVersion]:
    """The history of `key` at one level, newest first."""
    setting_definition(key)
    qs = SettingVersion.objects.filter(key=key, environment=environment)
    qs = qs.filter(tenant=tenant) if tenant else qs.filter(tenant__isnull=True)
    return qs.order_by("-version", "-id")
