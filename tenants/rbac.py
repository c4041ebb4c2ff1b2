"""Object permissions: the one place that answers "may this user do `perm` on this object?".

Roles (accounts.permissions) say what a member may do across a tenant; object permissions
(django-guardian) say which particular objects a member may see or run ("agents of their team
and agents explicitly shared with them", DOMAIN.md). Ask `rbac_has_perm`, never guardian or
`user.has_perm` directly, so the rules below hold everywhere:

1. inactive or anonymous users: never;
2. platform admins: always;
3. objects of a tenant (they have `tenant_id`): only members of that tenant; its owners and
   admins may do anything to them, other members what they were granted on the object;
4. objects of no tenant: what guardian says.

Grants go through `rbac_grant` / `rbac_revoke`, which audit them.
"""

from __future__ import annotations

import uuid
from contextlib import ExitStack
from typing import Any

from django.contrib.auth.models import AnonymousUser, Permission
from django.db import transaction
from django.db.models import Model
from guardian.core import ObjectPermissionChecker
from guardian.shortcuts import assign_perm, remove_perm

from accounts.models import User
from audit.models import Severity
from audit.services import audit_record
from core.errors import InvalidInput, PermissionDeniedError
from core.tenancy import tenant_context
from tenants.models import Membership

# System roles that may do anything to their tenant's objects, without a per-object grant.
TENANT_WIDE_ROLES = ("owner", "admin")


def _role_slug_in_tenant(user: User, tenant_id: uuid.UUID) -> str | None:
    """The slug of the user's system role in the tenant; "" for a custom role; None: no member."""
    # Memberships are tenant-scoped (django-scopes and RLS): read them as that tenant.
    with tenant_context(tenant_id):
        row = (
            Membership.objects.filter(tenant_id=tenant_id, user=user)
            .values_list("role__slug", "role__tenant_id")
            .first()
        )
    if row is None:
        return None
    slug, role_tenant_id = row
    return slug if role_tenant_id is None else ""  # a custom role named "admin" is not the system one


def _codename(perm: str, obj: Model) -> str:
    app_label, _, codename = perm.rpartition(".")
    if app_label and app_label != obj._meta.app_label:
        raise InvalidInput(
            f"{perm} is not a permission on {obj._meta.label}.",
            code="validation_error",
            errors={"perm": ["No such permission for this object."]},
        )
    return codename


def rbac_has_perm(user: User | AnonymousUser | None, perm: str, obj: Model) -> bool:
    """Whether `user` (anonymous or none: never) may do `perm` ("app_label.codename") on `obj`."""
    if not isinstance(user, User) or not user.is_authenticated or not user.is_active:
        return False
    if user.is_platform_admin:
        return True
    tenant_id = getattr(obj, "tenant_id", None)
    if tenant_id is not None:
        slug = _role_slug_in_tenant(user, tenant_id)
        if slug is None:
            # Left the tenant (or never joined): grants on its objects no longer count.
            return False
        if slug in TENANT_WIDE_ROLES:
            return True
    try:
        codename = _codename(perm, obj)
    except InvalidInput:
        return False
    # A fresh checker per call: its cache must not outlive a grant or revoke.
    return ObjectPermissionChecker(user).has_perm(codename, obj)


def _check_perm_exists(codename: str, obj: Model) -> None:
    from django.contrib.contenttypes.models import ContentType

    ctype = ContentType.objects.get_for_model(obj)
    if not Permission.objects.filter(content_type=ctype, codename=codename).exists():
        raise InvalidInput(
            f"{codename} is not a permission on {obj._meta.label}.",
            code="validation_error",
            errors={"perm": ["No such permission for this object."]},
        )


def _prepare(*, user: User, perm: str, obj: Model, actor: User | None) -> tuple[str, uuid.UUID | None]:
    codename = _codename(perm, obj)
    _check_perm_exists(codename, obj)
    tenant_id = getattr(obj, "tenant_id", None)
    if actor is not None and not rbac_has_perm(actor, f"{obj._meta.app_label}.{codename}", obj):
        # Nobody hands out what they do not hold (as with roles: permission_not_held).
        raise PermissionDeniedError(
            "You cannot grant or revoke a permission you do not hold on this object.",
            code="permission_not_held",
        )
    return codename, tenant_id


def _details(*, user: User, codename: str, obj: Model) -> dict[str, Any]:
    return {
        "user_id": user.pk,
        "user_email": user.email,
        "permission": f"{obj._meta.app_label}.{codename}",
        "object_type": obj._meta.label_lower,
        "object_id": obj.pk,
    }


@transaction.atomic
def rbac_grant(*, user: User, perm: str, obj: Model, actor: User | None) -> None:
    """Grant `user` the object permission `perm` on `obj` (idempotent); audited.

    `actor` must hold `perm` on `obj` themselves; None means the system (e.g. a creator's
    automatic grant), audited as the current request's actor.
    """
    codename, tenant_id = _prepare(user=user, perm=perm, obj=obj, actor=actor)
    with ExitStack() as stack:
        if tenant_id is not None:
            stack.enter_context(tenant_context(tenant_id))
            if _role_slug_in_tenant(user, tenant_id) is None:
                raise InvalidInput(
                    "Only members of the object's tenant can be granted permissions on it.",
                    code="not_a_member",
                    errors={"user_id": ["Not a member of this tenant."]},
                )
        assign_perm(codename, user, obj)
        audit_record(
            action="rbac.granted",
            tenant=tenant_id,
            target=obj,
            details=_details(user=user, codename=codename, obj=obj),
            actor=actor,
        )


@transaction.atomic
def rbac_revoke(*, user: User, perm: str, obj: Model, actor: User | None) -> None:
    """Take back the object permission `perm` on `obj` from `user` (idempotent); audited."""
    codename, tenant_id = _prepare(user=user, perm=perm, obj=obj, actor=actor)
    with ExitStack() as stack:
        if tenant_id is not None:
            stack.enter_context(tenant_context(tenant_id))
        removed = remove_perm(codename, user, obj)
        if removed and removed[0]:
            audit_record(
                action="rbac.revoked",
                tenant=tenant_id,
                target=obj,
                severity=Severity.WARNING,
                details=_details(user=user, codename=codename, obj=obj),
                actor=actor,
            )
