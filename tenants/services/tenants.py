"""Writes on tenants: creation (and sign-up, a user with their own tenant), profile changes,
suspension. One transaction each, audited inside it."""

from __future__ import annotations

from typing import Any

from django.db import IntegrityError, transaction
from django.utils.text import slugify

from accounts.models import User
from accounts.services.users import user_create
from audit.models import Severity
from audit.services import audit_record, changes
from core import clock, stream
from core.errors import Conflict, InvalidInput, PermissionDeniedError, full_clean_or_invalid
from core.tenancy import tenant_context
from tenants.hooks import tenant_created
from tenants.models import Tenant, TenantStatus
from tenants.services.common import snapshot
from tenants.services.members import actor_permissions, membership_create, system_role

TENANT_FIELDS = [
    "name",
    "admin_email",
    "timezone",
    "model_defaults",
    "resource_limits",
    "plan",
    "require_2fa",
]
# Fields that only platform staff change: they are what the tenant pays for.
PLATFORM_ONLY_FIELDS = {"resource_limits"}


@transaction.atomic
def tenant_create(
    *,
    actor: User,
    name: str,
    slug: str = "",
    admin_email: str,
    owner: User | None = None,
    **fields: Any,
) -> Tenant:
    """Create a tenant (platform admins); `owner`, if given, becomes its first owner."""
    tenant = Tenant(name=name, slug=slug or slugify(name)[:50], admin_email=admin_email, **fields)
    full_clean_or_invalid(tenant)
    try:
        with transaction.atomic():
            tenant.save()
    except IntegrityError as exc:
        raise InvalidInput(
            "Some fields are invalid.", code="validation_error", errors={"slug": ["This slug is taken."]}
        ) from exc
    with tenant_context(tenant):
        audit_record(
            action="tenant.created",
            tenant=tenant,
            target=tenant,
            details={"slug": tenant.slug, "plan": tenant.plan, "admin_email": tenant.admin_email},
            actor=actor,
        )
        if owner is not None:
            membership_create(tenant=tenant, user=owner, role=system_role("owner"), actor=actor)
        tenant_created.send(tenant=tenant, actor=actor, owner=owner)  # billing: credits, subscription
    return tenant


@transaction.atomic
def signup(*, email: str, password: str, tenant_name: str, full_name: str = "") -> User:
    """Sign up: the user, their tenant and the owner membership, all or nothing."""
    user = user_create(email=email, password=password, full_name=full_name)
    tenant_create(actor=user, owner=user, name=tenant_name, admin_email=user.email)
    return user


@transaction.atomic
def tenant_update(*, tenant: Tenant, actor: User, data: dict[str, Any]) -> Tenant:
    """Change a tenant's profile; resource limits are for platform staff only. The plan is
    billing's (billing.services.subscription_update keeps `tenant.plan` in step)."""
    forbidden = sorted(set(data) & PLATFORM_ONLY_FIELDS) if not actor.is_platform_staff else []
    if forbidden:
        raise PermissionDeniedError(
            "Only platform staff change a tenant's resource limits.",
            code="platform_staff_only",
            errors={f: ["Only platform staff may change this."] for f in forbidden},
        )
    if "require_2fa" in data and "tenant:admin" not in actor_permissions(actor=actor, tenant=tenant):
        raise PermissionDeniedError(
            "Requiring 2FA needs the tenant:admin permission.", code="missing_permission"
        )
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    before = snapshot(tenant, TENANT_FIELDS)
    for field, value in data.items():
        setattr(tenant, field, value)
    full_clean_or_invalid(tenant)
    tenant.save()
    diff = changes(before, snapshot(tenant, TENANT_FIELDS))
    if diff:
        audit_record(
            action="tenant.updated", tenant=tenant, target=tenant, details={"changes": diff}, actor=actor
        )
    return tenant


@transaction.atomic
def tenant_suspend(*, tenant: Tenant, actor: User, reason: str) -> Tenant:
    """Suspend a tenant: its members and keys keep reading but can no longer write."""
    if not reason.strip():
        raise InvalidInput("A reason is required.", errors={"reason": ["This field is required."]})
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    if tenant.status == TenantStatus.SUSPENDED:
        raise Conflict("The tenant is already suspended.", code="already_suspended")
    previous = tenant.status
    tenant.status = TenantStatus.SUSPENDED
    tenant.suspended_at = clock.now()
    tenant.suspension_reason = reason.strip()
    tenant.save(update_fields=["status", "suspended_at", "suspension_reason", "updated_at"])
    audit_record(
        action="tenant.suspended",
        tenant=tenant,
        target=tenant,
        severity=Severity.WARNING,
        details={"reason": tenant.suspension_reason, "previous_status": previous},
        actor=actor,
    )
    # Every open websocket on its live stream closes once this commits.
    stream.disconnect(tenant.pk, code=stream.CLOSE_SUSPENDED, reason="tenant_suspended")
    return tenant


@transaction.atomic
def tenant_reactivate(*, tenant: Tenant, actor: User, reason: str) -> Tenant:
    """Lift a suspension."""
    if not reason.strip():
        raise InvalidInput("A reason is required.", errors={"reason": ["This field is required."]})
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    if tenant.status != TenantStatus.SUSPENDED:
        raise Conflict("The tenant is not suspended.", code="not_suspended")
    previous_reason = tenant.suspension_reason
    tenant.status = TenantStatus.ACTIVE
    tenant.suspended_at = None
    tenant.suspension_reason = ""
    tenant.save(update_fields=["status", "suspended_at", "suspension_reason", "updated_at"])
    audit_record(
        action="tenant.reactivated",
        tenant=tenant,
        target=tenant,
        severity=Severity.WARNING,
        details={"reason": reason.strip(), "suspension_reason": previous_reason},
        actor=actor,
    )
    return tenant
