"""Writes of feature flags: create, change, delete. One transaction each, audited inside it, the
configuration cache invalidated when it commits. A `tenant` of None means a platform-wide flag:
those writes run under the platform bypass of row-level security and need a platform admin. An
`actor` of None is the system.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from accounts.models import Role, User
from audit.models import Severity
from audit.services import audit_record, changes
from core.errors import Conflict, InvalidInput, full_clean_or_invalid
from tenants.models import FeatureFlag, Membership, Tenant
from tenants.selectors.cache import FLAGS, invalidate_on_commit
from tenants.selectors.settings import current_environment
from tenants.services.common import invalid, platform_level, stored_user

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
    actor: User | None,
    key: str,
    environment: str | None = None,
    description: str = "",
    enabled: bool = True,
    rollout_percentage: Decimal | str | int = 0,
    target_users: list[uuid.UUID | str] | None = None,
    target_roles: list[str] | None = None,
    target_tenants: list[uuid.UUID | str] | None = None,
) -> FeatureFlag:
    """Create a flag of `tenant` (None: platform-wide) in an environment; audited."""
    environment = current_environment(environment)
    with platform_level(tenant, actor=actor, reason=f"platform flag {key}"):
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
            created_by=stored_user(actor),
            updated_by=stored_user(actor),
            **data,
        )
        full_clean_or_invalid(flag, exclude=["tenant", "created_by", "updated_by"])
        try:
            with transaction.atomic():
                flag.save()
        except IntegrityError as exc:
            raise invalid("key", "A flag with this key exists in this environment.") from exc
        audit_record(
            action="flag.created",
            tenant=tenant,
            target=flag,
            details={"flag_key": key, "environment": environment, **_flag_snapshot(flag)},
            actor=actor,
        )
        invalidate_on_commit(FLAGS, flag.tenant_id, environment)
    return flag


@transaction.atomic
def flag_update(*, flag: FeatureFlag, actor: User | None, data: dict[str, Any]) -> FeatureFlag:
    """Change a flag (not its key or environment); the changes audited with old and new values."""
    tenant = Tenant.objects.get(pk=flag.tenant_id) if flag.tenant_id else None
    with platform_level(tenant, actor=actor, reason=f"platform flag {flag.key}"):
        flag = FeatureFlag.objects.select_for_update().get(pk=flag.pk)
        data = _clean_targets(tenant=tenant, data={k: v for k, v in data.items() if k in FLAG_FIELDS})
        before = _flag_snapshot(flag)
        for field, value in data.items():
            setattr(flag, field, value)
        diff = changes(before, _flag_snapshot(flag))
        if not diff:
            return flag
        flag.updated_by = stored_user(actor)
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
        invalidate_on_commit(FLAGS, flag.tenant_id, flag.environment)
    return flag


@transaction.atomic
def flag_delete(*, flag: FeatureFlag, actor: User | None) -> None:
    """Delete a flag: it is off everywhere from then on."""
    tenant = Tenant.objects.get(pk=flag.tenant_id) if flag.tenant_id else None
    with platform_level(tenant, actor=actor, reason=f"platform flag {flag.key}"):
        audit_record(
            action="flag.deleted",
            tenant=flag.tenant_id,
            target=flag,
            severity=Severity.WARNING,
            details={"flag_key": flag.key, "environment": flag.environment, **_flag_snapshot(flag)},
            actor=actor,
        )
        invalidate_on_commit(FLAGS, flag.tenant_id, flag.environment)
        flag.delete()
